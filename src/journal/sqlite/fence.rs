//! Why a fenced write on SQLite changed no row: the refund read back and
//! judged by [`crate::journal::fence::refusal`], the same words on every store.

use rusqlite::{Connection, OptionalExtension};

use super::claim::Claim;
use super::state::State;
use super::JournalError;
use crate::journal::fence::{self, Held};

/// Why a fenced write changed no row ([`fence::refusal`]), from the refund
/// as it is now.
pub(super) fn refusal(
    conn: &Connection,
    refund: i64,
    expected: Option<State>,
    claim: Option<&Claim>,
    lease_now: Option<i64>,
) -> JournalError {
    let held = conn
        .prepare_cached(
            "SELECT claim_owner, claim_generation, state, lease_until_ms FROM refunds WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([refund], |row| {
                Ok(Held {
                    owner: row.get(0)?,
                    generation: row.get(1)?,
                    state: row.get(2)?,
                    lease_until: row.get(3)?,
                })
            })
            .optional()
        });
    match held {
        Ok(held) => fence::refusal(refund, expected, claim, lease_now, held),
        Err(e) => e.into(),
    }
}
