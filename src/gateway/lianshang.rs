//! Lianshang's open platform (specs/lianshang.md): RSA-signed JSON with
//! `newBaseData`/`newBizData` (refunds) or `queryBaseData`/`queryBizData`
//! (queries). Owns the field layout and JSON types, the string to sign, optional
//! gzip bodies, and the mapping of `result_code` to what the state machine does.
//! The contract has no response signature, so the transport must be trusted:
//! plain http is refused unless the host is loopback or the profile allows it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{Map, Value};
use url::Url;

use super::echo::EchoCheck;
use super::http;
use super::rsa_sign::RsaSigner;
use super::{Attempt, Gateway, Outcome, Receipt, RefundOrder};
use crate::money::Fen;

pub const REFUND_PATH: &str = "/pai/createRefundOrder";
pub const QUERY_PATH: &str = "/pai/queryRefundStatus";

/// Fields of `newBaseData` (the rest of a row's fields belong to `newBizData`).
pub const BASE_FIELDS: &[&str] = &[
    "version",
    "platform",
    "request_id",
    "out_user_id",
    "guest_id",
    "client_user_id",
    "service_name",
    "language",
    "merchant_id",
    "time_stamp",
    "compress_type",
];
/// Fields of `newBizData` that a row or the profile's defaults may give.
pub const BIZ_FIELDS: &[&str] = &[
    "refund_type",
    "refund_way",
    "refund_msg",
    "refund_auditor",
    "refund_portion",
    "refund_strong_check",
    "settlement_id",
    "appid",
    "out_trade_id",
    "original_wk_trade_id",
    "out_refund_id",
    "refund_coin_amount",
    "coin_type",
    "refund_cash_amount",
    "refund_currency",
    "refund_product_subject",
    "notify_url",
    "refund_expire",
    "risk_extend",
];
/// Fields the contract types as JSON integers.
pub const INTEGER_FIELDS: &[&str] = &[
    "language",
    "refund_expire",
    "refund_cash_amount",
    "refund_coin_amount",
];

/// A field's place and form in the contract (lianshang.md, the field tables).
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    pub name: &'static str,
    /// `None` for JSON integers; otherwise the longest string, in characters.
    pub max_chars: Option<usize>,
    pub required: bool,
}

const fn text(name: &'static str, max: usize, required: bool) -> FieldRule {
    FieldRule {
        name,
        max_chars: Some(max),
        required,
    }
}

const fn integer(name: &'static str, required: bool) -> FieldRule {
    FieldRule {
        name,
        max_chars: None,
        required,
    }
}

/// `newBaseData` (`out_user_id`/`guest_id`: one of the two, checked apart).
pub const BASE_RULES: &[FieldRule] = &[
    text("version", 6, true),
    text("platform", 10, true),
    text("request_id", 64, true),
    text("out_user_id", 64, false),
    text("guest_id", 64, false),
    text("client_user_id", 64, true),
    text("service_name", 32, true),
    integer("language", false),
    text("merchant_id", 32, true),
    text("time_stamp", 14, true),
    text("compress_type", 2, true),
];

/// `newBizData`. `sign` may be 344 characters (a 2048-bit key), as the gateway accepts.
pub const BIZ_RULES: &[FieldRule] = &[
    text("refund_type", 32, true),
    text("refund_way", 256, false),
    text("refund_msg", 256, true),
    text("refund_auditor", 20, false),
    text("refund_portion", 10, false),
    text("refund_strong_check", 10, false),
    text("settlement_id", 32, false),
    text("appid", 32, true),
    text("out_trade_id", 64, true),
    text("original_wk_trade_id", 64, true),
    text("out_refund_id", 64, true),
    integer("refund_coin_amount", true),
    text("coin_type", 50, true),
    integer("refund_cash_amount", true),
    text("refund_currency", 6, true),
    text("refund_product_subject", 1024, true),
    text("notify_url", 128, true),
    integer("refund_expire", true),
    text("risk_extend", 1024, true),
    text("security_type", 6, true),
    text("sign", 344, true),
];

