//! A refund as every store gives it ([`RefundRecord`]), which refunds a
//! command works on ([`Scope`]: how a store selects them is its own), and
//! the records the scheduler, the plans and a retry pass about refunds
//! ([`DueRefund`], [`Waiting`], [`RetryStart`]).

use std::collections::BTreeMap;

use super::state::State;
use crate::gateway::GatewayKind;
use crate::money::Fen;

/// A refund as the engine works on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: i64,
    pub refund_id: String,
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub profile: String,
    pub amount: Fen,
    pub fields: BTreeMap<String, String>,
    pub state: State,
    pub gateway_refund_id: Option<String>,
    pub next_attempt_at: i64,
    pub attempts: u32,
    pub submits: u32,
    pub ever_created: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The batch that sent it (for a retry, the batch whose retry made it).
    pub batch: i64,
}

/// Which refunds a command works on.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Those that the rows of these batches name (their own, and known ones from earlier runs).
    Batches(Vec<i64>),
    /// Exactly these refunds (what a retry started or must follow).
    Refunds(Vec<i64>),
    /// Every refund in the journal.
    All,
}

impl Scope {
    /// The batches the scope names, if it names batches.
    pub fn batches(&self) -> Option<&[i64]> {
        match self {
            Scope::Batches(ids) => Some(ids),
            _ => None,
        }
    }
}

/// `next_attempt_at` of a refund a run gave up on (unknown after every query
/// allowed). The next run or `resume` takes it up again.
pub const PARKED: i64 = i64::MAX / 4;

/// The refunds of one batch (of one profile) that may still leave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub batch: i64,
    pub profile: String,
    pub count: u64,
    pub fen: Fen,
    /// The largest of them: its amount and refund id.
    pub largest: (Fen, String),
}

/// A due refund, with when the previous refund of its order finished (read
/// only when some profile keeps a gap between them).
pub struct DueRefund {
    pub record: RefundRecord,
    pub previous_finished: Option<String>,
}

/// One refund a retry sends again: under its own id (never created at the
/// gateway), or as the next link of its chain under a new id.
#[derive(Clone, Debug)]
pub struct RetryStart {
    /// The failed refund (the head of its chain).
    pub refund: i64,
    pub new_id: Option<String>,
    /// The event's words.
    pub why: String,
}
