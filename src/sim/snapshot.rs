//! What the simulator tells about its books (`GET /__sim/ledger`, and
//! [`crate::sim::SimHandle::ledger`] in-process): every refund with the state
//! the gateway reports, every id with how often it was submitted and created,
//! and the traffic's pace, so that tests can prove nothing was lost or doubled.

use serde::{Deserialize, Serialize};

use crate::gateway::GatewayKind;

/// A refund's state as the gateway reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundState {
    Processing,
    Succeeded,
    Failed,
    /// WeChat Pay only: the payer's bank card refused the money, which reached
    /// nobody; a person redirects it (`resolve-abnormal`), then it succeeded.
    Abnormal,
}

/// `GET /__sim/ledger`: what the simulator holds, for tests to compare against.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerSnapshot {
    pub refunds: Vec<LedgerRefund>,
    pub ids: Vec<LedgerId>,
    /// Gateway requests received (every gateway, submits and queries, faults included).
    pub requests: u64,
    /// The most requests seen in any one-second window.
    pub max_requests_in_one_second: u64,
    /// Requests that reached `/__sim/elsewhere`: only a client that followed a redirect sends them.
    #[serde(default)]
    pub elsewhere_requests: u64,
    /// The pace once the client is going: requests that arrived after the
    /// first second of traffic, and over how long (to the last arrival).
    #[serde(default)]
    pub steady: SteadyPace,
    /// The pace from the first request to the last, start-up included.
    #[serde(default)]
    pub whole: SteadyPace,
    /// WeChat Pay's applies and queries apart (each has its own limit).
    #[serde(default)]
    pub wechatpay: WechatpayTraffic,
}

/// WeChat Pay's traffic by call: applies, and queries (bills and downloads
/// with them), each counted at its arrival, and the 429 `FREQUENCY_LIMITED`
/// answers given.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WechatpayTraffic {
    pub applies: u64,
    pub queries: u64,
    pub max_applies_in_one_second: u64,
    pub max_queries_in_one_second: u64,
    /// The applies' pace from the first to the last.
    pub applies_whole: SteadyPace,
    /// The applies' pace after their first second.
    pub applies_steady: SteadyPace,
    pub frequency_limited: u64,
}

/// Requests after the first second of traffic, and the microseconds they span.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SteadyPace {
    pub requests: u64,
    pub micros: u64,
}

impl SteadyPace {
    /// Requests per second; `None` when the traffic lasted under two seconds.
    pub fn per_second(&self) -> Option<f64> {
        (self.micros >= 1_000_000).then(|| self.requests as f64 * 1e6 / self.micros as f64)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerRefund {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub refund_id: String,
    pub order_id: String,
    pub amount_fen: u64,
    pub status: RefundState,
    pub gateway_refund_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerId {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub refund_id: String,
    /// Refund requests that named this id.
    pub submissions: u32,
    /// Refunds created under this id: 0 or 1, by construction of the ledger.
    pub created: u32,
}

impl LedgerSnapshot {
    pub fn refund(&self, refund_id: &str) -> Option<&LedgerRefund> {
        self.refunds.iter().find(|r| r.refund_id == refund_id)
    }

    pub fn id(&self, refund_id: &str) -> Option<&LedgerId> {
        self.ids.iter().find(|r| r.refund_id == refund_id)
    }
}
