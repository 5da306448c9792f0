//! WeChat Pay's conformance fixture: APIv3 refund applies keyed by
//! `out_refund_no` against an order named by both `out_trade_no` and
//! `transaction_id` with its paid total, requests signed SHA256withRSA with the
//! merchant key, answers signed by WeChat Pay (verified with its public key,
//! refused when stale), and the echo of id, both order ids, amount and
//! currency. Where WeChat differs from the suite's first two gateways the
//! fixture says how, and one test below covers what the shared cases cannot.

use std::time::Duration;

use bulkrefund::gateway::{Gateway, GatewayKind, Outcome, RefundOrder};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::{sample_keys, SimHandle};

use crate::common::{start_sim, wechatpay_client, wechatpay_refund, BatchFile, Orders, Profiles};
use crate::fixture::Fixture;

pub struct Wechatpay;

impl Fixture for Wechatpay {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Wechatpay
    }

    fn id_column(&self) -> &'static str {
        "out_refund_no"
    }

    fn refund(&self, id: &str, order: u32, fen: u64) -> RefundOrder {
        wechatpay_refund(id, &format!("T{order}"), &format!("W{order}"), fen, 1000)
    }

    fn client_timing_out(&self, sim: &SimHandle, timeout: Duration) -> Box<dyn Gateway> {
        Box::new(wechatpay_client(
            sim,
            sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
            timeout,
        ))
    }

    /// Signed with another RSA key under the merchant's serial.
    fn forged_client(&self, sim: &SimHandle) -> Box<dyn Gateway> {
        Box::new(wechatpay_client(
            sim,
            sample_keys::LIANSHANG_PRIVATE_KEY,
            Duration::from_secs(5),
        ))
    }

    fn sign_error_code(&self) -> &'static str {
        "SIGN_ERROR"
    }

    /// A 401 `SIGN_ERROR` names `merchant_serial_no`, `private_key` and the clock.
    fn key_setting(&self) -> &'static str {
        "private_key"
    }

    fn signs_answers(&self) -> bool {
        true
    }

    /// The simulator's `out_refund_no_number` (the id as a JSON number) is
    /// left out: a Refund object with a field of the wrong JSON type is
    /// malformed, so unknown, not a mismatch (docs/specs/wechatpay-v3.md, "The
    /// Refund object"); `a_wrongly_typed_id_is_never_believed` below checks it.
    fn echoed_fields(&self) -> &'static [&'static str] {
        &[
            "out_refund_no",
            "out_refund_no_empty",
            "out_trade_no",
            "out_trade_no_empty",
            "transaction_id",
            "amount.refund",
            "amount.currency",
            "amount.currency_empty",
        ]
    }

    /// WeChat's answers carry no request nonce: what ties one to its request
    /// is the id (a replay about another refund differs there) and the signed
    /// `Wechatpay-Timestamp` (a replay older than five minutes is refused:
    /// `stale_answers`).
    fn replay_field(&self) -> &'static str {
        "out_refund_no"
    }

    fn batch(&self) -> BatchFile {
        BatchFile::wechatpay()
    }

    fn row(&self, id: &str, order: &str, fen: u64, total: u64) -> String {
        format!("{id},{order},W{order},{fen},{total}")
    }

    fn paid_order(&self, orders: Orders, order: &str, fen: u64) -> Orders {
        orders.wechatpay(order, &format!("W{order}"), fen)
    }

    /// A refund over what is left of its order is a 400 `INVALID_REQUEST`;
    /// the one query that follows finds no refund under the id: failed.
    fn over_refund_code(&self) -> &'static str {
        "INVALID_REQUEST"
    }

    /// The simulator's order gap stays at its 60 s: the one order's second
    /// refund of the pacing case is refused for its amount first (the
    /// contract's step 6 before step 7), so the profile's 61 s only slows it.
    fn profiles(&self) -> Profiles {
        Profiles::default().set("wechatpay", "same_order_gap = \"1s\"")
    }

    fn rate_limited_why(&self) -> &'static str {
        "FREQUENCY_LIMITED: too many requests, try again later: WeChat Pay's rate limit"
    }

    /// WeChat says busy with 429 `FREQUENCY_LIMITED`.
    fn busy_status(&self) -> u16 {
        429
    }

    fn stale_answers(&self) -> bool {
        true
    }
}

crate::conformance!(Wechatpay);

/// The id echoed as a JSON number, correctly signed: malformed, so unknown,
/// for the apply and the query; never succeeded, and the refund was made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_typed_id_is_never_believed() {
    let typed = FaultConfig {
        mismatch_rate: 1.0,
        mismatch_field: Some("out_refund_no_number".into()),
        ..FaultConfig::default()
    };
    let sim = start_sim(Orders::standard(), typed).await;
    let client = Wechatpay.client(&sim);
    let refund = Wechatpay.refund("N1", 1, 100);
    for outcome in [
        client.submit(&refund).await.outcome,
        client.query(&refund).await.outcome,
    ] {
        assert!(
            matches!(&outcome, Outcome::Unknown { why } if why.contains("Refund object")),
            "{outcome:?}"
        );
    }
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(ledger.id("N1").map(|id| id.created), Some(1));
}
