//! The money on PostgreSQL (README, "The money"): a batch's intents by
//! status and owning batch, the rows it never sent, its failures grouped by
//! error code, its rows' totals by status, and the succeeded gateway
//! refunds of the whole journal. The same queries as the SQLite store's
//! (`sqlite/money.rs`, `sqlite/reports.rs` `status_totals`), built from the
//! same lists (`money_rules`), in the same order: SQLite hands groups out
//! sorted by their key in byte order, so these order by it `COLLATE "C"`.

use std::collections::BTreeMap;

use super::super::fenced::pg_error;
use super::super::PgJournal;
use super::scope::unsigned;
use crate::journal::money_rules;
use crate::journal::report_rows::{FailureGroup, IntentTotal, FAILURE_SAMPLES};
use crate::journal::state::{sql_list, State};
use crate::journal::status::{RowStatus, Status};
use crate::journal::JournalError;
use crate::money::Fen;

/// `('invalid', 'conflict')`: rows' verdicts for SQL, as [`sql_list`] lists states.
fn verdict_list(verdicts: &[RowStatus]) -> String {
    let names: Vec<String> = verdicts
        .iter()
        .map(|v| format!("'{}'", v.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

/// A count (BIGINT) and a sum of fen (cast to BIGINT) as the money reads them.
fn count_and_fen(count: i64, fen: i64) -> Result<(u64, Fen), JournalError> {
    Ok((
        unsigned(count, "a count")?,
        Fen(unsigned(fen, "an amount")?),
    ))
}

/// A status as the journal writes it: a refund's state, or a row's verdict.
fn status_of(text: &str) -> Status {
    State::parse(text)
        .map(State::status)
        .or_else(|| Status::parse(text))
        .unwrap_or(Status::Unknown)
}

/// What a batch row that did not succeed says, one a group: its status,
/// code, message, amount, refund id (none for a row never sent) and line.
/// One row a failed intent (its rows grouped by the refund they name, the
/// first line's values, as SQLite takes bare columns from the row of
/// `MIN(line)`) or a failed row, in line order.
fn failures_sql() -> String {
    format!(
        "SELECT status, code, message, fen, refund_id, line FROM (
             SELECT DISTINCT ON (CASE WHEN r.row_status IS NULL THEN r.refund ELSE -r.line END)
                    COALESCE(r.row_status, h.state) AS status,
                    COALESCE(r.error_code, h.error_code, '') AS code,
                    COALESCE(r.error_message, h.error_message, '') AS message,
                    COALESCE(r.fen, h.amount_fen, 0) AS fen, h.refund_id, r.line
             FROM batch_rows r LEFT JOIN refunds h ON h.id = r.refund
             WHERE r.batch_id = $1
               AND ((r.row_status IS NULL AND h.state IN {}) OR r.row_status IN {})
             ORDER BY CASE WHEN r.row_status IS NULL THEN r.refund ELSE -r.line END, r.line
         ) firsts ORDER BY line",
        sql_list(&money_rules::failed_states()),
        verdict_list(&money_rules::failed_verdicts()),
    )
}

impl PgJournal {
    /// The intents `batch` lists, by their head's status and owning batch.
    pub fn batch_intents(&mut self, batch: i64) -> Result<Vec<IntentTotal>, JournalError> {
        let rows = self
            .client
            .query(
                r#"SELECT h.state, h.batch_id, COUNT(*), COALESCE(SUM(h.amount_fen), 0)::bigint
                   FROM (SELECT DISTINCT refund FROM batch_rows
                         WHERE batch_id = $1 AND row_status IS NULL AND refund IS NOT NULL) listed
                   JOIN refunds h ON h.id = listed.refund
                   GROUP BY h.state, h.batch_id ORDER BY h.batch_id, h.state COLLATE "C""#,
                &[&batch],
            )
            .map_err(pg_error("reading a batch's intents"))?;
        rows.iter()
            .map(|row| {
                let (count, fen) = count_and_fen(row.get(2), row.get(3))?;
                Ok(IntentTotal {
                    status: State::parse(row.get(0)).map_or(Status::Unknown, State::status),
                    owner: row.get(1),
                    count,
                    fen,
                })
            })
            .collect()
    }

    /// The rows of `batch` that were never a refund to send, by verdict.
    pub fn batch_unsent(&mut self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError> {
        let rows = self
            .client
            .query(
                r#"SELECT r.row_status, COUNT(*),
                          COALESCE(SUM(COALESCE(r.fen, f.amount_fen)), 0)::bigint
                   FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
                   WHERE r.batch_id = $1 AND r.row_status IS NOT NULL
                   GROUP BY r.row_status ORDER BY r.row_status COLLATE "C""#,
                &[&batch],
            )
            .map_err(pg_error("reading a batch's rows never sent"))?;
        rows.iter()
            .map(|row| {
                let verdict: &str = row.get(0);
                let (count, fen) = count_and_fen(row.get(1), row.get(2))?;
                let verdict = RowStatus::parse(verdict).ok_or_else(|| {
                    JournalError::Inconsistent(format!("a row status {verdict:?} of batch {batch}"))
                })?;
                Ok((verdict, count, fen))
            })
            .collect()
    }

    /// Every succeeded gateway refund of the journal, each once: what the
    /// gateways paid through bulkrefund.
    pub fn refunded_in_all(&mut self) -> Result<(u64, Fen), JournalError> {
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(amount_fen), 0)::bigint FROM refunds
                     WHERE state IN {}",
                    sql_list(&money_rules::REFUNDED)
                ),
                &[],
            )
            .map_err(pg_error("reading what was refunded"))?;
        count_and_fen(row.get(0), row.get(1))
    }

    /// What did not succeed in `batch` and is not waiting on the gateway:
    /// intents that failed, are in review or abnormal, and rows never sent (a duplicate
    /// aside: the row it repeats is counted), grouped by status and error code,
    /// largest count first.
    pub fn failures_by_code(&mut self, batch: i64) -> Result<Vec<FailureGroup>, JournalError> {
        let rows = self
            .client
            .query(&failures_sql(), &[&batch])
            .map_err(pg_error("reading a batch's failures"))?;
        let mut groups: BTreeMap<(Option<Status>, String), FailureGroup> = BTreeMap::new();
        for row in &rows {
            let status: &str = row.get(0);
            let status = State::parse(status)
                .map(State::status)
                .or_else(|| RowStatus::parse(status).map(RowStatus::status));
            let code: String = row.get(1);
            let group = groups
                .entry((status, code.clone()))
                .or_insert_with(|| FailureGroup {
                    status,
                    code,
                    ..FailureGroup::default()
                });
            if group.count == 0 {
                group.message = row.get(2);
            }
            group.count += 1;
            group.fen = group
                .fen
                .saturating_add(Fen(unsigned(row.get(3), "an amount")?));
            if group.samples.len() < FAILURE_SAMPLES {
                let id: Option<String> = row.get(4);
                group
                    .samples
                    .push(id.unwrap_or_else(|| format!("line {}", row.get::<_, i64>(5))));
            }
        }
        let mut groups: Vec<FailureGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        Ok(groups)
    }

    /// Count and amount per status of a batch's rows. With `as_repeated`, a
    /// duplicate row counts as the status of the row it repeats (what the
    /// exit code is decided from); without, as `duplicate` (what people read).
    pub fn status_totals(
        &mut self,
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
        let rows = self
            .client
            .query(
                &format!(
                    r#"SELECT status, COUNT(*), COALESCE(SUM(fen), 0)::bigint FROM (
                           SELECT {status} AS status, COALESCE(r.fen, f.amount_fen) AS fen
                           FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
                           WHERE r.batch_id = $1) rows
                       GROUP BY status ORDER BY status COLLATE "C" NULLS FIRST"#
                ),
                &[&batch],
            )
            .map_err(pg_error("reading a batch's totals by status"))?;
        rows.iter()
            .map(|row| {
                let (count, fen) = count_and_fen(row.get(1), row.get(2))?;
                let status: Option<&str> = row.get(0);
                let status = status.ok_or_else(|| {
                    JournalError::Inconsistent(format!("a row of batch {batch} has no status"))
                })?;
                Ok((status_of(status), count, fen))
            })
            .collect()
    }
}
