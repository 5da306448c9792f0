//! What the integration tests share: one fixture ([`World`]: a simulator, a
//! configuration aimed at it and a journal), builders for orders, batches and
//! profiles, gateway clients wired to the simulator with the sample keys, and
//! the checks of a results file against the simulator's ledger.
#![allow(dead_code)]

pub mod build;
pub mod chaos;
pub mod chaos_checks;
pub mod journal_at;
pub mod team;
pub mod world;

pub use build::*;
#[allow(unused_imports)]
pub use world::*;

use std::collections::BTreeMap;
use std::time::Duration;

use bulkrefund::gateway::alipay::client::{AlipayClient, AlipaySettings};
use bulkrefund::gateway::leshua::{LeshuaClient, LeshuaSettings};
use bulkrefund::gateway::lianshang::{LianshangClient, LianshangSettings};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use bulkrefund::gateway::wechatpay::client::{system_clock, WechatpayClient, WechatpaySettings};
use bulkrefund::gateway::wechatpay::verify::AnswerKeys;
use bulkrefund::gateway::{GatewayKind, RefundOrder};
use bulkrefund::money::Fen;
use bulkrefund::secret::Secret;
use bulkrefund::sim::ledger::OrderRow;
use bulkrefund::sim::{sample_keys, SimHandle};

