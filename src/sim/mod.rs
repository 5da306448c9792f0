//! The gateway simulator (`bulkrefund sim`): one axum server that speaks every
//! gateway at its real paths, strict like the real ones. It verifies every
//! signature, keeps a [`ledger::Ledger`], enforces the refund rules and injects
//! the faults of [`faults::FaultConfig`]. Tests, benchmarks and `demo` run it on
//! 127.0.0.1 and talk to it over real TCP.

pub mod alipay;
pub mod bill_faults;
mod bomb;
pub mod clock;
mod control;
pub mod faults;
pub mod generate;
pub mod ledger;
mod leshua;
mod lianshang;
mod orders;
mod refund;
mod snapshot;
mod statements;
pub mod wechatpay;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;

use crate::gateway::rsa_sign::RsaVerifier;
use crate::gateway::GatewayKind;
use crate::secret::Secret;
use faults::{FaultConfig, Faults};
use ledger::{Ledger, LedgerSnapshot, OrderRow};

pub struct SimConfig {
    pub orders: Vec<OrderRow>,
    pub leshua_trade_key: Secret,
    pub leshua_notify_key: Secret,
    pub lianshang_public_key: RsaVerifier,
    pub wechatpay: wechatpay::WechatpayConfig,
    pub alipay: alipay::AlipayConfig,
    pub faults: FaultConfig,
}

/// The test keys of `samples/keys/`, built into the binary so that `sim` and
/// `demo` work from any directory. Test keys only: never production.
pub mod sample_keys {
    pub const LESHUA_TRADE_KEY: &str = include_str!("../../samples/keys/leshua-trade.key");
    pub const LESHUA_NOTIFY_KEY: &str = include_str!("../../samples/keys/leshua-notify.key");
    pub const LIANSHANG_PRIVATE_KEY: &str =
        include_str!("../../samples/keys/merchant-test-2048.pem");
    pub const LIANSHANG_PUBLIC_KEY: &str =
        include_str!("../../samples/keys/merchant-test-2048.pub.pem");
    /// WeChat Pay: the merchant's API key (the client signs requests with it).
    pub const WECHATPAY_MERCHANT_PRIVATE_KEY: &str =
        include_str!("../../samples/keys/wechatpay-merchant-test.pem");
    /// Its public half: the simulator verifies requests.
    pub const WECHATPAY_MERCHANT_PUBLIC_KEY: &str =
        include_str!("../../samples/keys/wechatpay-merchant-test.pub.pem");
    /// WeChat Pay's key: the simulator signs answers.
    pub const WECHATPAY_PRIVATE_KEY: &str =
        include_str!("../../samples/keys/wechatpay-platform-test.pem");
    /// Its public half (public-key mode): the client verifies answers.
    pub const WECHATPAY_PUBLIC_KEY: &str =
        include_str!("../../samples/keys/wechatpay-platform-test.pub.pem");
    /// The platform certificate of the same key (certificate mode).
    pub const WECHATPAY_CERTIFICATE: &str =
        include_str!("../../samples/keys/wechatpay-platform-test-9AD59953ADF1BABB.crt.pem");
    /// Alipay: the app's private key (the client signs requests with it).
    pub const ALIPAY_APP_PRIVATE_KEY: &str = include_str!("../../samples/keys/alipay-app-test.pem");
    /// Its public half: the simulator verifies requests.
    pub const ALIPAY_APP_PUBLIC_KEY: &str =
        include_str!("../../samples/keys/alipay-app-test.pub.pem");
    /// The key that plays Alipay: the simulator signs answers.
    pub const ALIPAY_PRIVATE_KEY: &str = include_str!("../../samples/keys/alipay-sim-test.pem");
    /// Its public half: the client verifies answers.
    pub const ALIPAY_PUBLIC_KEY: &str = include_str!("../../samples/keys/alipay-sim-test.pub.pem");
}

impl SimConfig {
    /// The sample keys, no faults.
    pub fn with_sample_keys(orders: Vec<OrderRow>) -> SimConfig {
        SimConfig {
            orders,
            leshua_trade_key: Secret::new(sample_keys::LESHUA_TRADE_KEY.trim()),
            leshua_notify_key: Secret::new(sample_keys::LESHUA_NOTIFY_KEY.trim()),
            lianshang_public_key: RsaVerifier::from_pem(sample_keys::LIANSHANG_PUBLIC_KEY)
                .expect("the sample public key is valid"),
            wechatpay: wechatpay::WechatpayConfig::sample(),
            alipay: alipay::AlipayConfig::sample(),
            faults: FaultConfig::default(),
        }
    }
}

