//! Lianshang's wire format (docs/specs/lianshang.md, "Signing" and "Transport"): the
//! two paths, the string an RSA signature covers, gzip bodies, the answer's
//! objects, and which base URLs may be trusted (answers carry no signature).

use std::io::{Read, Write};

use serde_json::{Map, Value};
use url::Url;

use crate::gateway::http;

pub const REFUND_PATH: &str = "/pai/createRefundOrder";
pub const QUERY_PATH: &str = "/pai/queryRefundStatus";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Refund,
    Query,
}

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

/// A base URL whose transport cannot be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UntrustedUrl {
    #[error("{0} is plain http: Lianshang answers carry no signature, so only https is trusted (loopback, or allow_insecure_http = true, for testing)")]
    PlainHttp(Url),
    #[error("{url}: the scheme {scheme:?} is not http or https")]
    Scheme { url: Url, scheme: String },
}

/// Refuses a base URL whose transport cannot be trusted (no response signature).
pub fn check_base_url(url: &Url, allow_insecure_http: bool) -> Result<(), UntrustedUrl> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || http::is_loopback(url) => Ok(()),
        "http" => Err(UntrustedUrl::PlainHttp(url.clone())),
        other => Err(UntrustedUrl::Scheme {
            url: url.clone(),
            scheme: other.to_owned(),
        }),
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

/// The base and business objects of an answer.
pub type AnswerObjects = (Map<String, Value>, Map<String, Value>);

/// Why a body is not an answer.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the answer has no {0} object")]
    NoBusinessObject(&'static str),
}

/// Finds the base and business objects of an answer; without a business
/// object it is not an answer. (A missing base object is judged by `classify`.)
pub fn parse_answer(call: Call, bytes: &[u8]) -> Result<AnswerObjects, AnswerError> {
    let (base_key, biz_key) = match call {
        Call::Refund => ("newBaseResponseData", "newBizResponseData"),
        Call::Query => ("queryBaseResponseData", "queryBizResponseData"),
    };
    let value: Value = serde_json::from_slice(bytes)?;
    let base = match value.get(base_key) {
        Some(Value::Object(base)) => base.clone(),
        _ => Map::new(),
    };
    match value.get(biz_key) {
        Some(Value::Object(biz)) => Ok((base, biz.clone())),
        _ => Err(AnswerError::NoBusinessObject(biz_key)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::split_fields;
    use super::*;
    use crate::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
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
            serde_json::from_str(include_str!("../../../tests/vectors/lianshang-sign.json"))
                .unwrap();
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
