//! The simulated WeChat Pay APIv3 (docs/specs/wechatpay-v3.md, "Limits, and
//! what the simulator enforces"): refund apply and query, the REFUND trade
//! bill and its download, strict like the real service. Every request's
//! `Authorization` is checked ([`auth`]), then the per-second windows (150
//! applies, 300 queries, 6 bad applies), then the call's own rules
//! ([`apply`], [`bills`]). Every answer to an authenticated request is signed
//! with WeChat Pay's key, errors included; 401 and `MCH_NOT_EXISTS` are not.

mod apply;
mod auth;
mod bill;
mod bills;
mod config;
mod traffic;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

pub(super) use apply::REFUND_ID_PREFIX;
pub use bill::BillLayout;
pub use config::{
    AnswerMode, WechatpayConfig, WechatpayKeyError, SAMPLE_MERCHANT_SERIAL, SAMPLE_PUBLIC_KEY_ID,
};

use super::faults::AfterFault;
use super::SimState;
use crate::gateway::GatewayKind;

pub const APPLY_PATH: &str = "/v3/refund/domestic/refunds";
pub const QUERY_PATH: &str = "/v3/refund/domestic/refunds/{out_refund_no}";
pub const BILL_PATH: &str = "/v3/bill/tradebill";
pub const DOWNLOAD_PATH: &str = "/v3/billdownload/file";
pub const RESOLVE_PATH: &str = "/__sim/wechatpay/resolve-abnormal";
pub const BALANCE_PATH: &str = "/__sim/wechatpay/balance";

/// The calls, each with its own per-second window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Apply,
    /// Queries, bill applies and downloads share the query window (ours:
    /// WeChat does not publish a bill limit).
    Query,
}

/// Counts in the current one-second window.
#[derive(Default)]
struct Windows {
    second: u64,
    applies: u32,
    queries: u32,
    bad: u32,
}

/// The simulator's WeChat Pay: its settings, windows and the bills on offer.
pub(super) struct Wechatpay {
    config: WechatpayConfig,
    started: Instant,
    windows: Mutex<Windows>,
    bills: Mutex<bills::Offers>,
    /// The `zip_bomb` delivery fault's gzip, made when first asked for.
    bomb: std::sync::OnceLock<super::bomb::Bomb>,
    requests: AtomicU64,
    /// The merchant's balance now: `config.balance_fen` at the start, then
    /// what `SimHandle::set_wechatpay_balance` or `POST BALANCE_PATH` set.
    balance_fen: Mutex<Option<u64>>,
    arrivals: traffic::Arrivals,
}

impl Wechatpay {
    pub(super) fn new(config: WechatpayConfig) -> Wechatpay {
        Wechatpay {
            balance_fen: Mutex::new(config.balance_fen),
            config,
            started: Instant::now(),
            windows: Mutex::new(Windows::default()),
            bills: Mutex::new(bills::Offers::default()),
            bomb: std::sync::OnceLock::new(),
            requests: AtomicU64::new(0),
            arrivals: traffic::Arrivals::default(),
        }
    }

    /// Applies and queries apart, and the 429s given.
    pub(super) fn traffic(&self) -> super::snapshot::WechatpayTraffic {
        self.arrivals.snapshot()
    }

    /// The current window, started afresh when its second is over.
    fn window<T>(&self, f: impl FnOnce(&mut Windows) -> T) -> T {
        let second = self.started.elapsed().as_secs();
        let mut windows = self.windows.lock().expect("windows lock");
        if windows.second != second {
            *windows = Windows {
                second,
                ..Windows::default()
            };
        }
        f(&mut windows)
    }

    /// Counts a call; true when it is over its second's limit.
    fn over_limit(&self, call: Call) -> bool {
        let (apply_qps, query_qps) = (self.config.apply_qps, self.config.query_qps);
        self.window(|w| match call {
            Call::Apply => {
                w.applies += 1;
                w.applies > apply_qps
            }
            Call::Query => {
                w.queries += 1;
                w.queries > query_qps
            }
        })
    }

    /// Counts a bad apply answer; true when the second's budget was already
    /// spent, so that this one is to be a 429 instead.
    fn over_bad_budget(&self) -> bool {
        let budget = self.config.bad_qps;
        self.window(|w| {
            let over = w.bad >= budget;
            w.bad += u32::from(!over);
            over
        })
    }

    /// The merchant's refundable balance, when limited.
    pub(super) fn balance_fen(&self) -> Option<u64> {
        *self.balance_fen.lock().expect("balance lock")
    }

    /// Sets (tops up) the merchant's balance; `None`: unlimited.
    pub(super) fn set_balance_fen(&self, fen: Option<u64>) {
        *self.balance_fen.lock().expect("balance lock") = fen;
    }

    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("08F8B7B7A806100018A0F8B6E1051D{n:010X}")
    }
}

/// An answer before faults and signing.
pub(super) struct Answer {
    status: StatusCode,
    body: Value,
    signed: bool,
}

