//! What a non-2xx answer proves for a gateway whose every business answer
//! comes with a 2xx (Leshua and Lianshang; docs/specs/leshua.md, "HTTP-level
//! outcomes"): its status alone, the body unread. 429 and 503 prove nothing
//! was created; 401 and 403 refuse the request itself; any other status
//! leaves the outcome unknown. A gateway that answers its business in 4xx
//! (WeChat Pay) reads the body instead and never comes here.

use super::http::{retry_after, Reply};
use super::{Attempt, Outcome};

/// The outcome of a non-2xx answer; `None` for a 2xx, which the gateway reads.
pub fn outcome(reply: &Reply) -> Option<Attempt> {
    if (200..300).contains(&reply.status) {
        return None;
    }
    Some(Attempt {
        outcome: by_status(reply),
        http_status: Some(reply.status),
        gateway_codes: None,
    })
}

fn by_status(reply: &Reply) -> Outcome {
    match reply.status {
        429 => Outcome::retry(retry_after(&reply.headers), "HTTP 429: rate limited"),
        503 => Outcome::retry(retry_after(&reply.headers), "HTTP 503: gateway overloaded"),
        status @ (401 | 403) => Outcome::rejected(
            format!("HTTP {status}"),
            "the gateway refused to authenticate the request: check the profile's base_url, merchant_id and key",
        ),
        status => Outcome::unknown(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn reply(status: u16) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        Reply {
            status,
            headers,
            body: bytes::Bytes::from_static(b"<html>busy</html>"),
        }
    }

    #[test]
    fn a_status_alone_decides_and_a_2xx_is_left_to_the_gateway() {
        assert!(outcome(&reply(200)).is_none());
        assert!(outcome(&reply(204)).is_none());
        for status in [401, 403] {
            assert!(matches!(
                outcome(&reply(status)).unwrap().outcome,
                Outcome::Rejected { .. }
            ));
        }
        for status in [429, 503] {
            assert!(matches!(
                outcome(&reply(status)).unwrap().outcome,
                Outcome::Retry { after: Some(after), .. } if after.as_secs() == 3
            ));
        }
        for status in [400, 404, 500, 502] {
            let attempt = outcome(&reply(status)).unwrap();
            assert_eq!(attempt.http_status, Some(status));
            assert!(matches!(attempt.outcome, Outcome::Unknown { .. }));
        }
    }
}
