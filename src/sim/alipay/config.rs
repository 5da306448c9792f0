//! Alipay's own settings of the simulator (the `--alipay-*` flags): the app
//! public key that requests are checked with, the key that signs answers as
//! Alipay, and the limits of the contract (docs/specs/alipay.md, "What the
//! simulator enforces") with their defaults.

use std::time::Duration;

use crate::gateway::rsa_sign::{KeyError, RsaDigest, RsaSigner, RsaVerifier};

/// Alipay's own settings of `bulkrefund sim`.
#[derive(Clone, Debug)]
pub struct AlipayConfig {
    /// Verifies requests (every app of the orders file shares it: ours).
    pub app_public_key: RsaVerifier,
    /// Alipay's private key: signs answers.
    pub private_key: RsaSigner,
    /// Calls allowed in one second, then `40005` `isv.method-call-limited`.
    pub qps: u32,
    /// How old a trade may be and still be refunded (`ACQ.TRADE_HAS_FINISHED`).
    pub refund_window: Duration,
    /// The least time between two refunds of one trade (`ACQ.SYSTEM_ERROR`).
    pub trade_gap: Duration,
    /// The merchant's balance, when limited (`ACQ.SELLER_BALANCE_NOT_ENOUGH`).
    pub balance_fen: Option<u64>,
    /// How long a bill's download URL lives.
    pub bill_url_ttl: Duration,
    /// Serve today's bill instead of `isp.bill_not_exist` (ours: tests and
    /// demos reconcile the refunds they just made).
    pub bill_same_day: bool,
    /// The account the bills name (`#账号：[…]`): a made-up Alipay PID and
    /// the `0156` Alipay appends.
    pub bill_account: String,
}

/// The made-up account of the vectors' bill.
pub const SAMPLE_BILL_ACCOUNT: &str = "20881234567890120156";

/// A key flag that does not hold what it should.
#[derive(Debug, thiserror::Error)]
pub enum AlipayKeyError {
    #[error("the app public key: {0}")]
    AppPublicKey(#[source] KeyError),
    #[error("the Alipay private key: {0}")]
    PrivateKey(#[source] KeyError),
}

impl AlipayConfig {
    /// The given keys (PEM texts) and the contract's limits.
    pub fn with_keys(
        app_public_key: &str,
        private_key: &str,
    ) -> Result<AlipayConfig, AlipayKeyError> {
        Ok(AlipayConfig {
            app_public_key: RsaVerifier::from_pem(app_public_key)
                .map_err(AlipayKeyError::AppPublicKey)?,
            private_key: RsaSigner::from_pem(private_key, RsaDigest::Sha256)
                .map_err(AlipayKeyError::PrivateKey)?,
            qps: 50,
            refund_window: Duration::from_secs(365 * 24 * 3600),
            trade_gap: Duration::from_secs(3),
            balance_fen: None,
            bill_url_ttl: Duration::from_secs(30),
            bill_same_day: false,
            bill_account: SAMPLE_BILL_ACCOUNT.to_owned(),
        })
    }

    /// The sample keys of `samples/keys/` and the contract's limits.
    pub fn sample() -> AlipayConfig {
        use crate::sim::sample_keys as keys;
        AlipayConfig::with_keys(keys::ALIPAY_APP_PUBLIC_KEY, keys::ALIPAY_PRIVATE_KEY)
            .expect("the sample Alipay keys are valid")
    }
}
