//! What a WeChat Pay answer proves (docs/specs/wechatpay-v3.md, "Status and
//! bulkrefund's states", "Error codes: what each proves", "The echo check").
//! A 2xx is believed only when its signature verifies ([`super::verify`]) and
//! it is a Refund object about this very refund; then its `status` decides.
//! A non-2xx is read by its `code` even unsigned (as the SDKs do), unless it
//! carries signature headers that fail; a code on an HTTP status the table
//! does not pair it with, or a code the table does not list, proves nothing.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::verify::{AnswerKeys, Signature};
use super::wire::{parse_error, parse_refund, ErrorBody, RefundObject};
use crate::gateway::echo::EchoCheck;
use crate::gateway::{http, times, Attempt, IdUse, Outcome, Receipt};
use crate::money::Fen;

/// Which call an answer answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Apply,
    Query,
}

/// What a request sent, as a Refund object must echo it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub out_refund_no: String,
    pub out_trade_no: Option<String>,
    pub transaction_id: Option<String>,
    pub refund: Fen,
}

/// The only currency bulkrefund sends.
pub const CURRENCY: &str = "CNY";

/// The wait after a 429 without `Retry-After` (the spec's 60 s).
const FREQUENCY_WAIT: Duration = Duration::from_secs(60);

/// What a whole answer (status, headers, body) proves, at `now` (Unix seconds).
pub fn answer(
    call: Call,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    keys: &AnswerKeys,
    asked: &Asked,
    now: i64,
) -> Attempt {
    let attempt = |outcome, codes: Option<String>| Attempt {
        outcome,
        http_status: Some(status),
        gateway_codes: codes,
    };
    // WeChat's Request-ID is what its support asks for about any answer.
    tracing::debug!(
        request_id = request_id(headers),
        status,
        "WeChat Pay answered"
    );
    let signature = keys.check(headers, body, now);
    if let Signature::Refused { setting, why } = &signature {
        tracing::warn!(
            request_id = request_id(headers),
            "WeChat Pay answer refused: {why}"
        );
        return attempt(Outcome::unverifiable(setting), None);
    }
    if (200..300).contains(&status) {
        if signature != Signature::Verified {
            tracing::warn!(
                request_id = request_id(headers),
                "a 2xx answer without WeChat Pay's signature headers: forged or not from WeChat Pay"
            );
            return attempt(Outcome::unverifiable("base_url"), None);
        }
        return match parse_refund(body) {
            Ok(refund) => {
                let codes = Some(format!("status={}", shown(&refund.status)));
                attempt(refund_outcome(&refund, asked), codes)
            }
            Err(why) => attempt(Outcome::unknown(why), None),
        };
    }
    match parse_error(body) {
        Ok(error) => {
            let codes = Some(format!("code={}", shown(&error.code)));
            attempt(error_outcome(call, status, headers, &error), codes)
        }
        Err(_) if status == 429 => attempt(frequency_limited(headers, "HTTP 429"), None),
        Err(why) => attempt(Outcome::unknown(format!("HTTP {status}: {why}")), None),
    }
}

fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("Request-ID")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// A gateway's value as we quote it: at most 64 characters.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

/// A believed Refund object: first is it about this refund, then its status.
pub fn refund_outcome(refund: &RefundObject, asked: &Asked) -> Outcome {
    if refund.refund_id.trim().is_empty() {
        return Outcome::unknown(
            "the Refund object has an empty refund_id: malformed, it proves nothing",
        );
    }
    if let Some(what) = echo(refund, asked) {
        return Outcome::Mismatch { what };
    }
    // WeChat gives `success_time` only with SUCCESS: a success time on any
    // other status is not the refund's success.
    let succeeded = refund.status == "SUCCESS";
    let receipt = Receipt {
        gateway_refund_id: Some(refund.refund_id.clone()),
        refund_fen: refund.amount.refund.map(Fen),
        success_at: times::kept(refund.success_time.as_deref(), times::rfc3339)
            .filter(|_| succeeded),
        created_at: times::rfc3339(&refund.create_time),
    };
    match refund.status.as_str() {
        "SUCCESS" => Outcome::Succeeded(receipt),
        "PROCESSING" => Outcome::Processing(receipt),
        "CLOSED" => Outcome::failed(
            "CLOSED",
            "WeChat Pay closed the refund: this out_refund_no is used up (retry with --new-ids)",
            receipt,
            IdUse::Spent,
        ),
        "ABNORMAL" => Outcome::Abnormal(receipt),
        other => {
            tracing::info!(
                out_refund_no = %asked.out_refund_no,
                "WeChat Pay reports the unlisted refund status {:?}: still processing",
                shown(other)
            );
            Outcome::Processing(receipt)
        }
    }
}

