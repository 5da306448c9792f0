//! The journal's side of `reconcile` (statements.md): the reads matching
//! needs (refunds by id within a gateway and merchant, in chunks; the
//! succeeded refunds counted on D−1..D+1 by [`days::COUNTED_AT`]; the
//! unresolved ones sent on D), the record of a reconciliation (one
//! transaction: the reconciliation and one row per finding), and what
//! `status` and `show` read back of it. Read-only on refunds: nothing here
//! writes `refunds`, `events` or `attempts`. What `status`, `show` and the
//! report read back of the record is [`super::reconciled`]'s.

use jiff::civil::Date;
use rusqlite::{params, params_from_iter, Row};

use super::days::{self, gateway_zone, DayBasis};
use super::{JournalError, SqliteJournal, State};
use crate::gateway::GatewayKind;
use crate::journal::money_rules;
pub use crate::journal::reconcile_rows::{
    FindingRecord, JournalRefund, Money, ReconciliationMeta, API, OUTCOMES,
};
use crate::journal::reconcile_rows::{SENT, SENT_AT};
use crate::money::Fen;

/// How many refund ids one read names (SQLite takes many more; this keeps
/// each statement small whatever the bill's size).
const CHUNK: usize = 500;

/// The columns a [`JournalRefund`] is read from. `f` is a subquery over
/// `refunds` that adds `counted_at` and `our_clock` (the day's definition
/// lives in `days.rs`), `p` the link it retries, `n` the link that retries it.
fn select(inner_where: &str) -> String {
    format!(
        "SELECT f.id, f.refund_id, f.state, f.amount_fen, f.fields, f.gateway, f.gateway_refund_id,
                f.counted_at, f.our_clock, f.sent, f.batch_id, f.line, p.refund_id, n.refund_id
         FROM (SELECT *, {} AS counted_at, {} AS our_clock, {SENT} AS sent
               FROM refunds WHERE scope = ?1 AND {inner_where}) f
         LEFT JOIN refunds p ON p.id = f.retry_of
         LEFT JOIN refunds n ON n.retry_of = f.id
         ORDER BY f.id",
        days::COUNTED_AT,
        days::COUNTED_BY_OUR_CLOCK
    )
}

fn journal_refund(row: &Row) -> rusqlite::Result<JournalRefund> {
    let bad = |i, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let state: String = row.get(2)?;
    let fields: String = row.get(4)?;
    let gateway: String = row.get(5)?;
    let gateway = GatewayKind::parse(&gateway)
        .ok_or_else(|| bad(5, format!("unknown gateway {gateway:?}")))?;
    let fields: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&fields).map_err(|e| bad(4, e.to_string()))?;
    let (order_id, gateway_order_id) = gateway.spec().order_ids(&fields);
    Ok(JournalRefund {
        id: row.get(0)?,
        refund_id: row.get(1)?,
        state: State::parse(&state).ok_or_else(|| bad(2, format!("unknown state {state:?}")))?,
        fen: Fen(row.get::<_, i64>(3)? as u64),
        order_id: order_id.to_owned(),
        gateway_order_id: gateway_order_id.to_owned(),
        gateway_refund_id: row.get(6)?,
        counted_at: row.get(7)?,
        basis: if row.get::<_, bool>(8)? {
            DayBasis::Bulkrefund
        } else {
            DayBasis::Gateway
        },
        sent: row.get(9)?,
        batch_id: row.get(10)?,
        line: row.get::<_, i64>(11)? as u64,
        retry_of: row.get(12)?,
        retried_as: row.get(13)?,
    })
}

/// `[first 00:00, last+1 00:00)` of Beijing days, as journal-time text.
fn day_bounds(first: Date, last: Date) -> Result<(String, String), JournalError> {
    let zone = gateway_zone();
    let bound = |date: Date, until| {
        zone.bound(&date.to_string(), until)
            .map_err(|e| JournalError::Inconsistent(e.0))
    };
    Ok((bound(first, false)?, bound(last, true)?))
}

fn shift(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(date)
}

impl SqliteJournal {
    /// The refunds of this gateway and merchant with these ids.
    pub fn refunds_for_bill(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let scope = super::id_space(gateway, merchant_id);
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = select(&format!("refund_id IN ({marks})"));
            let mut stmt = self.conn.prepare(&sql)?;
            let values = std::iter::once(&scope).chain(chunk);
            let rows = stmt.query_map(params_from_iter(values), journal_refund)?;
            for refund in rows {
                found.push(refund?);
            }
        }
        Ok(found)
    }

    /// The succeeded refunds of this gateway and merchant that count on
    /// `date`−1, `date` or `date`+1 in Beijing time.
    pub fn refunds_expected_around(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let (since, until) = day_bounds(shift(date, -1), shift(date, 1))?;
        let sql = select(&format!(
            "state IN {refunded} AND {at} >= ?2 AND {at} < ?3",
            refunded = super::state::sql_list(&money_rules::REFUNDED),
            at = days::COUNTED_AT
        ));
        let mut stmt = self.conn.prepare(&sql)?;
        let scope = super::id_space(gateway, merchant_id);
        let rows = stmt.query_map(params![scope, since, until], journal_refund)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The refunds of this gateway and merchant still unresolved that were
    /// sent ([`SENT`]) on Beijing day `date` by [`SENT_AT`].
    pub fn refunds_unresolved_on(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let (since, until) = day_bounds(date, date)?;
        let sql = select(&format!(
            "state IN {} AND {SENT} AND {SENT_AT} >= ?2 AND {SENT_AT} < ?3",
            super::state::sql_list(&money_rules::NOT_SETTLED)
        ));
        let mut stmt = self.conn.prepare(&sql)?;
        let scope = super::id_space(gateway, merchant_id);
        let rows = stmt.query_map(params![scope, since, until], journal_refund)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl SqliteJournal {
    /// Records a reconciliation and its findings in one transaction; returns its id.
    pub fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError> {
        let tx = self.conn.transaction()?;
        let [matched, amount, status, outside, missing] = meta.counts.map(|c| c as i64);
        tx.execute(
            "INSERT INTO reconciliations (profile, gateway, merchant_id, bill_date, source, raw_path,
                 raw_sha256, neighbours, reconciled_at, bill_count, bill_fen, matched, amount_differs,
                 status_differs, not_in_journal, missing_from_bill, unresolved_not_in_bill,
                 expected_count, expected_fen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            params![
                meta.profile,
                meta.gateway.as_str(),
                meta.merchant_id,
                meta.bill_date.to_string(),
                meta.source,
                meta.raw_path,
                meta.raw_sha256,
                meta.neighbours,
                super::now_text(),
                meta.bill.count as i64,
                meta.bill.fen.0 as i64,
                matched,
                amount,
                status,
                outside,
                missing,
                meta.unresolved_not_in_bill as i64,
                meta.expected.count as i64,
                meta.expected.fen.0 as i64,
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut insert = tx.prepare(
                "INSERT INTO reconciliation_rows (reconciliation, outcome, refund_id, refund, bill_day,
                     bill_line, gateway_refund_id, journal_status, bill_status, journal_fen, bill_fen,
                     bill_success_at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for f in findings {
                insert.execute(params![
                    id,
                    f.outcome,
                    f.refund_id,
                    f.refund,
                    f.bill_day.map(|d| d.to_string()),
                    f.bill_line.map(|l| l as i64),
                    f.gateway_refund_id,
                    f.journal_status,
                    f.bill_status,
                    f.journal_fen.map(|f| f.0 as i64),
                    f.bill_fen.map(|f| f.0 as i64),
                    f.bill_success_at,
                    f.note,
                ])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
