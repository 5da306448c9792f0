//! The journal's reads for the money (README, "The money"): a batch's intents
//! (the refunds its rows asked for, each followed to the head of its retry
//! chain) by status and by the batch that paid them, the rows it never sent,
//! its failures grouped by error code, and the succeeded gateway refunds of the
//! whole journal. Every batch row that lists a chain points at its head, so an
//! intent is a distinct `batch_rows.refund`.

use std::collections::BTreeMap;

use super::state::sql_list;
use crate::journal::money_rules;
pub use crate::journal::report_rows::{FailureGroup, IntentTotal, FAILURE_SAMPLES};

use super::{JournalError, RowStatus, SqliteJournal, State, Status};
use crate::money::Fen;

/// `('invalid', 'conflict')`: rows' verdicts for SQL, as [`sql_list`] lists states.
fn verdict_list(verdicts: &[RowStatus]) -> String {
    let names: Vec<String> = verdicts
        .iter()
        .map(|v| format!("'{}'", v.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

fn count_and_fen(count: i64, fen: i64) -> (u64, Fen) {
    (count as u64, Fen(fen as u64))
}

impl SqliteJournal {
    /// The intents `batch` lists, by their head's status and owning batch.
    pub fn batch_intents(&self, batch: i64) -> Result<Vec<IntentTotal>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT h.state, h.batch_id, COUNT(*), COALESCE(SUM(h.amount_fen), 0)
             FROM (SELECT DISTINCT refund FROM batch_rows
                   WHERE batch_id = ?1 AND row_status IS NULL AND refund IS NOT NULL) listed
             JOIN refunds h ON h.id = listed.refund
             GROUP BY 1, 2 ORDER BY 2",
        )?;
        let rows = stmt.query_map([batch], |row| {
            let state: String = row.get(0)?;
            let (count, fen) = count_and_fen(row.get(2)?, row.get(3)?);
            Ok(IntentTotal {
                status: State::parse(&state).map_or(Status::Unknown, State::status),
                owner: row.get(1)?,
                count,
                fen,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The rows of `batch` that were never a refund to send, by verdict.
    pub fn batch_unsent(&self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.row_status, COUNT(*), COALESCE(SUM(COALESCE(r.fen, f.amount_fen)), 0)
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 AND r.row_status IS NOT NULL GROUP BY 1",
        )?;
        let rows = stmt.query_map([batch], |row| {
            let verdict: String = row.get(0)?;
            let (count, fen) = count_and_fen(row.get(1)?, row.get(2)?);
            Ok((verdict, count, fen))
        })?;
        let mut unsent = Vec::new();
        for row in rows {
            let (verdict, count, fen) = row?;
            let verdict = RowStatus::parse(&verdict).ok_or_else(|| {
                JournalError::Inconsistent(format!("a row status {verdict:?} of batch {batch}"))
            })?;
            unsent.push((verdict, count, fen));
        }
        Ok(unsent)
    }

    /// Every succeeded gateway refund of the journal, each once: what the
    /// gateways paid through bulkrefund.
    pub fn refunded_in_all(&self) -> Result<(u64, Fen), JournalError> {
        Ok(self.conn.query_row(
            &format!(
                "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0) FROM refunds WHERE state IN {}",
                sql_list(&money_rules::REFUNDED)
            ),
            [],
            |row| Ok(count_and_fen(row.get(0)?, row.get(1)?)),
        )?)
    }

    /// What did not succeed in `batch` and is not waiting on the gateway:
    /// intents that failed, are in review or abnormal, and rows never sent (a duplicate
    /// aside: the row it repeats is counted), grouped by status and error code,
    /// largest count first.
    pub fn failures_by_code(&self, batch: i64) -> Result<Vec<FailureGroup>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT COALESCE(r.row_status, h.state), COALESCE(r.error_code, h.error_code, ''),
                    COALESCE(r.error_message, h.error_message, ''), COALESCE(r.fen, h.amount_fen, 0),
                    h.refund_id, MIN(r.line)
             FROM batch_rows r LEFT JOIN refunds h ON h.id = r.refund
             WHERE r.batch_id = ?1
               AND ((r.row_status IS NULL AND h.state IN {}) OR r.row_status IN {})
             GROUP BY CASE WHEN r.row_status IS NULL THEN r.refund ELSE -r.line END
             ORDER BY MIN(r.line)",
            sql_list(&money_rules::failed_states()),
            verdict_list(&money_rules::failed_verdicts()),
        ))?;
        let mut rows = stmt.query([batch])?;
        let mut groups: BTreeMap<(Option<Status>, String), FailureGroup> = BTreeMap::new();
        while let Some(row) = rows.next()? {
            let status: String = row.get(0)?;
            let status = State::parse(&status)
                .map(State::status)
                .or_else(|| RowStatus::parse(&status).map(RowStatus::status));
            let code: String = row.get(1)?;
            let group = groups
                .entry((status, code.clone()))
                .or_insert_with(|| FailureGroup {
                    status,
                    code,
                    ..FailureGroup::default()
                });
            if group.count == 0 {
                group.message = row.get(2)?;
            }
            group.count += 1;
            group.fen = group.fen.saturating_add(Fen(row.get::<_, i64>(3)? as u64));
            if group.samples.len() < FAILURE_SAMPLES {
                let id: Option<String> = row.get(4)?;
                group.samples.push(
                    id.unwrap_or_else(|| format!("line {}", row.get::<_, i64>(5).unwrap_or(0))),
                );
            }
        }
        let mut groups: Vec<FailureGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        Ok(groups)
    }
}
