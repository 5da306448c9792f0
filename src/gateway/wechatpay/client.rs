//! The WeChat Pay client: builds the apply body or the query path, signs the
//! exact bytes it sends (a fresh nonce and timestamp per HTTP attempt), sends
//! them, and hands the answer to [`super::classify::answer`], which verifies
//! and classifies it. It never retries by itself: the engine decides.

use std::sync::Arc;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use url::{Position, Url};

use super::classify::{answer, Asked, Call, CURRENCY};
use super::verify::AnswerKeys;
use super::wire::{authorization, query_path, ApplyAmount, ApplyBody, Credentials, APPLY_PATH};
use crate::gateway::rsa_sign::RsaSigner;
use crate::gateway::{http, Attempt, ClientError, Gateway, IdUse, Outcome, Receipt, RefundOrder};
use crate::money::Fen;

/// The clock answers are checked against, in Unix seconds (tests set theirs).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| jiff::Timestamp::now().as_second())
}

#[derive(Clone)]
pub struct WechatpaySettings {
    pub base_url: Url,
    pub mchid: String,
    pub serial_no: String,
    pub signer: RsaSigner,
    pub keys: Arc<AnswerKeys>,
    pub timeout: Duration,
    pub clock: Clock,
}

pub struct WechatpayClient {
    http: reqwest::Client,
    base_url: Url,
    settings: WechatpaySettings,
}

/// The `User-Agent` every request carries.
fn user_agent() -> String {
    format!("bulkrefund/{}", env!("CARGO_PKG_VERSION"))
}

impl WechatpayClient {
    pub fn new(settings: WechatpaySettings) -> Result<WechatpayClient, ClientError> {
        // Both paths must join onto the base URL; checked once, here.
        settings.base_url.join(APPLY_PATH)?;
        Ok(WechatpayClient {
            http: http::client(settings.timeout),
            base_url: settings.base_url.clone(),
            settings,
        })
    }

    /// One signed HTTP attempt: `body` is what is signed and what is sent.
    async fn send(&self, call: Call, path: &str, body: Vec<u8>, asked: &Asked) -> Attempt {
        let url = match self.base_url.join(path) {
            Ok(url) => url,
            Err(e) => {
                return Attempt::without_answer(Outcome::retry(
                    None,
                    format!("the request URL cannot be built: {e}"),
                ))
            }
        };
        let canonical = &url[Position::BeforePath..];
        let method = if call == Call::Apply { "POST" } else { "GET" };
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let credentials = Credentials {
            mchid: &self.settings.mchid,
            serial_no: &self.settings.serial_no,
            signer: &self.settings.signer,
        };
        let ts = (self.settings.clock)();
        let auth = authorization(&credentials, method, canonical, ts, &nonce, &body);
        let request = match call {
            Call::Apply => self
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body),
            Call::Query => self.http.get(url.clone()),
        };
        let request = request
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, user_agent())
            .header("Wechatpay-Serial", &self.settings.keys.public_key_id);
        match http::send(request).await {
            Ok(reply) => answer(
                call,
                reply.status,
                &reply.headers,
                &reply.body,
                &self.settings.keys,
                asked,
                (self.settings.clock)(),
            ),
            Err(attempt) => attempt,
        }
    }
}

/// An apply refused with 400 `INVALID_REQUEST` (classified unknown until a
/// query says what the id names).
fn broke_a_rule(applied: &Attempt) -> bool {
    applied.http_status == Some(400)
        && applied.gateway_codes.as_deref() == Some("code=INVALID_REQUEST")
        && matches!(applied.outcome, Outcome::Unknown { .. })
}

/// What a refund's request asks, from its fields.
pub fn asked(refund: &RefundOrder) -> Asked {
    Asked {
        out_refund_no: refund.refund_id.clone(),
        out_trade_no: refund.field("out_trade_no").map(str::to_owned),
        transaction_id: refund.field("transaction_id").map(str::to_owned),
        refund: refund.amount,
    }
}

