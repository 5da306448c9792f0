//! A WeChat Pay profile's own settings (docs/specs/wechatpay-v3.md, "Keys and
//! profile"): the merchant API key, by reference, and its certificate serial
//! (to sign); the WeChat Pay public key and its id, and optional platform
//! certificates (to verify answers); an optional `notify_url`. The merchant
//! id (`mchid` on the wire) is the common `merchant_id`, as for every
//! gateway. Keys are loaded once, here; no error shows a key.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::client::{system_clock, WechatpayClient, WechatpaySettings};
use super::rows::check_notify_url;
use super::verify::{AnswerKeys, PlatformCertificate};
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway};
use crate::secret::SecretRef;
use crate::setting::SettingError;
use crate::small_files;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &[
    "merchant_serial_no",
    "private_key",
    "wechatpay_public_key_id",
    "wechatpay_public_key",
    "platform_certificates",
    "notify_url",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    merchant_serial_no: String,
    private_key: Option<SecretRef>,
    wechatpay_public_key_id: String,
    wechatpay_public_key: PublicFile,
    #[serde(default)]
    platform_certificates: Vec<PublicFile>,
    notify_url: Option<String>,
}

/// A public key or certificate: a file, never a secret (so no warning when
/// others can read it).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicFile {
    file: PathBuf,
}

impl PublicFile {
    fn read(&self, setting: &str, context: &SectionContext) -> Result<String, SettingError> {
        let path = context.dir.join(&self.file);
        small_files::read(&path, small_files::MAX_KEY, "64 KiB")
            .map(|(text, _)| text)
            .map_err(|e| {
                SettingError::new(
                    format!("{setting}.file"),
                    format!("{} cannot be read ({})", self.file.display(), e.brief()),
                )
            })
    }
}

fn non_empty(setting: &str, value: &str) -> Result<String, SettingError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(SettingError::new(setting, "is empty"));
    }
    Ok(value.to_owned())
}

impl Section {
    pub fn check(&self, context: &SectionContext) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        let serial_no = non_empty("merchant_serial_no", &self.merchant_serial_no)?;
        let public_key_id = non_empty("wechatpay_public_key_id", &self.wechatpay_public_key_id)?;
        let pem = SecretRef::read(
            self.private_key.as_ref(),
            "private_key",
            context.dir,
            context.profile,
        )?;
        let signer = RsaSigner::from_pem(pem.expose(), RsaDigest::Sha256)
            .map_err(|e| SettingError::new("private_key", e.to_string()))?;
        let public_key = RsaVerifier::from_pem(
            &self
                .wechatpay_public_key
                .read("wechatpay_public_key", context)?,
        )
        .map_err(|e| SettingError::new("wechatpay_public_key", e.to_string()))?;
        let mut certificates = Vec::new();
        for (i, file) in self.platform_certificates.iter().enumerate() {
            let setting = format!("platform_certificates[{i}]");
            let pem = file.read(&setting, context)?;
            let cert = PlatformCertificate::from_pem(&pem)
                .map_err(|e| SettingError::new(&setting, e.to_string()))?;
            certificates.push(cert);
        }
        let notify_url = self.notify_url.clone().filter(|url| !url.trim().is_empty());
        if let Some(url) = &notify_url {
            check_notify_url(url).map_err(|p| SettingError::new("notify_url", p.message))?;
        }
        Ok(Arc::new(WechatpayProfile {
            serial_no,
            signer,
            keys: Arc::new(AnswerKeys {
                public_key_id,
                public_key,
                certificates,
            }),
            notify_url,
        }))
    }
}

#[derive(Debug)]
struct WechatpayProfile {
    serial_no: String,
    signer: RsaSigner,
    keys: Arc<AnswerKeys>,
    notify_url: Option<String>,
}

impl GatewayProfile for WechatpayProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(WechatpayClient::new(WechatpaySettings {
            base_url: endpoint.base_url.clone(),
            mchid: endpoint.merchant_id.clone(),
            serial_no: self.serial_no.clone(),
            signer: self.signer.clone(),
            keys: self.keys.clone(),
            notify_url: self.notify_url.clone(),
            timeout: endpoint.timeout,
            clock: system_clock(),
        })?))
    }
}
