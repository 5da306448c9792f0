//! The journal's reads for people: a batch's rows as its results file shows
//! them, counts and amounts per status, the rows that need attention, the
//! reconciliation export's rows, and the batches themselves. Each returns
//! typed rows; what a person reads is made of them in `report/`. An export's
//! period and days are the gateway's ([`super::days`]).

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension, Row};

use super::days::{self, Counted};
use super::{JournalError, RowStatus, SqliteJournal, State, Status};
use crate::gateway::GatewayKind;
pub use crate::journal::report_rows::{
    AttentionRow, BatchSummary, ExportFilter, ExportRow, ResultsRow, RetryLink,
};
use crate::money::Fen;

fn status_of(text: &str) -> Status {
    State::parse(text)
        .map(State::status)
        .or_else(|| Status::parse(text))
        .unwrap_or(Status::Unknown)
}

fn bad_column(index: usize, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        e.to_string().into(),
    )
}

fn batch_summary(row: &Row) -> rusqlite::Result<BatchSummary> {
    Ok(BatchSummary {
        id: row.get(0)?,
        file_name: row.get(1)?,
        profile: row.get(2)?,
        started_at: row.get(3)?,
        imported: row.get(4)?,
        finished_at: row.get(5)?,
        results_path: row.get::<_, Option<String>>(6)?.map(PathBuf::from),
    })
}

const BATCH_COLUMNS: &str =
    "id, file_name, profile, started_at, imported_at IS NOT NULL, finished_at, results_path";