/// The echo check: `None` when the object is about the refund asked.
pub fn echo(refund: &RefundObject, asked: &Asked) -> Option<String> {
    let mut check = EchoCheck::default();
    // An empty echo names no refund: as missing as an absent one.
    let mut exact = |field: &str, answered: Option<&str>, sent: &str| match answered {
        Some(value) if !value.is_empty() => check.text(field, Some(value), sent),
        _ => check.differ(field, "missing", &format!("{sent:?}")),
    };
    exact(
        "out_refund_no",
        Some(&refund.out_refund_no),
        &asked.out_refund_no,
    );
    if let Some(sent) = &asked.out_trade_no {
        exact("out_trade_no", refund.out_trade_no.as_deref(), sent);
    }
    if let Some(sent) = &asked.transaction_id {
        exact("transaction_id", refund.transaction_id.as_deref(), sent);
    }
    exact(
        "amount.currency",
        refund.amount.currency.as_deref(),
        CURRENCY,
    );
    match refund.amount.refund {
        Some(fen) if fen == asked.refund.0 => {}
        Some(fen) => check.differ(
            "amount.refund",
            &fen.to_string(),
            &asked.refund.0.to_string(),
        ),
        None => check.differ("amount.refund", "missing", &asked.refund.0.to_string()),
    }
    if let Some(total) = refund.amount.total {
        tracing::debug!(out_refund_no = %asked.out_refund_no, "WeChat Pay's amount.total: {total}");
    }
    check.finish()
}

/// A non-2xx answer's code, as the spec's table reads it.
pub fn error_outcome(call: Call, status: u16, headers: &HeaderMap, error: &ErrorBody) -> Outcome {
    let code = shown(&error.code);
    let message = format!("{code}: {}", shown(&error.message));
    let nothing_created = |why: &str| {
        Outcome::failed(
            code.clone(),
            format!("{message} ({why})"),
            Receipt::default(),
            IdUse::Free,
        )
    };
    match (status, error.code.as_str(), call) {
        (429, _, _) => frequency_limited(headers, &message),
        (401, "SIGN_ERROR", _) => Outcome::rejected(
            code,
            "WeChat Pay refused the request's signature: check merchant_serial_no, private_key and the clock",
        ),
        (404, "MCH_NOT_EXISTS", _) => Outcome::rejected(
            code,
            "WeChat Pay does not know this merchant: check merchant_id (mchid)",
        ),
        (400, "PARAM_ERROR", Call::Apply) => nothing_created("the request is malformed"),
        (403, "NOT_ENOUGH", Call::Apply) => {
            nothing_created("the merchant's refundable balance is too low: top it up, then retry --failed")
        }
        (403, "USER_ACCOUNT_ABNORMAL", Call::Apply) => {
            nothing_created("the payer's account is closed and nothing was created under this id; before paying the payer another way, check with `bulkrefund show` that no earlier send of it was accepted")
        }
        (403, "NO_AUTH", Call::Apply) => nothing_created("no permission to refund this order"),
        (404, "RESOURCE_NOT_EXISTS", Call::Apply) => {
            nothing_created("the order is not found or not paid")
        }
        (404, "RESOURCE_NOT_EXISTS", Call::Query) => Outcome::NotFound,
        // Well formed but against a business rule, perhaps because this id
        // already names another refund: the engine queries it by id, which
        // settles it (found: that refund, echo-checked; not found: resent).
        (400, "INVALID_REQUEST", Call::Apply) => Outcome::unknown(format!(
            "{message}; the refund will be queried by out_refund_no"
        )),
        _ => Outcome::unknown(format!("HTTP {status} {message}")),
    }
}

