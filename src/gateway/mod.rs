//! The gateways bulkrefund speaks. Each owns a folder ([`leshua`],
//! [`lianshang`]) and is seen by the rest of bulkrefund through two traits: its
//! client ([`Gateway`]: sign, send, parse, verify, classify; never decide what to
//! do next) and its [`GatewaySpec`] (batch columns and row rules, refund ids,
//! order ids). Its profile section is a variant of [`profile::ProfileSection`].
//! The state machine acts on the [`Outcome`] a client returns, and an outcome
//! the gateway did not prove is always [`Outcome::Unknown`], never a guess.
//!
//! Adding a gateway: docs/architecture.md lists every place.

pub mod alipay;
pub mod bill;
pub mod bill_read;
pub mod echo;
pub mod http;
pub mod leshua;
pub mod lianshang;
pub mod portal_bill;
pub mod profile;
pub mod rsa_sign;
pub mod section;
pub mod status_only;
#[cfg(test)]
pub mod stub;
pub mod wechatpay;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::batch::rows::BatchFormat;
use crate::money::Fen;

/// Which gateway a profile, an order or a refund belongs to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    Leshua,
    Lianshang,
    Wechatpay,
    Alipay,
    /// A stub third gateway, for tests only ([`stub`]).
    #[cfg(test)]
    Stub,
}

impl GatewayKind {
    #[cfg(not(test))]
    pub const ALL: &'static [GatewayKind] = &[
        GatewayKind::Leshua,
        GatewayKind::Lianshang,
        GatewayKind::Wechatpay,
        GatewayKind::Alipay,
    ];
    #[cfg(test)]
    pub const ALL: &'static [GatewayKind] = &[
        GatewayKind::Leshua,
        GatewayKind::Lianshang,
        GatewayKind::Wechatpay,
        GatewayKind::Alipay,
        GatewayKind::Stub,
    ];

    pub fn parse(name: &str) -> Option<GatewayKind> {
        GatewayKind::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Leshua => "leshua",
            GatewayKind::Lianshang => "lianshang",
            GatewayKind::Wechatpay => "wechatpay",
            GatewayKind::Alipay => "alipay",
            #[cfg(test)]
            GatewayKind::Stub => "stub",
        }
    }

    /// What bulkrefund knows of this gateway besides its client.
    pub fn spec(self) -> &'static dyn GatewaySpec {
        match self {
            GatewayKind::Leshua => &leshua::Leshua,
            GatewayKind::Lianshang => &lianshang::Lianshang,
            GatewayKind::Wechatpay => &wechatpay::Wechatpay,
            GatewayKind::Alipay => &alipay::Alipay,
            #[cfg(test)]
            GatewayKind::Stub => &stub::Stub,
        }
    }
}

/// What bulkrefund knows of a gateway besides its client: how its batches are
/// read ([`BatchFormat`]), which refund ids it takes, how a refund names its order.
pub trait GatewaySpec: BatchFormat {
    fn kind(&self) -> GatewayKind;

    /// Whether the gateway takes `id` as a refund id.
    fn accepts_refund_id(&self, id: &str) -> bool;

    /// A refund's order ids, from its fields, as the export shows them:
    /// (the merchant's order id, the gateway's order id).
    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str);

    /// The waits before each poll of a refund still processing, the last one
    /// repeating, when the profile sets no `poll_schedule`.
    fn poll_schedule(&self) -> &'static [std::time::Duration];

    /// The pace a profile of this gateway keeps when it sets none.
    fn pace_defaults(&self) -> PaceDefaults {
        PaceDefaults::default()
    }

    /// Reads a bill file of this gateway for Beijing day `date`, within
    /// `caps` (statements.md; [`bill::read_file`] calls it).
    fn read_bill(
        &self,
        bytes: &[u8],
        date: jiff::civil::Date,
        caps: bill::Caps,
    ) -> Result<bill::Bill, bill::BillError> {
        let _ = (bytes, date, caps);
        Err(bill::BillError::File(format!(
            "reading {} bills is not built",
            self.kind()
        )))
    }

    /// The id that retries `root` for the `n`-th time (n ≥ 2): `{root}R{n}`,
    /// when the gateway takes it.
    fn derived_id(&self, root: &str, n: u32) -> Result<String, NoDerivedId> {
        let id = format!("{root}R{n}");
        if self.accepts_refund_id(&id) {
            Ok(id)
        } else {
            Err(NoDerivedId { id })
        }
    }
}

