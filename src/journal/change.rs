//! What the engine asks a journal to change, whatever stores it: a change of
//! a refund's state ([`Change`]), an attempt ([`AttemptRecord`]), and the one
//! change of a group the writer commits ([`Op`]). A store checks each against
//! [`super::state::check`] and commits a group in one transaction.

use super::claim::Claim;
use super::state::State;

/// What a refund's attempt leaves in the journal.
#[derive(Debug)]
pub enum Update {
    /// A new state (with its event).
    Transition { from: State, change: Change },
    /// Same state, later (`next_attempt_at`), with a note of why.
    Reschedule {
        next_attempt_at: i64,
        note: Option<(String, String)>,
        gateway_refund_id: Option<String>,
        gateway_times: GatewayTimes,
    },
}

/// The gateway's own times of a refund, as an answer gave them (WeChat's
/// `success_time`, `create_time`, Alipay's `gmt_refund_pay`, Leshua's and
/// Lianshang's `refund_time`): kept in `refunds.gateway_success_at` and
/// `gateway_created_at`, journal times (RFC 3339 UTC) like every other.
/// The success time is the day a refund counts for ([`super::days`]); how a store keeps them is its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayTimes {
    pub success_at: Option<jiff::Timestamp>,
    pub created_at: Option<jiff::Timestamp>,
}

/// One change the engine's writer commits, under the claim it was made
/// under: written only while the refund's claim is still that one.
#[derive(Debug)]
pub enum Op {
    /// The attempt and what it changed.
    Settle {
        refund: i64,
        attempt: Box<AttemptRecord>,
        update: Update,
        claim: Claim,
    },
    /// A state change with no attempt behind it.
    Transition {
        refund: i64,
        from: State,
        change: Change,
        claim: Claim,
    },
}

/// A change of a refund's state and what the answer that caused it taught us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub to: State,
    pub why: String,
    /// Set when the gateway told us its id.
    pub gateway_refund_id: Option<String>,
    /// The gateway's own times, when its answer gave them.
    pub gateway_times: GatewayTimes,
    /// (code, message) to show; `None` clears an earlier error.
    pub error: Option<(String, String)>,
    /// When to act on it next (unix ms); `None` means now.
    pub next_attempt_at: Option<i64>,
    /// The gateway has shown that it holds this refund.
    pub created: bool,
}

impl Change {
    pub fn to(to: State, why: impl Into<String>) -> Change {
        Change {
            to,
            why: why.into(),
            gateway_refund_id: None,
            gateway_times: GatewayTimes::default(),
            error: None,
            next_attempt_at: None,
            created: false,
        }
    }
}

/// One HTTP attempt, as the attempts table keeps it.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub kind: AttemptKind,
    pub at: String,
    pub http_status: Option<u16>,
    pub gateway_codes: Option<String>,
    pub outcome: String,
    pub latency_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKind {
    Submit,
    Query,
}
