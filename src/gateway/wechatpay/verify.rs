//! Whether an answer came from WeChat Pay (docs/specs/wechatpay-v3.md,
//! "Verifying an answer"): its `Wechatpay-*` headers present, fresh (five
//! minutes either way), a serial the profile knows (the WeChat Pay public
//! key's id, or a configured platform certificate valid now) and a
//! SHA256withRSA signature over `TS\nNONCE\nBODY\n`, the body exactly as
//! received. The keys are loaded once, by the profile; the clock is the
//! caller's, so the vectors' 2026 answers verify in tests.

use reqwest::header::HeaderMap;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use super::wire::SCHEME;
use crate::gateway::rsa_sign::{KeyError, RsaDigest, RsaVerifier};

/// How far an answer's timestamp may be from our clock (both SDKs' rule).
pub const FRESHNESS_SECS: i64 = 300;

/// A platform certificate: its serial (upper-case hex, no leading zeros), the
/// Unix seconds it is valid between, and its key.
#[derive(Clone, Debug)]
pub struct PlatformCertificate {
    pub serial: String,
    pub not_before: i64,
    pub not_after: i64,
    key: RsaVerifier,
}

/// Why a certificate file cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("not an X.509 certificate in PEM")]
    NotCertificate,
    #[error("its key: {0}")]
    Key(#[from] KeyError),
}

impl PlatformCertificate {
    pub fn from_pem(pem: &str) -> Result<PlatformCertificate, CertificateError> {
        let cert = Certificate::from_pem(pem).map_err(|_| CertificateError::NotCertificate)?;
        let tbs = &cert.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|_| CertificateError::NotCertificate)?;
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(PlatformCertificate {
            serial: serial_form(&hex::encode_upper(tbs.serial_number.as_bytes())),
            not_before: secs(tbs.validity.not_before),
            not_after: secs(tbs.validity.not_after),
            key: RsaVerifier::from_public_key_der(&spki)?,
        })
    }

    fn valid_at(&self, now: i64) -> bool {
        (self.not_before..=self.not_after).contains(&now)
    }
}

/// A serial as compared: upper-case hex without leading zeros (DER adds one
/// before a serial whose first bit is set).
fn serial_form(serial: &str) -> String {
    let upper = serial.trim().to_ascii_uppercase();
    let trimmed = upper.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
}

/// What verifies a profile's answers.
#[derive(Clone, Debug)]
pub struct AnswerKeys {
    pub public_key_id: String,
    pub public_key: RsaVerifier,
    pub certificates: Vec<PlatformCertificate>,
}

/// What the signature headers of an answer prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signature {
    /// Signed with a key of the profile, fresh: the answer is WeChat Pay's.
    Verified,
    /// No signature header at all (WeChat leaves 401s unsigned).
    Absent,
    /// Signature headers that do not verify: never believed. `setting` is the
    /// profile setting (or the clock) to check.
    Refused { setting: &'static str, why: String },
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

const SIGNATURE_HEADERS: [&str; 4] = [
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
];

impl AnswerKeys {
    /// Checks an answer's signature headers against `body` at `now` (Unix seconds).
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Signature {
        let refused = |setting, why: String| Signature::Refused { setting, why };
        let values: Vec<Option<&str>> = SIGNATURE_HEADERS
            .iter()
            .map(|h| header(headers, h))
            .collect();
        if values.iter().all(Option::is_none) && !headers.contains_key("Wechatpay-Signature-Type") {
            return Signature::Absent;
        }
        let [Some(ts), Some(nonce), Some(signature), Some(serial)] = values[..] else {
            let missing: Vec<&str> = SIGNATURE_HEADERS
                .iter()
                .zip(&values)
                .filter(|(_, v)| v.is_none())
                .map(|(h, _)| *h)
                .collect();
            return refused(
                "base_url",
                format!(
                    "the answer lacks {}: not from WeChat Pay",
                    missing.join(", ")
                ),
            );
        };
        match header(headers, "Wechatpay-Signature-Type") {
            None | Some(SCHEME) => {}
            Some(other) => {
                return refused(
                    "base_url",
                    format!(
                        "the answer's signature type {} is not {SCHEME}",
                        quoted(other)
                    ),
                )
            }
        }
        let Ok(stamp) = ts.trim().parse::<i64>() else {
            return refused(
                "base_url",
                format!("Wechatpay-Timestamp {} is not a time", quoted(ts)),
            );
        };
        // abs_diff: a hostile timestamp near i64::MIN must neither overflow
        // nor wrap into "fresh".
        if now.abs_diff(stamp) >= FRESHNESS_SECS.unsigned_abs() {
            return refused(
                "the system clock",
                format!(
                    "the answer is signed at {stamp}, {} s from our clock: stale or replayed",
                    now.saturating_sub(stamp)
                ),
            );
        }
        let (setting, key) = match self.key_for(serial, now) {
            Ok(found) => found,
            Err(why) => return refused("wechatpay_public_key_id", why),
        };
        // The header's own text is what WeChat signed, not our reading of it.
        let mut message = format!("{ts}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        if key.verify_bytes(&message, signature, RsaDigest::Sha256) {
            Signature::Verified
        } else {
            refused(setting, "the signature does not verify".to_owned())
        }
    }

    /// The key an answer's `Wechatpay-Serial` names, and the setting it came from.
    fn key_for(&self, serial: &str, now: i64) -> Result<(&'static str, &RsaVerifier), String> {
        if serial == self.public_key_id {
            return Ok(("wechatpay_public_key", &self.public_key));
        }
        let wanted = serial_form(serial);
        let known: Vec<&PlatformCertificate> = self
            .certificates
            .iter()
            .filter(|c| c.serial == wanted)
            .collect();
        match known.iter().find(|c| c.valid_at(now)) {
            Some(cert) => Ok(("platform_certificates", &cert.key)),
            None if known.is_empty() => Err(format!(
                "Wechatpay-Serial {} is neither the public key id nor a configured certificate",
                quoted(serial)
            )),
            None => Err(format!(
                "the platform certificate {} is not valid now",
                quoted(serial)
            )),
        }
    }
}

/// A header's text as a message quotes it: at most 64 characters, so that a
/// hostile answer cannot fill the log.
fn quoted(value: &str) -> String {
    format!("{:?}", value.chars().take(64).collect::<String>())
}
