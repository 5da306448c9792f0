//! Leshua (specs/leshua.md): MD5-signed form posts to one CGI endpoint, `<leshua>`
//! XML answers. Owns signing, the XML reader, response verification and the
//! mapping of every error code to what the state machine must do. The simulator
//! uses the same signing and XML functions, so both sides agree byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use md5::{Digest, Md5};
use rand::distributions::{Alphanumeric, DistString};
use url::Url;

use super::echo::EchoCheck;
use super::http;
use super::{Attempt, Gateway, Outcome, Receipt, RefundOrder};
use crate::money::Fen;
use crate::secret::Secret;

pub const PATH: &str = "/cgi-bin/lepos_pay_gateway.cgi";
pub const SERVICE_REFUND: &str = "unified_refund";
pub const SERVICE_QUERY: &str = "unified_query_refund";

/// Codes that prove the refund was refused for good.
const FINAL_FAILURES: &[&str] = &[
    "-20001", "-20004", "-4006", "-20018", "-20024", "-20019", "-5016", "-20023", "-5017", "-5014",
    "-5015", "-5018", "-2034", "-2125",
];
/// Codes that refuse the request itself, whatever refund it carries: every
/// other request of the profile would be refused alike. With the likely cause.
const REJECTS_EVERY_REQUEST: &[(&str, &str)] = &[
    (
        "-20006",
        "the gateway cannot verify our signature: the trade key is probably wrong (check trade_key)",
    ),
    (
        "-20007",
        "the gateway has no signing key for this merchant: ask Leshua to configure it",
    ),
    (
        "-20002",
        "the gateway does not know this merchant: check merchant_id",
    ),
    (
        "-1002",
        "the gateway does not know this merchant: check merchant_id",
    ),
];
/// Codes that prove nothing was created and the same id may be sent later.
const RETRY_LATER: &[&str] = &["-4004", "-20099"];
/// Query answers that prove the refund does not exist.
const NOT_FOUND: &[&str] = &["-5019", "-20022"];
/// The refund id exists already: its state must be learned by a query.
pub const ALREADY_EXISTS: &str = "-5103";

/// MD5 over `k=v&...&key=KEY` of the given pairs, which must already be sorted.
fn md5_hex<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, key: &str) -> String {
    hex::encode(Md5::digest(string_to_sign(pairs, key).as_bytes()))
}

fn string_to_sign<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, key: &str) -> String {
    let mut text = String::with_capacity(256);
    for (name, value) in pairs {
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('&');
    }
    text.push_str("key=");
    text.push_str(key);
    text
}

fn request_pairs(params: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    params
        .iter()
        .filter(|(name, value)| name.as_str() != "sign" && !value.is_empty())
        .map(|(n, v)| (n.as_str(), v.as_str()))
}

fn response_pairs(fields: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "sign" | "resp_code"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
}

fn notification_pairs(fields: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    fields
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "sign" | "error_code"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
}

/// The string a request signature covers: empty values and `sign` dropped.
pub fn request_string_to_sign(params: &BTreeMap<String, String>, key: &Secret) -> String {
    string_to_sign(request_pairs(params), key.expose())
}

/// Request signature: upper-case MD5.
pub fn sign_request(params: &BTreeMap<String, String>, key: &Secret) -> String {
    md5_hex(request_pairs(params), key.expose()).to_ascii_uppercase()
}

/// The string a response signature covers: empty values kept, `sign` and `resp_code` dropped.
pub fn response_string_to_sign(fields: &BTreeMap<String, String>, key: &Secret) -> String {
    string_to_sign(response_pairs(fields), key.expose())
}

/// Response signature (the simulator signs with it; compare case-insensitively).
pub fn sign_response(fields: &BTreeMap<String, String>, key: &Secret) -> String {
    md5_hex(response_pairs(fields), key.expose()).to_ascii_uppercase()
}

/// The string a notification signature covers: `sign` and `error_code` dropped.
pub fn notification_string_to_sign(fields: &BTreeMap<String, String>, key: &Secret) -> String {
    string_to_sign(notification_pairs(fields), key.expose())
}

