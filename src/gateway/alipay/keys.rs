//! Keys as Alipay's tools write them. Alipay's key tool and its portal give a
//! key as bare base64 (no PEM lines), and its SDKs' fixtures write PEM with
//! the whole key on one line; the PEM reader bulkrefund uses wants lines of
//! 64. So a key's base64 is taken out of whatever wraps it and written again
//! as standard PEM before it is read ([`crate::gateway::rsa_sign`] then reads
//! PKCS#8 or PKCS#1). Errors never show the key.

use crate::gateway::rsa_sign::{KeyError, RsaDigest, RsaSigner, RsaVerifier};

/// The app's private key (PKCS#8 or PKCS#1, PEM or bare base64).
pub fn private_key(text: &str) -> Result<RsaSigner, KeyError> {
    let mut last = KeyError::NotPrivateKey;
    for pem in rewrapped(text, &["PRIVATE KEY", "RSA PRIVATE KEY"]) {
        match RsaSigner::from_pem(&pem, RsaDigest::Sha256) {
            Ok(signer) => return Ok(signer),
            Err(KeyError::Size(bits)) => last = KeyError::Size(bits),
            Err(_) => {}
        }
    }
    Err(last)
}

/// Alipay's public key (SubjectPublicKeyInfo or PKCS#1, PEM or bare base64).
pub fn public_key(text: &str) -> Result<RsaVerifier, KeyError> {
    let mut last = KeyError::NotPublicKey;
    for pem in rewrapped(text, &["PUBLIC KEY", "RSA PUBLIC KEY"]) {
        match RsaVerifier::from_pem(&pem) {
            Ok(verifier) => return Ok(verifier),
            Err(KeyError::Size(bits)) => last = KeyError::Size(bits),
            Err(_) => {}
        }
    }
    Err(last)
}

/// The key as standard PEM: its own label when it has one, else each of
/// `labels` in turn (bare base64 says nothing of its form).
fn rewrapped(text: &str, labels: &[&str]) -> Vec<String> {
    let text = text.trim();
    let (label, body) = match text.strip_prefix("-----BEGIN ") {
        Some(rest) => {
            let Some((label, rest)) = rest.split_once("-----") else {
                return Vec::new();
            };
            let end = format!("-----END {label}-----");
            let Some((body, _)) = rest.split_once(end.as_str()) else {
                return Vec::new();
            };
            (Some(label), body)
        }
        None => (None, text),
    };
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or(""))
        .collect();
    let pem = |label: &str| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    match label {
        Some(label) => vec![pem(label)],
        None => labels.iter().map(|label| pem(label)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors' keys, named here rather than through `testing.rs`, which
    // reads them with this file (tests/layout.rs: no file depends on itself).
    const APP_PRIVATE_KEY: &str =
        include_str!("../../../tests/vectors/alipay/node_app-private-key.pem");
    const APP_PUBLIC_KEY: &str =
        include_str!("../../../tests/vectors/alipay/node_app-public-key.pem");
    const ALIPAY_PUBLIC_KEY: &str =
        include_str!("../../../tests/vectors/alipay/made_here_alipay_sim_public_key.pem");

    fn bare(pem: &str) -> String {
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    #[test]
    fn one_line_pem_and_bare_base64_are_read() {
        // The Node SDK's app key: PKCS#1, its base64 on one line.
        let signer = private_key(APP_PRIVATE_KEY).unwrap();
        let from_bare = private_key(&bare(APP_PRIVATE_KEY)).unwrap();
        assert_eq!(signer.sign("x"), from_bare.sign("x"));
        let verifier = public_key(APP_PUBLIC_KEY).unwrap();
        assert!(verifier.verify("x", &signer.sign("x"), RsaDigest::Sha256));
        assert!(public_key(&bare(APP_PUBLIC_KEY)).is_ok());
        assert!(public_key(ALIPAY_PUBLIC_KEY).is_ok());
    }

    #[test]
    fn the_wrong_kind_of_key_is_refused_without_showing_it() {
        let not_private = private_key(APP_PUBLIC_KEY).unwrap_err().to_string();
        assert!(!not_private.contains("MII"), "{not_private}");
        assert!(public_key(APP_PRIVATE_KEY).is_err());
        assert!(private_key("").is_err());
        assert!(private_key("-----BEGIN PRIVATE KEY-----\nabc").is_err());
        assert!(public_key("not a key at all").is_err());
    }
}
