//! The trace of an import under way. A batch is recorded in one transaction
//! (import.rs), so a kill in the middle leaves nothing of it: right for the
//! money, but an operator who then runs `resume` must not read "nothing was
//! unresolved". So the attempt is committed first, outside that transaction,
//! and the transaction deletes it as it commits; an import that fails cleanly
//! (refused, interrupted, a bad row) deletes it too. A trace left behind is an
//! import that died: `resume` and `status` name its file, say to run it again,
//! and do not exit 0 until the same file is run, or the operator decides
//! against it (declines it, or its caps refuse it), or forgets the trace
//! (`bulkrefund journal forget-import ID`).

use rusqlite::{params, Connection, OptionalExtension};

use super::batch_meta::BatchMeta;
use super::{now_text, JournalError, SqliteJournal};
pub use crate::journal::import_rows::InterruptedImport;

fn read_trace(row: &rusqlite::Row) -> rusqlite::Result<InterruptedImport> {
    Ok(InterruptedImport {
        id: row.get(0)?,
        file_name: row.get(1)?,
        profile: row.get(2)?,
        started_at: row.get(3)?,
    })
}

/// Commits the trace of an import about to begin; returns its id.
pub(super) fn begin(conn: &Connection, meta: &BatchMeta) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO imports (file_name, file_hash, input_path, profile, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            meta.file_name,
            meta.file_hash,
            meta.input_path,
            meta.profile,
            now_text()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Deletes the trace `id`, and those an earlier, killed import of the same
/// file (the same bytes or the same path) with the same profile left: this
/// import records it (inside the import's transaction), or the operator
/// decided against it (declined it, or its caps refused it).
pub(super) fn end(conn: &Connection, id: i64, meta: &BatchMeta) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM imports WHERE id = ?1
            OR (profile = ?2 AND (file_hash = ?3 OR (input_path IS NOT NULL AND input_path = ?4)))",
        params![id, meta.profile, meta.file_hash, meta.input_path],
    )?;
    Ok(())
}

/// Deletes the trace of an import that ended without recording anything and said so.
pub(super) fn abandon(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM imports WHERE id = ?1", [id])?;
    Ok(())
}

impl SqliteJournal {
    /// Imports that began and never ended (killed), oldest first.
    pub fn interrupted_imports(&self) -> Result<Vec<InterruptedImport>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, file_name, profile, started_at FROM imports ORDER BY id")?;
        let rows = stmt.query_map([], read_trace)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Deletes the trace `id` (the operator will not run its file): returns
    /// what it was, `None` when there is no such trace.
    pub fn forget_import(&self, id: i64) -> Result<Option<InterruptedImport>, JournalError> {
        let trace = self
            .conn
            .query_row(
                "SELECT id, file_name, profile, started_at FROM imports WHERE id = ?1",
                [id],
                read_trace,
            )
            .optional()?;
        self.conn
            .execute("DELETE FROM imports WHERE id = ?1", [id])?;
        Ok(trace)
    }

    /// Commits the trace of an import about to begin, as [`super::import`]
    /// does first: what a process killed right after leaves (for tests).
    pub fn begin_import(&self, meta: &BatchMeta) -> Result<i64, JournalError> {
        Ok(begin(&self.conn, meta)?)
    }
}
