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

use super::import::BatchMeta;
use super::{now_text, Journal, JournalError};
use crate::messages::shell_word;

/// An import that began and never ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterruptedImport {
    /// The trace's id (`bulkrefund journal forget-import ID`).
    pub id: i64,
    pub file_name: String,
    pub profile: String,
    pub started_at: String,
}

impl InterruptedImport {
    /// What the operator reads, and what to do, from a command that holds
    /// the journal (so no import is under way); `started` is when it began,
    /// as the caller shows times.
    pub fn describe(&self, started: &str) -> String {
        format!(
            "the import of '{}' (profile {}, started {started}) never finished: the process was \
             killed before it was recorded, so nothing of it was recorded or sent. {}",
            self.file_name,
            self.profile,
            self.run_again()
        )
    }

    /// The same, from a reader without the journal's lock (`status`): the
    /// import may be under way in another process.
    pub fn describe_unlocked(&self, started: &str) -> String {
        format!(
            "the import of '{}' (profile {}, started {started}) has not finished: unless a \
             bulkrefund is importing it now, the process was killed, and nothing of it was \
             recorded or sent. {}",
            self.file_name,
            self.profile,
            self.run_again()
        )
    }

    fn run_again(&self) -> String {
        format!(
            "Run it again: `bulkrefund run {} --profile {}`; or, if it is not to be run, \
             forget it: `bulkrefund journal forget-import {}`",
            shell_word(&self.file_name),
            shell_word(&self.profile),
            self.id
        )
    }
}

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

impl Journal {
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

#[cfg(test)]
mod tests {
    use super::super::import::{import_checked, ImportError, Refusal};
    use super::*;

    fn meta(name: &str) -> BatchMeta {
        BatchMeta {
            file_name: name.into(),
            file_hash: format!("hash of {name}"),
            profile: "leshua".into(),
            gateway: crate::gateway::GatewayKind::Leshua,
            merchant_id: "m".into(),
            header: vec![],
            input_path: None,
            results_path: None,
            results_bom: false,
        }
    }

    #[test]
    fn the_attempt_is_committed_before_the_import_and_cleared_by_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut journal = Journal::open(&path).unwrap();
        // What another connection (a process after a kill) sees mid-import.
        let traces_seen = || -> i64 {
            let other = Connection::open(&path).unwrap();
            other
                .query_row("SELECT COUNT(*) FROM imports", [], |r| r.get(0))
                .unwrap()
        };
        let mut seen = None;
        import_checked(
            &mut journal,
            &meta("a.csv"),
            std::iter::empty(),
            || false,
            |_| {},
            |_| {
                seen = Some(traces_seen());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, Some(1), "committed outside the import's transaction");
        assert_eq!(traces_seen(), 0, "the import's commit clears it");
        // Refused (or interrupted): cleared too, the operator was told.
        let refused = import_checked(
            &mut journal,
            &meta("b.csv"),
            std::iter::empty(),
            || false,
            |_| {},
            |_| Err(Refusal::undecided("no terminal to ask on")),
        );
        assert!(matches!(refused, Err(ImportError::Refused(_))));
        assert!(journal.interrupted_imports().unwrap().is_empty());
        // Killed after the trace: it stands until the same file is imported.
        journal.begin_import(&meta("c.csv")).unwrap();
        let left = journal.interrupted_imports().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].file_name, "c.csv");
        crate::journal::import::import(
            &mut journal,
            &meta("c.csv"),
            std::iter::empty(),
            || false,
            |_| {},
        )
        .unwrap();
        assert!(journal.interrupted_imports().unwrap().is_empty());
    }

    /// Issue 18 review, item 2: a killed import's trace goes when the
    /// operator decides against its file, or forgets it; not for want of an
    /// answer.
    #[test]
    fn a_decision_against_the_file_or_forget_import_clears_its_trace() {
        let mut journal = Journal::open_in_memory().unwrap();
        let refuse = |journal: &mut Journal, refusal: Refusal| {
            let result = import_checked(
                journal,
                &meta("d.csv"),
                std::iter::empty(),
                || false,
                |_| {},
                |_| Err(refusal),
            );
            assert!(matches!(result, Err(ImportError::Refused(_))));
        };
        let killed = journal.begin_import(&meta("d.csv")).unwrap();
        let other = journal.begin_import(&meta("e.csv")).unwrap();
        refuse(&mut journal, Refusal::undecided("no terminal to ask on"));
        let ids = |journal: &Journal| -> Vec<i64> {
            let traces = journal.interrupted_imports().unwrap();
            traces.iter().map(|t| t.id).collect()
        };
        assert_eq!(ids(&journal), [killed, other], "no decision: it stands");
        refuse(&mut journal, Refusal::decided("not confirmed"));
        assert_eq!(ids(&journal), [other], "declined: that file's trace goes");
        let forgotten = journal.forget_import(other).unwrap().unwrap();
        assert_eq!(forgotten.file_name, "e.csv");
        assert!(ids(&journal).is_empty());
        assert_eq!(journal.forget_import(other).unwrap(), None);
    }

    #[test]
    fn the_command_to_run_again_is_quoted_for_the_shell() {
        let trace = InterruptedImport {
            id: 7,
            file_name: "nov 30's.csv".into(),
            profile: "leshua".into(),
            started_at: String::new(),
        };
        assert!(trace.describe("then").ends_with(
            "Run it again: `bulkrefund run 'nov 30'\\''s.csv' --profile leshua`; or, if it is \
             not to be run, forget it: `bulkrefund journal forget-import 7`"
        ));
    }
}
