//! What the Alipay tests share: the vectors' keys (tests/vectors/alipay/README.md)
//! and answers signed as the simulator's Alipay signs them.

use super::keys;
use crate::gateway::rsa_sign::{RsaSigner, RsaVerifier};

macro_rules! vector {
    ($file:literal) => {
        include_str!(concat!("../../../tests/vectors/alipay/", $file))
    };
}
pub(crate) use vector;

/// The app's private key (the client signs requests), PKCS#1 on one line.
pub const APP_PRIVATE_KEY: &str = vector!("node_app-private-key.pem");
/// The app's public key (the simulator verifies requests).
pub const APP_PUBLIC_KEY: &str = vector!("node_app-public-key.pem");
/// The key that plays Alipay: it signs answers.
pub const ALIPAY_PRIVATE_KEY: &str = vector!("made_here_alipay_sim_private_key.pem");
/// Its public half: the client verifies answers with it.
pub const ALIPAY_PUBLIC_KEY: &str = vector!("made_here_alipay_sim_public_key.pem");
/// The vectors' made-up app id.
pub const APP_ID: &str = "2021000123456789";

pub fn app_signer() -> RsaSigner {
    keys::private_key(APP_PRIVATE_KEY).unwrap()
}

/// The app's public key, as the simulator reads it.
pub fn app_key() -> RsaVerifier {
    keys::public_key(APP_PUBLIC_KEY).unwrap()
}

pub fn alipay_key() -> RsaVerifier {
    keys::public_key(ALIPAY_PUBLIC_KEY).unwrap()
}

/// A body as Alipay writes it: `{"<member>":<value>,"sign":"…"}`, the
/// value's bytes signed by the key that plays Alipay.
pub fn signed_answer(member: &str, value: &str) -> String {
    let alipay = keys::private_key(ALIPAY_PRIVATE_KEY).unwrap();
    format!(
        "{{\"{member}\":{value},\"sign\":\"{}\"}}",
        alipay.sign(value)
    )
}