/// Notification signature: notify key, lower-case MD5.
pub fn sign_notification(fields: &BTreeMap<String, String>, notify_key: &Secret) -> String {
    md5_hex(notification_pairs(fields), notify_key.expose())
}

/// True when a response carries a `sign` that matches its fields.
pub fn response_verifies(fields: &BTreeMap<String, String>, key: &Secret) -> bool {
    match fields.get("sign") {
        Some(sign) => sign.eq_ignore_ascii_case(&sign_response(fields, key)),
        None => false,
    }
}

/// True when a notification carries a `sign` that matches its fields (notify key).
pub fn notification_verifies(fields: &BTreeMap<String, String>, notify_key: &Secret) -> bool {
    match fields.get("sign") {
        Some(sign) => sign.eq_ignore_ascii_case(&sign_notification(fields, notify_key)),
        None => false,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("not XML: {0}")]
    Syntax(String),
    #[error("the root element is not <leshua>")]
    WrongRoot,
    #[error("a field of <leshua> has child elements")]
    Nested,
    #[error("the document ends before </leshua>")]
    Unterminated,
}

/// Reads a `<leshua>` document into its fields. Values may be CDATA or plain
/// text; they are kept exactly (no trimming inside a field).
pub fn parse_xml(body: &[u8]) -> Result<BTreeMap<String, String>, XmlError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let syntax = |e: &dyn std::fmt::Display| XmlError::Syntax(e.to_string());
    let mut fields = BTreeMap::new();
    let mut depth = 0;
    let mut current: Option<(String, String)> = None;
    let mut closed_root = false;
    loop {
        match reader.read_event().map_err(|e| syntax(&e))? {
            Event::Start(start) => {
                let name = std::str::from_utf8(start.name().as_ref())
                    .map_err(|e| syntax(&e))?
                    .to_owned();
                depth += 1;
                match depth {
                    1 if name == "leshua" && !closed_root => {}
                    1 => return Err(XmlError::WrongRoot),
                    2 => current = Some((name, String::new())),
                    _ => return Err(XmlError::Nested),
                }
            }
            Event::Empty(start) if depth == 1 => {
                let name = start.name();
                let name = std::str::from_utf8(name.as_ref()).map_err(|e| syntax(&e))?;
                fields.insert(name.to_owned(), String::new());
            }
            Event::Empty(_) => {
                return Err(if depth == 0 {
                    XmlError::WrongRoot
                } else {
                    XmlError::Nested
                })
            }
            Event::Text(text) => {
                let value = text.unescape().map_err(|e| syntax(&e))?;
                match current.as_mut() {
                    Some((_, buffer)) => buffer.push_str(&value),
                    None if value.trim().is_empty() => {}
                    None => return Err(XmlError::Syntax("text outside a field".into())),
                }
            }
            Event::CData(data) => {
                let value = std::str::from_utf8(&data).map_err(|e| syntax(&e))?;
                match current.as_mut() {
                    Some((_, buffer)) => buffer.push_str(value),
                    None => return Err(XmlError::Syntax("CDATA outside a field".into())),
                }
            }
            Event::End(_) => {
                depth -= 1;
                if depth == 1 {
                    if let Some((name, value)) = current.take() {
                        fields.insert(name, value);
                    }
                } else if depth == 0 {
                    closed_root = true;
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !closed_root {
        return Err(if fields.is_empty() && depth == 0 {
            XmlError::WrongRoot
        } else {
            XmlError::Unterminated
        });
    }
    Ok(fields)
}

/// Writes a `<leshua>` document with every value in CDATA.
pub fn write_xml(fields: &BTreeMap<String, String>) -> String {
    let mut xml = String::from("<leshua>\n");
    for (name, value) in fields {
        // "]]>" cannot appear inside CDATA; split it across two sections.
        let value = value.replace("]]>", "]]]]><![CDATA[>");
        xml.push_str(&format!("<{name}><![CDATA[{value}]]></{name}>\n"));
    }
    xml.push_str("</leshua>\n");
    xml
}

fn receipt(fields: &BTreeMap<String, String>) -> Receipt {
    Receipt {
        gateway_refund_id: fields
            .get("leshua_refund_id")
            .filter(|v| !v.is_empty())
            .cloned(),
        refund_fen: fields
            .get("refund_amount")
            .and_then(|a| Fen::parse_fen(a).ok()),
    }
}

fn codes(fields: &BTreeMap<String, String>) -> String {
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    format!(
        "resp_code={} result_code={} error_code={}",
        get("resp_code"),
        get("result_code"),
        get("error_code")
    )
}

/// Which call an answer belongs to: the same code means different things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Refund,
    Query,
}

/// What a request asked, as its answer must echo it (leshua.md, "Response signature").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub merchant_id: String,
    pub refund_id: String,
    /// The refund's amount: sent with a refund, expected back from a query.
    pub amount: Fen,
    /// The order ids the request named; an answer is compared on these only.
    pub third_order_id: Option<String>,
    pub leshua_order_id: Option<String>,
    /// The request's random string: an old answer replayed carries another.
    pub nonce: String,
}

impl Asked {
    fn from_params(params: &BTreeMap<String, String>, amount: Fen) -> Asked {
        let get = |name: &str| params.get(name).cloned().unwrap_or_default();
        Asked {
            merchant_id: get("merchant_id"),
            refund_id: get("merchant_refund_id"),
            amount,
            third_order_id: params.get("third_order_id").cloned(),
            leshua_order_id: params.get("leshua_order_id").cloned(),
            nonce: get("nonce_str"),
        }
    }

    /// What the (trimmed) answer echoes that differs from the request.
    fn mismatch(&self, fields: &BTreeMap<String, String>) -> Option<String> {
        let get = |name: &str| fields.get(name).map(String::as_str);
        let mut check = EchoCheck::default();
        check.text("merchant_id", get("merchant_id"), &self.merchant_id);
        check.text(
            "merchant_refund_id",
            get("merchant_refund_id"),
            &self.refund_id,
        );
        check.text(
            "refund_amount",
            get("refund_amount"),
            &self.amount.0.to_string(),
        );
        for (name, asked) in [
            ("third_order_id", &self.third_order_id),
            ("leshua_order_id", &self.leshua_order_id),
        ] {
            if let Some(asked) = asked {
                check.text(name, get(name), asked);
            }
        }
        check.text("nonce_str", get("nonce_str"), &self.nonce);
        check.finish()
    }
}

/// Values as the gateway meant them: pretty-printed XML pads them with
/// whitespace (`<resp_code>\n  0\n</resp_code>`), which is not part of the value.
fn trimmed(fields: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), value.trim().to_owned()))
        .collect()
}

