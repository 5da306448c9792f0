//! The PostgreSQL journal's clock: the SERVER's, in unix milliseconds. The
//! processes sharing one journal run on many machines whose clocks
//! disagree; leases compared on each one's own clock would let a machine
//! whose clock runs ahead take over a live claim, and times written by
//! each would not order. One clock, the server's, orders every lease and
//! dates every event ([`super::claims`], [`super::fenced`]).

use postgres::GenericClient;

use super::error::describe;
use super::PgJournal;
use crate::journal::JournalError;

/// Now on the server's clock, in unix milliseconds, as an SQL expression
/// (`clock_timestamp()`, not `now()`: the moment asked, not the
/// transaction's start).
pub(super) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Now on the server's clock, through `client` (a connection or a
/// transaction).
pub(super) fn server_ms(client: &mut impl GenericClient) -> Result<i64, JournalError> {
    client
        .query_one(&format!("SELECT {NOW_MS}"), &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| {
            JournalError::Store(format!(
                "the PostgreSQL journal, reading the server's clock: {}",
                describe(&e)
            ))
        })
}

impl PgJournal {
    /// Now on the journal's clock, in unix milliseconds: the server's (see
    /// the module's note for why not this machine's).
    pub fn clock_ms(&mut self) -> Result<i64, JournalError> {
        server_ms(&mut self.client)
    }
}
