//! The simulated Alipay open-platform gateway (docs/specs/alipay.md, "What
//! the simulator enforces"): one endpoint, `/gateway.do`, that takes the form
//! post (or a GET with every parameter in the query string) of three methods,
//! strict like the real one. Every request's common parameters and RSA2
//! signature are checked ([`form`]), then the calls of the current second,
//! then the call's own rules ([`refund`], [`bills`]). Business answers are
//! signed over the exact bytes of their `…_response` value ([`answer`]);
//! gateway-level refusals are not. The daily bill is served from the ledger
//! as a zip of GBK CSV files ([`bill`]) under a short-lived URL.

mod answer;
mod bill;
mod bills;
mod config;
mod form;
mod refund;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

pub use bill::{Bill, BillKind, BillRow, DETAIL_HEADER};
pub use bills::DOWNLOAD_PATH;
pub use config::{AlipayConfig, AlipayKeyError, SAMPLE_BILL_ACCOUNT};
pub use form::string_to_sign;

use super::faults::AfterFault;
use super::SimState;
use crate::gateway::GatewayKind;
use answer::{Layout, Reply};
use form::{AppKey, Call, Request};

/// The gateway's path (`https://openapi.alipay.com/gateway.do`).
pub const GATEWAY_PATH: &str = "/gateway.do";
/// Sets the merchant's balance while running (a top-up).
pub const BALANCE_PATH: &str = "/__sim/alipay/balance";

/// The simulator's Alipay: its settings, its one-second window, the
/// merchant's balance and the bills on offer.
pub(super) struct Alipay {
    config: AlipayConfig,
    started: Instant,
    /// (second, calls in it).
    window: Mutex<(u64, u32)>,
    balance_fen: Mutex<Option<u64>>,
    bills: Mutex<bills::Offers>,
    /// The `zip_bomb` delivery fault's detail entry, made when first asked for.
    bomb: std::sync::OnceLock<super::bomb::Bomb>,
}

impl Alipay {
    pub(super) fn new(config: AlipayConfig) -> Alipay {
        Alipay {
            balance_fen: Mutex::new(config.balance_fen),
            config,
            started: Instant::now(),
            window: Mutex::new((0, 0)),
            bills: Mutex::new(bills::Offers::default()),
            bomb: std::sync::OnceLock::new(),
        }
    }

    /// Counts a call; true when it is over the second's `--alipay-qps`.
    fn over_limit(&self) -> bool {
        let second = self.started.elapsed().as_secs();
        let mut window = self.window.lock().expect("window lock");
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 += 1;
        window.1 > self.config.qps
    }

    pub(super) fn balance_fen(&self) -> Option<u64> {
        *self.balance_fen.lock().expect("balance lock")
    }

    /// Sets (tops up) the merchant's balance; `None`: unlimited.
    pub(super) fn set_balance_fen(&self, fen: Option<u64>) {
        *self.balance_fen.lock().expect("balance lock") = fen;
    }
}

/// Steps 1 and 2: the parameters, the signature, the second's calls, the
/// busy fault. `Err(None)` is the shared rate limit's HTTP 429.
fn admit(state: &SimState, query: Option<&str>, body: &[u8]) -> Result<Request, Option<Reply>> {
    if state.faults.arrive().is_some() {
        return Err(None);
    }
    let Some(parameters) = form::parameters(query, body) else {
        return Err(Some(Reply::gateway(
            form::ERROR_MEMBER,
            "40002",
            "Invalid Arguments",
            "isv.invalid-parameter",
            "参数无效: a parameter is given twice",
        )));
    };
    let faults = state.faults.config();
    let key = AppKey {
        verifier: &state.alipay.config.app_public_key,
        wrong_key: faults.wrong_key,
    };
    let knows_app = |app_id: &str| {
        let ledger = state.ledger.lock().expect("ledger lock");
        ledger.knows_merchant(GatewayKind::Alipay, app_id)
    };
    let request = form::check(&parameters, knows_app, &key).map_err(|refusal| {
        let mut reply = Reply::gateway(
            &refusal.member,
            refusal.code,
            refusal.msg,
            refusal.sub_code,
            refusal.sub_msg,
        );
        // Signed with the key the simulator holds (`--signed-refusals`):
        // a refusal a client may not be able to verify.
        reply.signed = faults.signed_refusals;
        Some(reply)
    })?;
    if state.alipay.over_limit() || state.faults.busy() {
        return Err(Some(Reply::gateway(
            &request.call.member(),
            "40005",
            "Call Limited",
            "isv.method-call-limited",
            "调用频次超限",
        )));
    }
    Ok(request)
}

