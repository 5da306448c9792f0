//! What the PostgreSQL journal tells of its reconciliations (recorded by
//! [`super::reconcile`]), as `journal/sqlite/reconciled.rs` tells it: in
//! which bills a refund was found (`show`), which Beijing days of each
//! merchant are reconciled (`status`), and the latest reconciliation of
//! each day in a period with its findings (the HTML report).

use std::collections::BTreeMap;

use super::days::counted_at;
use super::fenced::pg_error;
use super::refund_rows::{unsigned, unsigned_opt};
use super::PgJournal;
use crate::gateway::GatewayKind;
use crate::journal::days::gateway_zone;
use crate::journal::money_rules;
use crate::journal::reconcile_rows::{
    FoundInBill, LatestReconciliation, Money, ReconciledDay, RecordedFinding,
    RecordedReconciliation, OUTCOMES,
};
use crate::journal::state;
use crate::journal::JournalError;
use crate::money::Fen;

/// A day's key: gateway, merchant, Beijing day.
type Key = (GatewayKind, String, String);

fn gateway(row: &postgres::Row, i: usize) -> Result<GatewayKind, JournalError> {
    let name: String = row.try_get(i).map_err(pg_error("reading a gateway"))?;
    GatewayKind::parse(&name)
        .ok_or_else(|| JournalError::Inconsistent(format!("unknown gateway {name:?}")))
}

/// The one reconciliation of each gateway, merchant and day that is its
/// latest (the highest id), as a condition over `reconciliations c`.
const LATEST: &str = "c.id = (SELECT MAX(id) FROM reconciliations l WHERE l.gateway = c.gateway
                      AND l.merchant_id = c.merchant_id AND l.bill_date = c.bill_date)";

/// An empty day, to which figures are added.
fn day(key: &Key) -> ReconciledDay {
    ReconciledDay {
        gateway: key.0,
        merchant_id: key.1.clone(),
        day: key.2.clone(),
        succeeded: Money::default(),
        latest: None,
    }
}

fn latest(row: &postgres::Row) -> Result<LatestReconciliation, JournalError> {
    let get = pg_error("reading a reconciliation");
    let count = |i| unsigned(row, i);
    Ok(LatestReconciliation {
        id: row.try_get(3).map_err(&get)?,
        reconciled_at: row.try_get(4).map_err(&get)?,
        bill: Money {
            count: count(5)?,
            fen: Fen(count(6)?),
        },
        counts: [count(7)?, count(8)?, count(9)?, count(10)?, count(11)?],
        unresolved_not_in_bill: count(12)?,
        expected: Money {
            count: count(13)?,
            fen: Fen(count(14)?),
        },
    })
}

impl PgJournal {
    /// Every reconciliation that found this journal refund, oldest first.
    pub fn found_in_bills(&mut self, refund: i64) -> Result<Vec<FoundInBill>, JournalError> {
        let get = pg_error("reading the bills that found a refund");
        let rows = self
            .client
            .query(
                "SELECT c.id, c.bill_date, w.bill_day, w.bill_line, w.outcome, w.note,
                        c.reconciled_at, c.source
                 FROM reconciliation_rows w JOIN reconciliations c ON c.id = w.reconciliation
                 WHERE w.refund = $1 ORDER BY c.id",
                &[&refund],
            )
            .map_err(&get)?;
        rows.iter()
            .map(|r| {
                Ok(FoundInBill {
                    reconciliation: r.try_get(0).map_err(&get)?,
                    bill_date: r.try_get(1).map_err(&get)?,
                    bill_day: r.try_get(2).map_err(&get)?,
                    bill_line: unsigned_opt(r, 3)?,
                    outcome: r.try_get(4).map_err(&get)?,
                    note: r.try_get(5).map_err(&get)?,
                    reconciled_at: r.try_get(6).map_err(&get)?,
                    source: r.try_get(7).map_err(&get)?,
                })
            })
            .collect()
    }

