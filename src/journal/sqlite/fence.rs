//! The fence of a refund's writes: a change made under a claim is written
//! only while the refund's claim is still that one (owner and generation),
//! checked by the change's own UPDATE ([`super::changes`]); here is what such
//! a write frees ([`frees_the_claim`]) and why one changed nothing
//! ([`refusal`]: [`JournalError::Fenced`] when another process took the
//! refund over).

use rusqlite::{Connection, OptionalExtension};

use super::claim::Claim;
use super::state::State;
use super::{JournalError, PARKED};

/// Whether a change leaves the refund needing no claim: a final state (the
/// engine is done with it) or a parked one (nothing takes it up in this run).
pub(super) fn frees_the_claim(to: State, next_attempt_at: Option<i64>) -> bool {
    to.is_final() || next_attempt_at.is_some_and(|at| at >= PARKED)
}

/// Why a fenced write changed no row: the claim is no longer `claim` (another
/// process took the refund over), its lease ran out before `lease_now` (an
/// intent's check), the refund is not in `expected`, or there is no such refund.
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
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<i64>>(3)?,
                ))
            })
            .optional()
        });
    let (owner, generation, state, lease_until) = match held {
        Ok(Some(held)) => held,
        Ok(None) => return JournalError::Missing(refund),
        Err(e) => return e.into(),
    };
    if let Some(claim) = claim {
        if owner.as_deref() != Some(claim.owner.as_str()) || generation != claim.generation {
            return JournalError::Fenced {
                refund,
                generation: claim.generation,
                now: match owner {
                    Some(owner) => format!("held by {owner}, claim {generation}"),
                    None => format!("unclaimed since claim {generation}"),
                },
            };
        }
    }
    if let (Some(claim), Some(now)) = (claim, lease_now) {
        if lease_until.is_none_or(|until| until < now) {
            return JournalError::Fenced {
                refund,
                generation: claim.generation,
                now: "lapsed: its lease ran out before the request left".into(),
            };
        }
    }
    match (expected, State::parse(&state)) {
        (Some(expected), Some(actual)) => JournalError::Stale {
            refund,
            expected,
            actual,
        },
        (None, _) => JournalError::Inconsistent(format!(
            "refund #{refund} ({state}) refused a write under its own claim"
        )),
        (_, None) => {
            JournalError::Inconsistent(format!("refund #{refund} has the unknown state {state:?}"))
        }
    }
}
