//! The PostgreSQL journal's side of `reconcile`, as
//! `journal/sqlite/reconcile.rs` does it: the reads matching needs (refunds
//! by id within a gateway and merchant, in chunks; the succeeded refunds
//! counted on D−1..D+1 by the day's one definition, [`super::days`]; the
//! unresolved ones sent on D) and the record of a reconciliation (one
//! transaction: the reconciliation and one row per finding). Read-only on
//! refunds. What `status`, `show` and the report read back of the record is
//! [`super::reconciled`]'s.

use jiff::civil::Date;
use postgres::types::ToSql;

use super::clock::server_ms;
use super::days::{counted_at, counted_by_our_clock};
use super::fenced::pg_error;
use super::refund_rows::unsigned;
use super::PgJournal;
use crate::gateway::GatewayKind;
use crate::journal::days::{gateway_zone, DayBasis};
use crate::journal::money_rules;
use crate::journal::reconcile_rows::{
    FindingRecord, JournalRefund, ReconciliationMeta, SENT, SENT_AT,
};
use crate::journal::state::{self, State};
use crate::journal::JournalError;
use crate::money::Fen;

/// How many refund ids one read names.
const CHUNK: usize = 500;

/// The columns a [`JournalRefund`] is read from: `f` is a subquery over the
/// refunds of the gateway and merchant `$1` that adds `counted_at`,
/// `our_clock` and `sent`, `p` the link it retries, `n` the link that
/// retries it.
fn select(inner_where: &str) -> String {
    format!(
        "SELECT f.id, f.refund_id, f.state, f.amount_fen, f.fields, f.gateway, f.gateway_refund_id,
                f.counted_at, f.our_clock, f.sent, f.batch_id, f.line, p.refund_id, n.refund_id
         FROM (SELECT *, {} AS counted_at, {} AS our_clock, {SENT} AS sent
               FROM refunds WHERE scope = $1 AND {inner_where}) f
         LEFT JOIN refunds p ON p.id = f.retry_of
         LEFT JOIN refunds n ON n.retry_of = f.id
         ORDER BY f.id",
        counted_at(""),
        counted_by_our_clock("")
    )
}

