//! One refund's history, for `bulkrefund show`: the refunds a refund id names,
//! every transition of each (the append-only `events`), every HTTP attempt,
//! and the batch rows that list its chain.

use std::collections::HashMap;

use rusqlite::params;

use super::refunds::{read_record, RECORD_COLUMNS};
use super::{JournalError, RefundRecord, Scope, SqliteJournal};
pub use crate::journal::report_rows::{AttemptRow, Listing, RefundTimes, Transition};

const ATTEMPT_COLUMNS: &str = "kind, at, http_status, gateway_codes, outcome, latency_ms";

fn read_attempt(row: &rusqlite::Row) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        kind: row.get(0)?,
        at: row.get(1)?,
        http_status: row.get(2)?,
        gateway_codes: row.get(3)?,
        outcome: row.get(4)?,
        latency_ms: row.get::<_, i64>(5)? as u64,
    })
}

impl SqliteJournal {
    /// Every refund recorded under this id (one per gateway and merchant).
    pub fn refunds_named(&self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM refunds WHERE refund_id = ?1 ORDER BY id"
        ))?;
        let records = stmt.query_map([refund_id], read_record)?;
        Ok(records.collect::<rusqlite::Result<_>>()?)
    }

    pub fn refund_times(&self, refund: i64) -> Result<RefundTimes, JournalError> {
        Ok(self.conn.query_row(
            "SELECT batch_id, line, created_at, first_sent_at, finished_at,
                    gateway_success_at, gateway_created_at
             FROM refunds WHERE id = ?1",
            [refund],
            |row| {
                Ok(RefundTimes {
                    batch: row.get(0)?,
                    line: row.get(1)?,
                    created_at: row.get(2)?,
                    first_sent_at: row.get(3)?,
                    finished_at: row.get(4)?,
                    gateway_success_at: row.get(5)?,
                    gateway_created_at: row.get(6)?,
                })
            },
        )?)
    }

    /// The refund's transitions, oldest first.
    pub fn transitions(&self, refund: i64) -> Result<Vec<Transition>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT at, from_state, to_state, why FROM events WHERE refund = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([refund], |row| {
            Ok(Transition {
                at: row.get(0)?,
                from: row.get(1)?,
                to: row.get(2)?,
                why: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The refund's HTTP attempts, oldest first.
    pub fn attempts(&self, refund: i64) -> Result<Vec<AttemptRow>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE refund = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([refund], read_attempt)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The last HTTP attempt about each of `refunds` that has one, as (kind,
    /// outcome): one pass over the attempts, whatever their number.
    pub fn last_attempts(
        &self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        if refunds.is_empty() {
            return Ok(HashMap::new());
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT refund, kind, outcome FROM attempts WHERE id IN
                (SELECT MAX(id) FROM attempts WHERE refund IN ({}) GROUP BY refund)",
            Scope::Refunds(refunds.to_vec()).ids_sql()
        ))?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The batch rows that list the chain whose head is `head`, in batch order.
    pub fn listings(&self, head: i64) -> Result<Vec<Listing>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.batch_id, b.file_name, r.line, r.row_status
             FROM batch_rows r JOIN batches b ON b.id = r.batch_id
             WHERE r.refund = ?1 ORDER BY r.batch_id, r.line",
        )?;
        let rows = stmt.query_map(params![head], |row| {
            Ok(Listing {
                batch: row.get(0)?,
                file_name: row.get(1)?,
                line: row.get(2)?,
                row_status: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
