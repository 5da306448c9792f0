//! Both directions of WeChat Pay's signatures (docs/specs/wechatpay-v3.md,
//! "Signing a request", "Verifying an answer"): the `Authorization` header of
//! a request checked in the contract's order, and the five `Wechatpay-*`
//! headers of an answer signed with WeChat Pay's key. Also the serial of a
//! platform certificate, read from its DER, which names the key in
//! certificate mode.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};

pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far a request's timestamp may be from the simulator's clock (ours).
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Why a request was refused before it was read.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// 404 `MCH_NOT_EXISTS`.
    UnknownMerchant,
    /// 401 `SIGN_ERROR`, with what was wrong (the message says it).
    Sign(&'static str),
}

/// What the simulator knows of the merchant's side.
pub struct MerchantKey<'a> {
    pub verifier: &'a RsaVerifier,
    pub serial_no: &'a str,
    /// The `wrong_key` fault: the simulator holds another key, nothing verifies.
    pub wrong_key: bool,
}

/// The five items of an `Authorization` header.
#[derive(Debug, Default)]
struct Items<'a> {
    mchid: Option<&'a str>,
    nonce_str: Option<&'a str>,
    timestamp: Option<&'a str>,
    serial_no: Option<&'a str>,
    signature: Option<&'a str>,
}

/// The items, each present exactly once with a quoted value; unknown items
/// are ignored, as WeChat's documentation lets an SDK add its own.
fn parse_items(text: &str) -> Result<Items<'_>, &'static str> {
    let mut items = Items::default();
    for part in text.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or("an item is not name=\"value\"")?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or("an item's value is not quoted")?;
        let slot = match name.trim() {
            "mchid" => &mut items.mchid,
            "nonce_str" => &mut items.nonce_str,
            "timestamp" => &mut items.timestamp,
            "serial_no" => &mut items.serial_no,
            "signature" => &mut items.signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err("an item is given twice");
        }
    }
    Ok(items)
}

/// Checks a request's `Authorization` in the contract's order: scheme, the
/// five items, the merchant, the serial, the clock, the signature over
/// `METHOD\nTARGET\nTS\nNONCE\nBODY\n` with target and body as received.
/// Returns the merchant's id.
pub fn check<'a>(
    header: Option<&'a str>,
    method: &str,
    target: &str,
    body: &[u8],
    knows_merchant: impl Fn(&str) -> bool,
    key: &MerchantKey,
    now_secs: i64,
) -> Result<&'a str, AuthFailure> {
    use AuthFailure::Sign;
    let header = header.ok_or(Sign("no Authorization header"))?;
    let (scheme, rest) = header.split_once(' ').ok_or(Sign("no scheme"))?;
    if scheme != SCHEME {
        return Err(Sign("the scheme is not WECHATPAY2-SHA256-RSA2048"));
    }
    let items = parse_items(rest).map_err(Sign)?;
    let (Some(mchid), Some(nonce), Some(timestamp), Some(serial_no), Some(signature)) = (
        items.mchid,
        items.nonce_str,
        items.timestamp,
        items.serial_no,
        items.signature,
    ) else {
        return Err(Sign(
            "an item of mchid, nonce_str, timestamp, serial_no, signature is missing",
        ));
    };
    if !knows_merchant(mchid) {
        return Err(AuthFailure::UnknownMerchant);
    }
    if serial_no != key.serial_no {
        return Err(Sign("serial_no is not the merchant's certificate serial"));
    }
    let at: i64 = timestamp
        .parse()
        .map_err(|_| Sign("timestamp is not Unix seconds"))?;
    if now_secs.abs_diff(at) > CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(Sign("timestamp is more than 300 s from the server's clock"));
    }
    let Ok(body) = std::str::from_utf8(body) else {
        return Err(Sign("the body is not UTF-8"));
    };
    let message = format!("{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n");
    if key.wrong_key || !key.verifier.verify(&message, signature, RsaDigest::Sha256) {
        return Err(Sign(
            "the signature does not verify with the merchant's key",
        ));
    }
    Ok(mchid)
}

/// How an answer is to be signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spoil {
    /// A signature that does not verify (`--bad-sign-rate`).
    pub bad_signature: bool,
    /// A `Wechatpay-Timestamp` ten minutes old, correctly signed (`--stale-answer-rate`).
    pub stale: bool,
}

/// The `Wechatpay-*` headers of an answer with `body`, signed at `now_secs`.
pub fn answer_headers(
    signer: &RsaSigner,
    serial: &str,
    body: &[u8],
    now_secs: i64,
    spoil: Spoil,
) -> Vec<(&'static str, String)> {
    let timestamp = if spoil.stale {
        now_secs - 600
    } else {
        now_secs
    };
    let nonce = nonce();
    let body_text = String::from_utf8_lossy(body);
    let mut message = format!("{timestamp}\n{nonce}\n{body_text}\n");
    if spoil.bad_signature {
        // Signed over other bytes with the right key: only the check of the
        // message itself can catch it.
        message.push(' ');
    }
    vec![
        ("Wechatpay-Timestamp", timestamp.to_string()),
        ("Wechatpay-Nonce", nonce),
        ("Wechatpay-Signature", signer.sign(&message)),
        ("Wechatpay-Serial", serial.to_owned()),
        ("Wechatpay-Signature-Type", SCHEME.to_owned()),
    ]
}