fn journal_refund(row: &postgres::Row) -> Result<JournalRefund, JournalError> {
    let get = pg_error("reading a refund for a reconciliation");
    let inconsistent = JournalError::Inconsistent;
    let state: String = row.try_get(2).map_err(&get)?;
    let fields: String = row.try_get(4).map_err(&get)?;
    let gateway: String = row.try_get(5).map_err(&get)?;
    let gateway = GatewayKind::parse(&gateway)
        .ok_or_else(|| inconsistent(format!("unknown gateway {gateway:?}")))?;
    let fields: std::collections::BTreeMap<String, String> = serde_json::from_str(&fields)
        .map_err(|e| inconsistent(format!("a refund's fields: {e}")))?;
    let (order_id, gateway_order_id) = gateway.spec().order_ids(&fields);
    Ok(JournalRefund {
        id: row.try_get(0).map_err(&get)?,
        refund_id: row.try_get(1).map_err(&get)?,
        state: State::parse(&state)
            .ok_or_else(|| inconsistent(format!("unknown state {state:?}")))?,
        fen: Fen(row.try_get::<_, i64>(3).map_err(&get)? as u64),
        order_id: order_id.to_owned(),
        gateway_order_id: gateway_order_id.to_owned(),
        gateway_refund_id: row.try_get(6).map_err(&get)?,
        counted_at: row.try_get(7).map_err(&get)?,
        basis: if row.try_get::<_, bool>(8).map_err(&get)? {
            DayBasis::Bulkrefund
        } else {
            DayBasis::Gateway
        },
        sent: row.try_get(9).map_err(&get)?,
        batch_id: row.try_get(10).map_err(&get)?,
        line: unsigned(row, 11)?,
        retry_of: row.try_get(12).map_err(&get)?,
        retried_as: row.try_get(13).map_err(&get)?,
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

impl PgJournal {
    fn journal_refunds(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let rows = self
            .client
            .query(sql, params)
            .map_err(pg_error("reading the refunds a bill is matched against"))?;
        rows.iter().map(journal_refund).collect()
    }

    /// The refunds of this gateway and merchant with these ids.
    pub fn refunds_for_bill(
        &mut self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let scope = crate::journal::id_space(gateway, merchant_id);
        let sql = select("refund_id = ANY($2)");
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            found.extend(self.journal_refunds(&sql, &[&scope, &chunk])?);
        }
        Ok(found)
    }

    /// The succeeded refunds of this gateway and merchant that count on
    /// `date`−1, `date` or `date`+1 in Beijing time.
    pub fn refunds_expected_around(
        &mut self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let (since, until) = day_bounds(shift(date, -1), shift(date, 1))?;
        let at = counted_at("");
        let sql = select(&format!(
            "state IN {refunded} AND {at} COLLATE \"C\" >= $2 AND {at} COLLATE \"C\" < $3",
            refunded = state::sql_list(&money_rules::REFUNDED),
        ));
        let scope = crate::journal::id_space(gateway, merchant_id);
        self.journal_refunds(&sql, &[&scope, &since, &until])
    }

    /// The refunds of this gateway and merchant still unresolved that were
    /// sent ([`SENT`]) on Beijing day `date` by [`SENT_AT`].
    pub fn refunds_unresolved_on(
        &mut self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        let (since, until) = day_bounds(date, date)?;
        let sql = select(&format!(
            "state IN {} AND {SENT} AND {SENT_AT} COLLATE \"C\" >= $2
             AND {SENT_AT} COLLATE \"C\" < $3",
            state::sql_list(&money_rules::NOT_SETTLED)
        ));
        let scope = crate::journal::id_space(gateway, merchant_id);
        self.journal_refunds(&sql, &[&scope, &since, &until])
    }

    /// Records a reconciliation and its findings in one transaction; returns
    /// its id. `reconciled_at` is the journal's clock: the server's.
    pub fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError> {
        let doing = pg_error("recording a reconciliation");
        let mut tx = self.client.transaction().map_err(&doing)?;
        let now_ms = server_ms(&mut tx)?;
        let now = jiff::Timestamp::from_millisecond(now_ms)
            .map(crate::zone::journal_time)
            .map_err(|e| {
                JournalError::Inconsistent(format!("the server's clock reads {now_ms}: {e}"))
            })?;
        let [matched, amount, status, outside, missing] = meta.counts.map(|c| c as i64);
        let row = tx
            .query_one(
                "INSERT INTO reconciliations (profile, gateway, merchant_id, bill_date, source,
                     raw_path, raw_sha256, neighbours, reconciled_at, bill_count, bill_fen, matched,
                     amount_differs, status_differs, not_in_journal, missing_from_bill,
                     unresolved_not_in_bill, expected_count, expected_fen)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19)
                 RETURNING id",
                &[
                    &meta.profile,
                    &meta.gateway.as_str(),
                    &meta.merchant_id,
                    &meta.bill_date.to_string(),
                    &meta.source,
                    &meta.raw_path,
                    &meta.raw_sha256,
                    &meta.neighbours,
                    &now,
                    &(meta.bill.count as i64),
                    &(meta.bill.fen.0 as i64),
                    &matched,
                    &amount,
                    &status,
                    &outside,
                    &missing,
                    &(meta.unresolved_not_in_bill as i64),
                    &(meta.expected.count as i64),
                    &(meta.expected.fen.0 as i64),
                ],
            )
            .map_err(&doing)?;
        let id: i64 = row.try_get(0).map_err(&doing)?;
        let insert = tx
            .prepare(
                "INSERT INTO reconciliation_rows (reconciliation, outcome, refund_id, refund,
                     bill_day, bill_line, gateway_refund_id, journal_status, bill_status,
                     journal_fen, bill_fen, bill_success_at, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .map_err(&doing)?;
        for f in findings {
            tx.execute(
                &insert,
                &[
                    &id,
                    &f.outcome,
                    &f.refund_id,
                    &f.refund,
                    &f.bill_day.map(|d| d.to_string()),
                    &f.bill_line.map(|l| l as i64),
                    &f.gateway_refund_id,
                    &f.journal_status,
                    &f.bill_status,
                    &f.journal_fen.map(|f| f.0 as i64),
                    &f.bill_fen.map(|f| f.0 as i64),
                    &f.bill_success_at,
                    &f.note,
                ],
            )
            .map_err(&doing)?;
        }
        tx.commit().map_err(&doing)?;
        Ok(id)
    }
}
