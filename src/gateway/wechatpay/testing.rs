//! What the WeChat Pay tests share: the vectors' merchant key and the keys
//! that verify the vectors' answers (tests/vectors/wechatpay/README.md).

use super::verify::{AnswerKeys, PlatformCertificate};
use crate::gateway::rsa_sign::RsaVerifier;

/// The merchant API private key of the vectors (`go_signer_test_key.pem`).
pub const MERCHANT_KEY: &str =
    include_str!("../../../tests/vectors/wechatpay/go_signer_test_key.pem");
const WECHATPAY_PUBLIC_KEY: &str =
    include_str!("../../../tests/vectors/wechatpay/made_here_wechatpay_pub_key.pem");
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0112345678902026110100000000000001";

/// The WeChat Pay public key of the vectors, and these certificates (PEM).
pub fn keys(certificates: &[&str]) -> AnswerKeys {
    AnswerKeys {
        public_key_id: PUBLIC_KEY_ID.to_owned(),
        public_key: RsaVerifier::from_pem(WECHATPAY_PUBLIC_KEY).unwrap(),
        certificates: certificates
            .iter()
            .map(|pem| PlatformCertificate::from_pem(pem).unwrap())
            .collect(),
    }
}
