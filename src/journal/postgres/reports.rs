//! The PostgreSQL store's reads for people, each meaning what SQLite's of
//! the same name means (`sqlite/reports.rs`), row for row and in the same
//! order: the batches, a batch's header, its rows as its results file
//! reports them (streamed), the rows needing attention and the retries a
//! batch made. The export's reads are in `reports/export.rs`, the attempts'
//! latency in `reports/latency.rs`, and what they share in `reports/rows.rs`.

mod export;
mod latency;
mod rows;

use std::path::PathBuf;

use postgres::Row;

use self::rows::{column, count, json_of, read_error, status_of, stream_rows};
use super::PgJournal;
use crate::journal::report_rows::{AttentionRow, BatchSummary, ResultsRow, RetryLink};
use crate::journal::state::State;
use crate::journal::status::RowStatus;
use crate::journal::JournalError;
use crate::money::Fen;

const BATCH_COLUMNS: &str =
    "id, file_name, profile, started_at, imported_at IS NOT NULL, finished_at, results_path";

fn batch_summary(row: &Row) -> Result<BatchSummary, JournalError> {
    Ok(BatchSummary {
        id: column(row, 0)?,
        file_name: column(row, 1)?,
        profile: column(row, 2)?,
        started_at: column(row, 3)?,
        imported: column(row, 4)?,
        finished_at: column(row, 5)?,
        results_path: column::<Option<String>>(row, 6)?.map(PathBuf::from),
    })
}

/// A batch's row joined to its refund (`r` the row, `f` the refund), in
/// the columns [`results_row`] reads.
const RESULTS_ROWS: &str =
    "SELECT r.line, r.cells, r.row_status, r.fen, r.error_code, r.error_message,
            f.state, f.amount_fen, f.gateway_refund_id, f.error_code, f.error_message,
            f.attempts, f.first_sent_at, f.finished_at, f.batch_id
     FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
     WHERE r.batch_id = $1 ORDER BY r.line";

fn results_row(row: &Row) -> Result<ResultsRow, JournalError> {
    let cells: String = column(row, 1)?;
    let row_status: Option<String> = column(row, 2)?;
    let state: Option<String> = column(row, 6)?;
    // A row with a verdict of its own reports its own error, else its refund's.
    let error_at = if row_status.is_some() { 4 } else { 9 };
    Ok(ResultsRow {
        line: count(row, 0)?,
        cells: json_of(&cells, "a batch row's cells")?,
        row_status: row_status.as_deref().and_then(RowStatus::parse),
        refund_status: state.as_deref().map(status_of),
        fen: column::<Option<i64>>(row, 7)?
            .or(column(row, 3)?)
            .map(|f| Fen(f as u64)),
        gateway_refund_id: column(row, 8)?,
        error_code: column(row, error_at)?,
        error_message: column(row, error_at + 1)?,
        attempts: column::<Option<i64>>(row, 11)?.unwrap_or(0) as u64,
        first_sent_at: column(row, 12)?,
        finished_at: column(row, 13)?,
        owner_batch: column(row, 14)?,
    })
}

impl PgJournal {
    /// The batches `sql` (over [`BATCH_COLUMNS`]) selects with `params`.
    fn batches_where(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<BatchSummary>, JournalError> {
        let rows = self
            .client
            .query(sql, params)
            .map_err(|e| read_error("reading the batches", &e))?;
        rows.iter().map(batch_summary).collect()
    }

    /// Every batch, oldest first.
    pub fn batches(&mut self) -> Result<Vec<BatchSummary>, JournalError> {
        self.batches_where(
            &format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id"),
            &[],
        )
    }

    /// The batches recorded from a file with this SHA-256, oldest first.
    pub fn batches_with_hash(&mut self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError> {
        self.batches_where(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM batches
                 WHERE file_hash = $1 AND imported_at IS NOT NULL ORDER BY id"
            ),
            &[&sha256],
        )
    }

    pub fn batch(&mut self, id: i64) -> Result<Option<BatchSummary>, JournalError> {
        let mut found = self.batches_where(
            &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"),
            &[&id],
        )?;
        Ok(found.pop())
    }

    /// The column names of a batch's input file.
    pub fn batch_header(&mut self, batch: i64) -> Result<Vec<String>, JournalError> {
        let row = self
            .client
            .query_opt("SELECT header FROM batches WHERE id = $1", &[&batch])
            .map_err(|e| read_error("reading a batch's header", &e))?
            .ok_or_else(|| JournalError::Inconsistent(format!("no batch {batch}")))?;
        let header: String = column(&row, 0)?;
        json_of(&header, &format!("batch {batch}'s header"))
    }

    /// A batch's rows in input order, as its results file reports them,
    /// streamed: each is handed to `each` until it answers false.
    pub fn results_rows_while(
        &mut self,
        batch: i64,
        each: &mut dyn FnMut(ResultsRow) -> bool,
    ) -> Result<(), JournalError> {
        stream_rows(
            &mut self.client,
            RESULTS_ROWS,
            &[&batch],
            "reading a batch's rows",
            &mut |row| Ok(each(results_row(row)?)),
        )
    }

    /// The rows of a batch that did not succeed, in input order.
    pub fn rows_needing_attention(
        &mut self,
        batch: i64,
    ) -> Result<Vec<AttentionRow>, JournalError> {
        let rows = self
            .client
            .query(
                "SELECT r.line, COALESCE(f.refund_id, ''), COALESCE(r.row_status, f.state),
                        COALESCE(r.error_code, f.error_code, ''),
                        COALESCE(r.error_message, f.error_message, '')
                 FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
                 WHERE r.batch_id = $1 AND COALESCE(r.row_status, f.state) <> $2
                 ORDER BY r.line",
                &[&batch, &State::Succeeded.as_str()],
            )
            .map_err(|e| read_error("reading the rows needing attention", &e))?;
        rows.iter()
            .map(|r| {
                Ok(AttentionRow {
                    line: count(r, 0)?,
                    refund_id: column(r, 1)?,
                    status: status_of(column(r, 2)?),
                    error_code: column(r, 3)?,
                    error_message: column(r, 4)?,
                })
            })
            .collect()
    }

    /// Each refund of a batch that retries another, with the one it retries.
    pub fn retries_in_batch(&mut self, batch: i64) -> Result<Vec<RetryLink>, JournalError> {
        let rows = self
            .client
            .query(
                "SELECT f.line, p.refund_id, p.state, f.refund_id, f.state
                 FROM refunds f JOIN refunds p ON p.id = f.retry_of
                 WHERE f.batch_id = $1 ORDER BY f.line, f.id",
                &[&batch],
            )
            .map_err(|e| read_error("reading a batch's retries", &e))?;
        rows.iter()
            .map(|r| {
                Ok(RetryLink {
                    line: count(r, 0)?,
                    retried: (column(r, 1)?, status_of(column(r, 2)?)),
                    retry: (column(r, 3)?, status_of(column(r, 4)?)),
                })
            })
            .collect()
    }
}