fn frequency_limited(headers: &HeaderMap, why: &str) -> Outcome {
    let after = http::retry_after(headers).unwrap_or(FREQUENCY_WAIT);
    Outcome::retry(Some(after), format!("{why}: WeChat Pay's rate limit"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::wechatpay::testing::keys;
    use reqwest::header::HeaderValue;

    fn asked() -> Asked {
        Asked {
            out_refund_no: "R1".into(),
            out_trade_no: Some("T1".into()),
            transaction_id: Some("4200".into()),
            refund: Fen(2599),
        }
    }

    fn refund(status: &str) -> RefundObject {
        parse_refund(
            format!(
                r#"{{"refund_id":"503","out_refund_no":"R1","out_trade_no":"T1","transaction_id":"4200",
                "create_time":"2026-11-22T09:30:00+08:00","status":"{status}",
                "amount":{{"refund":2599,"total":5000,"currency":"CNY"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn receipt() -> Receipt {
        Receipt {
            gateway_refund_id: Some("503".into()),
            refund_fen: Some(Fen(2599)),
            success_at: None,
            created_at: Some("2026-11-22T01:30:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn the_gateways_own_times_are_kept_and_a_bad_one_is_not() {
        let with = |status: &str, success_time: &str| {
            let mut answer = refund(status);
            answer.success_time = Some(success_time.into());
            refund_outcome(&answer, &asked())
        };
        let at = |text: &str| Some(text.parse::<jiff::Timestamp>().unwrap());
        let Outcome::Succeeded(got) = with("SUCCESS", "2026-11-30T23:59:59+08:00") else {
            panic!("succeeded")
        };
        assert_eq!(got.success_at, at("2026-11-30T15:59:59Z"));
        assert_eq!(got.created_at, at("2026-11-22T01:30:00Z"));
        // A time that does not read is not kept; the outcome stands.
        assert_eq!(
            with("SUCCESS", "2026-11-30 23:59:59"),
            Outcome::Succeeded(receipt())
        );
        // Only SUCCESS carries the refund's success time.
        assert_eq!(
            with("PROCESSING", "2026-11-30T23:59:59+08:00"),
            Outcome::Processing(receipt())
        );
        let mut odd = refund("SUCCESS");
        odd.create_time = "22/11/2026".into();
        assert_eq!(
            refund_outcome(&odd, &asked()),
            Outcome::Succeeded(Receipt {
                created_at: None,
                ..receipt()
            })
        );
    }

    #[test]
    fn each_status_and_its_state() {
        let outcome = |status| refund_outcome(&refund(status), &asked());
        assert_eq!(outcome("SUCCESS"), Outcome::Succeeded(receipt()));
        assert_eq!(outcome("PROCESSING"), Outcome::Processing(receipt()));
        assert_eq!(outcome("ABNORMAL"), Outcome::Abnormal(receipt()));
        assert_eq!(outcome("SOMETHING_NEW"), Outcome::Processing(receipt()));
        let mut empty = refund("SUCCESS");
        empty.refund_id = " ".into();
        assert!(matches!(
            refund_outcome(&empty, &asked()),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            outcome("CLOSED"),
            Outcome::Failed { code, id: IdUse::Spent, receipt: r, .. } if code == "CLOSED" && r == receipt()
        ));
    }

    #[test]
    fn every_echoed_field_must_match() {
        type Change = fn(&mut RefundObject);
        let changes: [(&str, Change); 12] = [
            ("out_refund_no", |r| r.out_refund_no = "R2".into()),
            ("out_refund_no", |r| r.out_refund_no = String::new()),
            ("out_trade_no", |r| r.out_trade_no = Some(String::new())),
            ("transaction_id", |r| r.transaction_id = Some(String::new())),
            ("amount.currency", |r| {
                r.amount.currency = Some(String::new())
            }),
            ("out_trade_no", |r| r.out_trade_no = Some("T2".into())),
            ("out_trade_no", |r| r.out_trade_no = None),
            ("transaction_id", |r| r.transaction_id = Some("4201".into())),
            ("transaction_id", |r| r.transaction_id = None),
            ("amount.refund", |r| r.amount.refund = Some(2590)),
            ("amount.refund", |r| r.amount.refund = None),
            ("amount.currency", |r| {
                r.amount.currency = Some("USD".into())
            }),
        ];
        for (field, change) in changes {
            let mut answer = refund("SUCCESS");
            change(&mut answer);
            assert!(
                matches!(refund_outcome(&answer, &asked()), Outcome::Mismatch { ref what } if what.contains(field)),
                "{field}"
            );
        }
        let mut answer = refund("SUCCESS");
        answer.amount.currency = None;
        assert!(matches!(
            refund_outcome(&answer, &asked()),
            Outcome::Mismatch { .. }
        ));
        // An order id the request did not carry is not compared; the total is only logged.
        let mut answer = refund("SUCCESS");
        answer.transaction_id = Some("other".into());
        answer.amount.total = Some(1);
        let only_trade = Asked {
            transaction_id: None,
            ..asked()
        };
        assert_eq!(
            refund_outcome(&answer, &only_trade),
            Outcome::Succeeded(receipt())
        );
    }

    fn error(call: Call, status: u16, code: &str, headers: &HeaderMap) -> Outcome {
        let body = ErrorBody {
            code: code.into(),
            message: "m".into(),
            detail: None,
        };
        error_outcome(call, status, headers, &body)
    }

    #[test]
    fn each_error_code_and_what_it_proves() {
        use Call::{Apply, Query};
        let none = HeaderMap::new();
        let free = |outcome: Outcome, want: &str| {
            assert!(
                matches!(&outcome, Outcome::Failed { code, id: IdUse::Free, .. } if code == want),
                "{want}: {outcome:?}"
            )
        };
        free(error(Apply, 400, "PARAM_ERROR", &none), "PARAM_ERROR");
        free(error(Apply, 403, "NOT_ENOUGH", &none), "NOT_ENOUGH");
        free(
            error(Apply, 403, "USER_ACCOUNT_ABNORMAL", &none),
            "USER_ACCOUNT_ABNORMAL",
        );
        free(error(Apply, 403, "NO_AUTH", &none), "NO_AUTH");
        free(
            error(Apply, 404, "RESOURCE_NOT_EXISTS", &none),
            "RESOURCE_NOT_EXISTS",
        );
        assert_eq!(
            error(Query, 404, "RESOURCE_NOT_EXISTS", &none),
            Outcome::NotFound
        );
        for call in [Apply, Query] {
            assert!(matches!(
                error(call, 401, "SIGN_ERROR", &none),
                Outcome::Rejected { .. }
            ));
            assert!(matches!(
                error(call, 404, "MCH_NOT_EXISTS", &none),
                Outcome::Rejected { .. }
            ));
            assert!(matches!(
                error(call, 500, "SYSTEM_ERROR", &none),
                Outcome::Unknown { .. }
            ));
            assert!(matches!(
                error(call, 400, "REQUEST_BLOCKED", &none),
                Outcome::Unknown { .. }
            ));
            assert_eq!(
                error(call, 429, "FREQUENCY_LIMITED", &none),
                Outcome::retry(
                    Some(FREQUENCY_WAIT),
                    "FREQUENCY_LIMITED: m: WeChat Pay's rate limit"
                )
            );
        }
        let mut wait = HeaderMap::new();
        wait.insert("Retry-After", HeaderValue::from_static("3"));
        assert!(matches!(
            error(Apply, 429, "FREQUENCY_LIMITED", &wait),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        // Query-side codes that say nothing about the refund, and codes on a
        // status the table does not pair them with, stay unknown.
        for (status, code) in [(400, "PARAM_ERROR"), (403, "NO_AUTH"), (403, "NOT_ENOUGH")] {
            assert!(
                matches!(error(Query, status, code, &none), Outcome::Unknown { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            error(Apply, 500, "NOT_ENOUGH", &none),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            error(Apply, 400, "INVALID_REQUEST", &none),
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn unsigned_errors_are_read_but_a_failing_signature_is_not() {
        let keys = keys(&[]);
        let body = br#"{"code":"NOT_ENOUGH","message":"balance"}"#;
        let read = |headers: &HeaderMap, status: u16| {
            answer(
                Call::Apply,
                status,
                headers,
                body,
                &keys,
                &asked(),
                1795311000,
            )
            .outcome
        };
        assert!(matches!(
            read(&HeaderMap::new(), 403),
            Outcome::Failed { .. }
        ));
        let mut forged = HeaderMap::new();
        for (name, value) in [
            ("Wechatpay-Timestamp", "1795311000"),
            ("Wechatpay-Nonce", "n"),
            ("Wechatpay-Signature", "AAAA"),
            (
                "Wechatpay-Serial",
                "PUB_KEY_ID_0112345678902026110100000000000001",
            ),
        ] {
            forged.insert(name, HeaderValue::from_static(value));
        }
        assert!(read(&forged, 403).unverifiable_key().is_some());
        // An unsigned 2xx is never believed; an unreadable error body is unknown,
        // a 429 without one still waits.
        let ok = answer(
            Call::Query,
            200,
            &HeaderMap::new(),
            b"{}",
            &keys,
            &asked(),
            0,
        )
        .outcome;
        assert!(ok.unverifiable_key().is_some());
        let html = |status| {
            answer(
                Call::Apply,
                status,
                &HeaderMap::new(),
                b"<html>",
                &keys,
                &asked(),
                0,
            )
            .outcome
        };
        assert!(matches!(html(502), Outcome::Unknown { .. }));
        assert!(matches!(html(429), Outcome::Retry { after: Some(_), .. }));
    }
}