/// 32 random letters and digits.
pub fn nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The serial number of an X.509 certificate in PEM, as upper-case hex
/// without leading zero bytes (how WeChat Pay writes `9AD59953ADF1BABB`).
/// Only the path to the serial is walked: `Certificate` → `tbsCertificate`
/// → the optional `[0]` version → `serialNumber`.
pub fn certificate_serial(pem: &str) -> Option<String> {
    let base64: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----") && !line.is_empty())
        .collect();
    let der = BASE64.decode(base64).ok()?;
    let (tag, certificate, _) = der_item(&der)?;
    (tag == 0x30).then_some(())?;
    let (tag, tbs, _) = der_item(certificate)?;
    (tag == 0x30).then_some(())?;
    let (mut tag, mut serial, rest) = der_item(tbs)?;
    if tag == 0xA0 {
        (tag, serial, _) = der_item(rest)?;
    }
    (tag == 0x02).then_some(())?;
    let trimmed = match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    Some(hex::encode_upper(trimmed))
}

/// One DER item at the start of `bytes`: (tag, contents, what follows).
fn der_item(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::sample_keys;

    fn key(verifier: &RsaVerifier) -> MerchantKey<'_> {
        MerchantKey {
            verifier,
            serial_no: "F5765756002FDD77",
            wrong_key: false,
        }
    }

    /// The made-here apply vector, checked at its own clock.
    #[test]
    fn the_vector_request_verifies_and_each_broken_part_is_named() {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/vectors/wechatpay/made_here_refund_vectors.json"
        ))
        .unwrap();
        let apply = &vectors["apply_request"];
        let header = apply["headers"]["Authorization"].as_str().unwrap();
        let body = apply["body"].as_str().unwrap().as_bytes();
        let verifier = RsaVerifier::from_pem(sample_keys::WECHATPAY_MERCHANT_PUBLIC_KEY).unwrap();
        let known = |m: &str| m == "1234567890";
        let at = 1_795_311_000;
        let path = "/v3/refund/domestic/refunds";
        let check = |header: &str, now: i64, body: &[u8]| {
            check(
                Some(header),
                "POST",
                path,
                body,
                known,
                &key(&verifier),
                now,
            )
            .map(str::to_owned)
        };
        assert_eq!(check(header, at + 300, body), Ok("1234567890".into()));
        assert_eq!(
            check(header, at + 301, body),
            Err(AuthFailure::Sign(
                "timestamp is more than 300 s from the server's clock"
            ))
        );
        assert!(matches!(
            check(header, at, b"{}"),
            Err(AuthFailure::Sign(_))
        ));
        let other_merchant = header.replace("1234567890", "1234567891");
        assert_eq!(
            check(&other_merchant, at, body),
            Err(AuthFailure::UnknownMerchant)
        );
        let other_serial = header.replace("F5765756002FDD77", "F5765756002FDD78");
        assert!(matches!(
            check(&other_serial, at, body),
            Err(AuthFailure::Sign(_))
        ));
        let twice = format!("{header},mchid=\"1234567890\"");
        assert_eq!(
            check(&twice, at, body),
            Err(AuthFailure::Sign("an item is given twice"))
        );
        let extra = format!("{header},future=\"x\"");
        assert!(check(&extra, at, body).is_ok());
        let scheme = header.replace(SCHEME, "WECHATPAY2-SHA256-RSA4096");
        assert!(matches!(
            check(&scheme, at, body),
            Err(AuthFailure::Sign(_))
        ));
        let missing = header.replace("serial_no=", "serial=");
        assert!(matches!(
            check(&missing, at, body),
            Err(AuthFailure::Sign(_))
        ));
    }

    #[test]
    fn an_answer_verifies_with_the_wechatpay_public_key_unless_spoiled() {
        let signer =
            RsaSigner::from_pem(sample_keys::WECHATPAY_PRIVATE_KEY, RsaDigest::Sha256).unwrap();
        let verifier = RsaVerifier::from_pem(sample_keys::WECHATPAY_PUBLIC_KEY).unwrap();
        let body = br#"{"a":1}"#;
        for (spoil, verifies, age) in [
            (Spoil::default(), true, 0),
            (
                Spoil {
                    stale: true,
                    ..Spoil::default()
                },
                true,
                600,
            ),
            (
                Spoil {
                    bad_signature: true,
                    ..Spoil::default()
                },
                false,
                0,
            ),
        ] {
            let headers = answer_headers(&signer, "ID", body, 1_000_000, spoil);
            let get = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
            let ts = get("Wechatpay-Timestamp");
            assert_eq!(ts, (1_000_000 - age).to_string());
            let message = format!("{ts}\n{}\n{{\"a\":1}}\n", get("Wechatpay-Nonce"));
            let ok = verifier.verify(&message, &get("Wechatpay-Signature"), RsaDigest::Sha256);
            assert_eq!(ok, verifies, "{spoil:?}");
            assert_eq!(get("Wechatpay-Signature-Type"), SCHEME);
        }
    }

    #[test]
    fn the_certificate_serial_is_read_from_its_der() {
        assert_eq!(
            certificate_serial(sample_keys::WECHATPAY_CERTIFICATE).as_deref(),
            Some("9AD59953ADF1BABB")
        );
        assert_eq!(certificate_serial("not a certificate"), None);
    }
}