/// Turns an answer into a response: the fault first (some replace the
/// answer), then the body, signed over the member's value as emitted.
async fn respond(state: &SimState, mut reply: Reply, fault: AfterFault, uri: &Uri) -> Response {
    let mut layout = Layout::default();
    match fault {
        AfterFault::None => {}
        // Alipay's word for "it may have run": the refund was recorded.
        AfterFault::ServerError => {
            let zero = answer::yuan(0);
            reply = Reply::business(
                &reply.member,
                "ACQ.SYSTEM_ERROR",
                "系统错误",
                &[("refund_fee", zero.clone()), ("send_back_fee", zero)],
            )
        }
        AfterFault::Drop => return super::dropped_connection(),
        AfterFault::Redirect => return super::redirect(state, uri.path()),
        AfterFault::Oversize => return super::oversize(),
        AfterFault::Endless => return super::endless(),
        AfterFault::BadSign => layout.bad_signature = true,
        AfterFault::Mismatch(ref field) => {
            let field = field
                .clone()
                .unwrap_or_else(|| state.faults.pick(answer::ECHOED).to_owned());
            answer::mismatch(&mut reply, &field);
        }
        AfterFault::Padded => layout.padded = true,
    }
    // Signed off the runtime's threads: an RSA signature takes a
    // millisecond of CPU, and requests arriving meanwhile must be counted
    // when they arrive.
    let limited = reply.code() == "40005";
    let signer = state.alipay.config.private_key.clone();
    let body = tokio::task::spawn_blocking(move || answer::body(&reply, &signer, layout))
        .await
        .expect("signing never panics");
    let mut response = (
        StatusCode::OK,
        // What Alipay was seen to send; the body is JSON all the same.
        [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
        body,
    )
        .into_response();
    // A call-limited answer says when to come back, as the simulator's 429
    // does (ours: whether Alipay sends a `Retry-After` is unverified).
    if limited {
        let seconds = state.faults.config().retry_after_secs.unwrap_or(1).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// `POST /gateway.do` (form body, parameters in the query string too) and
/// `GET /gateway.do` (every parameter in the query string).
pub(super) async fn handle_gateway(
    State(state): State<Arc<SimState>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    // Decided at arrival, answered after the latency.
    let verdict = admit(&state, uri.query(), &body);
    state.faults.delay().await;
    let request = match verdict {
        Ok(request) => request,
        Err(None) => return super::too_many_requests(&state),
        Err(Some(reply)) => return respond(&state, reply, AfterFault::None, &uri).await,
    };
    let (app_id, biz) = (&request.app_id, &request.biz_content);
    let (reply, fault) = match request.call {
        Call::Refund => match refund::refund(&state, app_id, biz) {
            Some(reply) => {
                let fault = state.faults.after(reply.code() == "10000");
                (reply, fault)
            }
            // Recorded, and the answer lost (`--contradict`).
            None => return super::server_error(),
        },
        Call::RefundQuery => (
            refund::query(&state, app_id, biz),
            state.faults.after(false),
        ),
        Call::BillUrl => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| state.addr.to_string(), str::to_owned);
            (
                bills::offer(&state, app_id, biz, &host),
                state.faults.after(false),
            )
        }
    };
    respond(&state, reply, fault, &uri).await
}

/// `GET /downloadBillFile.resource?…&fileId=…`: the bill's zip, unsigned; a
/// 404 once the URL expired.
pub(super) async fn handle_download(State(state): State<Arc<SimState>>, uri: Uri) -> Response {
    state.faults.arrive();
    match bills::download(&state, uri.query().unwrap_or("")) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "the bill URL expired or never existed",
        )
            .into_response(),
    }
}

/// `POST /__sim/alipay/balance {"balance_fen": N}` (or `null`: unlimited):
/// what topping up the merchant's account does; answers the balance set.
pub(super) async fn handle_balance(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let balance = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| match v.get("balance_fen")? {
            serde_json::Value::Null => Some(None),
            value => value.as_u64().map(Some),
        });
    let Some(balance) = balance else {
        let message = "{\"balance_fen\": fen as a JSON integer, or null} expected";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    state.alipay.set_balance_fen(balance);
    axum::Json(serde_json::json!({ "balance_fen": balance })).into_response()
}
