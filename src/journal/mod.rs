//! The journal: every refund id forever, every state it went through and every
//! HTTP attempt made for it. What is the same whatever stores it lives here:
//! the named operations every store implements ([`store::JournalStore`]), the
//! handle the commands hold ([`Journal`]), the refund states and their
//! transitions, the statuses finance reads, one day's definition and which
//! states count as what money ([`money_rules`]). [`sqlite`] is the embedded
//! store, the default that needs nothing installed.

pub mod approval;
pub mod batch_meta;
pub mod change;
pub mod claim;
pub mod clock;
pub mod days;
mod dedupe;
pub mod error;
pub mod fence;
mod handle;
mod handle_approvals;
pub mod import;
pub mod import_rows;
pub mod latency_curve;
pub mod location;
pub mod money_rules;
pub mod postgres;
pub mod preview;
pub mod reconcile_rows;
pub mod records;
pub mod report_rows;
pub mod sqlite;
pub mod state;
pub mod status;
pub mod store;

pub use change::{AttemptKind, AttemptRecord, Change, GatewayTimes, Op, Update};
pub use error::JournalError;
pub use handle::Journal;
pub use location::JournalLocation;
pub use records::{RefundRecord, Scope, PARKED};
pub use sqlite::*;
pub use state::State;
pub use status::{RowStatus, Status};
pub use store::{DueReads, JournalStore};

/// Where a refund id is unique: the gateway and the merchant (`leshua:0000000018`),
/// as the journal keys it internally (its column is still named `scope`, from
/// before [`Scope`] came to mean the refunds a command works on).
pub(crate) fn id_space(gateway: crate::gateway::GatewayKind, merchant_id: &str) -> String {
    format!("{gateway}:{merchant_id}")
}

/// How the reason of a move from unknown back to pending begins when a
/// query found no refund right after the gateway had answered a send of it:
/// the engine writes it, and counts these moves again in a later run
/// ([`DueReads::denials`]).
pub const DENIED_AFTER_AN_ANSWER: &str =
    "the gateway has no refund with this id, though it answered the last send of it";

pub use clock::{now_ms, now_text};

#[cfg(test)]
mod store_tests;