    /// The Beijing days with succeeded refunds, or with a reconciliation, per
    /// gateway and merchant, each with its latest reconciliation; by
    /// gateway, merchant and day.
    pub fn reconciled_days(&mut self) -> Result<Vec<ReconciledDay>, JournalError> {
        let get = pg_error("reading the reconciled days");
        let mut days: BTreeMap<Key, ReconciledDay> = BTreeMap::new();
        // Grouped by the UTC hour in SQL, each hour then placed on its
        // Beijing day by the day's zone (whole hours: an hour never
        // straddles a day), as on SQLite.
        let at = counted_at("");
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT gateway, merchant_id, substr({at}, 1, 13) || ':00:00Z', COUNT(*),
                            SUM(amount_fen)::bigint
                     FROM refunds WHERE state IN {refunded} AND {at} IS NOT NULL
                     GROUP BY 1, 2, 3",
                    refunded = state::sql_list(&money_rules::REFUNDED),
                ),
                &[],
            )
            .map_err(&get)?;
        for row in &rows {
            let hour: String = row.try_get(2).map_err(&get)?;
            let Some(date) = gateway_zone().day_of(&hour) else {
                continue;
            };
            let key = (
                gateway(row, 0)?,
                row.try_get(1).map_err(&get)?,
                date.to_string(),
            );
            days.entry(key.clone())
                .or_insert_with(|| day(&key))
                .succeeded
                .add(unsigned(row, 3)?, Fen(unsigned(row, 4)?));
        }
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT gateway, merchant_id, bill_date, id, reconciled_at, bill_count,
                            bill_fen, matched, amount_differs, status_differs, not_in_journal,
                            missing_from_bill, unresolved_not_in_bill, expected_count, expected_fen
                     FROM reconciliations c WHERE {LATEST}"
                ),
                &[],
            )
            .map_err(&get)?;
        for row in &rows {
            let key = (
                gateway(row, 0)?,
                row.try_get(1).map_err(&get)?,
                row.try_get(2).map_err(&get)?,
            );
            days.entry(key.clone()).or_insert_with(|| day(&key)).latest = Some(latest(row)?);
        }
        Ok(days.into_values().collect())
    }

    /// The latest reconciliation of each gateway, merchant and Beijing day
    /// from `first` to `last` (`YYYY-MM-DD`, both included), by day.
    pub fn recorded_reconciliations(
        &mut self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError> {
        let get = pg_error("reading the recorded reconciliations");
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT id, profile, gateway, merchant_id, bill_date, source, reconciled_at,
                            bill_count, bill_fen, matched, amount_differs, status_differs,
                            not_in_journal, missing_from_bill, unresolved_not_in_bill
                     FROM reconciliations c
                     WHERE bill_date COLLATE \"C\" >= $1 AND bill_date COLLATE \"C\" <= $2
                       AND {LATEST}
                     ORDER BY bill_date COLLATE \"C\", gateway COLLATE \"C\",
                              merchant_id COLLATE \"C\""
                ),
                &[&first, &last],
            )
            .map_err(&get)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let count = |i| unsigned(row, i);
            found.push(RecordedReconciliation {
                id: row.try_get(0).map_err(&get)?,
                profile: row.try_get(1).map_err(&get)?,
                gateway: gateway(row, 2)?,
                merchant_id: row.try_get(3).map_err(&get)?,
                bill_date: row.try_get(4).map_err(&get)?,
                source: row.try_get(5).map_err(&get)?,
                reconciled_at: row.try_get(6).map_err(&get)?,
                bill: Money {
                    count: count(7)?,
                    fen: Fen(count(8)?),
                },
                counts: [count(9)?, count(10)?, count(11)?, count(12)?, count(13)?],
                unresolved_not_in_bill: count(14)?,
                findings: Vec::new(),
            });
        }
        for reconciliation in &mut found {
            reconciliation.findings = self.recorded_findings(reconciliation.id)?;
        }
        Ok(found)
    }

    /// A reconciliation's findings but the matched ones, by outcome (in
    /// [`OUTCOMES`] order) then refund id.
    fn recorded_findings(&mut self, id: i64) -> Result<Vec<RecordedFinding>, JournalError> {
        let get = pg_error("reading a reconciliation's findings");
        let order: String = OUTCOMES
            .iter()
            .enumerate()
            .map(|(i, o)| format!("WHEN '{o}' THEN {i} "))
            .collect();
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT outcome, refund_id, journal_fen, bill_fen, bill_day, note
                     FROM reconciliation_rows WHERE reconciliation = $1 AND outcome <> 'matched'
                     ORDER BY CASE outcome {order}END, refund_id COLLATE \"C\""
                ),
                &[&id],
            )
            .map_err(&get)?;
        let fen = |v: Option<i64>| v.map(|f| Fen(f as u64));
        rows.iter()
            .map(|r| {
                Ok(RecordedFinding {
                    outcome: r.try_get(0).map_err(&get)?,
                    refund_id: r.try_get(1).map_err(&get)?,
                    journal_fen: fen(r.try_get(2).map_err(&get)?),
                    bill_fen: fen(r.try_get(3).map_err(&get)?),
                    bill_day: r.try_get(4).map_err(&get)?,
                    note: r.try_get(5).map_err(&get)?,
                })
            })
            .collect()
    }
}
