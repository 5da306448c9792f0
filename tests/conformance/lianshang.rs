//! Lianshang's conformance fixture: `createRefundOrder` refunds keyed by
//! `out_refund_id` against an order and its WK order, RSA-signed requests and
//! unsigned answers, and the echo of id (as text and as a number), amount,
//! order, request id and merchant.

use std::time::Duration;

use bulkrefund::gateway::lianshang::{LianshangClient, LianshangSettings};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner};
use bulkrefund::gateway::{Gateway, GatewayKind, RefundOrder};
use bulkrefund::sim::{sample_keys, SimHandle};

use crate::common::{lianshang_refund, BatchFile, Orders, LIANSHANG_MERCHANT};
use crate::fixture::Fixture;

pub struct Lianshang;

fn client(sim: &SimHandle, pem: &str, timeout: Duration) -> Box<dyn Gateway> {
    let settings = LianshangSettings {
        base_url: sim.base_url().parse().unwrap(),
        merchant_id: LIANSHANG_MERCHANT.into(),
        signer: RsaSigner::from_pem(pem, RsaDigest::Sha256).unwrap(),
        timeout,
        allow_insecure_http: false,
        compress: false,
    };
    Box::new(LianshangClient::new(settings).unwrap())
}

impl Fixture for Lianshang {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Lianshang
    }

    fn id_column(&self) -> &'static str {
        "out_refund_id"
    }

    fn refund(&self, id: &str, order: u32, fen: u64) -> RefundOrder {
        lianshang_refund(id, &format!("T{order}"), &format!("WK{order}"), fen)
    }

    fn client_timing_out(&self, sim: &SimHandle, timeout: Duration) -> Box<dyn Gateway> {
        client(sim, sample_keys::LIANSHANG_PRIVATE_KEY, timeout)
    }

    fn forged_client(&self, sim: &SimHandle) -> Box<dyn Gateway> {
        let other_key = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/keys/merchant-test-1024.pkcs1.pem"
        ))
        .unwrap();
        client(sim, &other_key, Duration::from_secs(5))
    }

    fn sign_error_code(&self) -> &'static str {
        "SignError"
    }

    fn key_setting(&self) -> &'static str {
        "private_key"
    }

    fn signs_answers(&self) -> bool {
        false
    }

    fn echoed_fields(&self) -> &'static [&'static str] {
        &[
            "out_refund_id",
            "out_refund_id_number",
            "refund_cash_amount",
            "out_trade_id",
            "request_id",
            "merchant_id",
        ]
    }

    fn replay_field(&self) -> &'static str {
        "request_id"
    }

    fn batch(&self) -> BatchFile {
        BatchFile::lianshang()
    }

    fn row(&self, id: &str, order: &str, fen: u64, _total: u64) -> String {
        format!("{id},{order},WK{order},{fen}")
    }

    fn paid_order(&self, orders: Orders, order: &str, fen: u64) -> Orders {
        orders.lianshang(order, &format!("WK{order}"), fen)
    }

    fn over_refund_code(&self) -> &'static str {
        "AmountExceed"
    }
}

crate::conformance!(Lianshang);
