//! The transport every gateway shares: one HTTP client, and what a request's
//! fate proves before any gateway reads an answer. A refused connection
//! proves nothing left; a timeout after sending, a reset mid-response, a
//! redirect (never followed) or an answer too large to be a refund answer
//! leaves the outcome unknown. Any other answer, whatever its status, is
//! read whole and handed to the gateway: a status means what the gateway
//! says it means (WeChat's 403 `NOT_ENOUGH` is a refused refund, Leshua's
//! 403 a refused key), so each gateway maps status and body to an outcome.

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

/// A complete answer (any status but a redirect), ready to parse.
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

/// Sends a request and sorts every transport failure into its outcome. `Ok`
/// for an answer whose body arrived whole and within [`MAX_BODY`], whatever
/// its status (a redirect aside: never followed, never read). A non-2xx
/// whose body is too large or cut off still comes back, its body empty: its
/// status alone may prove something (a 503 that streams an endless page is
/// still busy), and a gateway that needs the body finds none to believe.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, Attempt> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return Err(Attempt::without_answer(classify_send_error(&e))),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if (300..400).contains(&status) {
        return Err(Attempt {
            outcome: Outcome::unknown(redirect(status, &headers)),
            http_status: Some(status),
            gateway_codes: None,
        });
    }
    match read_body(response, &headers).await {
        Ok(body) => Ok(Reply {
            status,
            headers,
            body,
        }),
        Err(why) if (200..300).contains(&status) => Err(Attempt {
            outcome: Outcome::unknown(why),
            http_status: Some(status),
            gateway_codes: None,
        }),
        Err(why) => {
            tracing::debug!(status, "a non-2xx answer's body was not read: {why}");
            Ok(Reply {
                status,
                headers,
                body: Bytes::new(),
            })
        }
    }
}

/// The whole body, or why it was not read: larger than [`MAX_BODY`] (as
/// declared or as it streams), or cut off.
async fn read_body(mut response: reqwest::Response, headers: &HeaderMap) -> Result<Bytes, String> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY => return Err(too_large()),
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(format!("the answer was cut off: {}", error_chain(&e))),
        }
    }
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

/// A redirect is never followed: a signed request goes to the profile's
/// `base_url` and nowhere else.
fn redirect(status: u16, headers: &HeaderMap) -> String {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nowhere");
    format!("HTTP {status}: a redirect to {location}, not followed; the refund will be queried")
}

/// Whether `url` names this machine: plain http to it crosses no network.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A gateway some of whose answers are believed unsigned (its contract's
/// error answers) is reached over https, or over plain http only to this
/// machine (the simulator), where nobody stands between: a forged refusal
/// could report a paid refund failed. `Err`: the `base_url` setting's message.
pub fn https_or_loopback(base_url: &url::Url, gateway: &str) -> Result<(), String> {
    match base_url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(base_url) => Ok(()),
        other => Err(format!(
            "is {other}: {gateway} is reached over https only (some of its error answers carry \
             no signature); plain http only to this machine"
        )),
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
    fn a_redirect_says_where_it_pointed() {
        let mut location = HeaderMap::new();
        location.insert(LOCATION, HeaderValue::from_static("http://elsewhere/"));
        assert_eq!(
            redirect(302, &location),
            "HTTP 302: a redirect to http://elsewhere/, not followed; the refund will be queried"
        );
        assert!(redirect(307, &HeaderMap::new()).contains("to nowhere"));
    }

    /// A server on 127.0.0.1 answering every request with `status` and a
    /// body larger than [`MAX_BODY`].
    async fn oversized(status: u16) -> String {
        use axum::http::StatusCode;
        let app = axum::Router::new().fallback(move || async move {
            (
                StatusCode::from_u16(status).unwrap(),
                vec![b'x'; MAX_BODY + 1],
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn a_non_2xx_keeps_its_status_when_its_body_is_too_large_to_read() {
        let http = client(Duration::from_secs(5));
        let busy = send(http.get(oversized(503).await)).await.ok().unwrap();
        assert_eq!((busy.status, busy.body.len()), (503, 0));
        let refused = send(http.get(oversized(403).await)).await.ok().unwrap();
        assert_eq!((refused.status, refused.body.len()), (403, 0));
        // A 2xx must be read whole to be believed: unknown.
        let Err(attempt) = send(http.get(oversized(200).await)).await else {
            panic!("an oversized 2xx is never handed on");
        };
        assert!(
            matches!(attempt.outcome, Outcome::Unknown { ref why } if why.contains("larger than")),
            "{:?}",
            attempt.outcome
        );
    }
}
