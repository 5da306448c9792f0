//! A small WeChat Pay caller for the simulator's own tests: it signs requests
//! with the sample merchant key exactly as the contract says (and can break
//! any part on purpose), sends them over TCP and reads answers raw, so that a
//! test checks the simulator and not a client.
#![allow(dead_code)]

pub mod bills;

use std::time::Duration;

use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{OrderRow, OrderStatus};
use bulkrefund::sim::wechatpay::WechatpayConfig;
use bulkrefund::sim::{self, sample_keys, SimConfig, SimHandle};
use serde_json::{json, Value};

pub const MCHID: &str = "1234567890";
pub const SERIAL: &str = "F5765756002FDD77";
pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0112345678902026110100000000000001";

/// A paid WeChat order `T{n}` / `W{n}` of `fen`.
pub fn order(n: u32, fen: u64) -> OrderRow {
    bulkrefund::sim::generate::sample_order(
        GatewayKind::Wechatpay,
        &format!("T{n}"),
        &format!("W{n}"),
        fen,
        OrderStatus::Paid,
    )
}

/// T1..T5 of 1000 fen; T6 closed; T7 paid 400 days ago; T8 another merchant's.
pub fn orders() -> Vec<OrderRow> {
    let mut orders: Vec<OrderRow> = (1..=5).map(|n| order(n, 1000)).collect();
    orders.push(OrderRow {
        status: OrderStatus::Closed,
        ..order(6, 1000)
    });
    // Another merchant, with no refund of its own.
    orders.push(OrderRow {
        merchant_id: "1234567899".into(),
        ..order(8, 1000)
    });
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(400 * 24);
    orders.push(OrderRow {
        paid_at: Some(long_ago),
        ..order(7, 1000)
    });
    orders
}

/// A simulator with no gap between one order's refunds and a roomy bad budget,
/// unless `tune` says otherwise.
pub async fn start(faults: FaultConfig, tune: impl FnOnce(&mut WechatpayConfig)) -> Wx {
    let mut config = SimConfig::with_sample_keys(orders());
    config.faults = faults;
    config.wechatpay.order_gap = Duration::ZERO;
    config.wechatpay.bad_qps = 1000;
    tune(&mut config.wechatpay);
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    Wx {
        base: sim.base_url(),
        sim,
        http: reqwest::Client::new(),
        signer: RsaSigner::from_pem(
            sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
            RsaDigest::Sha256,
        )
        .unwrap(),
    }
}

pub struct Wx {
    pub sim: SimHandle,
    pub base: String,
    http: reqwest::Client,
    signer: RsaSigner,
}

/// How to break a request's `Authorization`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Break {
    pub serial: Option<&'static str>,
    pub mchid: Option<&'static str>,
    /// Seconds added to the timestamp.
    pub skew: i64,
    /// Sign another target than the one sent.
    pub signed_target: Option<&'static str>,
}

/// An answer, raw.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the answer's signature verifies with WeChat Pay's public key
    /// over `TS\nNONCE\nBODY\n`, the body as received.
    pub fn verifies(&self) -> bool {
        let verifier = RsaVerifier::from_pem(sample_keys::WECHATPAY_PUBLIC_KEY).unwrap();
        let (Some(ts), Some(nonce), Some(signature)) = (
            self.header("Wechatpay-Timestamp"),
            self.header("Wechatpay-Nonce"),
            self.header("Wechatpay-Signature"),
        ) else {
            return false;
        };
        let body = String::from_utf8(self.body.clone()).unwrap();
        verifier.verify(
            &format!("{ts}\n{nonce}\n{body}\n"),
            signature,
            RsaDigest::Sha256,
        )
    }

    /// `status code`, for short assertions.
    pub fn said(&self) -> (u16, String) {
        (self.status, self.code())
    }
}

impl Wx {
    pub fn authorization(&self, method: &str, target: &str, body: &str, broken: Break) -> String {
        let ts = jiff::Timestamp::now().as_second() + broken.skew;
        let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
        let signed_target = broken.signed_target.unwrap_or(target);
        let signature = self.signer.sign(&format!(
            "{method}\n{signed_target}\n{ts}\n{nonce}\n{body}\n"
        ));
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{ts}\",serial_no=\"{}\",signature=\"{signature}\"",
            broken.mchid.unwrap_or(MCHID),
            broken.serial.unwrap_or(SERIAL),
        )
    }

    /// Sends `method target` with `body`, signed (and broken as asked).
    pub async fn send(&self, method: &str, target: &str, body: &str, broken: Break) -> Reply {
        let url = format!("{}{target}", self.base);
        let request = match method {
            "POST" => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.to_owned()),
            _ => self.http.get(url),
        };
        let response = request
            .header(
                "Authorization",
                self.authorization(method, target, body, broken),
            )
            .header("Accept", "application/json")
            .header("User-Agent", "bulkrefund-test")
            .send()
            .await
            .expect("the simulator answers");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn apply_body(&self, body: &Value) -> Reply {
        let body = serde_json::to_string(body).unwrap();
        self.send(
            "POST",
            "/v3/refund/domestic/refunds",
            &body,
            Break::default(),
        )
        .await
    }

    /// Applies to refund `fen` of order `T{order}` (total 1000) under `id`.
    pub async fn apply(&self, id: &str, order: u32, fen: u64) -> Reply {
        self.apply_body(&body(id, order, fen, 1000)).await
    }

    pub async fn query(&self, escaped_id: &str) -> Reply {
        let target = format!("/v3/refund/domestic/refunds/{escaped_id}");
        self.send("GET", &target, "", Break::default()).await
    }

    pub async fn resolve(&self, id: &str) -> u16 {
        self.http
            .post(format!("{}/__sim/wechatpay/resolve-abnormal", self.base))
            .body(json!({ "out_refund_no": id }).to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// An apply body in the client's key order.
pub fn body(id: &str, order: u32, fen: u64, total: u64) -> Value {
    json!({
        "out_refund_no": id,
        "out_trade_no": format!("T{order}"),
        "reason": "月末退款",
        "amount": {"refund": fen, "total": total, "currency": "CNY"},
    })
}