fn rejection(code: &str) -> Option<Outcome> {
    REJECTS_EVERY_REQUEST
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(c, why)| Outcome::rejected(*c, *why))
}

/// Turns a parsed answer into what it proves. The signature is checked before
/// any field is believed, then every echoed field against the request, then the
/// codes are read (all values trimmed).
pub fn classify(
    call: Call,
    raw: &BTreeMap<String, String>,
    key: &Secret,
    asked: &Asked,
) -> Outcome {
    let fields = trimmed(raw);
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let Some(resp_code) = fields.get("resp_code") else {
        return Outcome::unknown("the answer has no resp_code");
    };
    if resp_code != "0" {
        // A protocol-level rejection: the request was not taken, nothing was created.
        let code = if get("error_code").is_empty() {
            format!("resp_code {resp_code}")
        } else {
            get("error_code").to_owned()
        };
        if let Some(rejected) = rejection(&code) {
            return rejected;
        }
        let message = format!("gateway rejected the request: {}", get("resp_msg"));
        return match call {
            Call::Refund => Outcome::failed(code, message, Receipt::default()),
            // A rejected query says nothing about the refund itself.
            Call::Query => {
                Outcome::unknown(format!("query rejected ({code}): {}", get("resp_msg")))
            }
        };
    }
    // The gateway signs its values; whitespace around them may or may not be in what it signed.
    if !response_verifies(raw, key) && !response_verifies(&fields, key) {
        return Outcome::unknown("the answer's signature is missing or wrong; not trusted");
    }
    if let Some(what) = asked.mismatch(&fields) {
        return Outcome::Mismatch { what };
    }
    if get("result_code") == "0" {
        if get("merchant_refund_id").is_empty() {
            return Outcome::unknown("the answer does not say which refund it is about");
        }
        return match get("status") {
            "10" => Outcome::Processing(receipt(&fields)),
            "11" => Outcome::Succeeded(receipt(&fields)),
            "12" => Outcome::failed(
                "12",
                non_empty(get("failure_reason"), "the gateway says the refund failed"),
                receipt(&fields),
            ),
            other => Outcome::unknown(format!("unexpected refund status {other:?}")),
        };
    }
    let code = get("error_code");
    let message = non_empty(get("error_msg"), "no message");
    if RETRY_LATER.contains(&code) {
        return Outcome::retry(None, format!("{code}: {message}"));
    }
    if let Some(rejected) = rejection(code) {
        return rejected;
    }
    match call {
        Call::Refund if code == ALREADY_EXISTS => Outcome::unknown(format!(
            "{code}: the refund id already exists at the gateway; its state must be queried"
        )),
        Call::Refund if FINAL_FAILURES.contains(&code) => {
            Outcome::failed(code, message, Receipt::default())
        }
        Call::Query if NOT_FOUND.contains(&code) => Outcome::NotFound,
        _ => Outcome::unknown(format!("{code}: {message}")),
    }
}

