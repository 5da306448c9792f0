//! The HTTP-level outcomes both gateways share (leshua.md, "HTTP-level outcomes"):
//! a refused connection, 429 and 503 prove nothing was created; any other 5xx,
//! a timeout after sending, or a reset mid-response leaves the outcome unknown.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{Attempt, Outcome};

/// A complete 2xx answer, ready to parse.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Builds the shared HTTP client: rustls, no proxy surprises, bounded timeouts.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(256)
        .no_proxy()
        .build()
        .expect("a client with static settings always builds")
}

/// Sends a request and sorts every failure into its outcome. `Ok` only for a 2xx
/// answer whose body arrived whole.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Attempt> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Err(Attempt::without_answer(classify_send_error(&e))),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if !(200..300).contains(&status) {
        let outcome = classify_status(status, &headers);
        return Err(Attempt {
            outcome,
            http_status: Some(status),
            gateway_codes: None,
        });
    }
    match response.bytes().await {
        Ok(body) => Ok(Reply {
            status,
            headers,
            body,
        }),
        Err(e) => Err(Attempt {
            outcome: Outcome::unknown(format!("the answer was cut off: {}", error_chain(&e))),
            http_status: Some(status),
            gateway_codes: None,
        }),
    }
}

fn classify_send_error(e: &reqwest::Error) -> Outcome {
    // A connect error (refused, DNS, connect timeout) means no byte of the request left.
    if e.is_connect() {
        return Outcome::retry(None, format!("could not connect: {}", error_chain(e)));
    }
    if e.is_builder() {
        return Outcome::retry(None, format!("request not built: {}", error_chain(e)));
    }
    if e.is_timeout() {
        return Outcome::unknown("no answer before the timeout");
    }
    Outcome::unknown(format!(
        "connection failed after sending: {}",
        error_chain(e)
    ))
}

fn classify_status(status: u16, headers: &HeaderMap) -> Outcome {
    match status {
        429 => Outcome::retry(retry_after(headers), "HTTP 429: rate limited"),
        503 => Outcome::retry(retry_after(headers), "HTTP 503: gateway overloaded"),
        s => Outcome::unknown(format!("HTTP {s}")),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by either gateway).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The error and its causes on one line, without the URL's query (none of ours carry secrets).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
