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
    /// The profile's `notify_url`, sent when a row gives none.
    pub notify_url: Option<String>,
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
pub fn apply_body(refund: &RefundOrder, notify_url: Option<&str>) -> Result<Vec<u8>, String> {
    let total = refund
        .field("order_total")
        .ok_or("the refund has no order_total")?;
    let total = Fen::parse_fen(total).map_err(|e| format!("order_total {total:?} {e}"))?;
    let body = ApplyBody {
        out_refund_no: &refund.refund_id,
        transaction_id: refund.field("transaction_id"),
        out_trade_no: refund.field("out_trade_no"),
        reason: refund.field("reason"),
        notify_url: refund.field("notify_url").or(notify_url),
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
        let body = match apply_body(refund, self.settings.notify_url.as_deref()) {
            Ok(body) => body,
            Err(why) => {
                // Nothing sent: the row's fields cannot make the contract's body.
                let outcome =
                    Outcome::failed("BR_INVALID_FIELD", why, Receipt::default(), IdUse::Free);
                return Attempt::without_answer(outcome);
            }
        };
        self.send(Call::Apply, APPLY_PATH, body, &asked(refund))
            .await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let path = query_path(&refund.refund_id);
        self.send(Call::Query, &path, Vec::new(), &asked(refund))
            .await
    }
}
