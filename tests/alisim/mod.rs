//! A small Alipay caller for the simulator's own tests: it signs requests
//! with the sample app key exactly as the contract says (sorted parameters,
//! `sign` left out, `sign_type` kept; and can break any part on purpose),
//! posts the form over TCP and reads answers raw, cutting the `…_response`
//! value out of the body as received to verify its signature, so that a test
//! checks the simulator and not a client.
#![allow(dead_code)]

pub mod bills;

use std::collections::BTreeMap;
use std::time::Duration;

use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::alipay::AlipayConfig;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{OrderRow, OrderStatus};
use bulkrefund::sim::{self, sample_keys, SimConfig, SimHandle};
use serde_json::{json, Value};

pub const APP_ID: &str = "2021000123456789";

/// Trade `T{n}`'s `trade_no`: 28 digits.
pub fn trade_no(n: u32) -> String {
    format!("2026110122001400000000{n:06}")
}

/// A paid Alipay trade `T{n}` of `fen`.
pub fn order(n: u32, fen: u64) -> OrderRow {
    bulkrefund::sim::generate::sample_order(
        GatewayKind::Alipay,
        &format!("T{n}"),
        &trade_no(n),
        fen,
        OrderStatus::Paid,
    )
}

/// T1..T5 of 1000 fen (T5 paid now, so that today's bill lists it); T6
/// closed; T7 paid 400 days ago; T8 not paid; T9 another app's.
pub fn orders() -> Vec<OrderRow> {
    let mut orders: Vec<OrderRow> = (1..=4).map(|n| order(n, 1000)).collect();
    orders.push(OrderRow {
        paid_at: Some(jiff::Timestamp::now()),
        ..order(5, 1000)
    });
    orders.push(OrderRow {
        status: OrderStatus::Closed,
        ..order(6, 1000)
    });
    let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(400 * 24);
    orders.push(OrderRow {
        paid_at: Some(long_ago),
        ..order(7, 1000)
    });
    orders.push(OrderRow {
        status: OrderStatus::Failed,
        ..order(8, 1000)
    });
    orders.push(OrderRow {
        merchant_id: "2021000000000009".into(),
        ..order(9, 1000)
    });
    orders
}

/// A simulator with no gap between one trade's refunds, unless `tune` says otherwise.
pub async fn start(faults: FaultConfig, tune: impl FnOnce(&mut AlipayConfig)) -> Ali {
    let mut config = SimConfig::with_sample_keys(orders());
    config.faults = faults;
    config.alipay.trade_gap = Duration::ZERO;
    tune(&mut config.alipay);
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    Ali {
        url: format!("{}/gateway.do", sim.base_url()),
        sim,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        signer: RsaSigner::from_pem(sample_keys::ALIPAY_APP_PRIVATE_KEY, RsaDigest::Sha256)
            .unwrap(),
    }
}

pub struct Ali {
    pub sim: SimHandle,
    pub url: String,
    pub http: reqwest::Client,
    signer: RsaSigner,
}

/// An answer, raw.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