fn non_empty(text: &str, fallback: &str) -> String {
    if text.is_empty() { fallback } else { text }.to_owned()
}

/// A profile's Leshua settings.
#[derive(Clone, Debug)]
pub struct LeshuaSettings {
    pub base_url: Url,
    pub merchant_id: String,
    pub trade_key: Secret,
    pub notify_url: Option<String>,
    pub timeout: Duration,
}

pub struct LeshuaClient {
    http: reqwest::Client,
    endpoint: Url,
    merchant_id: String,
    trade_key: Secret,
    notify_url: Option<String>,
}

impl LeshuaClient {
    pub fn new(settings: LeshuaSettings) -> Result<LeshuaClient, url::ParseError> {
        Ok(LeshuaClient {
            http: http::client(settings.timeout),
            endpoint: settings.base_url.join(PATH)?,
            merchant_id: settings.merchant_id,
            trade_key: settings.trade_key,
            notify_url: settings.notify_url,
        })
    }

    /// The common parameters of both calls, with the order ids of the refund.
    fn base_params(&self, service: &str, refund: &RefundOrder) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        params.insert("service".into(), service.into());
        params.insert("merchant_id".into(), self.merchant_id.clone());
        for name in ["third_order_id", "leshua_order_id"] {
            if let Some(value) = refund.field(name) {
                params.insert(name.into(), value.into());
            }
        }
        params.insert("merchant_refund_id".into(), refund.refund_id.clone());
        params.insert(
            "nonce_str".into(),
            Alphanumeric.sample_string(&mut rand::thread_rng(), 16),
        );
        params
    }

    async fn call(&self, call: Call, mut params: BTreeMap<String, String>, amount: Fen) -> Attempt {
        params.retain(|_, v| !v.is_empty());
        let asked = Asked::from_params(&params, amount);
        let sign = sign_request(&params, &self.trade_key);
        params.insert("sign".into(), sign);
        let reply = match http::send(self.http.post(self.endpoint.clone()).form(&params)).await {
            Ok(reply) => reply,
            Err(attempt) => return attempt,
        };
        match parse_xml(&reply.body) {
            Ok(fields) => Attempt {
                outcome: classify(call, &fields, &self.trade_key, &asked),
                http_status: Some(reply.status),
                gateway_codes: Some(codes(&trimmed(&fields))),
            },
            Err(e) => Attempt {
                outcome: Outcome::unknown(format!("the answer is not a <leshua> document: {e}")),
                http_status: Some(reply.status),
                gateway_codes: None,
            },
        }
    }
}

