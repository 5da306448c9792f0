//! What the scheduler's reads on PostgreSQL share: which refunds a command
//! works on ([`Scope`]) as SQL, and a refund as the engine works on it read
//! from a row ([`RECORD_COLUMNS`], [`read_record`]), the same columns and
//! meaning as the SQLite store's (`sqlite/refunds.rs`).

use crate::gateway::GatewayKind;
use crate::journal::records::{RefundRecord, Scope};
use crate::journal::state::State;
use crate::journal::JournalError;
use crate::money::Fen;

/// The columns [`read_record`] reads, in its order (every one of `refunds`,
/// so a query may name the table `f`).
pub(super) const RECORD_COLUMNS: &str =
    "f.id, f.refund_id, f.profile, f.amount_fen, f.fields, f.state, f.gateway_refund_id, \
     f.next_attempt_at, f.attempts, f.submits, f.ever_created, f.error_code, f.error_message, \
     f.gateway, f.merchant_id, f.batch_id";

/// How many columns [`RECORD_COLUMNS`] selects: a query's own columns follow.
pub(super) const RECORD_COLUMN_COUNT: usize = 16;

/// `ARRAY[1,2]::bigint[]`: ids inlined (integers, nothing to escape), as the
/// SQLite store inlines them; an empty list is an empty array, where
/// PostgreSQL refuses SQLite's `IN ()`.
fn id_array(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("ARRAY[{}]::bigint[]", ids.join(","))
}

/// SQL that selects the scope's refund ids (`sqlite/refunds.rs` `ids_sql`).
pub(super) fn ids_sql(scope: &Scope) -> String {
    match scope {
        Scope::Batches(ids) => format!(
            "SELECT refund FROM batch_rows WHERE refund IS NOT NULL AND batch_id = ANY({})",
            id_array(ids)
        ),
        Scope::Refunds(ids) => format!("SELECT id FROM refunds WHERE id = ANY({})", id_array(ids)),
        Scope::All => "SELECT id FROM refunds".to_owned(),
    }
}

/// A column PostgreSQL holds as BIGINT that the record keeps as a count.
fn count(row: &postgres::Row, index: usize, id: i64) -> Result<u32, JournalError> {
    let value: i64 = row.get(index);
    u32::try_from(value).map_err(|_| {
        JournalError::Inconsistent(format!(
            "refund #{id} has a count of {value} in column {index}"
        ))
    })
}

/// Reads a row selected with [`RECORD_COLUMNS`] first.
pub(super) fn read_record(row: &postgres::Row) -> Result<RefundRecord, JournalError> {
    let id: i64 = row.get(0);
    let bad = |what: String| JournalError::Inconsistent(format!("refund #{id} has {what}"));
    let fields: &str = row.get(4);
    let state: &str = row.get(5);
    let gateway: &str = row.get(13);
    let amount: i64 = row.get(3);
    Ok(RefundRecord {
        id,
        refund_id: row.get(1),
        gateway: GatewayKind::parse(gateway)
            .ok_or_else(|| bad(format!("the unknown gateway {gateway:?}")))?,
        merchant_id: row.get(14),
        profile: row.get(2),
        amount: Fen(u64::try_from(amount).map_err(|_| bad(format!("the amount {amount}")))?),
        fields: serde_json::from_str(fields)
            .map_err(|e| bad(format!("fields that do not read: {e}")))?,
        state: State::parse(state).ok_or_else(|| bad(format!("the unknown state {state:?}")))?,
        gateway_refund_id: row.get(6),
        next_attempt_at: row.get(7),
        attempts: count(row, 8, id)?,
        submits: count(row, 9, id)?,
        ever_created: row.get::<_, i64>(10) != 0,
        error_code: row.get(11),
        error_message: row.get(12),
        batch: row.get(15),
    })
}

/// A BIGINT the journal holds as a count or an amount, never negative.
pub(super) fn unsigned(value: i64, what: &str) -> Result<u64, JournalError> {
    u64::try_from(value)
        .map_err(|_| JournalError::Inconsistent(format!("{what} is negative ({value})")))
}