/// The exact text of the top-level member `name`'s object value in `body`:
/// from its `{` to the matching `}`, strings and escapes honoured.
pub fn raw_member<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\"");
    let at = body.find(&key)? + key.len();
    let rest = body[at..].trim_start().strip_prefix(':')?.trim_start();
    let start = body.len() - rest.len();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '{' if !in_string => depth += 1,
            '}' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return Some(&body[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `…_response` (or `error_response`) member's value.
    pub fn member(&self) -> Value {
        let json = self.json();
        let object = json.as_object().cloned().unwrap_or_default();
        object
            .into_iter()
            .find(|(name, _)| name.ends_with("_response"))
            .map(|(_, value)| value)
            .unwrap_or(Value::Null)
    }

    pub fn field(&self, name: &str) -> String {
        self.member()[name].as_str().unwrap_or("").to_owned()
    }

    /// (`code`, `sub_code`), for short assertions.
    pub fn said(&self) -> (String, String) {
        (self.field("code"), self.field("sub_code"))
    }

    /// Whether the top-level `sign` verifies with Alipay's public key over
    /// the member's value exactly as received.
    pub fn verifies(&self) -> bool {
        let verifier = RsaVerifier::from_pem(sample_keys::ALIPAY_PUBLIC_KEY).unwrap();
        let json = self.json();
        let Some(sign) = json["sign"].as_str() else {
            return false;
        };
        let Some(name) = json
            .as_object()
            .and_then(|o| o.keys().find(|k| k.ends_with("_response")).cloned())
        else {
            return false;
        };
        let Some(raw) = raw_member(&self.body, &name) else {
            return false;
        };
        verifier.verify(raw, sign, RsaDigest::Sha256)
    }

    pub fn is_signed(&self) -> bool {
        self.json().get("sign").is_some()
    }
}

impl Ali {
    /// The common parameters of `method` with `biz_content`, unsigned.
    pub fn parameters(&self, method: &str, biz: &Value) -> BTreeMap<String, String> {
        let now = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        [
            ("app_id", APP_ID.to_owned()),
            ("method", method.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("sign_type", "RSA2".to_owned()),
            ("timestamp", now),
            ("version", "1.0".to_owned()),
            ("biz_content", biz.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Adds `sign`: over every other non-empty parameter, sorted, `k=v&…`.
    pub fn sign(&self, parameters: &mut BTreeMap<String, String>) {
        self.sign_with(&self.signer, parameters);
    }

    pub fn sign_with(&self, signer: &RsaSigner, parameters: &mut BTreeMap<String, String>) {
        parameters.remove("sign");
        let message = parameters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        parameters.insert("sign".into(), signer.sign(&message));
    }

    fn encode(parameters: &BTreeMap<String, String>) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(parameters)
            .finish()
    }

    /// Posts the parameters as a form, as they are.
    pub async fn post(&self, parameters: &BTreeMap<String, String>) -> Reply {
        let response = self
            .http
            .post(&self.url)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(Ali::encode(parameters))
            .send()
            .await
            .expect("the simulator answers");
        Reply {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// Sends the parameters in the query string of a GET.
    pub async fn get(&self, parameters: &BTreeMap<String, String>) -> Reply {
        let url = format!("{}?{}", self.url, Ali::encode(parameters));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .expect("the simulator answers");
        Reply {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// A signed call of `method`.
    pub async fn call(&self, method: &str, biz: &Value) -> Reply {
        let mut parameters = self.parameters(method, biz);
        self.sign(&mut parameters);
        self.post(&parameters).await
    }

    /// Refunds `yuan` of trade `T{n}` under `out_request_no`.
    pub async fn refund(&self, n: u32, out_request_no: &str, yuan: &str) -> Reply {
        let biz = json!({
            "out_trade_no": format!("T{n}"),
            "out_request_no": out_request_no,
            "refund_amount": yuan,
            "refund_reason": "月末退款",
        });
        self.call("alipay.trade.refund", &biz).await
    }

    /// Asks about `out_request_no` of trade `T{n}`, with the refund time.
    pub async fn query(&self, n: u32, out_request_no: &str) -> Reply {
        let biz = json!({
            "out_trade_no": format!("T{n}"),
            "out_request_no": out_request_no,
            "query_options": ["gmt_refund_pay"],
        });
        self.call("alipay.trade.fastpay.refund.query", &biz).await
    }

    pub async fn bill_url(&self, date: &str) -> Reply {
        let biz = json!({"bill_type": "trade", "bill_date": date});
        self.call("alipay.data.dataservice.bill.downloadurl.query", &biz)
            .await
    }

    /// GETs a URL: (status, bytes).
    pub async fn download(&self, url: &str) -> (u16, Vec<u8>) {
        let response = self.http.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}
