//! Which states count as what money (README, "The money"), decided once for
//! every store. A store builds its queries from these lists (the SQLite store
//! with [`super::state::sql_list`]), so a second store cannot define
//! "refunded" or "unresolved" a second way.
//!
//! Where each definition of the README is decided:
//! - **Intent**: a distinct refund a batch's rows name (not a row verdict),
//!   followed to the head of its retry chain; its status is the head's
//!   ([`super::State::status`], `status.rs`). The rows point at the head, so
//!   the intent is a structural fact of each store (`batch_rows.refund` in
//!   SQLite, read by `sqlite/money.rs` `batch_intents`).
//! - **Refunded**: gateway refunds in [`REFUNDED`], each once
//!   (`refunded_in_all`; a reconciliation's expected refunds and its days).
//! - **Per status over intents** (requested, refunded, failed, in review,
//!   abnormal, unresolved, never sent): the status of each intent, summed by
//!   `report/summary.rs`; **unresolved** is [`super::Status::is_unresolved`].
//! - **Paid by this batch** / already paid earlier: [`paid_by_this_batch`]:
//!   a succeeded intent whose head belongs to the batch ([`IntentTotal::owner`],
//!   the batch that listed it first or whose retry made it).
//! - **Needing attention** (the failures of a batch, by code; the exit code's
//!   "some failed"): [`super::Status::needs_attention`], as refunds' states
//!   ([`failed_states`]) and as rows' own verdicts ([`failed_verdicts`]).
//! - **What may still leave** (the plans and caps count it): [`MAY_LEAVE`].
//! - **Not settled in a bill** (a reconciliation's "unresolved, not in the
//!   bill"): [`NOT_SETTLED`], which unlike "unresolved" includes abnormal.
//! - **The day a refund counts for**: `days.rs` (its own module already).
//!
//! Still written as SQL in the SQLite store, not from here (left for the next
//! step): "sent" for a reconciliation (`sqlite/reconcile.rs` `SENT`: not
//! pending, or a counted submit, or the gateway showed it), the export's
//! "a retried link has no status of its own" (`sqlite/reports.rs`), and the
//! scheduler's due lists (`sqlite/due.rs`), which are not money.
//!
//! [`IntentTotal::owner`]: super::money::IntentTotal

use super::state::State;
use super::status::{RowStatus, Status};

/// The state of a gateway refund that counts as refunded: the gateway paid it.
pub const REFUNDED: [State; 1] = [State::Succeeded];

/// States from which a refund may still be submitted (an unknown one, or one
/// in flight when a run died, after a query that finds it never created):
/// what the plans shown before sending and the caps count.
pub const MAY_LEAVE: [State; 4] = [
    State::Pending,
    State::RetryWait,
    State::Unknown,
    State::InFlight,
];

/// The refund states that are not settled yet in a reconciliation's eyes:
/// "unresolved, not in the bill" (abnormal included: the money reached nobody yet).
pub const NOT_SETTLED: [State; 6] = [
    State::Pending,
    State::RetryWait,
    State::InFlight,
    State::Unknown,
    State::Processing,
    State::Abnormal,
];

/// The refund states whose intents need a person ([`Status::needs_attention`]):
/// failed, in review, abnormal.
pub fn failed_states() -> Vec<State> {
    super::state::ALL
        .into_iter()
        .filter(|state| state.status().needs_attention())
        .collect()
}

/// The rows' own verdicts that need a person: invalid and conflict (a
/// duplicate counts as the row it repeats).
pub fn failed_verdicts() -> Vec<RowStatus> {
    RowStatus::ALL
        .into_iter()
        .filter(|verdict| verdict.status().needs_attention())
        .collect()
}

/// Whether intents of `status` whose head belongs to `owner` are "paid by
/// this batch" for `batch` (else, when succeeded, "already paid earlier" or
/// "paid by a later batch").
pub fn paid_by_this_batch(status: Status, owner: i64, batch: i64) -> bool {
    is_refunded(status) && owner == batch
}

/// Whether an intent of this status counts as refunded.
pub fn is_refunded(status: Status) -> bool {
    REFUNDED.iter().any(|state| state.status() == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_are_the_readmes() {
        assert_eq!(
            failed_states(),
            [State::Failed, State::Review, State::Abnormal]
        );
        assert_eq!(failed_verdicts(), [RowStatus::Invalid, RowStatus::Conflict]);
        assert!(is_refunded(Status::Succeeded));
        assert!(!is_refunded(Status::Processing));
        assert!(paid_by_this_batch(Status::Succeeded, 2, 2));
        assert!(!paid_by_this_batch(Status::Succeeded, 1, 2));
        assert!(!paid_by_this_batch(Status::Failed, 2, 2));
        for state in NOT_SETTLED {
            assert!(!super::super::state::SETTLED.contains(&state));
        }
        for state in MAY_LEAVE {
            assert!(!state.is_final(), "{state:?} may still leave");
        }
    }
}
