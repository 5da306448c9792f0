//! Leshua's conformance fixture: `unified_refund` refunds keyed by
//! `merchant_refund_id`, an MD5 signature with the trade key on requests and
//! answers, and the echo of id, amount, merchant, order and nonce.

use std::time::Duration;

use bulkrefund::gateway::leshua::{LeshuaClient, LeshuaSettings};
use bulkrefund::gateway::{Gateway, GatewayKind, RefundOrder};
use bulkrefund::secret::Secret;
use bulkrefund::sim::{sample_keys, SimHandle};

use crate::common::{leshua_client, leshua_refund, BatchFile, Orders, LESHUA_MERCHANT};
use crate::fixture::Fixture;

pub struct Leshua;

impl Fixture for Leshua {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Leshua
    }

    fn id_column(&self) -> &'static str {
        "merchant_refund_id"
    }

    fn refund(&self, id: &str, order: u32, fen: u64) -> RefundOrder {
        leshua_refund(id, &format!("T{order}"), fen)
    }

    fn client_timing_out(&self, sim: &SimHandle, timeout: Duration) -> Box<dyn Gateway> {
        let settings = LeshuaSettings {
            base_url: sim.base_url().parse().unwrap(),
            merchant_id: LESHUA_MERCHANT.into(),
            trade_key: Secret::new(sample_keys::LESHUA_TRADE_KEY.trim()),
            notify_url: Some("https://shop.example.com/refund/notify".into()),
            timeout,
        };
        Box::new(LeshuaClient::new(settings).unwrap())
    }

    fn forged_client(&self, sim: &SimHandle) -> Box<dyn Gateway> {
        Box::new(leshua_client(sim, "WRONGKEY"))
    }

    fn sign_error_code(&self) -> &'static str {
        "-20006"
    }

    fn key_setting(&self) -> &'static str {
        "trade_key"
    }

    fn signs_answers(&self) -> bool {
        true
    }

    fn echoed_fields(&self) -> &'static [&'static str] {
        &[
            "merchant_refund_id",
            "refund_amount",
            "merchant_id",
            "third_order_id",
            "nonce_str",
        ]
    }

    fn replay_field(&self) -> &'static str {
        "nonce_str"
    }

    fn batch(&self) -> BatchFile {
        BatchFile::leshua()
    }

    fn row(&self, id: &str, order: &str, fen: u64, _total: u64) -> String {
        format!("{id},{order},{fen}")
    }

    fn paid_order(&self, orders: Orders, order: &str, fen: u64) -> Orders {
        orders.leshua(order, fen)
    }

    fn over_refund_code(&self) -> &'static str {
        "'-20023"
    }
}

crate::conformance!(Leshua);
