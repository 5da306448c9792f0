//! Reads and writes of a batch as a whole: whether it exists, where its input
//! and results files are, whether its import or its run is finished.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::{now_text, JournalError, SqliteJournal};
pub use crate::journal::import_rows::UnfinishedImport;

impl SqliteJournal {
    pub fn batch_exists(&self, batch: i64) -> Result<bool, JournalError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) > 0 FROM batches WHERE id = ?1",
            [batch],
            |r| r.get(0),
        )?)
    }

    /// Every batch's input file (its canonical path when recorded, else its name as given).
    pub fn batch_inputs(&self) -> Result<Vec<PathBuf>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT COALESCE(input_path, file_name) FROM batches")?;
        let paths = stmt.query_map([], |row| row.get::<_, String>(0).map(PathBuf::from))?;
        Ok(paths.collect::<rusqlite::Result<_>>()?)
    }

    pub fn results_path(&self, batch: i64) -> Result<Option<PathBuf>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT results_path FROM batches WHERE id = ?1",
                [batch],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten()
            .map(PathBuf::from))
    }

    /// Whether the batch's results file starts with a BOM.
    pub fn results_bom(&self, batch: i64) -> Result<bool, JournalError> {
        Ok(self.conn.query_row(
            "SELECT results_bom FROM batches WHERE id = ?1",
            [batch],
            |row| row.get(0),
        )?)
    }

    pub fn set_results_path(&self, batch: i64, path: &Path) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE batches SET results_path = ?2 WHERE id = ?1",
            params![batch, path.display().to_string()],
        )?;
        Ok(())
    }

    /// Records whether a batch, whose results were just written, is finished:
    /// nothing of it unresolved. A batch that had finished is not any more when
    /// a refund it lists is unresolved again (a retry that now reports for it):
    /// its results are then rewritten until that refund ends.
    pub fn set_finished(&self, batch: i64, finished: bool) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE batches SET finished_at = CASE WHEN ?2 THEN COALESCE(finished_at, ?3) END WHERE id = ?1",
            params![batch, finished, now_text()],
        )?;
        Ok(())
    }

    /// Marks unfinished every batch whose rows list `refund`: its outcome
    /// changed, so its results are rewritten by the run that changed it.
    pub fn reopen_listing(&self, refund: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE batches SET finished_at = NULL WHERE id IN (SELECT batch_id FROM batch_rows WHERE refund = ?1)",
            [refund],
        )?;
        Ok(())
    }

    /// Unfinished imports, among `only` when given.
    pub fn unfinished_imports(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError> {
        let mut stmt = self.conn.prepare(
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
}
