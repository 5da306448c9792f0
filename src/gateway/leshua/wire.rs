//! Leshua's wire format (docs/specs/leshua.md, "Signing" and "Responses"): the CGI
//! path and services, MD5 signing of requests, answers and notifications, and the
//! `<leshua>` XML reader and writer. The simulator signs and writes with the same
//! functions, so both sides agree byte for byte.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use crate::secret::Secret;

pub const PATH: &str = "/cgi-bin/lepos_pay_gateway.cgi";
pub const SERVICE_REFUND: &str = "unified_refund";
pub const SERVICE_QUERY: &str = "unified_query_refund";

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
        let text = include_str!("../../../tests/vectors/leshua-sign.json");
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
