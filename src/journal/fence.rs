//! The fence of a refund's writes, whatever stores the journal: a change
//! made under a claim is written only while the refund's claim is still that
//! one (owner and generation), and an intent only while its lease runs. Each
//! store checks this in the change's own UPDATE; here is what such a write
//! binds ([`params`]), what it frees ([`frees_the_claim`]), why one changed
//! nothing ([`refusal`]: [`JournalError::Fenced`] when another process took
//! the refund over or the lease ran out), and why recovery made a refund
//! unknown ([`LAPSED_IN_FLIGHT`]). Nothing here knows SQL.

use super::claim::Claim;
use super::state::State;
use super::{JournalError, PARKED};

/// Why a refund found in flight with a lapsed claim becomes unknown.
pub const LAPSED_IN_FLIGHT: &str =
    "its claim lapsed while it was in flight: the answer was never recorded, so it will be queried";

/// Whether a change leaves the refund needing no claim: a final state (the
/// engine is done with it) or a parked one (nothing takes it up in this run).
pub fn frees_the_claim(to: State, next_attempt_at: Option<i64>) -> bool {
    to.is_final() || next_attempt_at.is_some_and(|at| at >= PARKED)
}

/// The fence's parameters: (owner, generation), both NULL for a write under no claim.
pub fn params(claim: Option<&Claim>) -> (Option<&str>, Option<i64>) {
    claim.map(|c| (c.owner.as_str(), c.generation)).unzip()
}

/// What a store read of a refund after a write changed no row.
pub struct Held {
    pub owner: Option<String>,
    pub generation: i64,
    pub state: String,
    pub lease_until: Option<i64>,
}

/// Why a fenced write changed no row, from the refund as the store read it
/// then (`None`: no such refund): the claim is no longer `claim` (another
/// process took the refund over), its lease ran out before `lease_now` (an
/// intent's check), the refund is not in `expected`.
pub fn refusal(
    refund: i64,
    expected: Option<State>,
    claim: Option<&Claim>,
    lease_now: Option<i64>,
    held: Option<Held>,
) -> JournalError {
    let Some(Held {
        owner,
        generation,
        state,
        lease_until,
    }) = held
    else {
        return JournalError::Missing(refund);
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
        if lease_now.is_some_and(|now| lease_until.is_none_or(|until| until < now)) {
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