/// Values the contract enumerates.
pub fn allowed_values(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "refund_type" => Some(&["cash", "coin", "mixed", "credit"]),
        "refund_portion" => Some(&["part", "all"]),
        "refund_strong_check" => Some(&["yes", "no"]),
        "platform" => Some(&["H5", "Online", "Native SDK", "Offline", "Android", "iOS"]),
        "compress_type" => Some(&["0", "1"]),
        _ => None,
    }
}

/// True for an id of 1-64 letters, digits, `-` and `_` (batch-files.md).
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks one field's text against its rule; `Err` says which rule it breaks.
pub fn check_text(rule: &FieldRule, value: &str) -> Result<(), String> {
    match rule.max_chars {
        None => match value.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(()),
            _ => Err(format!("{value:?} is not a whole number of at least 0")),
        },
        Some(max) if value.chars().count() > max => Err(format!("is longer than {max} characters")),
        Some(_) => match allowed_values(rule.name) {
            Some(allowed) if !allowed.contains(&value) => {
                Err(format!("{value:?} is not one of {}", allowed.join(", ")))
            }
            _ => Ok(()),
        },
    }
}

/// result_codes that refuse a refund for good.
const FINAL_FAILURES: &[&str] = &[
    "DuplicateRefund",
    "ParamError",
    "TradeNotExist",
    "AmountExceed",
    "CurrencyMismatch",
];

/// The string a signature covers: the leaf fields of every given object, except
/// `sign` and `security_type`, without nulls and empty strings, sorted by name.
pub fn string_to_sign(objects: &[&Map<String, Value>]) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for object in objects {
        for (name, value) in object.iter() {
            if matches!(name.as_str(), "sign" | "security_type") {
                continue;
            }
            let text = match value {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            pairs.push((name, text));
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut text = String::with_capacity(512);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            text.push('&');
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
    }
    text
}

/// A field's value as the JSON type the contract gives it.
pub fn typed_value(name: &str, text: &str) -> Result<Value, String> {
    if INTEGER_FIELDS.contains(&name) {
        text.parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{name} must be a whole number, not {text:?}"))
    } else {
        Ok(Value::String(text.to_owned()))
    }
}

/// Refuses a base URL whose transport cannot be trusted (no response signature).
pub fn check_base_url(url: &Url, allow_insecure_http: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} is plain http: Lianshang answers carry no signature, so only https is trusted \
             (loopback, or allow_insecure_http = true, for testing)"
        )),
        other => Err(format!("{url}: the scheme {other:?} is not http or https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Decompresses a body of at most [`http::MAX_BODY`] bytes: a small gzip
/// bomb must not fill our memory any more than a large body may.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(http::MAX_BODY as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > http::MAX_BODY {
        return Err(std::io::Error::other(format!(
            "it decompresses to more than {} KiB",
            http::MAX_BODY / 1024
        )));
    }
    Ok(out)
}

/// The `time_stamp` every request carries: Lianshang works in China Standard Time.
fn time_stamp() -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    chrono::Utc::now()
        .with_timezone(&offset)
        .format("%Y%m%d%H%M%S")
        .to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Refund,
    Query,
}

/// What a request asked, as its answer must echo it (lianshang.md, "result_code").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub merchant_id: String,
    pub request_id: String,
    pub refund_id: String,
    pub out_trade_id: String,
    /// The refund's cash amount: sent with a refund, expected back from a query.
    pub amount: Fen,
}

