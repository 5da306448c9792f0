//! How the PostgreSQL store reads a refund from a row ([`RECORD_COLUMNS`],
//! [`read_record`]: the one reader every operation that gives a
//! [`RefundRecord`] uses), the counts and lines of other rows ([`unsigned`]),
//! and which refunds a [`Scope`] names, as SQL.
//! Both say what `journal/sqlite/refunds.rs` says, column for column.

use super::fenced::pg_error;
use crate::gateway::GatewayKind;
use crate::journal::records::{RefundRecord, Scope};
use crate::journal::state::State;
use crate::journal::JournalError;
use crate::money::Fen;

/// The columns of `refunds` a [`RefundRecord`] is read from, in
/// [`read_record`]'s order.
pub(super) const RECORD_COLUMNS: &str =
    "id, refund_id, profile, amount_fen, fields, state, gateway_refund_id, \
     next_attempt_at, attempts, submits, ever_created, error_code, error_message, \
     gateway, merchant_id, batch_id";

/// [`RECORD_COLUMNS`] over the refunds table named `alias` in a join.
pub(super) fn record_columns(alias: &str) -> String {
    RECORD_COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A driver error reading a column, as the journal reports it.
fn column_error(e: postgres::Error) -> JournalError {
    pg_error("reading a refund")(e)
}

/// A count kept as BIGINT, as the record's `u32`.
fn count(value: i64, what: &str) -> Result<u32, JournalError> {
    u32::try_from(value)
        .map_err(|_| JournalError::Inconsistent(format!("a refund's {what} is {value}")))
}

/// Reads a row selected with [`RECORD_COLUMNS`] (first).
pub(super) fn read_record(row: &postgres::Row) -> Result<RefundRecord, JournalError> {
    let fields: String = row.try_get(4).map_err(column_error)?;
    let state: String = row.try_get(5).map_err(column_error)?;
    let gateway: String = row.try_get(13).map_err(column_error)?;
    let amount: i64 = row.try_get(3).map_err(column_error)?;
    let inconsistent = |what: String| JournalError::Inconsistent(what);
    Ok(RefundRecord {
        id: row.try_get(0).map_err(column_error)?,
        refund_id: row.try_get(1).map_err(column_error)?,
        gateway: GatewayKind::parse(&gateway)
            .ok_or_else(|| inconsistent(format!("unknown gateway {gateway:?}")))?,
        merchant_id: row.try_get(14).map_err(column_error)?,
        profile: row.try_get(2).map_err(column_error)?,
        amount: Fen(amount as u64),
        fields: serde_json::from_str(&fields)
            .map_err(|e| inconsistent(format!("a refund's fields: {e}")))?,
        state: State::parse(&state)
            .ok_or_else(|| inconsistent(format!("unknown state {state:?}")))?,
        gateway_refund_id: row.try_get(6).map_err(column_error)?,
        next_attempt_at: row.try_get(7).map_err(column_error)?,
        attempts: count(row.try_get(8).map_err(column_error)?, "attempts")?,
        submits: count(row.try_get(9).map_err(column_error)?, "submits")?,
        // SQLite reads its integer as a bool the same way: not zero.
        ever_created: row.try_get::<_, i64>(10).map_err(column_error)? != 0,
        error_code: row.try_get(11).map_err(column_error)?,
        error_message: row.try_get(12).map_err(column_error)?,
        batch: row.try_get(15).map_err(column_error)?,
    })
}

/// A BIGINT column that is never negative, as the `u64` the rows hold.
pub(super) fn unsigned(row: &postgres::Row, i: usize) -> Result<u64, JournalError> {
    let value: i64 = row.try_get(i).map_err(pg_error("reading a row"))?;
    u64::try_from(value)
        .map_err(|_| JournalError::Inconsistent(format!("a count or line is {value}")))
}

/// [`unsigned`], where the column may be NULL.
pub(super) fn unsigned_opt(row: &postgres::Row, i: usize) -> Result<Option<u64>, JournalError> {
    let value: Option<i64> = row.try_get(i).map_err(pg_error("reading a row"))?;
    value
        .map(|v| u64::try_from(v).map_err(|_| JournalError::Inconsistent(format!("a line is {v}"))))
        .transpose()
}

/// Reads every row with [`read_record`].
pub(super) fn read_records(rows: &[postgres::Row]) -> Result<Vec<RefundRecord>, JournalError> {
    rows.iter().map(read_record).collect()
}

/// An id list as an SQL array: ids are integers, so they are written into
/// the statement as SQLite's store writes them; an empty list is an empty
/// array, which matches nothing (PostgreSQL refuses `IN ()`).
pub(super) fn id_array(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("ARRAY[{}]::bigint[]", ids.join(","))
}

/// SQL that selects the scope's refund ids (one column).
pub(super) fn scope_ids_sql(scope: &Scope) -> String {
    match scope {
        Scope::Batches(ids) => format!(
            "SELECT refund FROM batch_rows WHERE refund IS NOT NULL AND batch_id = ANY({})",
            id_array(ids)
        ),
        Scope::Refunds(ids) => {
            format!("SELECT id FROM refunds WHERE id = ANY({})", id_array(ids))
        }
        Scope::All => "SELECT id FROM refunds".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_qualifies_every_column() {
        let columns = record_columns("f");
        assert_eq!(columns.split(", ").count(), 16);
        assert!(columns.starts_with("f.id, f.refund_id, "));
        assert!(columns.ends_with(", f.batch_id"));
    }

    #[test]
    fn an_empty_scope_names_nothing_and_is_valid_sql() {
        assert_eq!(id_array(&[]), "ARRAY[]::bigint[]");
        assert_eq!(id_array(&[3, 1]), "ARRAY[3,1]::bigint[]");
        assert!(scope_ids_sql(&Scope::Batches(vec![])).contains("ANY(ARRAY[]::bigint[])"));
    }
}
