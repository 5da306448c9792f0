//! WeChat Pay's own settings of the simulator (the `--wechatpay-*` flags):
//! the merchant's public key and serial that requests are checked against,
//! WeChat Pay's private key and the two ids that name it in answers, and the
//! limits of the contract with their defaults.

use std::time::Duration;

use super::auth;
use super::bill::BillLayout;
use crate::gateway::rsa_sign::{KeyError, RsaDigest, RsaSigner, RsaVerifier};

/// Which key id answers name in `Wechatpay-Serial`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnswerMode {
    /// The WeChat Pay public key's id (`PUB_KEY_ID_…`), what new merchants get.
    #[default]
    PublicKey,
    /// The platform certificate's serial.
    Certificate,
}

/// WeChat Pay's own settings of `bulkrefund sim` (the `--wechatpay-*` flags).
#[derive(Clone, Debug)]
pub struct WechatpayConfig {
    /// Verifies requests.
    pub merchant_public_key: RsaVerifier,
    /// The `serial_no` requests must carry.
    pub merchant_serial: String,
    /// WeChat Pay's private key: signs answers.
    pub private_key: RsaSigner,
    pub public_key_id: String,
    /// The serial of the platform certificate of the same key.
    pub certificate_serial: String,
    pub answer_mode: AnswerMode,
    pub apply_qps: u32,
    pub query_qps: u32,
    /// Bad apply answers (400, 401, 403, 404) allowed per second.
    pub bad_qps: u32,
    /// The least time between two refunds of one order.
    pub order_gap: Duration,
    /// The merchant's refundable balance, when limited (`NOT_ENOUGH` below it).
    pub balance_fen: Option<u64>,
    pub bill_url_ttl: Duration,
    pub bill_layout: BillLayout,
    /// Serve today's bill at once instead of `STATEMENT_CREATING` (ours:
    /// tests and demos reconcile the refunds they just made).
    pub bill_same_day: bool,
}

/// The id of the sample WeChat Pay public key (made up, in the real ids' shape).
pub const SAMPLE_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0112345678902026110100000000000001";
pub const SAMPLE_MERCHANT_SERIAL: &str = "F5765756002FDD77";

/// A key or certificate flag that does not hold what it should.
#[derive(Debug, thiserror::Error)]
pub enum WechatpayKeyError {
    #[error("the merchant public key: {0}")]
    MerchantKey(#[source] KeyError),
    #[error("the WeChat Pay private key: {0}")]
    PrivateKey(#[source] KeyError),
    #[error("the platform certificate is not an X.509 certificate in PEM")]
    Certificate,
}

impl WechatpayConfig {
    /// The given keys (PEM texts) and the contract's limits.
    pub fn with_keys(
        merchant_public_key: &str,
        private_key: &str,
        certificate: &str,
    ) -> Result<WechatpayConfig, WechatpayKeyError> {
        Ok(WechatpayConfig {
            merchant_public_key: RsaVerifier::from_pem(merchant_public_key)
                .map_err(WechatpayKeyError::MerchantKey)?,
            merchant_serial: SAMPLE_MERCHANT_SERIAL.to_owned(),
            private_key: RsaSigner::from_pem(private_key, RsaDigest::Sha256)
                .map_err(WechatpayKeyError::PrivateKey)?,
            public_key_id: SAMPLE_PUBLIC_KEY_ID.to_owned(),
            certificate_serial: auth::certificate_serial(certificate)
                .ok_or(WechatpayKeyError::Certificate)?,
            answer_mode: AnswerMode::PublicKey,
            apply_qps: 150,
            query_qps: 300,
            bad_qps: 6,
            order_gap: Duration::from_secs(60),
            balance_fen: None,
            bill_url_ttl: Duration::from_secs(30),
            bill_layout: BillLayout::New,
            bill_same_day: false,
        })
    }

    /// The sample keys of `samples/keys/` and the contract's limits.
    pub fn sample() -> WechatpayConfig {
        use crate::sim::sample_keys as keys;
        WechatpayConfig::with_keys(
            keys::WECHATPAY_MERCHANT_PUBLIC_KEY,
            keys::WECHATPAY_PRIVATE_KEY,
            keys::WECHATPAY_CERTIFICATE,
        )
        .expect("the sample WeChat Pay keys are valid")
    }

    pub(super) fn answer_serial(&self) -> &str {
        match self.answer_mode {
            AnswerMode::PublicKey => &self.public_key_id,
            AnswerMode::Certificate => &self.certificate_serial,
        }
    }
}