impl SqliteJournal {
    /// Every batch, oldest first.
    pub fn batches(&self) -> Result<Vec<BatchSummary>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id"))?;
        let batches = stmt.query_map([], batch_summary)?;
        Ok(batches.collect::<rusqlite::Result<_>>()?)
    }

    /// The batches recorded from a file with this SHA-256 (the same bytes), oldest first.
    pub fn batches_with_hash(&self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE file_hash = ?1 AND imported_at IS NOT NULL ORDER BY id"
        ))?;
        let batches = stmt.query_map([sha256], batch_summary)?;
        Ok(batches.collect::<rusqlite::Result<_>>()?)
    }

    pub fn batch(&self, id: i64) -> Result<Option<BatchSummary>, JournalError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = ?1"),
                [id],
                batch_summary,
            )
            .optional()?)
    }

    /// The column names of a batch's input file.
    pub fn batch_header(&self, batch: i64) -> Result<Vec<String>, JournalError> {
        let header: String = self
            .conn
            .query_row("SELECT header FROM batches WHERE id = ?1", [batch], |row| {
                row.get(0)
            })
            .optional()?
            .ok_or_else(|| JournalError::Inconsistent(format!("no batch {batch}")))?;
        serde_json::from_str(&header)
            .map_err(|e| JournalError::Inconsistent(format!("batch {batch}'s header: {e}")))
    }

    /// Count and amount per status of a batch's rows. With `as_repeated`, a
    /// duplicate row counts as the status of the row it repeats (what the
    /// exit code is decided from); without, as `duplicate` (what people read).
    pub fn status_totals(
        &self,
        batch: i64,
        as_repeated: bool,
    ) -> Result<Vec<(Status, u64, Fen)>, JournalError> {
        let status = if as_repeated {
            format!(
                "CASE WHEN r.row_status = '{}' AND f.state IS NOT NULL THEN f.state
                 ELSE COALESCE(r.row_status, f.state) END",
                RowStatus::Duplicate.as_str()
            )
        } else {
            "COALESCE(r.row_status, f.state)".to_owned()
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {status}, COUNT(*), COALESCE(SUM(COALESCE(r.fen, f.amount_fen)), 0)
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 GROUP BY 1"
        ))?;
        let rows = stmt.query_map([batch], |row| {
            Ok((
                status_of(&row.get::<_, String>(0)?),
                row.get::<_, i64>(1)? as u64,
                Fen(row.get::<_, i64>(2)? as u64),
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A batch's rows in input order, as its results file reports them.
    pub fn results_rows<E: From<JournalError>>(
        &self,
        batch: i64,
        mut each: impl FnMut(ResultsRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.line, r.cells, r.row_status, r.fen, r.error_code, r.error_message,
                    f.state, f.amount_fen, f.gateway_refund_id, f.error_code, f.error_message,
                    f.attempts, f.first_sent_at, f.finished_at, f.batch_id
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 ORDER BY r.line",
            )
            .map_err(JournalError::from)?;
        let mut rows = stmt.query([batch]).map_err(JournalError::from)?;
        while let Some(row) = rows.next().map_err(JournalError::from)? {
            each(results_row(row).map_err(JournalError::from)?)?;
        }
        Ok(())
    }

    /// The rows of a batch that did not succeed, in input order.
    pub fn rows_needing_attention(&self, batch: i64) -> Result<Vec<AttentionRow>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.line, COALESCE(f.refund_id, ''), COALESCE(r.row_status, f.state),
                    COALESCE(r.error_code, f.error_code, ''), COALESCE(r.error_message, f.error_message, '')
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 AND COALESCE(r.row_status, f.state) <> ?2 ORDER BY r.line",
        )?;
        let rows = stmt.query_map(params![batch, State::Succeeded.as_str()], |r| {
            Ok(AttentionRow {
                line: r.get(0)?,
                refund_id: r.get(1)?,
                status: status_of(&r.get::<_, String>(2)?),
                error_code: r.get(3)?,
                error_message: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Each refund of a batch that retries another, with the one it retries.
    pub fn retries_in_batch(&self, batch: i64) -> Result<Vec<RetryLink>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT f.line, p.refund_id, p.state, f.refund_id, f.state
             FROM refunds f JOIN refunds p ON p.id = f.retry_of
             WHERE f.batch_id = ?1 ORDER BY f.line, f.id",
        )?;
        let links = stmt.query_map([batch], |r| {
            Ok(RetryLink {
                line: r.get(0)?,
                retried: (r.get(1)?, status_of(&r.get::<_, String>(2)?)),
                retry: (r.get(3)?, status_of(&r.get::<_, String>(4)?)),
            })
        })?;
        Ok(links.collect::<rusqlite::Result<_>>()?)
    }

    /// Every refund the filter holds, oldest first.
    pub fn export_rows<E: From<JournalError>>(
        &self,
        filter: &ExportFilter,
        mut each: impl FnMut(ExportRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let sql = format!(
            "SELECT f.profile, f.merchant_id, f.refund_id, p.refund_id, f.fields, f.amount_fen, f.state,
                    f.gateway_refund_id, f.error_code, f.error_message, f.attempts, f.first_sent_at,
                    f.finished_at, f.batch_id, b.file_name, f.line, f.gateway, n.refund_id,
                    f.gateway_success_at, {}, {}
             {} ORDER BY f.id",
            days::counted_at("f"),
            days::counted_by_our_clock("f"),
            export_from_where(filter)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(JournalError::from)?;
        let mut rows = stmt
            .query(params![filter.batch, filter.since, filter.until])
            .map_err(JournalError::from)?;
        while let Some(row) = rows.next().map_err(JournalError::from)? {
            each(export_row(row).map_err(JournalError::from)?)?;
        }
        Ok(())
    }

    /// The times the journal's refunds count by ([`days::COUNTED_AT`]), as
    /// an export's period selects them: the earliest and the latest, or
    /// `None` when the journal holds no refund.
    pub fn export_span(&self) -> Result<Option<(String, String)>, JournalError> {
        let counted = days::COUNTED_AT;
        let span: (Option<String>, Option<String>) = self.conn.query_row(
            &format!("SELECT MIN({counted}), MAX({counted}) FROM refunds"),
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok(span.0.zip(span.1))
    }

    /// The merchants of the refunds the filter holds (for an export's title).
    pub fn export_merchants(&self, filter: &ExportFilter) -> Result<Vec<String>, JournalError> {
        let sql = format!(
            "SELECT DISTINCT f.merchant_id {} ORDER BY 1",
            export_from_where(filter)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![filter.batch, filter.since, filter.until], |row| {
            row.get(0)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The refunds an export holds (`?1` batch, `?2` since, `?3` until, on the
/// time each counts by): `f` each refund, `p` the one it retries, `n` the one that retries it, `b` its batch.
fn export_from_where(filter: &ExportFilter) -> String {
    let states: Vec<State> = filter.statuses.iter().flat_map(|s| s.states()).collect();
    // A status names intents: a link that was retried has no status of its own left.
    let state_filter = if filter.statuses.is_empty() {
        "1".to_owned()
    } else {
        format!(
            "f.state IN {} AND n.id IS NULL",
            super::state::sql_list(&states)
        )
    };
    let counted = days::counted_at("f");
    format!(
        "FROM refunds f LEFT JOIN refunds p ON p.id = f.retry_of JOIN batches b ON b.id = f.batch_id
              LEFT JOIN refunds n ON n.retry_of = f.id
         WHERE (?1 IS NULL OR f.batch_id = ?1)
           AND (?2 IS NULL OR {counted} >= ?2)
           AND (?3 IS NULL OR {counted} < ?3)
           AND {state_filter}"
    )
}

fn results_row(row: &Row) -> rusqlite::Result<ResultsRow> {
    let cells: String = row.get(1)?;
    let row_status: Option<String> = row.get(2)?;
    let state: Option<String> = row.get(6)?;
    let own_error = row_status.is_some();
    Ok(ResultsRow {
        line: row.get(0)?,
        cells: serde_json::from_str(&cells).map_err(|e| bad_column(1, e))?,
        row_status: row_status.as_deref().and_then(RowStatus::parse),
        refund_status: state.as_deref().map(status_of),
        fen: row
            .get::<_, Option<i64>>(7)?
            .or(row.get(3)?)
            .map(|f| Fen(f as u64)),
        gateway_refund_id: row.get(8)?,
        error_code: if own_error { row.get(4)? } else { row.get(9)? },
        error_message: if own_error { row.get(5)? } else { row.get(10)? },
        attempts: row.get::<_, Option<i64>>(11)?.unwrap_or(0) as u64,
        first_sent_at: row.get(12)?,
        finished_at: row.get(13)?,
        owner_batch: row.get(14)?,
    })
}

fn export_row(row: &Row) -> rusqlite::Result<ExportRow> {
    let fields: String = row.get(4)?;
    let gateway: String = row.get(16)?;
    Ok(ExportRow {
        profile: row.get(0)?,
        gateway: GatewayKind::parse(&gateway)
            .ok_or_else(|| bad_column(16, format!("unknown gateway {gateway:?}")))?,
        merchant_id: row.get(1)?,
        refund_id: row.get(2)?,
        retry_of: row.get(3)?,
        retried_as: row.get(17)?,
        fields: serde_json::from_str(&fields).map_err(|e| bad_column(4, e))?,
        fen: Fen(row.get::<_, i64>(5)? as u64),
        status: status_of(&row.get::<_, String>(6)?),
        gateway_refund_id: row.get(7)?,
        error_code: row.get(8)?,
        error_message: row.get(9)?,
        attempts: row.get::<_, i64>(10)? as u64,
        first_sent_at: row.get(11)?,
        finished_at: row.get(12)?,
        batch_id: row.get(13)?,
        source_file: row.get(14)?,
        line: row.get(15)?,
        gateway_success_at: row.get(18)?,
        counted: Counted::read(row, 19, 20)?,
    })
}
