//! One refund's history on PostgreSQL, for `bulkrefund show`, as
//! `journal/sqlite/history.rs` reads it: the refunds a refund id names,
//! every transition of each (the append-only `events`), every HTTP attempt,
//! and the batch rows that list its chain.

use std::collections::HashMap;

use super::fenced::pg_error;
use super::refund_rows::{read_records, unsigned, RECORD_COLUMNS};
use super::PgJournal;
use crate::journal::records::RefundRecord;
use crate::journal::report_rows::{AttemptRow, Listing, RefundTimes, Transition};
use crate::journal::JournalError;

const ATTEMPT_COLUMNS: &str = "kind, at, http_status, gateway_codes, outcome, latency_ms";

fn read_attempt(row: &postgres::Row) -> Result<AttemptRow, JournalError> {
    let get = pg_error("reading an attempt");
    let status: Option<i64> = row.try_get(2).map_err(&get)?;
    Ok(AttemptRow {
        kind: row.try_get(0).map_err(&get)?,
        at: row.try_get(1).map_err(&get)?,
        http_status: status
            .map(|s| {
                u16::try_from(s)
                    .map_err(|_| JournalError::Inconsistent(format!("an HTTP status of {s}")))
            })
            .transpose()?,
        gateway_codes: row.try_get(3).map_err(&get)?,
        outcome: row.try_get(4).map_err(&get)?,
        latency_ms: unsigned(row, 5)?,
    })
}

impl PgJournal {
    /// Every refund recorded under this id (one per gateway and merchant).
    pub fn refunds_named(&mut self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
        let rows = self
            .client
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM refunds WHERE refund_id = $1 ORDER BY id"),
                &[&refund_id],
            )
            .map_err(pg_error("reading the refunds of an id"))?;
        read_records(&rows)
    }

    pub fn refund_times(&mut self, refund: i64) -> Result<RefundTimes, JournalError> {
        let get = pg_error("reading a refund's times");
        let row = self
            .client
            .query_opt(
                "SELECT batch_id, line, created_at, first_sent_at, finished_at,
                        gateway_success_at, gateway_created_at
                 FROM refunds WHERE id = $1",
                &[&refund],
            )
            .map_err(&get)?
            .ok_or(JournalError::Missing(refund))?;
        Ok(RefundTimes {
            batch: row.try_get(0).map_err(&get)?,
            line: unsigned(&row, 1)?,
            created_at: row.try_get(2).map_err(&get)?,
            first_sent_at: row.try_get(3).map_err(&get)?,
            finished_at: row.try_get(4).map_err(&get)?,
            gateway_success_at: row.try_get(5).map_err(&get)?,
            gateway_created_at: row.try_get(6).map_err(&get)?,
        })
    }

    /// The refund's transitions, oldest first.
    pub fn transitions(&mut self, refund: i64) -> Result<Vec<Transition>, JournalError> {
        let get = pg_error("reading a refund's transitions");
        let rows = self
            .client
            .query(
                "SELECT at, from_state, to_state, why FROM events WHERE refund = $1 ORDER BY id",
                &[&refund],
            )
            .map_err(&get)?;
        rows.iter()
            .map(|row| {
                Ok(Transition {
                    at: row.try_get(0).map_err(&get)?,
                    from: row.try_get(1).map_err(&get)?,
                    to: row.try_get(2).map_err(&get)?,
                    why: row.try_get(3).map_err(&get)?,
                })
            })
            .collect()
    }

    /// The refund's HTTP attempts, oldest first.
    pub fn attempts(&mut self, refund: i64) -> Result<Vec<AttemptRow>, JournalError> {
        let rows = self
            .client
            .query(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE refund = $1 ORDER BY id"),
                &[&refund],
            )
            .map_err(pg_error("reading a refund's attempts"))?;
        rows.iter().map(read_attempt).collect()
    }

    /// The last HTTP attempt about each of `refunds` that has one, as (kind,
    /// outcome): one pass over the attempts, whatever their number.
    pub fn last_attempts(
        &mut self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        if refunds.is_empty() {
            return Ok(HashMap::new());
        }
        let get = pg_error("reading the last attempts");
        let rows = self
            .client
            .query(
                "SELECT refund, kind, outcome FROM attempts WHERE id IN
                    (SELECT MAX(id) FROM attempts WHERE refund = ANY($1) GROUP BY refund)",
                &[&refunds],
            )
            .map_err(&get)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(&get)?,
                    (row.try_get(1).map_err(&get)?, row.try_get(2).map_err(&get)?),
                ))
            })
            .collect()
    }

    /// The batch rows that list the chain whose head is `head`, in batch order.
    pub fn listings(&mut self, head: i64) -> Result<Vec<Listing>, JournalError> {
        let get = pg_error("reading the rows that list a refund");
        let rows = self
            .client
            .query(
                "SELECT r.batch_id, b.file_name, r.line, r.row_status
                 FROM batch_rows r JOIN batches b ON b.id = r.batch_id
                 WHERE r.refund = $1 ORDER BY r.batch_id, r.line",
                &[&head],
            )
            .map_err(&get)?;
        rows.iter()
            .map(|row| {
                Ok(Listing {
                    batch: row.try_get(0).map_err(&get)?,
                    file_name: row.try_get(1).map_err(&get)?,
                    line: unsigned(row, 2)?,
                    row_status: row.try_get(3).map_err(&get)?,
                })
            })
            .collect()
    }
}
