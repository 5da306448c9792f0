//! One refund the simulator created: what it refunds, when, and how it ends
//! (its [`Fate`], decided at creation), so that every later answer about it
//! tells the same story. The ledger ([`super::ledger`]) keeps them.

use std::time::Instant;

use crate::gateway::GatewayKind;

use super::snapshot::RefundState;

/// How a refund ends once its processing time is over, decided when it is
/// created so that every later answer tells the same story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Succeeds,
    Fails,
    Abnormal,
}

impl Fate {
    /// The fate of the gateways whose refunds only succeed or fail.
    pub fn ends_failed(failed: bool) -> Fate {
        if failed {
            Fate::Fails
        } else {
            Fate::Succeeds
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimRefund {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub refund_id: String,
    pub order: usize,
    pub amount_fen: u64,
    pub coin_amount: u64,
    pub gateway_refund_id: String,
    /// What makes a replay "the same refund" (order, amounts, currency).
    pub fingerprint: String,
    /// When it was created: monotonic for the rules that count time, and
    /// the wall clock for the times the gateway reports.
    pub created: Instant,
    pub created_at: jiff::Timestamp,
    pub final_at: Instant,
    pub fate: Fate,
    pub finished_at: jiff::Timestamp,
    /// When an abnormal refund was redirected to the payer's balance.
    pub resolved_at: Option<jiff::Timestamp>,
}

impl SimRefund {
    pub fn state(&self, now: Instant) -> RefundState {
        if now < self.final_at {
            return RefundState::Processing;
        }
        match self.fate {
            Fate::Succeeds => RefundState::Succeeded,
            Fate::Fails => RefundState::Failed,
            Fate::Abnormal if self.resolved_at.is_some() => RefundState::Succeeded,
            Fate::Abnormal => RefundState::Abnormal,
        }
    }

    /// When the money arrived: the end of processing, or the redirection of
    /// an abnormal refund. `None` unless it succeeded.
    pub fn success_time(&self, now: Instant) -> Option<jiff::Timestamp> {
        (self.state(now) == RefundState::Succeeded)
            .then(|| self.resolved_at.unwrap_or(self.finished_at))
    }
}
