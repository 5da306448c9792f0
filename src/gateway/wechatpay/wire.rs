//! WeChat Pay v3's wire format (docs/specs/wechatpay-v3.md, "Wire format",
//! "Signing a request", "Apply: the request body", "The Refund object"): the
//! apply body in the contract's key order, the query path with
//! `out_refund_no` escaped, the `Authorization` header, and the strict reading
//! of a Refund object and an error body. Reading is strict on purpose: an
//! amount written `100.0` or `"100"`, or a required field missing, makes the
//! answer malformed, and a malformed answer proves nothing.

use serde::{Deserialize, Serialize};

use crate::gateway::rsa_sign::RsaSigner;

/// The apply call's path (POST).
pub const APPLY_PATH: &str = "/v3/refund/domestic/refunds";

/// The `Authorization` scheme of every request, and the only
/// `Wechatpay-Signature-Type` an answer may name.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The apply body. Field order is the contract's key order (serde keeps it):
/// a resend of the same refund must send the same bytes.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ApplyBody<'a> {
    pub out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funds_account: Option<&'a str>,
    pub amount: ApplyAmount<'a>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ApplyAmount<'a> {
    pub refund: u64,
    pub total: u64,
    pub currency: &'a str,
}

impl ApplyBody<'_> {
    /// The compact JSON sent, and signed, byte for byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("the apply body always serializes")
    }
}

/// The query call's path for `out_refund_no` (GET).
pub fn query_path(out_refund_no: &str) -> String {
    format!("{APPLY_PATH}/{}", escape_segment(out_refund_no))
}

/// A path segment as WeChat Pay expects it: letters, digits, `-` and `_` as
/// they are, every other byte (`|`, `*`, `@` among the id's characters)
/// percent-encoded in upper-case hex. The signature covers the path as sent,
/// so this is the one place it is written.
pub fn escape_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The five lines a request's signature covers, each ending in `\n`.
pub fn string_to_sign(
    method: &str,
    canonical_url: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut text = format!("{method}\n{canonical_url}\n{ts}\n{nonce}\n").into_bytes();
    text.extend_from_slice(body);
    text.push(b'\n');
    text
}

/// What the `Authorization` header says besides the signature.
pub struct Credentials<'a> {
    pub mchid: &'a str,
    pub serial_no: &'a str,
    pub signer: &'a RsaSigner,
}

/// The `Authorization` header of one HTTP attempt: the request signed with the
/// merchant's key, items in bulkrefund's order (mchid, nonce_str, timestamp,
/// serial_no, signature).
pub fn authorization(
    credentials: &Credentials,
    method: &str,
    canonical_url: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    let message = string_to_sign(method, canonical_url, ts, nonce, body);
    let signature = credentials.signer.sign_bytes(&message);
    format!(
        "{SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{ts}\",serial_no=\"{}\",signature=\"{signature}\"",
        credentials.mchid, credentials.serial_no
    )
}

/// A Refund object as an answer gives it. Unknown fields are ignored; a
/// required one missing, or any field of the wrong JSON type, fails the read.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefundObject {
    pub refund_id: String,
    pub out_refund_no: String,
    pub transaction_id: Option<String>,
    pub out_trade_no: Option<String>,
    pub channel: Option<String>,
    pub user_received_account: Option<String>,
    pub success_time: Option<String>,
    pub create_time: String,
    pub status: String,
    pub funds_account: Option<String>,
    pub amount: RefundAmount,
}

/// The answer's amounts: JSON integers in fen (u64: a float, a string or a
/// negative number fails the read).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefundAmount {
    pub total: Option<u64>,
    pub refund: Option<u64>,
    pub payer_total: Option<u64>,
    pub payer_refund: Option<u64>,
    pub settlement_refund: Option<u64>,
    pub settlement_total: Option<u64>,
    pub discount_refund: Option<u64>,
    pub currency: Option<String>,
}

/// A non-2xx answer's body.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// Why an answer's body could not be read, for the log and the unknown's why.
pub fn malformed(what: &str, e: &serde_json::Error) -> String {
    format!("the answer is not a well-formed {what} ({e}): it proves nothing")
}

pub fn parse_refund(body: &[u8]) -> Result<RefundObject, String> {
    serde_json::from_slice(body).map_err(|e| malformed("Refund object", &e))
}

pub fn parse_error(body: &[u8]) -> Result<ErrorBody, String> {
    serde_json::from_slice(body).map_err(|e| malformed("error body", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUND: &str = r#"{"refund_id":"503","out_refund_no":"R1","create_time":"2026-11-22T09:30:00+08:00","status":"PROCESSING","amount":{"refund":AMOUNT,"total":5000,"currency":"CNY"}}"#;

    #[test]
    fn amounts_are_json_integers_and_nothing_else() {
        let read = |amount: &str| parse_refund(REFUND.replace("AMOUNT", amount).as_bytes());
        assert_eq!(read("2599").unwrap().amount.refund, Some(2599));
        for bad in ["100.0", "1e2", "\"100\"", "-1", "null_", "true"] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_required_field_missing_or_of_another_type_is_malformed() {
        let good: serde_json::Value = serde_json::from_str(&REFUND.replace("AMOUNT", "1")).unwrap();
        for field in [
            "refund_id",
            "out_refund_no",
            "status",
            "create_time",
            "amount",
        ] {
            let mut answer = good.clone();
            answer.as_object_mut().unwrap().remove(field);
            let bytes = serde_json::to_vec(&answer).unwrap();
            assert!(parse_refund(&bytes).is_err(), "{field} missing");
            let mut answer = good.clone();
            answer[field] = serde_json::json!(12);
            let bytes = serde_json::to_vec(&answer).unwrap();
            assert!(parse_refund(&bytes).is_err(), "{field} a number");
        }
        let mut answer = good.clone();
        answer["out_trade_no"] = serde_json::json!(12);
        assert!(parse_refund(&serde_json::to_vec(&answer).unwrap()).is_err());
        let mut answer = good;
        answer["unknown_field"] = serde_json::json!([1]);
        assert!(parse_refund(&serde_json::to_vec(&answer).unwrap()).is_ok());
    }

    #[test]
    fn error_bodies() {
        let e = parse_error(br#"{"code":"NOT_ENOUGH","message":"no","detail":{"x":1}}"#).unwrap();
        assert_eq!(e.code, "NOT_ENOUGH");
        assert!(parse_error(br#"{"message":"no"}"#).is_err());
        assert!(parse_error(b"<html>").is_err());
    }

    #[test]
    fn the_path_escapes_the_ids_marks() {
        assert_eq!(
            query_path("R20261122|0002*A"),
            "/v3/refund/domestic/refunds/R20261122%7C0002%2AA"
        );
        assert_eq!(escape_segment("a@b-c_D9"), "a%40b-c_D9");
    }

    #[test]
    fn the_body_keeps_the_contracts_key_order() {
        let body = ApplyBody {
            out_refund_no: "R1",
            transaction_id: Some("42"),
            out_trade_no: Some("T1"),
            reason: None,
            notify_url: Some("https://m.example/n"),
            funds_account: None,
            amount: ApplyAmount {
                refund: 1,
                total: 2,
                currency: "CNY",
            },
        };
        assert_eq!(
            String::from_utf8(body.to_bytes()).unwrap(),
            r#"{"out_refund_no":"R1","transaction_id":"42","out_trade_no":"T1","notify_url":"https://m.example/n","amount":{"refund":1,"total":2,"currency":"CNY"}}"#
        );
    }
}
