//! A WeChat Pay profile's own settings (docs/specs/wechatpay-v3.md, "Keys and
//! profile"): the merchant's API key and its certificate serial (to sign), the
//! WeChat Pay public key and its id, optional platform certificates (to
//! verify answers), and an optional `notify_url`. The merchant id (`mchid`)
//! is the common `merchant_id`.

use std::sync::Arc;

use serde::Deserialize;

use super::client::WechatpayClient;
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway};
use crate::secret::SecretRef;
use crate::setting::SettingError;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &[
    "merchant_serial_no",
    "private_key",
    "wechatpay_public_key_id",
    "wechatpay_public_key",
    "platform_certificates",
    "notify_url",
];

// The skeleton reads the settings; the client that uses them comes next.
#[allow(dead_code)]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    merchant_serial_no: String,
    private_key: Option<SecretRef>,
    wechatpay_public_key_id: String,
    wechatpay_public_key: Option<SecretRef>,
    #[serde(default)]
    platform_certificates: Vec<SecretRef>,
    notify_url: Option<String>,
}

impl Section {
    pub fn check(
        &self,
        _context: &SectionContext,
    ) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        Ok(Arc::new(WechatpayProfile))
    }
}

#[derive(Debug)]
struct WechatpayProfile;

impl GatewayProfile for WechatpayProfile {
    fn client(&self, _endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(WechatpayClient))
    }
}
