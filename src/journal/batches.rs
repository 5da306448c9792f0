//! Reads and writes of a batch as a whole: whether it exists, where its input
//! and results files are, whether its import or its run is finished.

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};

use super::now_text;

pub fn exists(conn: &Connection, batch: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) > 0 FROM batches WHERE id = ?1",
        [batch],
        |r| r.get(0),
    )
}

/// Every batch's input file (its canonical path when recorded, else its name as given).
pub fn inputs(conn: &Connection) -> rusqlite::Result<Vec<PathBuf>> {
    let mut stmt = conn.prepare("SELECT COALESCE(input_path, file_name) FROM batches")?;
    let paths = stmt
        .query_map([], |row| row.get::<_, String>(0).map(PathBuf::from))?
        .collect();
    paths
}

pub fn results_path(conn: &Connection, batch: i64) -> rusqlite::Result<Option<PathBuf>> {
    Ok(conn
        .query_row(
            "SELECT results_path FROM batches WHERE id = ?1",
            [batch],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten()
        .map(PathBuf::from))
}

pub fn set_results_path(conn: &Connection, batch: i64, path: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE batches SET results_path = ?2 WHERE id = ?1",
        params![batch, path],
    )?;
    Ok(())
}

/// Records whether a batch, whose results were just written, is finished:
/// nothing of it unresolved. A batch that had finished is not any more when a
/// refund it lists is unresolved again (a retry that now reports for it):
/// its results are then rewritten until that refund ends.
pub fn set_finished(conn: &Connection, batch: i64, finished: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE batches SET finished_at = CASE WHEN ?2 THEN COALESCE(finished_at, ?3) END WHERE id = ?1",
        params![batch, finished, now_text()],
    )?;
    Ok(())
}

/// Marks unfinished every batch whose rows list `refund`: its outcome changed,
/// so its results are rewritten by the run that changed it.
pub fn reopen_listing(conn: &Connection, refund: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE batches SET finished_at = NULL WHERE id IN (SELECT batch_id FROM batch_rows WHERE refund = ?1)",
        [refund],
    )?;
    Ok(())
}

/// A batch whose rows were not all recorded (left by an older bulkrefund, which
/// imported in chunks): nothing of it is sent until the same file is run again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfinishedImport {
    pub batch: i64,
    pub file_name: String,
    pub profile: String,
    pub rows_recorded: u64,
}

impl UnfinishedImport {
    /// What the operator reads, and what to do.
    pub fn describe(&self) -> String {
        format!(
            "batch {}: the import of '{}' is unfinished ({} rows recorded); nothing of it is sent \
             until the rest is recorded: run `bulkrefund run {} --profile {}` again (the same file)",
            self.batch, self.file_name, self.rows_recorded, self.file_name, self.profile
        )
    }
}

/// Unfinished imports, among `only` when given.
pub fn unfinished_imports(
    conn: &Connection,
    only: Option<&[i64]>,
) -> rusqlite::Result<Vec<UnfinishedImport>> {
    let mut stmt = conn.prepare(
        "SELECT b.id, b.file_name, b.profile, (SELECT COUNT(*) FROM batch_rows r WHERE r.batch_id = b.id)
         FROM batches b WHERE b.imported_at IS NULL ORDER BY b.id",
    )?;
    let all = stmt
        .query_map([], |row| {
            Ok(UnfinishedImport {
                batch: row.get(0)?,
                file_name: row.get(1)?,
                profile: row.get(2)?,
                rows_recorded: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(all
        .into_iter()
        .filter(|u| only.is_none_or(|ids| ids.contains(&u.batch)))
        .collect())
}