/// A gateway's own pace defaults: the common settings a profile leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaceDefaults {
    /// Requests per second: submits only when the gateway limits queries
    /// apart (`query_rate`), else submits and queries together.
    pub rate: u32,
    /// Queries per second, for a gateway that limits queries apart from
    /// submits (WeChat: 150 applies/s, 300 queries/s); `None`: one limit
    /// for both, and a profile may not set `query_rate`.
    pub query_rate: Option<u32>,
    pub same_order_gap: Duration,
    /// How long after a send whose outcome is unknown (no answer, or one
    /// that proves nothing, as Alipay's `fund_change` `N`) its first query is
    /// worth making: a query sooner may not see the refund yet.
    pub first_query_after: Duration,
}

impl Default for PaceDefaults {
    fn default() -> PaceDefaults {
        PaceDefaults {
            rate: 50,
            query_rate: None,
            same_order_gap: Duration::ZERO,
            first_query_after: Duration::ZERO,
        }
    }
}

/// A retry's new id the gateway would not take (the old id is as long as it may be).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the new id {id:?} would be longer than the gateway takes")]
pub struct NoDerivedId {
    pub id: String,
}

/// Why a profile's client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the base URL cannot take the gateway's path: {0}")]
    Url(#[from] url::ParseError),
    /// The transport cannot be trusted (Lianshang answers carry no signature).
    #[error(transparent)]
    Untrusted(#[from] lianshang::wire::UntrustedUrl),
}

impl std::fmt::Display for GatewayKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refund as the gateway client needs it. `fields` holds the gateway-specific
/// columns of the row (order ids, notify_url, Lianshang biz/base fields), already
/// validated and with the profile's defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundOrder {
    pub refund_id: String,
    pub amount: Fen,
    pub fields: BTreeMap<String, String>,
    /// The gateway's id for this refund, once an answer has told us (queries use it).
    pub gateway_refund_id: Option<String>,
}

impl RefundOrder {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What a verified answer told us about the refund, when it did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    pub gateway_refund_id: Option<String>,
    pub refund_fen: Option<Fen>,
}

/// What one HTTP attempt proved. Only a verified answer about this very refund
/// yields `Succeeded`, `Failed`, `Processing` or `NotFound`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The gateway says the refund succeeded (final).
    Succeeded(Receipt),
    /// The gateway refused the refund, or the refund ended failed (final).
    /// `id` says whether its id may go again: each gateway knows which of
    /// its failures created the refund.
    Failed {
        code: String,
        message: String,
        receipt: Receipt,
        id: IdUse,
    },
    /// Accepted, but the money reached nobody (WeChat's ABNORMAL: the payer's
    /// card was cancelled). Not failed: a person acts at the gateway; the
    /// refund is never resent and never gets a new id.
    Abnormal(Receipt),
    /// Accepted, still refunding: poll it.
    Processing(Receipt),
    /// We cannot know what happened: query before anything else.
    Unknown { why: String },
    /// Proven not created (refused connection, 429, 503, busy): same id, later.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// A query's answer: the gateway has no refund with this id, so it may be sent.
    NotFound,
    /// A verified answer that is not about this refund: it echoes another id,
    /// amount, merchant, order or request. Never believed: an operator decides.
    Mismatch { what: String },
    /// The gateway refused the request itself (bad signature, unknown merchant,
    /// authentication): nothing was created, and every other request of the
    /// profile would be refused alike. `why` names the likely cause.
    Rejected { code: String, why: String },
}

/// How an answer whose signature does not verify with the profile's key
/// begins its `Unknown` why ([`Outcome::unverifiable`]).
const UNVERIFIABLE: &str = "the answer's signature does not verify with this profile's key";

