//! The PostgreSQL journal's clock: the SERVER's, in unix milliseconds. The
//! processes sharing one journal run on many machines whose clocks
//! disagree; leases compared on each one's own clock would let a machine
//! whose clock runs ahead take over a live claim, and times written by
//! each would not order. One clock, the server's, orders every lease and
//! dates every event ([`super::claims`], [`super::fenced`]).

use postgres::GenericClient;

use super::error::describe;
use crate::journal::clock::{follow, machine_ms};
use crate::journal::JournalError;

/// Now on the server's clock, in unix milliseconds, as an SQL expression
/// (`clock_timestamp()`, not `now()`: the moment asked, not the
/// transaction's start).
pub(super) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Now on the server's clock, through `client` (a connection or a
/// transaction).
pub(super) fn server_ms(client: &mut impl GenericClient) -> Result<i64, JournalError> {
    read_server_clock(client).map_err(|e| {
        JournalError::Store(format!(
            "the PostgreSQL journal, reading the server's clock: {}",
            describe(&e)
        ))
    })
}

fn read_server_clock(client: &mut impl GenericClient) -> Result<i64, postgres::Error> {
    client
        .query_one(&format!("SELECT {NOW_MS}"), &[])
        .and_then(|row| row.try_get(0))
}

/// Reads the server's clock and makes the process's journal clock follow it
/// ([`crate::journal::clock::follow`]): at open, and at every reading of
/// `PgJournal::clock_ms` (claims.rs).
pub(super) fn follow_server(client: &mut impl GenericClient) -> Result<i64, postgres::Error> {
    let asked = machine_ms();
    let read = read_server_clock(client)?;
    follow(read, asked, machine_ms());
    Ok(read)
}