/// An answer's objects with every string value trimmed: what the gateway meant.
fn trimmed(object: &Map<String, Value>) -> Map<String, Value> {
    object
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => Value::String(s.trim().to_owned()),
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

/// A JSON value as the operator should read it in a mismatch note.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => format!("the {} {other}", json_type(other)),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Asked {
    /// `Err(outcome)` when the answer is not provably about this request: a
    /// field missing that every answer must echo (unknown), or one that differs
    /// or has the wrong JSON type (mismatch).
    fn check(
        &self,
        call: Call,
        base: &Map<String, Value>,
        biz: &Map<String, Value>,
    ) -> Result<(), Outcome> {
        let mut check = EchoCheck::default();
        for (field, asked) in [
            ("request_id", &self.request_id),
            ("merchant_id", &self.merchant_id),
        ] {
            match base.get(field) {
                None | Some(Value::Null) => {
                    return Err(Outcome::unknown(format!(
                        "the answer does not echo our {field}: it cannot be tied to this request"
                    )))
                }
                Some(value) => string_echo(&mut check, field, value, asked),
            }
        }
        for (field, asked) in [
            ("out_refund_id", &self.refund_id),
            ("out_trade_id", &self.out_trade_id),
        ] {
            if let Some(value) = biz.get(field).filter(|v| !v.is_null()) {
                string_echo(&mut check, field, value, asked);
            }
        }
        match biz.get("refund_cash_amount") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64() == Some(self.amount.0) => {}
            Some(other) => check.differ(
                "refund_cash_amount",
                &shown(other),
                &format!("{} (fen)", self.amount.0),
            ),
        }
        if let Some(what) = check.finish() {
            return Err(Outcome::Mismatch { what });
        }
        let says_success = biz.get("result_code").and_then(Value::as_str) == Some("Success");
        if call == Call::Query && says_success && !biz.contains_key("out_refund_id") {
            return Err(Outcome::unknown(
                "the query answer does not say which refund it is about",
            ));
        }
        Ok(())
    }
}

/// An echoed id: the same string, never a number that merely prints the same.
fn string_echo(check: &mut EchoCheck, field: &str, answered: &Value, asked: &str) {
    match answered {
        Value::String(s) => check.text(field, Some(s), asked),
        other => check.differ(field, &shown(other), &format!("{asked:?}")),
    }
}

/// Turns an answer into what it proves: first whether it is about this request
/// at all, then its business part (all string values trimmed).
pub fn classify(
    call: Call,
    base: &Map<String, Value>,
    biz: &Map<String, Value>,
    asked: &Asked,
) -> Outcome {
    let (base, biz) = (trimmed(base), trimmed(biz));
    if let Err(outcome) = asked.check(call, &base, &biz) {
        return outcome;
    }
    classify_business(call, &biz)
}

/// The business part of an answer already tied to its request.
fn classify_business(call: Call, biz: &Map<String, Value>) -> Outcome {
    let text = |name: &str| match biz.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let result_code = text("result_code");
    let message = text("result_msg");
    let receipt = Receipt {
        gateway_refund_id: Some(text("wk_refund_id")).filter(|s| !s.is_empty()),
        refund_fen: Fen::parse_fen(&text("refund_cash_amount")).ok(),
    };
    match (call, result_code.as_str()) {
        (_, "Success") => match text("refund_status").as_str() {
            "SUCCESS" => Outcome::Succeeded(receipt),
            "PROCESSING" => Outcome::Processing(receipt),
            "FAIL" => Outcome::failed(
                "FAIL",
                non_empty(message, "the gateway says the refund failed"),
                receipt,
            ),
            other => Outcome::unknown(format!("unexpected refund_status {other:?}")),
        },
        (_, "SystemBusy") => Outcome::retry(None, format!("SystemBusy: {message}")),
        (_, "SignError") => Outcome::rejected(
            "SignError",
            "the gateway cannot verify our signature: the private key or rsa_digest is probably wrong (check private_key)",
        ),
        (Call::Refund, code) if FINAL_FAILURES.contains(&code) => {
            Outcome::failed(code, non_empty(message, "refused"), Receipt::default())
        }
        (Call::Query, "RefundNotExist") => Outcome::NotFound,
        (_, code) => Outcome::unknown(format!("{code}: {message}")),
    }
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    }
}