impl Outcome {
    pub fn unknown(why: impl Into<String>) -> Outcome {
        Outcome::Unknown { why: why.into() }
    }

    /// An answer whose signature does not verify with the key in the profile
    /// setting `key_setting`: never believed, so unknown. One is the refund's
    /// problem; many across refunds mean the key is wrong, and the engine
    /// stops sending (engine/trust.rs).
    pub fn unverifiable(key_setting: &str) -> Outcome {
        Outcome::unknown(format!("{UNVERIFIABLE} (check {key_setting}); not trusted"))
    }

    /// The key setting to check, for an answer that could not be verified.
    pub fn unverifiable_key(&self) -> Option<&str> {
        let Outcome::Unknown { why } = self else {
            return None;
        };
        let (setting, _) = why
            .strip_prefix(UNVERIFIABLE)?
            .strip_prefix(" (check ")?
            .split_once(')')?;
        Some(setting)
    }

    pub fn retry(after: Option<Duration>, why: impl Into<String>) -> Outcome {
        Outcome::Retry {
            after,
            why: why.into(),
        }
    }

    pub fn rejected(code: impl Into<String>, why: impl Into<String>) -> Outcome {
        Outcome::Rejected {
            code: code.into(),
            why: why.into(),
        }
    }

    pub fn failed(
        code: impl Into<String>,
        message: impl Into<String>,
        receipt: Receipt,
        id: IdUse,
    ) -> Outcome {
        Outcome::Failed {
            code: code.into(),
            message: message.into(),
            receipt,
            id,
        }
    }
}

/// Whether a failed refund's id is used up. `retry --failed` sends a refund
/// again under its own id when nothing was created (WeChat asks for exactly
/// that: "请不要更换商户退款单号"); only a refund the gateway created and then
/// failed needs `--new-ids`. The query `retry` makes first still decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdUse {
    /// The gateway created a refund under this id and it failed (WeChat's
    /// CLOSED, Leshua's status 12): another try needs a new id.
    Spent,
    /// The gateway refused the request and created nothing: the same id may
    /// go again.
    Free,
}

/// One attempt's result and what the journal records about it.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub outcome: Outcome,
    /// HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// The gateway's own codes as text (`resp_code/result_code/error_code` or `result_code`).
    pub gateway_codes: Option<String>,
}

impl Attempt {
    pub(crate) fn without_answer(outcome: Outcome) -> Attempt {
        Attempt {
            outcome,
            http_status: None,
            gateway_codes: None,
        }
    }
}

/// A payment gateway: submit a refund, or ask for its state.
#[async_trait::async_trait]
pub trait Gateway: Send + Sync {
    /// Creates the refund. Safe to call again with the same id only after a
    /// `Retry` outcome or a `NotFound` query answer.
    async fn submit(&self, refund: &RefundOrder) -> Attempt;
    /// Learns the refund's state. Never creates anything.
    async fn query(&self, refund: &RefundOrder) -> Attempt;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_follow_the_gateways_rules() {
        use GatewayKind::{Leshua, Lianshang};
        assert_eq!(Leshua.spec().derived_id("R123", 2), Ok("R123R2".into()));
        assert_eq!(Leshua.spec().derived_id("R123", 3), Ok("R123R3".into()));
        assert_eq!(
            Lianshang.spec().derived_id("LS-RF_1", 2),
            Ok("LS-RF_1R2".into())
        );
        let long = "A".repeat(62);
        assert_eq!(
            Leshua.spec().derived_id(&long, 9).map(|id| id.len()),
            Ok(64)
        );
        assert!(Leshua
            .spec()
            .derived_id(&long, 10)
            .unwrap_err()
            .to_string()
            .contains("\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAR10\" would be longer than the gateway takes"));
        assert!(Lianshang.spec().derived_id(&long, 10).is_err());
    }

    #[test]
    fn every_gateway_knows_its_own_kind_and_name() {
        for &kind in GatewayKind::ALL {
            assert_eq!(kind.spec().kind(), kind);
            assert_eq!(GatewayKind::parse(kind.as_str()), Some(kind));
        }
    }
}
