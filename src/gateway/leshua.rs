//! Leshua (specs/leshua.md): MD5-signed form posts to one CGI endpoint, `<leshua>`
//! XML answers. Owns signing, the XML reader, response verification and the
//! mapping of every error code to what the state machine must do. The simulator
//! uses the same signing and XML functions, so both sides agree byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use md5::{Digest, Md5};
use rand::distributions::{Alphanumeric, DistString};
use url::Url;

use super::http;
use super::{Attempt, Gateway, Outcome, Receipt, RefundOrder};
use crate::money::Fen;
use crate::secret::Secret;

pub const PATH: &str = "/cgi-bin/lepos_pay_gateway.cgi";
pub const SERVICE_REFUND: &str = "unified_refund";
pub const SERVICE_QUERY: &str = "unified_query_refund";

/// Codes that prove the refund was refused for good.
const FINAL_FAILURES: &[&str] = &[
    "-20001", "-20002", "-1002", "-20004", "-4006", "-20006", "-20007", "-20018", "-20024",
    "-20019", "-5016", "-20023", "-5017", "-5014", "-5015", "-5018", "-2034", "-2125",
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

/// Turns a parsed answer into what it proves. Verification comes before any
/// business field is believed.
pub fn classify(call: Call, fields: &BTreeMap<String, String>, key: &Secret) -> Outcome {
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
        let message = format!("gateway rejected the request: {}", get("resp_msg"));
        return match call {
            Call::Refund => Outcome::failed(code, message, Receipt::default()),
            // A rejected query says nothing about the refund itself.
            Call::Query => {
                Outcome::unknown(format!("query rejected ({code}): {}", get("resp_msg")))
            }
        };
    }
    if !response_verifies(fields, key) {
        return Outcome::unknown("the answer's signature is missing or wrong; not trusted");
    }
    if get("result_code") == "0" {
        return match get("status") {
            "10" => Outcome::Processing(receipt(fields)),
            "11" => Outcome::Succeeded(receipt(fields)),
            "12" => Outcome::failed(
                "12",
                non_empty(get("failure_reason"), "the gateway says the refund failed"),
                receipt(fields),
            ),
            other => Outcome::unknown(format!("unexpected refund status {other:?}")),
        };
    }
    let code = get("error_code");
    let message = non_empty(get("error_msg"), "no message");
    if RETRY_LATER.contains(&code) {
        return Outcome::retry(None, format!("{code}: {message}"));
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

    async fn call(&self, call: Call, mut params: BTreeMap<String, String>) -> Attempt {
        params.retain(|_, v| !v.is_empty());
        let sign = sign_request(&params, &self.trade_key);
        params.insert("sign".into(), sign);
        let reply = match http::send(self.http.post(self.endpoint.clone()).form(&params)).await {
            Ok(reply) => reply,
            Err(attempt) => return attempt,
        };
        match parse_xml(&reply.body) {
            Ok(fields) => Attempt {
                outcome: classify(call, &fields, &self.trade_key),
                http_status: Some(reply.status),
                gateway_codes: Some(codes(&fields)),
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
        self.call(Call::Refund, params).await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let params = self.base_params(SERVICE_QUERY, refund);
        self.call(Call::Query, params).await
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

    #[test]
    fn every_error_code_maps_to_its_action() {
        let key = Secret::new("TESTKEY");
        let with_code = |code: &str| {
            signed(answer(&[
                ("resp_code", "0"),
                ("result_code", "1"),
                ("error_code", code),
            ]))
        };
        for code in FINAL_FAILURES {
            assert!(
                matches!(classify(Call::Refund, &with_code(code), &key), Outcome::Failed { code: c, .. } if c == *code),
                "{code}"
            );
            // The same code on a query proves nothing about the refund.
            assert!(
                matches!(
                    classify(Call::Query, &with_code(code), &key),
                    Outcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        for code in ["-4004", "-20099"] {
            for call in [Call::Refund, Call::Query] {
                assert!(
                    matches!(
                        classify(call, &with_code(code), &key),
                        Outcome::Retry { .. }
                    ),
                    "{code}"
                );
            }
        }
        assert!(matches!(
            classify(Call::Refund, &with_code("-5103"), &key),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify(Call::Refund, &with_code("-4027"), &key),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify(Call::Refund, &with_code("-9999"), &key),
            Outcome::Unknown { .. }
        ));
        assert_eq!(
            classify(Call::Query, &with_code("-5019"), &key),
            Outcome::NotFound
        );
        assert_eq!(
            classify(Call::Query, &with_code("-20022"), &key),
            Outcome::NotFound
        );
        assert!(matches!(
            classify(Call::Refund, &with_code("-5019"), &key),
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn statuses_and_untrusted_answers() {
        let key = Secret::new("TESTKEY");
        let ok = |status: &str| {
            answer(&[
                ("resp_code", "0"),
                ("result_code", "0"),
                ("status", status),
                ("leshua_refund_id", "LR1"),
                ("refund_amount", "100"),
            ])
        };
        let receipt = Receipt {
            gateway_refund_id: Some("LR1".into()),
            refund_fen: Some(Fen(100)),
        };
        assert_eq!(
            classify(Call::Query, &signed(ok("10")), &key),
            Outcome::Processing(receipt.clone())
        );
        assert_eq!(
            classify(Call::Query, &signed(ok("11")), &key),
            Outcome::Succeeded(receipt.clone())
        );
        assert!(matches!(
            classify(Call::Query, &signed(ok("12")), &key),
            Outcome::Failed { .. }
        ));
        // Unsigned, or signed with another key: never believed.
        assert!(matches!(
            classify(Call::Query, &ok("11"), &key),
            Outcome::Unknown { .. }
        ));
        let mut forged = signed(ok("11"));
        forged.insert("status".into(), "12".into());
        assert!(matches!(
            classify(Call::Query, &forged, &key),
            Outcome::Unknown { .. }
        ));
        // A protocol rejection needs no signature and created nothing.
        let rejected = answer(&[
            ("resp_code", "1"),
            ("resp_msg", "sign error"),
            ("error_code", "-20006"),
        ]);
        assert!(
            matches!(classify(Call::Refund, &rejected, &key), Outcome::Failed { code, .. } if code == "-20006")
        );
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