#[derive(Clone, Debug)]
pub struct LianshangSettings {
    pub base_url: Url,
    pub merchant_id: String,
    pub signer: RsaSigner,
    pub timeout: Duration,
    pub allow_insecure_http: bool,
    /// Send gzip bodies (`compress_type` "1").
    pub compress: bool,
}

pub struct LianshangClient {
    http: reqwest::Client,
    refund_url: Url,
    query_url: Url,
    merchant_id: String,
    signer: RsaSigner,
    compress: bool,
}

impl LianshangClient {
    pub fn new(settings: LianshangSettings) -> Result<LianshangClient, String> {
        check_base_url(&settings.base_url, settings.allow_insecure_http)?;
        let join = |path| settings.base_url.join(path).map_err(|e| e.to_string());
        Ok(LianshangClient {
            http: http::client(settings.timeout),
            refund_url: join(REFUND_PATH)?,
            query_url: join(QUERY_PATH)?,
            merchant_id: settings.merchant_id,
            signer: settings.signer,
            compress: settings.compress,
        })
    }

    /// The base object, from the row's base fields plus what this client fixes.
    fn base_data(
        &self,
        refund: &RefundOrder,
        service_name: &str,
        request_id: &str,
    ) -> Result<Map<String, Value>, String> {
        let mut base = Map::new();
        for name in BASE_FIELDS {
            if let Some(value) = refund.field(name) {
                base.insert((*name).into(), typed_value(name, value)?);
            }
        }
        let fixed = [
            ("version", "2"),
            ("service_name", service_name),
            ("merchant_id", &self.merchant_id),
            ("request_id", request_id),
            ("time_stamp", &time_stamp()),
            ("compress_type", if self.compress { "1" } else { "0" }),
        ];
        for (name, value) in fixed {
            base.insert(name.into(), Value::String(value.into()));
        }
        Ok(base)
    }

    fn refund_body(&self, refund: &RefundOrder, request_id: &str) -> Result<Value, String> {
        let base = self.base_data(refund, "CreateRefundOrder", request_id)?;
        let mut biz = Map::new();
        for name in BIZ_FIELDS {
            if let Some(value) = refund.field(name) {
                biz.insert((*name).into(), typed_value(name, value)?);
            }
        }
        biz.insert(
            "out_refund_id".into(),
            Value::String(refund.refund_id.clone()),
        );
        biz.insert("refund_cash_amount".into(), Value::from(refund.amount.0));
        biz.insert("security_type".into(), Value::String("RSA".into()));
        let sign = self.signer.sign(&string_to_sign(&[&base, &biz]));
        biz.insert("sign".into(), Value::String(sign));
        Ok(serde_json::json!({ "newBaseData": base, "newBizData": biz }))
    }

    fn query_body(&self, refund: &RefundOrder, request_id: &str) -> Result<Value, String> {
        let base = self.base_data(refund, "QueryRefundStatus", request_id)?;
        let mut biz = Map::new();
        if let Some(wk) = &refund.gateway_refund_id {
            biz.insert("wk_refund_id".into(), Value::String(wk.clone()));
        }
        biz.insert(
            "out_refund_id".into(),
            Value::String(refund.refund_id.clone()),
        );
        if let Some(trade) = refund.field("out_trade_id") {
            biz.insert("out_trade_id".into(), Value::String(trade.into()));
        }
        biz.insert("security_type".into(), Value::String("RSA".into()));
        let sign = self.signer.sign(&string_to_sign(&[&base, &biz]));
        biz.insert("sign".into(), Value::String(sign));
        Ok(serde_json::json!({ "queryBaseData": base, "queryBizData": biz }))
    }