pub(crate) struct SimState {
    ledger: Mutex<Ledger>,
    /// The wall clock (the ledger holds the same one).
    clock: Arc<clock::SimClock>,
    /// How bills show refunds and how they are delivered.
    bill_faults: bill_faults::BillFaults,
    faults: Faults,
    leshua_trade_key: Secret,
    lianshang_key: RsaVerifier,
    wechatpay: wechatpay::Wechatpay,
    alipay: alipay::Alipay,
    /// This simulator's own address: the default target of redirects.
    addr: SocketAddr,
    /// Requests that reached `/__sim/elsewhere` (a client that followed a redirect).
    elsewhere: std::sync::atomic::AtomicU64,
}

impl SimState {
    fn snapshot(&self) -> LedgerSnapshot {
        let (refunds, ids) = self
            .ledger
            .lock()
            .expect("ledger lock")
            .snapshot(Instant::now());
        let (requests, max_requests_in_one_second, steady, whole) = self.faults.traffic();
        LedgerSnapshot {
            refunds,
            ids,
            requests,
            max_requests_in_one_second,
            elsewhere_requests: self.elsewhere.load(std::sync::atomic::Ordering::Relaxed),
            steady,
            whole,
            wechatpay: self.wechatpay.traffic(),
        }
    }

    /// The key requests are checked with: another one under the `wrong_key` fault.
    fn leshua_key(&self) -> Secret {
        if self.faults.config().wrong_key {
            Secret::new("NOT-THE-MERCHANTS-KEY")
        } else {
            self.leshua_trade_key.clone()
        }
    }
}

/// A running simulator; dropping it stops the server.
pub struct SimHandle {
    pub addr: SocketAddr,
    state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ledger, read in-process (the same data `GET /__sim/ledger` serves).
    pub fn ledger(&self) -> LedgerSnapshot {
        self.state.snapshot()
    }

    /// Turns an abnormal WeChat Pay refund into a success (channel
    /// `OTHER_BALANCE`), as `POST /__sim/wechatpay/resolve-abnormal` does;
    /// false when there is no abnormal refund under that id.
    pub fn resolve_abnormal(&self, out_refund_no: &str) -> bool {
        let mut ledger = self.state.ledger.lock().expect("ledger lock");
        ledger
            .resolve_abnormal(GatewayKind::Wechatpay, out_refund_no, Instant::now())
            .is_ok()
    }

    /// Sets the WeChat Pay merchant's refundable balance while running (a
    /// top-up), as `POST /__sim/wechatpay/balance` does; `None`: unlimited.
    /// Applies above what its refunds not closed leave are 403 `NOT_ENOUGH`.
    pub fn set_wechatpay_balance(&self, fen: Option<u64>) {
        self.state.wechatpay.set_balance_fen(fen);
    }

    /// Sets the Alipay merchant's balance while running (a top-up); `None`:
    /// unlimited. A refund above what its executed refunds leave is
    /// `ACQ.SELLER_BALANCE_NOT_ENOUGH`.
    pub fn set_alipay_balance(&self, fen: Option<u64>) {
        self.state.alipay.set_balance_fen(fen);
    }

    /// The simulator's wall clock (what `POST /__sim/clock` sets).
    pub fn clock(&self) -> &clock::SimClock {
        &self.state.clock
    }

    /// Changes the injected faults while running.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.state.faults.set_config(faults);
    }

    /// Stops accepting and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The simulator could not take its address.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {listen}")]
