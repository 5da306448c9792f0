//! Alipay's conformance fixture: `alipay.trade.refund` refunds numbered by
//! `out_request_no` (unique only within its trade) against a trade named by
//! both `out_trade_no` and `trade_no`, form posts signed RSA2 with the app's
//! key, answers signed by Alipay over the raw bytes of their `…_response`
//! value, and the echo of both trade ids, the refund's number and amount
//! (each in the answer that carries it). Where Alipay differs from the other
//! gateways the fixture says how.
//!
//! Two of Alipay's own rules make some cases slower, never different: the
//! engine queries a send whose outcome is unknown no sooner than 10 s after
//! it (`PaceDefaults::first_query_after`, Alipay's advice; not a profile
//! setting), so the timeout, redirect and SIGKILL cases wait that long per
//! unknown send (the timeout case, whose timed-out sends the simulator never
//! executes, takes 40-60 s: one 10 s wait per send of its unluckiest
//! refund); and one trade's refunds go 3 s apart (the profile's
//! `same_order_gap`, the simulator's trade gap), which the pacing case keeps:
//! its second refund of a trade is refused for the closed trade whatever the
//! gap.

use std::time::Duration;

use bulkrefund::gateway::{Gateway, GatewayKind, RefundOrder};
use bulkrefund::sim::{sample_keys, SimHandle};

use crate::common::{alipay_client, alipay_refund, alipay_trade_no, BatchFile, Orders};
use crate::fixture::{EchoedBy, Fixture};

pub struct Alipay;

impl Fixture for Alipay {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Alipay
    }

    fn id_column(&self) -> &'static str {
        "out_request_no"
    }

    fn refund(&self, id: &str, order: u32, fen: u64) -> RefundOrder {
        let order = format!("T{order}");
        alipay_refund(id, &order, &alipay_trade_no(&order), fen)
    }

    fn client_timing_out(&self, sim: &SimHandle, timeout: Duration) -> Box<dyn Gateway> {
        Box::new(alipay_client(
            sim,
            sample_keys::ALIPAY_APP_PRIVATE_KEY,
            timeout,
        ))
    }

    /// Signed with another RSA key under the sample app's id.
    fn forged_client(&self, sim: &SimHandle) -> Box<dyn Gateway> {
        Box::new(alipay_client(
            sim,
            sample_keys::LIANSHANG_PRIVATE_KEY,
            Duration::from_secs(5),
        ))
    }

    /// `40002` `isv.invalid-signature`, unsigned (a gateway-level refusal).
    fn sign_error_code(&self) -> &'static str {
        "isv.invalid-signature"
    }

    /// The refusal names `private_key` (and `base_url`: sandbox or production).
    fn key_setting(&self) -> &'static str {
        "private_key"
    }

    fn signs_answers(&self) -> bool {
        true
    }

    /// Both trade ids (as another id, empty, a JSON number) in both answers;
    /// the refund answer's `refund_fee` (the trade's total so far, lowered
    /// below this refund: a higher total is legitimate); the query answer's
    /// `out_request_no` and `refund_amount`. Nine fields, one per order of
    /// `Orders::standard()`: two refunds of one trade within the simulator's
    /// 3 s would meet its `ACQ.SYSTEM_ERROR`, not the echo check.
    fn echoed_fields(&self) -> &'static [&'static str] {
        &[
            "out_trade_no",
            "out_trade_no_empty",
            "out_trade_no_number",
            "trade_no",
            "trade_no_empty",
            "trade_no_number",
            "out_request_no",
            "refund_fee",
            "refund_amount",
        ]
    }

    /// A refund answer names no refund (no `out_request_no`, no amount of
    /// its own); a query answer has no `refund_fee`.
    fn echoed_by(&self, field: &str) -> EchoedBy {
        match field {
            "refund_fee" => EchoedBy::Submit,
            "out_request_no" | "refund_amount" => EchoedBy::Query,
            _ => EchoedBy::Both,
        }
    }

    /// Alipay's answers carry no nonce and no signed time: what ties a query
    /// answer to its request is the refund's number (an answer about another
    /// part of the trade differs there). A refund answer about another part
    /// shows another cumulative `refund_fee`, which `echoed_fields` covers.
    fn replay_field(&self) -> &'static str {
        "out_request_no"
    }

    fn batch(&self) -> BatchFile {
        BatchFile::alipay()
    }

    fn row(&self, id: &str, order: &str, fen: u64, total: u64) -> String {
        format!("{id},{order},{},{fen},{total}", alipay_trade_no(order))
    }

    fn paid_order(&self, orders: Orders, order: &str, fen: u64) -> Orders {
        orders.alipay(order, &alipay_trade_no(order), fen)
    }

    /// A refund of a trade already refunded in full: the simulator's step 6,
    /// the trade closed, before the amount's step 7. A refusal: nothing was
    /// refunded, and the number stays free.
    fn over_refund_code(&self) -> &'static str {
        "ACQ.TRADE_HAS_CLOSE"
    }

    /// Alipay says busy with `40005` `isv.method-call-limited` in an HTTP
    /// 200 (with a `Retry-After`, as the simulator's 429 has).
    fn busy_status(&self) -> u16 {
        200
    }
}

crate::conformance!(Alipay);
