//! The HTTP-level outcomes both gateways share (docs/specs/leshua.md, "HTTP-level outcomes"):
//! a refused connection, 429 and 503 prove nothing was created; 401 and 403
//! refuse the request itself; any other status (redirects included: they are
//! never followed), a timeout after sending, a reset mid-response or an answer
//! too large to be a refund answer leaves the outcome unknown.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, LOCATION, RETRY_AFTER};

use super::{Attempt, Outcome};

/// The largest answer read. A refund answer is a few hundred bytes; anything
/// near this is not one, and reading on would let a gateway fill our memory.
pub const MAX_BODY: usize = 1 << 20;

/// The longest pause a `Retry-After` can put on a profile. One absurd value
/// (`Retry-After: 99999999999`) must not stop the run for ever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A complete 2xx answer, ready to parse.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Builds the shared HTTP client: rustls, no proxy surprises, bounded timeouts,
/// and no redirects: a signed request goes to the profile's `base_url` and
/// nowhere else.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a client with static settings always builds")
}

/// Sends a request and sorts every failure into its outcome. `Ok` only for a 2xx
/// answer whose body arrived whole and within [`MAX_BODY`].
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Attempt> {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Err(Attempt::without_answer(classify_send_error(&e))),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let unknown = |why: String| Attempt {
        outcome: Outcome::unknown(why),
        http_status: Some(status),
        gateway_codes: None,
    };
    if !(200..300).contains(&status) {
        return Err(Attempt {
            outcome: classify_status(status, &headers),
            http_status: Some(status),
            gateway_codes: None,
        });
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(unknown(too_large()));
    }
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY => {
                return Err(unknown(too_large()))
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                return Err(unknown(format!(
                    "the answer was cut off: {}",
                    error_chain(&e)
                )))
            }
        }
    }
    Ok(Reply {
        status,
        headers,
        body: body.freeze(),
    })
}

fn too_large() -> String {
    format!(
        "the answer is larger than {} KiB: not a refund answer, not read",
        MAX_BODY / 1024
    )
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
        401 | 403 => Outcome::rejected(
            format!("HTTP {status}"),
            "the gateway refused to authenticate the request: check the profile's base_url, merchant_id and key",
        ),
        300..=399 => {
            let location = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere");
            Outcome::unknown(format!(
                "HTTP {status}: a redirect to {location}, not followed; the refund will be queried"
            ))
        }
        s => Outcome::unknown(format!("HTTP {s}")),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by either gateway),
/// capped at [`MAX_RETRY_AFTER`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    let seconds = value.trim().parse::<u64>().ok()?;
    let asked = Duration::from_secs(seconds);
    if asked > MAX_RETRY_AFTER {
        tracing::warn!(
            "the gateway asked to wait {seconds} s (Retry-After); waiting {} s instead",
            MAX_RETRY_AFTER.as_secs()
        );
        return Some(MAX_RETRY_AFTER);
    }
    Some(asked)
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        headers
    }

    #[test]
    fn retry_after_is_capped() {
        assert_eq!(retry_after(&headers("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&headers("99999999999")), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn redirects_and_authentication_failures() {
        let mut location = HeaderMap::new();
        location.insert(LOCATION, HeaderValue::from_static("http://elsewhere/"));
        for status in [301, 302, 307, 308] {
            assert!(
                matches!(classify_status(status, &location), Outcome::Unknown { ref why } if why.contains("not followed")),
                "{status}"
            );
        }
        for status in [401, 403] {
            assert!(matches!(
                classify_status(status, &HeaderMap::new()),
                Outcome::Rejected { .. }
            ));
        }
        assert!(matches!(
            classify_status(500, &HeaderMap::new()),
            Outcome::Unknown { .. }
        ));
    }
}