pub fn leshua_client(sim: &SimHandle, key: &str) -> LeshuaClient {
    LeshuaClient::new(LeshuaSettings {
        base_url: sim.base_url().parse().unwrap(),
        merchant_id: LESHUA_MERCHANT.into(),
        trade_key: Secret::new(key),
        notify_url: Some("https://shop.example.com/refund/notify".into()),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

pub fn sample_leshua_client(sim: &SimHandle) -> LeshuaClient {
    leshua_client(sim, sample_keys::LESHUA_TRADE_KEY.trim())
}

pub fn lianshang_client_with(sim: &SimHandle, pem: &str, compress: bool) -> LianshangClient {
    LianshangClient::new(LianshangSettings {
        base_url: sim.base_url().parse().unwrap(),
        merchant_id: LIANSHANG_MERCHANT.into(),
        signer: RsaSigner::from_pem(pem, RsaDigest::Sha256).unwrap(),
        timeout: Duration::from_secs(5),
        allow_insecure_http: false,
        compress,
    })
    .unwrap()
}

pub fn lianshang_client(sim: &SimHandle) -> LianshangClient {
    lianshang_client_with(sim, sample_keys::LIANSHANG_PRIVATE_KEY, false)
}

/// A WeChat Pay client of the sample merchant signing with `pem` (the
/// sample merchant key or another), verifying answers with the sample
/// WeChat Pay public key.
pub fn wechatpay_client(sim: &SimHandle, pem: &str, timeout: Duration) -> WechatpayClient {
    use bulkrefund::sim::wechatpay::{SAMPLE_MERCHANT_SERIAL, SAMPLE_PUBLIC_KEY_ID};
    let keys = AnswerKeys {
        public_key_id: SAMPLE_PUBLIC_KEY_ID.into(),
        public_key: RsaVerifier::from_pem(sample_keys::WECHATPAY_PUBLIC_KEY).unwrap(),
        certificates: Vec::new(),
    };
    WechatpayClient::new(WechatpaySettings {
        base_url: sim.base_url().parse().unwrap(),
        mchid: WECHATPAY_MERCHANT.into(),
        serial_no: SAMPLE_MERCHANT_SERIAL.into(),
        signer: RsaSigner::from_pem(pem, RsaDigest::Sha256).unwrap(),
        keys: std::sync::Arc::new(keys),
        timeout,
        clock: system_clock(),
    })
    .unwrap()
}

/// An Alipay client of the sample app signing with `pem` (the sample app
/// key or another), verifying answers with the simulator's Alipay public key,
/// posting to the simulator's `/gateway.do`.
pub fn alipay_client(sim: &SimHandle, pem: &str, timeout: Duration) -> AlipayClient {
    use bulkrefund::gateway::alipay::{client::system_clock, keys};
    let gateway_url = format!(
        "{}{}",
        sim.base_url(),
        bulkrefund::sim::alipay::GATEWAY_PATH
    );
    AlipayClient::new(AlipaySettings {
        gateway_url: gateway_url.parse().unwrap(),
        app_id: ALIPAY_APP_ID.into(),
        signer: keys::private_key(pem).unwrap(),
        alipay_key: std::sync::Arc::new(keys::public_key(sample_keys::ALIPAY_PUBLIC_KEY).unwrap()),
        app_auth_token: None,
        timeout,
        clock: system_clock(),
    })
}

/// An Alipay refund numbered `id` of `fen` against the trade `order` (its
/// `trade_no` `trade_no`), carrying both trade ids.
pub fn alipay_refund(id: &str, order: &str, trade_no: &str, fen: u64) -> RefundOrder {
    let fields = [("out_trade_no", order), ("trade_no", trade_no)]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

/// A WeChat refund of `fen` against the order `order` (its `transaction_id`
/// `transaction`, paid `total`), carrying both order ids.
pub fn wechatpay_refund(
    id: &str,
    order: &str,
    transaction: &str,
    fen: u64,
    total: u64,
) -> RefundOrder {
    let mut fields = BTreeMap::new();
    for (name, value) in [
        ("out_trade_no", order.to_owned()),
        ("transaction_id", transaction.to_owned()),
        ("order_total", total.to_string()),
    ] {
        fields.insert(name.to_string(), value);
    }
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

pub fn leshua_refund(id: &str, order: &str, fen: u64) -> RefundOrder {
    let mut fields = BTreeMap::new();
    fields.insert("third_order_id".to_string(), order.to_string());
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

/// A Lianshang refund with every field the contract requires.
pub fn lianshang_refund(id: &str, order: &str, wk_order: &str, fen: u64) -> RefundOrder {
    let mut fields = BTreeMap::new();
    for (name, value) in [
        ("out_trade_id", order),
        ("original_wk_trade_id", wk_order),
        ("appid", "app01"),
        ("platform", "Online"),
        ("client_user_id", "finance"),
        ("guest_id", "GUESTER"),
        ("refund_type", "cash"),
        ("refund_msg", "月末退款"),
        ("refund_coin_amount", "0"),
        ("coin_type", "lianshang_coin"),
        ("refund_currency", "CNY"),
        ("refund_product_subject", "[]"),
        ("notify_url", "https://shop.example.com/refund/notify"),
        ("refund_expire", "30"),
        ("risk_extend", "{\"risk\":100}"),
    ] {
        fields.insert(name.to_string(), value.to_string());
    }
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

/// A generated batch of `rows` refunds and the orders that make them valid.
pub fn generated(
    dir: &std::path::Path,
    gateway: GatewayKind,
    rows: u64,
    prefix: &str,
) -> (std::path::PathBuf, Vec<OrderRow>) {
    let batch = dir.join(format!("{prefix}-{gateway}.csv"));
    let orders = dir.join(format!("{prefix}-{gateway}-orders.csv"));
    bulkrefund::sim::generate::write_batch(gateway, rows, prefix, &batch, Some(&orders)).unwrap();
    (
        batch,
        bulkrefund::sim::ledger::read_orders(&orders).unwrap(),
    )
}

/// The results file as (header, rows of column → value).
pub fn read_results(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Every row's status is what the ledger holds for its refund; no refund was
/// created twice; a row is reported succeeded only if the ledger says so.
pub fn assert_results_match_ledger(
    rows: &[std::collections::HashMap<String, String>],
    id_column: &str,
    ledger: &bulkrefund::sim::ledger::LedgerSnapshot,
) {
    use bulkrefund::sim::ledger::RefundState;
    assert!(ledger.ids.iter().all(|id| id.created <= 1));
    for row in rows {
        let id = &row[id_column];
        let status = row["status"].as_str();
        match ledger.refund(id) {
            Some(refund) => {
                let expected = match refund.status {
                    RefundState::Succeeded => "succeeded",
                    RefundState::Failed => "failed",
                    RefundState::Processing => "processing",
                    RefundState::Abnormal => "abnormal",
                };
                assert_eq!(status, expected, "row for {id}: {row:?}");
                assert_eq!(row["gateway_refund_id"], refund.gateway_refund_id, "{id}");
                assert_eq!(row["refund_fen"], refund.amount_fen.to_string(), "{id}");
            }
            None => assert!(
                matches!(status, "failed" | "invalid" | "conflict" | "pending"),
                "row for {id} is {status} but the gateway never created it"
            ),
        }
    }
}