impl Answer {
    pub(super) fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            signed: true,
        }
    }

    pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Answer {
        Answer {
            status,
            body: json!({ "code": code, "message": message }),
            signed: true,
        }
    }

    fn unsigned(mut self) -> Answer {
        self.signed = false;
        self
    }

    fn is_bad(&self) -> bool {
        matches!(self.status.as_u16(), 400 | 401 | 403 | 404)
    }
}

fn frequency_limited() -> Answer {
    Answer::error(
        StatusCode::TOO_MANY_REQUESTS,
        "FREQUENCY_LIMITED",
        "too many requests, try again later",
    )
}

fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Steps 1 and 2 of every call: the shared rate limit, latency, the
/// `Authorization`, the call's window, the busy fault. `Ok` is the merchant.
async fn admit(
    state: &SimState,
    call: Call,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Response> {
    let wx = &state.wechatpay;
    wx.arrivals.arrive(call, wx.started);
    // Decided at arrival, answered after the latency: the windows count a
    // request when it arrives, as WeChat's do, not when its answer is ready.
    let verdict = check(state, call, method, uri, headers, body);
    state.faults.delay().await;
    match verdict {
        Ok(merchant) => Ok(merchant),
        Err(answer) => Err(respond(state, answer, AfterFault::None, uri).await),
    }
}

/// The rate limit, the `Authorization`, the call's window, the busy fault:
/// `Ok` is the merchant, `Err` the answer that refuses the request.
fn check(
    state: &SimState,
    call: Call,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Answer> {
    if state.faults.arrive().is_some() {
        return Err(frequency_limited().unsigned());
    }
    let wx = &state.wechatpay;
    let key = auth::MerchantKey {
        verifier: &wx.config.merchant_public_key,
        serial_no: &wx.config.merchant_serial,
        wrong_key: state.faults.config().wrong_key,
    };
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let known = |mchid: &str| {
        let ledger = state.ledger.lock().expect("ledger lock");
        ledger.knows_merchant(GatewayKind::Wechatpay, mchid)
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let method = method.as_str();
    let answer = match auth::check(authorization, method, target, body, known, &key, now_secs()) {
        Ok(mchid) => {
            if wx.over_limit(call) || state.faults.busy() {
                return Err(frequency_limited());
            }
            return Ok(mchid.to_owned());
        }
        Err(auth::AuthFailure::UnknownMerchant) => {
            Answer::error(StatusCode::NOT_FOUND, "MCH_NOT_EXISTS", "no such merchant").unsigned()
        }
        Err(auth::AuthFailure::Sign(why)) => {
            let answer = Answer::error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", why);
            // Signed with the key the simulator holds: a refusal a client
            // with another key cannot verify (`--signed-refusals`).
            if state.faults.config().signed_refusals {
                answer
            } else {
                answer.unsigned()
            }
        }
    };
    if call == Call::Apply && wx.over_bad_budget() {
        return Err(frequency_limited().unsigned());
    }
    Err(answer)
}

/// Turns an answer into a response: the fault first (some replace the answer),
/// then the JSON bytes, then the signature over exactly those bytes.
async fn respond(state: &SimState, mut answer: Answer, fault: AfterFault, uri: &Uri) -> Response {
    let mut spoil = auth::Spoil::default();
    match fault {
        AfterFault::None => {}
        AfterFault::ServerError => {
            answer = Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "system error, query before trying again",
            )
        }
        AfterFault::Drop => return super::dropped_connection(),
        AfterFault::Redirect => return super::redirect(state, uri.path()),
        AfterFault::Oversize => return super::oversize(),
        AfterFault::Endless => return super::endless(),
        AfterFault::BadSign => spoil.bad_signature = true,
        AfterFault::Mismatch(ref field) => {
            if answer.status == StatusCode::OK {
                apply::mismatch(state, &mut answer.body, field.as_deref());
            }
        }
        AfterFault::Padded => {}
    }
    // Pretty-printed JSON is still signed as sent: a client must verify the
    // bytes it received, not a re-serialization.
    let bytes = if fault == AfterFault::Padded {
        serde_json::to_vec_pretty(&answer.body)
    } else {
        serde_json::to_vec(&answer.body)
    }
    .expect("a JSON value always serializes");
    let wx = &state.wechatpay;
    let mut response = (
        answer.status,
        [
            (
                header::CONTENT_TYPE.as_str(),
                "application/json; charset=utf-8".to_owned(),
            ),
            ("Request-ID", wx.request_id()),
        ],
    )
        .into_response();
    let headers = response.headers_mut();
    if answer.status == StatusCode::TOO_MANY_REQUESTS {
        wx.arrivals.note_frequency_limited();
        let seconds = state.faults.config().retry_after_secs.unwrap_or(1).max(1);
        headers.insert(header::RETRY_AFTER, seconds.into());
    }
    if answer.signed {
        spoil.stale = state.faults.stale_answer();
        // Signed off the runtime's threads: an RSA signature takes a
        // millisecond of CPU, and requests arriving meanwhile must be
        // stamped when they arrive (the windows and the benchmark's
        // busiest second count them then), not after a burst of signing.
        let (signer, serial) = (
            wx.config.private_key.clone(),
            wx.config.answer_serial().to_owned(),
        );
        let body = bytes.clone();
        let signed = tokio::task::spawn_blocking(move || {
            auth::answer_headers(&signer, &serial, &body, now_secs(), spoil)
        })
        .await
        .expect("signing never panics");
        for (name, value) in signed {
            if let Ok(value) = header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    *response.body_mut() = axum::body::Body::from(bytes);
    response
}

/// `POST /v3/refund/domestic/refunds`.
pub(super) async fn handle_apply(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mchid = match admit(&state, Call::Apply, &method, &uri, &headers, &body).await {
        Ok(mchid) => mchid,
        Err(response) => return response,
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let answer = if json_body {
        apply::apply(&state, &mchid, &body)
    } else {
        Some(Answer::error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "Content-Type must be application/json",
        ))
    };
    // `None`: the refund was recorded and its answer is lost (`--contradict`).
    let Some(answer) = answer else {
        return respond(
            &state,
            Answer::ok(Value::Null),
            AfterFault::ServerError,
            &uri,
        )
        .await;
    };
    let answer = if answer.is_bad() && state.wechatpay.over_bad_budget() {
        frequency_limited()
    } else {
        answer
    };
    let fault = state.faults.after(answer.status == StatusCode::OK);
    respond(&state, answer, fault, &uri).await
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`: the id percent-decoded,
/// the signature checked over the path as received.
pub(super) async fn handle_query(
    State(state): State<Arc<SimState>>,
    Path(out_refund_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mchid = match admit(&state, Call::Query, &method, &uri, &headers, b"").await {
        Ok(mchid) => mchid,
        Err(response) => return response,
    };
    let answer = apply::query(&state, &mchid, &out_refund_no);
    respond(&state, answer, state.faults.after(false), &uri).await
}

/// `GET /v3/bill/tradebill?bill_date=…&bill_type=REFUND&tar_type=GZIP`.
pub(super) async fn handle_bill(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mchid = match admit(&state, Call::Query, &method, &uri, &headers, b"").await {
        Ok(mchid) => mchid,
        Err(response) => return response,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| state.addr.to_string(), str::to_owned);
    let answer = bills::offer(&state, &mchid, uri.query().unwrap_or(""), &host);
    respond(&state, answer, state.faults.after(false), &uri).await
}

/// `GET /v3/billdownload/file?token=…`: the bill's bytes, unsigned.
pub(super) async fn handle_download(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mchid = match admit(&state, Call::Query, &method, &uri, &headers, b"").await {
        Ok(mchid) => mchid,
        Err(response) => return response,
    };
    match bills::download(&state, &mchid, uri.query().unwrap_or("")) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(answer) => respond(&state, answer, AfterFault::None, &uri).await,
    }
}

/// `POST /__sim/wechatpay/resolve-abnormal {"out_refund_no": …}`: what a person
/// does in the merchant platform; the refund turns `SUCCESS`, channel `OTHER_BALANCE`.
pub(super) async fn handle_resolve(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("out_refund_no")?.as_str().map(str::to_owned));
    let Some(id) = id else {
        let error = json!({"code": "PARAM_ERROR", "message": "{\"out_refund_no\": …} expected"});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    };
    let mut ledger = state.ledger.lock().expect("ledger lock");
    let now = Instant::now();
    match ledger.resolve_abnormal(GatewayKind::Wechatpay, &id, now) {
        Ok(index) => axum::Json(apply::refund_object(&ledger, index, now)).into_response(),
        Err(super::ledger::ResolveRefusal::NoSuchRefund) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": "RESOURCE_NOT_EXISTS", "message": "no such refund"})),
        )
            .into_response(),
        Err(super::ledger::ResolveRefusal::NotAbnormal(status)) => (
            StatusCode::CONFLICT,
            axum::Json(
                json!({"code": "NOT_ABNORMAL", "message": format!("the refund is {status:?}")}),
            ),
        )
            .into_response(),
    }
}

/// `POST /__sim/wechatpay/balance {"balance_fen": N}` (or `null`: unlimited):
/// what topping up the merchant's account does; answers the balance set.
pub(super) async fn handle_balance(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let balance =
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| match v.get("balance_fen")? {
                Value::Null => Some(None),
                value => value.as_u64().map(Some),
            });
    let Some(balance) = balance else {
        let message = "{\"balance_fen\": fen as a JSON integer, or null} expected";
        let error = json!({"code": "PARAM_ERROR", "message": message});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    };
    state.wechatpay.set_balance_fen(balance);
    axum::Json(json!({ "balance_fen": balance })).into_response()
}