    async fn call(&self, call: Call, refund: &RefundOrder) -> Attempt {
        let asked = Asked {
            merchant_id: self.merchant_id.clone(),
            request_id: Alphanumeric.sample_string(&mut rand::thread_rng(), 32),
            refund_id: refund.refund_id.clone(),
            out_trade_id: refund.field("out_trade_id").unwrap_or("").to_owned(),
            amount: refund.amount,
        };
        let (url, body) = match call {
            Call::Refund => (
                &self.refund_url,
                self.refund_body(refund, &asked.request_id),
            ),
            Call::Query => (&self.query_url, self.query_body(refund, &asked.request_id)),
        };
        let body = match body {
            Ok(body) => serde_json::to_vec(&body).expect("a JSON value always serializes"),
            Err(why) => {
                // Nothing left: a field of the row cannot be typed as the contract wants.
                return Attempt {
                    outcome: Outcome::failed("BR_INVALID_FIELD", why, Receipt::default()),
                    http_status: None,
                    gateway_codes: None,
                };
            }
        };
        let mut request = self.http.post(url.clone()).header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        );
        request = if self.compress {
            request
                .header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(gzip(&body))
        } else {
            request.body(body)
        };
        let reply = match http::send(request).await {
            Ok(reply) => reply,
            Err(attempt) => return attempt,
        };
        let status = Some(reply.status);
        let gzipped = reply
            .headers
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let unknown = |why: String| Attempt {
            outcome: Outcome::unknown(why),
            http_status: status,
            gateway_codes: None,
        };
        let bytes = if gzipped {
            match gunzip(&reply.body) {
                Ok(bytes) => bytes,
                Err(e) => return unknown(format!("the gzip answer does not decompress: {e}")),
            }
        } else {
            reply.body.to_vec()
        };
        match parse_answer(call, &bytes) {
            Ok((base, biz)) => {
                let code = biz.get("result_code").and_then(Value::as_str).unwrap_or("");
                Attempt {
                    outcome: classify(call, &base, &biz, &asked),
                    http_status: status,
                    gateway_codes: Some(format!("result_code={}", code.trim())),
                }
            }
            Err(why) => unknown(why),
        }
    }
}

/// The base and business objects of an answer.
pub type AnswerObjects = (Map<String, Value>, Map<String, Value>);

/// Finds the base and business objects of an answer; without a business
/// object it is not an answer. (A missing base object is judged by [`classify`].)
pub fn parse_answer(call: Call, bytes: &[u8]) -> Result<AnswerObjects, String> {
    let (base_key, biz_key) = match call {
        Call::Refund => ("newBaseResponseData", "newBizResponseData"),
        Call::Query => ("queryBaseResponseData", "queryBizResponseData"),
    };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let base = match value.get(base_key) {
        Some(Value::Object(base)) => base.clone(),
        _ => Map::new(),
    };
    match value.get(biz_key) {
        Some(Value::Object(biz)) => Ok((base, biz.clone())),
        _ => Err(format!("the answer has no {biz_key} object")),
    }
}

#[async_trait::async_trait]
impl Gateway for LianshangClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        self.call(Call::Refund, refund).await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        self.call(Call::Query, refund).await
    }
}

/// A row's fields as the biz/base maps a test or the simulator works with.
pub fn split_fields(fields: &BTreeMap<String, String>) -> (Map<String, Value>, Map<String, Value>) {
    let mut base = Map::new();
    let mut biz = Map::new();
    for (name, value) in fields {
        let typed = typed_value(name, value).unwrap_or_else(|_| Value::String(value.clone()));
        if BASE_FIELDS.contains(&name.as_str()) {
            base.insert(name.clone(), typed);
        } else {
            biz.insert(name.clone(), typed);
        }
    }
    (base, biz)
}

#[cfg(test)]
mod tests {
    use super::super::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Vector {
        name: String,
        #[serde(rename = "private_key")]
        private_key: String,
        #[serde(rename = "public_key")]
        public_key: String,
        #[serde(rename = "rsa_digest")]
        rsa_digest: RsaDigest,
        new_base_data: Map<String, Value>,
        new_biz_data: Map<String, Value>,
        #[serde(rename = "string_to_sign")]
        string_to_sign: String,
        sign: String,
    }

