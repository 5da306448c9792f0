//! What the PostgreSQL store's report reads share: reading a column as a
//! journal error rather than a panic, a status or a JSON column as SQLite's
//! reports read them (`sqlite/reports.rs`), the time a refund counts by as
//! SQL ([`crate::journal::days::COUNTED_BY`]), and streaming a query's rows
//! through a portal, a few at a time, so a million rows never sit in memory.

use postgres::types::{FromSql, ToSql};
use postgres::{Client, Row};
use serde::de::DeserializeOwned;

use crate::journal::days::COUNTED_BY;
use crate::journal::postgres::error::describe;
use crate::journal::state::State;
use crate::journal::status::Status;
use crate::journal::JournalError;

/// How many rows a streamed read fetches from its portal at a time: enough
/// to keep round trips few, few enough that memory stays flat.
const ROWS_PER_FETCH: i32 = 1000;

/// A driver error while `doing` a read, in the journal's words.
pub fn read_error(doing: &str, e: &postgres::Error) -> JournalError {
    JournalError::Store(format!("the PostgreSQL journal, {doing}: {}", describe(e)))
}

/// Column `index` of `row`; a column of an unexpected type is an error, not a panic.
pub fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, JournalError> {
    row.try_get(index)
        .map_err(|e| read_error(&format!("reading column {index}"), &e))
}

/// A column the journal stores as a non-negative BIGINT, as the count it is.
pub fn count(row: &Row, index: usize) -> Result<u64, JournalError> {
    Ok(column::<i64>(row, index)?.max(0) as u64)
}

/// A status as the journal names it: a refund's state, else a status's
/// own name, else `unknown` (as SQLite's reports read it).
pub fn status_of(text: &str) -> Status {
    State::parse(text)
        .map(State::status)
        .or_else(|| Status::parse(text))
        .unwrap_or(Status::Unknown)
}

/// A JSON column (`what` names it in the error).
pub fn json_of<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, JournalError> {
    serde_json::from_str(text).map_err(|e| JournalError::Inconsistent(format!("{what}: {e}")))
}

/// The journal time (RFC 3339 UTC text) a refund of the table named
/// `alias` counts by: `COALESCE` over [`COUNTED_BY`], as SQLite's.
pub fn counted_at(alias: &str) -> String {
    let columns: Vec<String> = COUNTED_BY.iter().map(|c| format!("{alias}.{c}")).collect();
    format!("COALESCE({})", columns.join(", "))
}

/// True when [`counted_at`] is bulkrefund's clock (the gateway's time, the
/// first of [`COUNTED_BY`], is missing).
pub fn counted_by_our_clock(alias: &str) -> String {
    format!("({alias}.{} IS NULL)", COUNTED_BY[0])
}

/// Runs `sql` in a read-only transaction through a portal, handing each row
/// to `each` until it answers false or the rows end. Only one fetch's rows
/// are held at a time; stopping early closes the portal, leaving the rest
/// unread on the server.
pub fn stream_rows(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    doing: &str,
    each: &mut dyn FnMut(&Row) -> Result<bool, JournalError>,
) -> Result<(), JournalError> {
    let fail = |e: postgres::Error| read_error(doing, &e);
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(fail)?;
    let portal = tx.bind(sql, params).map_err(fail)?;
    loop {
        let rows = tx.query_portal(&portal, ROWS_PER_FETCH).map_err(fail)?;
        for row in &rows {
            if !each(row)? {
                return Ok(());
            }
        }
        if rows.len() < ROWS_PER_FETCH as usize {
            return Ok(());
        }
    }
}
