//! RSA PKCS#1 v1.5 signatures for Lianshang (docs/specs/lianshang.md, "Signature")
//! and WeChat Pay (docs/specs/wechatpay-v3.md, "Signing a request"): keys from
//! PEM in PKCS#8 or PKCS#1 form (or a certificate's key), 1024 or 2048 bits,
//! SHA-256 by default or SHA-1 for Lianshang merchants set up that way;
//! signatures in padded standard base64.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;

/// The digest a merchant's signatures use (`rsa_digest` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsaDigest {
    #[default]
    Sha256,
    Sha1,
}

/// A digest name that is neither `sha256` nor `sha1`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a digest: use \"sha256\" or \"sha1\"")]
pub struct UnknownDigest(String);

impl std::str::FromStr for RsaDigest {
    type Err = UnknownDigest;
    fn from_str(text: &str) -> Result<RsaDigest, UnknownDigest> {
        match text {
            "sha256" => Ok(RsaDigest::Sha256),
            "sha1" => Ok(RsaDigest::Sha1),
            other => Err(UnknownDigest(other.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an RSA private key in PEM (PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\")"
    )]
    NotPrivateKey,
    #[error("not an RSA public key in PEM (\"PUBLIC KEY\" or \"RSA PUBLIC KEY\")")]
    NotPublicKey,
    #[error("a {0}-bit key: only 1024- and 2048-bit keys are accepted")]
    Size(usize),
}

/// Signs with a merchant's private key. `Debug` never shows the key.
#[derive(Clone)]
pub enum RsaSigner {
    Sha256(SigningKey<sha2::Sha256>),
    Sha1(SigningKey<sha1::Sha1>),
}

impl fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaSigner(***)")
    }
}

fn check_size(bits: usize) -> Result<(), KeyError> {
    match bits {
        1024 | 2048 => Ok(()),
        other => Err(KeyError::Size(other)),
    }
}

impl RsaSigner {
    pub fn from_pem(pem: &str, digest: RsaDigest) -> Result<RsaSigner, KeyError> {
        use rsa::traits::PublicKeyParts;
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::NotPrivateKey)?;
        check_size(key.size() * 8)?;
        Ok(match digest {
            RsaDigest::Sha256 => RsaSigner::Sha256(SigningKey::new(key)),
            RsaDigest::Sha1 => RsaSigner::Sha1(SigningKey::new(key)),
        })
    }

    /// The base64 signature of `message`.
    pub fn sign(&self, message: &str) -> String {
        self.sign_bytes(message.as_bytes())
    }

    /// The base64 signature of `message`, bytes as they will be sent.
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        let signature = match self {
            RsaSigner::Sha256(key) => key.sign(message).to_bytes(),
            RsaSigner::Sha1(key) => key.sign(message).to_bytes(),
        };
        BASE64.encode(signature)
    }
}

/// Verifies with a merchant's public key (the simulator's side).
#[derive(Clone, Debug)]
pub struct RsaVerifier {
    sha256: VerifyingKey<sha2::Sha256>,
    sha1: VerifyingKey<sha1::Sha1>,
}

impl RsaVerifier {
    pub fn from_pem(pem: &str) -> Result<RsaVerifier, KeyError> {
        let key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::NotPublicKey)?;
        RsaVerifier::from_key(key)
    }

    /// From a DER `SubjectPublicKeyInfo` (a certificate's key).
    pub fn from_public_key_der(der: &[u8]) -> Result<RsaVerifier, KeyError> {
        let key = RsaPublicKey::from_public_key_der(der).map_err(|_| KeyError::NotPublicKey)?;
        RsaVerifier::from_key(key)
    }

    fn from_key(key: RsaPublicKey) -> Result<RsaVerifier, KeyError> {
        use rsa::traits::PublicKeyParts;
        check_size(key.size() * 8)?;
        Ok(RsaVerifier {
            sha256: VerifyingKey::new(key.clone()),
            sha1: VerifyingKey::new(key),
        })
    }

    /// True when `signature_b64` signs `message` with this key and digest.
    pub fn verify(&self, message: &str, signature_b64: &str, digest: RsaDigest) -> bool {
        self.verify_bytes(message.as_bytes(), signature_b64, digest)
    }

    /// As [`RsaVerifier::verify`], over bytes exactly as received.
    pub fn verify_bytes(&self, message: &[u8], signature_b64: &str, digest: RsaDigest) -> bool {
        let Ok(bytes) = BASE64.decode(signature_b64) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        match digest {
            RsaDigest::Sha256 => self.sha256.verify(message, &signature).is_ok(),
            RsaDigest::Sha1 => self.sha1.verify(message, &signature).is_ok(),
        }
    }
}