    fn key(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/samples/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("sample key")
    }

    #[test]
    fn reproduces_every_vector() {
        let vectors: Vec<Vector> =
            serde_json::from_str(include_str!("../../tests/vectors/lianshang-sign.json")).unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let text = string_to_sign(&[&v.new_base_data, &v.new_biz_data]);
            assert_eq!(text, v.string_to_sign, "{}", v.name);
            let signer = RsaSigner::from_pem(&key(&v.private_key), v.rsa_digest).unwrap();
            assert_eq!(signer.sign(&text), v.sign, "{}", v.name);
            let verifier = RsaVerifier::from_pem(&key(&v.public_key)).unwrap();
            assert!(verifier.verify(&text, &v.sign, v.rsa_digest), "{}", v.name);
            let other = match v.rsa_digest {
                RsaDigest::Sha1 => RsaDigest::Sha256,
                RsaDigest::Sha256 => RsaDigest::Sha1,
            };
            assert!(!verifier.verify(&text, &v.sign, other), "{}", v.name);
            assert!(
                !verifier.verify(&format!("{text}x"), &v.sign, v.rsa_digest),
                "{}",
                v.name
            );
        }
    }

    #[test]
    fn keys_never_printed_and_bad_keys_refused() {
        let signer =
            RsaSigner::from_pem(&key("merchant-test-2048.pem"), RsaDigest::Sha256).unwrap();
        assert_eq!(format!("{signer:?}"), "RsaSigner(***)");
        assert!(RsaSigner::from_pem("not a key", RsaDigest::Sha256).is_err());
        assert!(
            RsaSigner::from_pem(&key("merchant-test-2048.pub.pem"), RsaDigest::Sha256).is_err()
        );
    }

    #[test]
    fn plain_http_only_on_loopback_or_when_allowed() {
        let url = |s| Url::parse(s).unwrap();
        assert!(check_base_url(&url("https://pay.example.com"), false).is_ok());
        assert!(check_base_url(&url("http://127.0.0.1:8080"), false).is_ok());
        assert!(check_base_url(&url("http://localhost:8080"), false).is_ok());
        assert!(check_base_url(&url("http://[::1]:8080"), false).is_ok());
        assert!(check_base_url(&url("http://pay.example.com"), false).is_err());
        assert!(check_base_url(&url("http://pay.example.com"), true).is_ok());
        assert!(check_base_url(&url("ftp://pay.example.com"), true).is_err());
    }

    fn asked() -> Asked {
        Asked {
            merchant_id: "pay001".into(),
            request_id: "Q1".into(),
            refund_id: "R-1".into(),
            out_trade_id: "T1".into(),
            amount: Fen(2599),
        }
    }

    fn base() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("request_id".into(), "Q1".into());
        m.insert("merchant_id".into(), "pay001".into());
        m
    }

    fn biz(code: &str, status: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("result_code".into(), code.into());
        m.insert("refund_status".into(), status.into());
        m.insert("wk_refund_id".into(), "WKR1".into());
        m.insert("out_refund_id".into(), "R-1".into());
        m
    }

    fn classify_asked(call: Call, biz: &Map<String, Value>) -> Outcome {
        classify(call, &base(), biz, &asked())
    }

    #[test]
    fn result_codes_map_to_actions() {
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "SUCCESS")),
            Outcome::Succeeded(_)
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "PROCESSING")),
            Outcome::Processing(_)
        ));
        assert!(matches!(
            classify_asked(Call::Query, &biz("Success", "FAIL")),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "??")),
            Outcome::Unknown { .. }
        ));
        for code in FINAL_FAILURES {
            assert!(
                matches!(
                    classify_asked(Call::Refund, &biz(code, "")),
                    Outcome::Failed { .. }
                ),
                "{code}"
            );
            assert!(
                matches!(
                    classify_asked(Call::Query, &biz(code, "")),
                    Outcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        for call in [Call::Refund, Call::Query] {
            assert!(matches!(
                classify_asked(call, &biz("SignError", "")),
                Outcome::Rejected { .. }
            ));
        }
        assert!(matches!(
            classify_asked(Call::Refund, &biz("SystemBusy", "")),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("SystemError", "")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Whatever", "")),
            Outcome::Unknown { .. }
        ));
        assert_eq!(
            classify_asked(Call::Query, &biz("RefundNotExist", "")),
            Outcome::NotFound
        );
        assert!(matches!(
            classify_asked(Call::Refund, &biz("RefundNotExist", "")),
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn padded_values_are_read_trimmed() {
        let mut padded = biz(" Success\n", "\n  SUCCESS  ");
        padded.insert("out_refund_id".into(), " R-1 ".into());
        let mut base = base();
        base.insert("request_id".into(), "Q1\n".into());
        assert!(matches!(
            classify(Call::Query, &base, &padded, &asked()),
            Outcome::Succeeded(_)
        ));
    }

    #[test]
    fn an_answer_about_another_refund_is_never_believed() {
        let cases: Vec<(&str, Value)> = vec![
            ("out_refund_id", "R-2".into()),
            // The right digits as a JSON number are still not our string id.
            ("out_refund_id", serde_json::json!(1)),
            ("out_trade_id", "T9".into()),
            ("refund_cash_amount", serde_json::json!(2600)),
            ("refund_cash_amount", "2599".into()),
            ("refund_cash_amount", serde_json::json!(25.99)),
        ];
        for (field, value) in cases {
            let mut answer = biz("Success", "SUCCESS");
            answer.insert(field.into(), value.clone());
            match classify_asked(Call::Query, &answer) {
                Outcome::Mismatch { what } => assert!(what.contains(field), "{what}"),
                other => panic!("{field}={value}: {other:?}"),
            }
        }
        for (field, value) in [
            ("request_id", Value::from("Q-another")),
            ("merchant_id", Value::from("pay999")),
            ("request_id", serde_json::json!(1)),
        ] {
            let mut base = base();
            base.insert(field.into(), value);
            assert!(matches!(
                classify(Call::Refund, &base, &biz("Success", "SUCCESS"), &asked()),
                Outcome::Mismatch { .. }
            ));
        }
        // An answer that does not echo our request at all cannot be tied to it.
        assert!(matches!(
            classify(
                Call::Refund,
                &Map::new(),
                &biz("Success", "SUCCESS"),
                &asked()
            ),
            Outcome::Unknown { .. }
        ));
        // A query answer must say which refund it is about.
        let mut anonymous = biz("Success", "SUCCESS");
        anonymous.remove("out_refund_id");
        assert!(matches!(
            classify_asked(Call::Query, &anonymous),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &anonymous),
            Outcome::Succeeded(_)
        ));
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let bomb = gzip(&vec![b' '; http::MAX_BODY + 1]);
        assert!(bomb.len() < 16 * 1024);
        assert!(gunzip(&bomb).is_err());
        assert_eq!(gunzip(&gzip(b"{}")).unwrap(), b"{}");
    }

    proptest! {
        #[test]
        fn answer_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_answer(Call::Refund, &bytes);
            let _ = parse_answer(Call::Query, &bytes);
            let _ = gunzip(&bytes);
        }

        #[test]
        fn sign_then_verify(fields in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,20}", 1..8)) {
            let signer = RsaSigner::from_pem(&key("merchant-test-1024.pkcs1.pem"), RsaDigest::Sha256).unwrap();
            let verifier = RsaVerifier::from_pem(&key("merchant-test-1024.pub.pem")).unwrap();
            let (base, biz) = split_fields(&fields);
            let text = string_to_sign(&[&base, &biz]);
            prop_assert!(verifier.verify(&text, &signer.sign(&text), RsaDigest::Sha256));
        }
    }
}