#[async_trait::async_trait]
impl Gateway for LeshuaClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        let mut params = self.base_params(SERVICE_REFUND, refund);
        params.insert("refund_amount".into(), refund.amount.0.to_string());
        if let Some(url) = refund.field("notify_url").or(self.notify_url.as_deref()) {
            params.insert("notify_url".into(), url.into());
        }
        self.call(Call::Refund, params, refund.amount).await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let params = self.base_params(SERVICE_QUERY, refund);
        self.call(Call::Query, params, refund.amount).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        kind: String,
        key: String,
        params: BTreeMap<String, String>,
        string_to_sign: String,
        sign: String,
    }

    fn vectors() -> Vec<Vector> {
        let text = include_str!("../../tests/vectors/leshua-sign.json");
        serde_json::from_str(text).expect("vector file parses")
    }

    #[test]
    fn reproduces_every_vector() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 5);
        for v in vectors {
            let key = Secret::new(v.key.clone());
            let (text, sign) = match v.kind.as_str() {
                "request" => (
                    request_string_to_sign(&v.params, &key),
                    sign_request(&v.params, &key),
                ),
                "response" => (
                    response_string_to_sign(&v.params, &key),
                    sign_response(&v.params, &key),
                ),
                "notification" => (
                    notification_string_to_sign(&v.params, &key),
                    sign_notification(&v.params, &key),
                ),
                other => panic!("unknown vector kind {other}"),
            };
            assert_eq!(text, v.string_to_sign, "{}", v.name);
            assert_eq!(sign, v.sign, "{}", v.name);
        }
    }

    #[test]
    fn verification_is_case_insensitive_and_rejects_tampering() {
        let v = vectors()
            .into_iter()
            .find(|v| v.kind == "response")
            .unwrap();
        let key = Secret::new("TESTKEY");
        let mut fields = v.params.clone();
        fields.insert("sign".into(), v.sign.to_lowercase());
        assert!(response_verifies(&fields, &key));
        fields.insert("status".into(), "11".into());
        assert!(!response_verifies(&fields, &key));
        let v = vectors()
            .into_iter()
            .find(|v| v.kind == "notification")
            .unwrap();
        let mut fields = v.params.clone();
        fields.insert("sign".into(), v.sign.to_uppercase());
        assert!(notification_verifies(&fields, &Secret::new("NOTIFYKEY")));
    }

    #[test]
    fn parses_cdata_and_plain_text() {
        let xml = b"<?xml version=\"1.0\"?><leshua>\n<resp_code><![CDATA[0]]></resp_code>\n<status>10</status><error_msg/><nonce_str>a&amp;b</nonce_str></leshua>";
        let fields = parse_xml(xml).unwrap();
        assert_eq!(fields["resp_code"], "0");
        assert_eq!(fields["status"], "10");
        assert_eq!(fields["error_msg"], "");
        assert_eq!(fields["nonce_str"], "a&b");
        assert_eq!(
            parse_xml(b"<other><a>1</a></other>"),
            Err(XmlError::WrongRoot)
        );
        assert_eq!(parse_xml(b"<leshua><a>1</a>"), Err(XmlError::Unterminated));
        assert_eq!(
            parse_xml(b"<leshua><a><b>1</b></a></leshua>"),
            Err(XmlError::Nested)
        );
        assert!(parse_xml(b"").is_err());
    }

    fn signed(mut fields: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let key = Secret::new("TESTKEY");
        let sign = sign_response(&fields, &key);
        fields.insert("sign".into(), sign);
        fields
    }

    fn answer(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What the answers in these tests are about.
    fn asked() -> Asked {
        Asked {
            merchant_id: "0000000018".into(),
            refund_id: "R1".into(),
            amount: Fen(100),
            third_order_id: Some("T1".into()),
            leshua_order_id: None,
            nonce: "n1".into(),
        }
    }

    /// A signed answer with what every answer echoes.
    fn echoing(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut fields = answer(&[("merchant_id", "0000000018"), ("nonce_str", "n1")]);
        fields.extend(answer(pairs));
        signed(fields)
    }

    fn classify_asked(call: Call, fields: &BTreeMap<String, String>) -> Outcome {
        classify(call, fields, &Secret::new("TESTKEY"), &asked())
    }

    #[test]
    fn every_error_code_maps_to_its_action() {
        let with_code = |code: &str| {
            echoing(&[
                ("resp_code", "0"),
                ("result_code", "1"),
                ("error_code", code),
            ])
        };
        for code in FINAL_FAILURES {
            assert!(
                matches!(classify_asked(Call::Refund, &with_code(code)), Outcome::Failed { code: c, .. } if c == *code),
                "{code}"
            );
            // The same code on a query proves nothing about the refund.
            assert!(
                matches!(
                    classify_asked(Call::Query, &with_code(code)),
                    Outcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        for (code, _) in REJECTS_EVERY_REQUEST {
            for call in [Call::Refund, Call::Query] {
                assert!(
                    matches!(classify_asked(call, &with_code(code)), Outcome::Rejected { code: c, .. } if c == *code),
                    "{code}"
                );
            }
        }
        for code in ["-4004", "-20099"] {
            for call in [Call::Refund, Call::Query] {
                assert!(
                    matches!(
                        classify_asked(call, &with_code(code)),
                        Outcome::Retry { .. }
                    ),
                    "{code}"
                );
            }
        }
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-5103")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-4027")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-9999")),
            Outcome::Unknown { .. }
        ));
        assert_eq!(
            classify_asked(Call::Query, &with_code("-5019")),
            Outcome::NotFound
        );
        assert_eq!(
            classify_asked(Call::Query, &with_code("-20022")),
            Outcome::NotFound
        );
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-5019")),
            Outcome::Unknown { .. }
        ));
    }

    fn about_r1(status: &str) -> Vec<(&'static str, String)> {
        vec![
            ("resp_code", "0".into()),
            ("result_code", "0".into()),
            ("status", status.into()),
            ("merchant_refund_id", "R1".into()),
            ("third_order_id", "T1".into()),
            ("leshua_order_id", "L1".into()),
            ("leshua_refund_id", "LR1".into()),
            ("refund_amount", "100".into()),
        ]
    }

    fn echoing_owned(pairs: &[(&'static str, String)]) -> BTreeMap<String, String> {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        echoing(&pairs)
    }

    #[test]
    fn statuses_and_untrusted_answers() {
        let key = Secret::new("TESTKEY");
        let receipt = Receipt {
            gateway_refund_id: Some("LR1".into()),
            refund_fen: Some(Fen(100)),
        };
        let ok = |status: &str| echoing_owned(&about_r1(status));
        assert_eq!(
            classify_asked(Call::Query, &ok("10")),
            Outcome::Processing(receipt.clone())
        );
        assert_eq!(
            classify_asked(Call::Query, &ok("11")),
            Outcome::Succeeded(receipt.clone())
        );
        assert!(matches!(
            classify_asked(Call::Query, &ok("12")),
            Outcome::Failed { .. }
        ));
        // Unsigned, or signed with another key: never believed.
        let mut unsigned = ok("11");
        unsigned.remove("sign");
        assert!(matches!(
            classify_asked(Call::Query, &unsigned),
            Outcome::Unknown { .. }
        ));
        let mut forged = ok("11");
        forged.insert("status".into(), "12".into());
        assert!(matches!(
            classify_asked(Call::Query, &forged),
            Outcome::Unknown { .. }
        ));
        // A success that does not say which refund it is about is not believed.
        let mut anonymous = about_r1("11");
        anonymous.retain(|(k, _)| *k != "merchant_refund_id");
        assert!(matches!(
            classify_asked(Call::Query, &echoing_owned(&anonymous)),
            Outcome::Unknown { .. }
        ));
        // A protocol rejection needs no signature and created nothing.
        let rejected = answer(&[
            ("resp_code", "1"),
            ("resp_msg", "bad parameter"),
            ("error_code", "-20001"),
        ]);
        assert!(
            matches!(classify(Call::Refund, &rejected, &key, &asked()), Outcome::Failed { code, .. } if code == "-20001")
        );
        // A wrong signature on our request is the profile's problem, not the refund's.
        let wrong_key = answer(&[
            ("resp_code", "1"),
            ("resp_msg", "sign error"),
            ("error_code", "-20006"),
        ]);
        assert!(
            matches!(classify(Call::Refund, &wrong_key, &key, &asked()), Outcome::Rejected { code, why } if code == "-20006" && why.contains("trade_key"))
        );
    }

    #[test]
    fn padded_values_are_read_trimmed() {
        // Pretty-printed XML: the values were signed without the padding.
        let xml = format!(
            "<leshua>\n<resp_code>\n  0\n</resp_code>\n{}</leshua>",
            echoing_owned(&about_r1("11"))
                .iter()
                .filter(|(k, _)| *k != "resp_code")
                .map(|(k, v)| format!("<{k}>\n  <![CDATA[{v}]]>\n</{k}>\n"))
                .collect::<String>()
        );
        let fields = parse_xml(xml.as_bytes()).unwrap();
        assert_eq!(fields["resp_code"], "\n  0\n");
        assert!(matches!(
            classify_asked(Call::Refund, &fields),
            Outcome::Succeeded(_)
        ));
        // Signed with the padding kept, it verifies too.
        let mut padded = answer(&[
            ("resp_code", " 0 "),
            ("result_code", "\n0\n"),
            ("status", " 11"),
            ("merchant_id", "0000000018 "),
            ("merchant_refund_id", " R1"),
            ("refund_amount", "100\n"),
            ("nonce_str", "n1"),
        ]);
        padded = signed(padded);
        assert!(matches!(
            classify_asked(Call::Query, &padded),
            Outcome::Succeeded(_)
        ));
    }

    #[test]
    fn a_verified_answer_about_another_refund_is_never_believed() {
        let cases = [
            ("merchant_refund_id", "R2"),
            ("refund_amount", "10000"),
            ("refund_amount", "100.00"),
            ("merchant_id", "0000000099"),
            ("third_order_id", "T9"),
            // A replayed answer to an earlier request carries that request's nonce.
            ("nonce_str", "an-old-nonce"),
        ];
        for (field, value) in cases {
            for status in ["10", "11", "12"] {
                let mut pairs = about_r1(status);
                pairs.retain(|(k, _)| *k != field);
                pairs.push((field, value.to_owned()));
                // `echoing` lets these pairs override what it echoes itself.
                match classify_asked(Call::Query, &echoing_owned(&pairs)) {
                    Outcome::Mismatch { what } => assert!(what.contains(field), "{what}"),
                    other => panic!("{field}={value} status {status}: {other:?}"),
                }
            }
        }
        // A business error about another merchant is not believed either.
        let mut error = answer(&[
            ("resp_code", "0"),
            ("result_code", "1"),
            ("error_code", "-20023"),
        ]);
        error.insert("merchant_id".into(), "0000000099".into());
        error.insert("nonce_str".into(), "n1".into());
        assert!(matches!(
            classify_asked(Call::Refund, &signed(error)),
            Outcome::Mismatch { .. }
        ));
        // The order id is compared only when the request sent it.
        let mut pairs = about_r1("11");
        pairs.retain(|(k, _)| *k != "leshua_order_id");
        pairs.push(("leshua_order_id", "L-other".into()));
        assert!(matches!(
            classify_asked(Call::Query, &echoing_owned(&pairs)),
            Outcome::Succeeded(_)
        ));
    }

    proptest! {
        #[test]
        fn xml_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_xml(&bytes);
        }

        #[test]
        fn xml_round_trips(fields in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,20}", 0..8)) {
            prop_assert_eq!(parse_xml(write_xml(&fields).as_bytes()), Ok(fields));
        }

        #[test]
        fn sign_then_verify(fields in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,20}", 0..8), key in "[A-Za-z0-9]{1,32}") {
            let key = Secret::new(key);
            let signed = {
                let mut f = fields.clone();
                f.remove("sign");
                let s = sign_response(&f, &key);
                f.insert("sign".into(), s);
                f
            };
            prop_assert!(response_verifies(&signed, &key));
        }
    }
}