/// The apply body of a refund, or why its fields cannot make one.
pub fn apply_body(refund: &RefundOrder) -> Result<Vec<u8>, String> {
    let total = refund
        .field("order_total")
        .ok_or("the refund has no order_total")?;
    let total = Fen::parse_fen(total).map_err(|e| format!("order_total {total:?} {e}"))?;
    let body = ApplyBody {
        out_refund_no: &refund.refund_id,
        transaction_id: refund.field("transaction_id"),
        out_trade_no: refund.field("out_trade_no"),
        reason: refund.field("reason"),
        // The profile's, if any, was recorded in the fields at import.
        notify_url: refund.field("notify_url"),
        funds_account: refund.field("funds_account"),
        amount: ApplyAmount {
            refund: refund.amount.0,
            total: total.0,
            currency: CURRENCY,
        },
    };
    Ok(body.to_bytes())
}

#[async_trait::async_trait]
impl Gateway for WechatpayClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        let body = match apply_body(refund) {
            Ok(body) => body,
            Err(why) => {
                // Nothing sent: the row's fields cannot make the contract's body.
                let outcome =
                    Outcome::failed("BR_INVALID_FIELD", why, Receipt::default(), IdUse::Free);
                return Attempt::without_answer(outcome);
            }
        };
        let asked = asked(refund);
        let applied = self.send(Call::Apply, APPLY_PATH, body, &asked).await;
        if !broke_a_rule(&applied) {
            return applied;
        }
        // 400 INVALID_REQUEST: well formed, against a business rule. Nothing
        // new was created, but the id may already name a refund: one query
        // settles which (docs/specs/wechatpay-v3.md, "Error codes").
        let path = query_path(&refund.refund_id);
        let queried = self.send(Call::Query, &path, Vec::new(), &asked).await;
        match queried.outcome {
            Outcome::NotFound => Attempt {
                outcome: Outcome::failed(
                    "INVALID_REQUEST",
                    "the gateway refused the refund (a business rule: the order's total, \
                     its refundable balance, its 50 refunds or 365 days) and holds no refund \
                     with this id",
                    Receipt::default(),
                    IdUse::Free,
                ),
                ..applied
            },
            // Found: what the gateway holds under this id, echo-checked.
            Outcome::Succeeded(_)
            | Outcome::Processing(_)
            | Outcome::Failed { .. }
            | Outcome::Abnormal(_)
            | Outcome::Mismatch { .. } => queried,
            // Nothing learnt: unknown, and the engine asks again.
            _ => applied,
        }
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let path = query_path(&refund.refund_id);
        self.send(Call::Query, &path, Vec::new(), &asked(refund))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use axum::body::{to_bytes, Body};
    use axum::extract::Request;
    use axum::response::Response;
    use serde_json::Value;

    use super::*;
    use crate::gateway::rsa_sign::RsaVerifier;
    use crate::gateway::wechatpay::testing::{keys, MERCHANT_KEY};
    use crate::gateway::wechatpay::wire::string_to_sign;

    const MERCHANT_PUBLIC_KEY: &str =
        include_str!("../../../tests/vectors/wechatpay/made_here_merchant_api_public_key.pem");

    /// What the test server saw of one request: method, target, headers, body.
    type Seen = Arc<Mutex<Vec<(String, String, HashMap<String, String>, Vec<u8>)>>>;

    /// The Authorization items, checked as WeChat checks them.
    fn signature_verifies(method: &str, target: &str, auth: &str, body: &[u8]) -> bool {
        let Some(items) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
            return false;
        };
        let items: HashMap<&str, &str> = items
            .split(',')
            .filter_map(|item| item.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        let message = string_to_sign(
            method,
            target,
            items["timestamp"].parse().unwrap(),
            items["nonce_str"],
            body,
        );
        items["mchid"] == "1234567890"
            && items["serial_no"] == "F5765756002FDD77"
            && items["nonce_str"].len() == 32
            && RsaVerifier::from_pem(MERCHANT_PUBLIC_KEY)
                .unwrap()
                .verify_bytes(
                    &message,
                    items["signature"],
                    crate::gateway::rsa_sign::RsaDigest::Sha256,
                )
    }

    /// A made-here answer as the server sends it.
    fn vector_answer(name: &str) -> Response {
        let all: Value = serde_json::from_str(include_str!(
            "../../../tests/vectors/wechatpay/made_here_refund_vectors.json"
        ))
        .unwrap();
        let v = &all[name];
        let mut response = Response::builder().status(v["http_status"].as_u64().unwrap() as u16);
        for (name, value) in v["headers"].as_object().unwrap() {
            response = response.header(name, value.as_str().unwrap());
        }
        response
            .body(Body::from(v["body"].as_str().unwrap().to_owned()))
            .unwrap()
    }

    async fn serve(request: Request, seen: Seen) -> Response {
        let method = request.method().to_string();
        let target = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect::<HashMap<_, _>>();
        let body = to_bytes(request.into_body(), 1 << 16)
            .await
            .unwrap()
            .to_vec();
        let signed = signature_verifies(&method, &target, &headers["authorization"], &body);
        seen.lock()
            .unwrap()
            .push((method.clone(), target.clone(), headers, body));
        if !signed {
            return Response::builder()
                .status(401)
                .body(Body::from(r#"{"code":"SIGN_ERROR","message":"bad"}"#))
                .unwrap();
        }
        match (method.as_str(), target.as_str()) {
            ("POST", APPLY_PATH) => vector_answer("apply_answer_public_key_mode"),
            ("GET", "/v3/refund/domestic/refunds/R20261122-0001") => {
                vector_answer("query_answer_success")
            }
            _ => vector_answer("query_answer_not_found_404"),
        }
    }

    fn order(id: &str) -> RefundOrder {
        RefundOrder {
            refund_id: id.into(),
            amount: Fen(2599),
            fields: [
                ("out_trade_no", "T20261101000001"),
                ("order_total", "5000"),
                ("reason", "月末退款"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            gateway_refund_id: None,
        }
    }

    #[tokio::test]
    async fn signed_calls_over_http() {
        let seen: Seen = Arc::default();
        let app = {
            let seen = seen.clone();
            axum::Router::new().fallback(move |request: Request| serve(request, seen.clone()))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = WechatpayClient::new(WechatpaySettings {
            base_url,
            mchid: "1234567890".into(),
            serial_no: "F5765756002FDD77".into(),
            signer: RsaSigner::from_pem(MERCHANT_KEY, crate::gateway::rsa_sign::RsaDigest::Sha256)
                .unwrap(),
            keys: Arc::new(keys(&[])),
            timeout: Duration::from_secs(5),
            clock: Arc::new(|| 1795311030),
        })
        .unwrap();
        let receipt = Receipt {
            gateway_refund_id: Some("50300000002026112200000000001".into()),
            refund_fen: Some(Fen(2599)),
            success_at: None,
            created_at: Some("2026-11-22T01:30:00Z".parse().unwrap()),
        };
        let applied = client.submit(&order("R20261122-0001")).await;
        assert_eq!(applied.outcome, Outcome::Processing(receipt.clone()));
        assert_eq!(applied.gateway_codes.as_deref(), Some("status=PROCESSING"));
        let queried = client.query(&order("R20261122-0001")).await;
        let success_at = Some("2026-11-22T01:30:05Z".parse().unwrap());
        assert_eq!(
            queried.outcome,
            Outcome::Succeeded(Receipt {
                success_at,
                ..receipt
            })
        );
        let absent = client.query(&order("R20261122|0002*A")).await;
        assert_eq!(
            (absent.outcome, absent.http_status),
            (Outcome::NotFound, Some(404))
        );
        let seen = seen.lock().unwrap();
        let (_, _, headers, body) = &seen[0];
        assert_eq!(body, &apply_body(&order("R20261122-0001")).unwrap());
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["user-agent"], user_agent());
        assert_eq!(
            headers["wechatpay-serial"],
            "PUB_KEY_ID_0112345678902026110100000000000001"
        );
        assert_eq!(
            seen[2].1,
            "/v3/refund/domestic/refunds/R20261122%7C0002%2AA"
        );
        assert!(!seen[1].2.contains_key("content-type"), "a GET has no body");
        let nonce = |i: usize| {
            seen[i].2["authorization"]
                .split("nonce_str=")
                .nth(1)
                .unwrap()[..34]
                .to_owned()
        };
        assert_ne!(nonce(0), nonce(1), "a fresh nonce for every attempt");
    }
}
