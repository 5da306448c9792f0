//! What the journal tells of its reconciliations (recorded by
//! [`super::reconcile`]): in which bills a refund was found (`show`), which
//! Beijing days of each merchant are reconciled and which are not
//! (`status`), and the latest reconciliation of each day in a period with
//! its findings (the HTML report).

use rusqlite::params;

use super::days::{self, gateway_zone};
use super::reconcile::Money;
use super::{JournalError, SqliteJournal};
use crate::gateway::GatewayKind;
pub use crate::journal::reconcile_rows::{
    FoundInBill, LatestReconciliation, ReconciledDay, RecordedFinding, RecordedReconciliation,
};
use crate::money::Fen;

impl SqliteJournal {
    /// Every reconciliation that found this journal refund, oldest first.
    pub fn found_in_bills(&self, refund: i64) -> Result<Vec<FoundInBill>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.bill_date, w.bill_day, w.bill_line, w.outcome, w.note, c.reconciled_at, c.source
             FROM reconciliation_rows w JOIN reconciliations c ON c.id = w.reconciliation
             WHERE w.refund = ?1 ORDER BY c.id",
        )?;
        let rows = stmt.query_map([refund], |r| {
            Ok(FoundInBill {
                reconciliation: r.get(0)?,
                bill_date: r.get(1)?,
                bill_day: r.get(2)?,
                bill_line: r.get::<_, Option<i64>>(3)?.map(|l| l as u64),
                outcome: r.get(4)?,
                note: r.get(5)?,
                reconciled_at: r.get(6)?,
                source: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The Beijing days with succeeded refunds, or with a reconciliation, per
    /// gateway and merchant, each with its latest reconciliation; by
    /// gateway, merchant and day.
    pub fn reconciled_days(&self) -> Result<Vec<ReconciledDay>, JournalError> {
        use std::collections::BTreeMap;
        type Key = (GatewayKind, String, String);
        let mut days: BTreeMap<Key, ReconciledDay> = BTreeMap::new();
        let parse = |g: String| {
            GatewayKind::parse(&g)
                .ok_or_else(|| JournalError::Inconsistent(format!("unknown gateway {g:?}")))
        };
        // Grouped by the UTC hour in SQL (few rows whatever the journal's
        // size), each hour then placed on its Beijing day by days.rs's zone:
        // Beijing's offset is whole hours, so an hour never straddles a day.
        let mut stmt = self.conn.prepare(&format!(
            "SELECT gateway, merchant_id, substr({at}, 1, 13) || ':00:00Z', COUNT(*), SUM(amount_fen)
             FROM refunds WHERE state IN {refunded} AND {at} IS NOT NULL GROUP BY 1, 2, 3",
            refunded = super::state::sql_list(&crate::journal::money_rules::REFUNDED),
            at = days::COUNTED_AT
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let gateway = parse(row.get(0)?)?;
            let merchant_id: String = row.get(1)?;
            let hour: String = row.get(2)?;
            let Some(day) = gateway_zone().day_of(&hour) else {
                continue;
            };
            let key = (gateway, merchant_id.clone(), day.to_string());
            days.entry(key)
                .or_insert_with(|| ReconciledDay {
                    gateway,
                    merchant_id,
                    day: day.to_string(),
                    succeeded: Money::default(),
                    latest: None,
                })
                .succeeded
                .add(
                    row.get::<_, i64>(3)? as u64,
                    Fen(row.get::<_, i64>(4)? as u64),
                );
        }
        let mut stmt = self.conn.prepare(
            "SELECT gateway, merchant_id, bill_date, id, reconciled_at, bill_count, bill_fen, matched,
                    amount_differs, status_differs, not_in_journal, missing_from_bill, unresolved_not_in_bill,
                    expected_count, expected_fen
             FROM reconciliations c
             WHERE id = (SELECT MAX(id) FROM reconciliations l WHERE l.gateway = c.gateway
                         AND l.merchant_id = c.merchant_id AND l.bill_date = c.bill_date)",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let gateway = parse(row.get(0)?)?;
            let merchant_id: String = row.get(1)?;
            let day: String = row.get(2)?;
            let count = |i: usize| row.get::<_, i64>(i).map(|c| c as u64);
            let latest = LatestReconciliation {
                id: row.get(3)?,
                reconciled_at: row.get(4)?,
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
            };
            days.entry((gateway, merchant_id.clone(), day.clone()))
                .or_insert_with(|| ReconciledDay {
                    gateway,
                    merchant_id,
                    day,
                    succeeded: Money::default(),
                    latest: None,
                })
                .latest = Some(latest);
        }
        Ok(days.into_values().collect())
    }
}

impl SqliteJournal {
    /// The latest reconciliation of each gateway, merchant and Beijing day
    /// from `first` to `last` (`YYYY-MM-DD`, both included), by day.
    pub fn recorded_reconciliations(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, profile, gateway, merchant_id, bill_date, source, reconciled_at, bill_count,
                    bill_fen, matched, amount_differs, status_differs, not_in_journal,
                    missing_from_bill, unresolved_not_in_bill
             FROM reconciliations c
             WHERE bill_date >= ?1 AND bill_date <= ?2
               AND id = (SELECT MAX(id) FROM reconciliations l WHERE l.gateway = c.gateway
                         AND l.merchant_id = c.merchant_id AND l.bill_date = c.bill_date)
             ORDER BY bill_date, gateway, merchant_id",
        )?;
        let mut rows = stmt.query(params![first, last])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let gateway: String = row.get(2)?;
            let count = |i: usize| row.get::<_, i64>(i).map(|c| c as u64);
            found.push(RecordedReconciliation {
                id: row.get(0)?,
                profile: row.get(1)?,
                gateway: GatewayKind::parse(&gateway).ok_or_else(|| {
                    JournalError::Inconsistent(format!("unknown gateway {gateway:?}"))
                })?,
                merchant_id: row.get(3)?,
                bill_date: row.get(4)?,
                source: row.get(5)?,
                reconciled_at: row.get(6)?,
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

    fn recorded_findings(&self, id: i64) -> Result<Vec<RecordedFinding>, JournalError> {
        let order: String = super::reconcile::OUTCOMES
            .iter()
            .enumerate()
            .map(|(i, o)| format!("WHEN '{o}' THEN {i} "))
            .collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT outcome, refund_id, journal_fen, bill_fen, bill_day, note
             FROM reconciliation_rows WHERE reconciliation = ?1 AND outcome <> 'matched'
             ORDER BY CASE outcome {order}END, refund_id"
        ))?;
        let fen = |v: Option<i64>| v.map(|f| Fen(f as u64));
        let rows = stmt.query_map([id], |r| {
            Ok(RecordedFinding {
                outcome: r.get(0)?,
                refund_id: r.get(1)?,
                journal_fen: fen(r.get(2)?),
                bill_fen: fen(r.get(3)?),
                bill_day: r.get(4)?,
                note: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