pub struct ListenError {
    listen: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// Binds `listen` and serves in a background task.
pub async fn start(config: SimConfig, listen: SocketAddr) -> Result<SimHandle, ListenError> {
    let refused = |source| ListenError { listen, source };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(refused)?;
    let addr = listener.local_addr().map_err(refused)?;
    let clock = Arc::new(clock::SimClock::real());
    let state = Arc::new(SimState {
        ledger: Mutex::new(Ledger::with_clock(config.orders, clock.clone())),
        clock,
        bill_faults: bill_faults::BillFaults::default(),
        faults: Faults::new(config.faults),
        leshua_trade_key: config.leshua_trade_key,
        lianshang_key: config.lianshang_public_key,
        wechatpay: wechatpay::Wechatpay::new(config.wechatpay),
        alipay: alipay::Alipay::new(config.alipay),
        addr,
        elsewhere: std::sync::atomic::AtomicU64::new(0),
    });
    let _ = config.leshua_notify_key; // notifications are not sent: bulkrefund learns outcomes by querying
    let app = Router::new()
        .route(crate::gateway::leshua::PATH, post(leshua::handle))
        .route(
            crate::gateway::lianshang::REFUND_PATH,
            post(lianshang::handle_refund),
        )
        .route(
            crate::gateway::lianshang::QUERY_PATH,
            post(lianshang::handle_query),
        )
        .route(wechatpay::APPLY_PATH, post(wechatpay::handle_apply))
        .route(wechatpay::QUERY_PATH, get(wechatpay::handle_query))
        .route(wechatpay::BILL_PATH, get(wechatpay::handle_bill))
        .route(wechatpay::DOWNLOAD_PATH, get(wechatpay::handle_download))
        .route(wechatpay::RESOLVE_PATH, post(wechatpay::handle_resolve))
        .route(wechatpay::BALANCE_PATH, post(wechatpay::handle_balance))
        .route(
            alipay::GATEWAY_PATH,
            post(alipay::handle_gateway).get(alipay::handle_gateway),
        )
        .route(alipay::DOWNLOAD_PATH, get(alipay::handle_download))
        .route(alipay::BALANCE_PATH, post(alipay::handle_balance))
        .route("/__sim/ledger", get(ledger_json))
        .route(clock::CLOCK_PATH, post(clock::handle))
        .route(
            control::OUTSIDE_REFUND_PATH,
            post(control::handle_outside_refund),
        )
        .route(control::BILL_FAULT_PATH, post(control::handle_bill_fault))
        .route(
            control::BILL_DELIVERY_FAULT_PATH,
            post(control::handle_delivery_fault),
        )
        .route(statements::STATEMENT_PATH, get(statements::handle))
        .route("/__sim/elsewhere/{*path}", post(elsewhere).get(elsewhere))
        .with_state(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = served.await {
            tracing::error!("simulator stopped: {e}");
        }
    });
    Ok(SimHandle {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

async fn ledger_json(State(state): State<Arc<SimState>>) -> Response {
    axum::Json(state.snapshot()).into_response()
}

/// The answer to a request over the rate limit.
fn too_many_requests(state: &SimState) -> Response {
    let seconds = state.faults.config().retry_after_secs.unwrap_or(1).max(1);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds.to_string())],
        "rate limited",
    )
        .into_response()
}

/// A 503: the client backs off on its own, or waits the `Retry-After` the faults set.
fn overloaded(state: &SimState) -> Response {
    match state.faults.config().retry_after_secs {
        Some(seconds) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, seconds.to_string())],
            "overloaded",
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
    }
}

fn server_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// A 307 to another place: a client that follows it re-posts the signed request there.
fn redirect(state: &SimState, path: &str) -> Response {
    let target = match state.faults.config().redirect_to {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => format!("http://{}/__sim/elsewhere{path}", state.addr),
    };
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, target)],
        "moved",
    )
        .into_response()
}

/// An answer far larger than any refund answer: 100 MB, streamed.
fn oversize() -> Response {
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    let chunks =
        futures::stream::iter(std::iter::repeat_n(chunk, 1600).map(Ok::<Bytes, std::io::Error>));
    Response::new(Body::from_stream(chunks))
}

/// An answer whose body never ends.
fn endless() -> Response {
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = futures::stream::repeat(chunk).map(Ok::<Bytes, std::io::Error>);
    Response::new(Body::from_stream(chunks))
}

/// Where default redirects lead: it counts what reaches it and answers the
/// kind of unsigned success that a client which followed would have to refuse.
async fn elsewhere(
    State(state): State<Arc<SimState>>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    state
        .elsewhere
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if path.starts_with("gateway.do") {
        // Alipay: a refund that moved money, with no signature.
        let answer = r#"{"alipay_trade_refund_response":{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"0.01","out_trade_no":"ELSEWHERE","trade_no":"ELSEWHERE"}}"#;
        answer.into_response()
    } else if path.starts_with("v3/") {
        // WeChat Pay: a refund that succeeded, with no signature headers.
        axum::Json(serde_json::json!({"status": "SUCCESS", "refund_id": "503ELSEWHERE"}))
            .into_response()
    } else if path.starts_with("pai/") {
        let success = serde_json::json!({"result_code": "Success", "refund_status": "SUCCESS", "wk_refund_id": "WKR-ELSEWHERE"});
        axum::Json(serde_json::json!({
            "newBaseResponseData": {}, "newBizResponseData": success,
            "queryBaseResponseData": {}, "queryBizResponseData": success,
        }))
        .into_response()
    } else {
        "<leshua><resp_code>0</resp_code><result_code>0</result_code><status>11</status></leshua>"
            .into_response()
    }
}

/// A response whose body fails at once: hyper aborts the connection, so the
/// client sees it closed without a complete answer.
fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failing))
}
