//! A WeChat Pay profile's own settings (docs/specs/wechatpay-v3.md, "Keys and
//! profile"): the merchant API key, by reference, and its certificate serial
//! (to sign); the WeChat Pay public key and its id, and optional platform
//! certificates (to verify answers); an optional `notify_url`. The merchant
//! id (`mchid` on the wire) is the common `merchant_id`, as for every
//! gateway. Keys are loaded once, here; no error shows a key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::client::{system_clock, WechatpayClient, WechatpaySettings};
use super::rows::check_notify_url;
use super::verify::{AnswerKeys, PlatformCertificate};
use crate::gateway::bill::{BillError, BillSource};
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{http, ClientError, Gateway};
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
        check_transport(&context.endpoint.base_url)?;
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
            row_defaults: notify_url
                .map(|url| BTreeMap::from([("notify_url".to_owned(), url)]))
                .unwrap_or_default(),
        }))
    }
}

/// WeChat's error answers are believed unsigned (the contract, as its SDKs
/// do): a forged `NOT_ENOUGH` would report a paid refund failed. So plain
/// http only to this machine (the simulator), where nobody stands between.
fn check_transport(base_url: &url::Url) -> Result<(), SettingError> {
    http::https_or_loopback(base_url, "WeChat Pay")
        .map_err(|why| SettingError::new("base_url", why))
}

#[derive(Debug)]
struct WechatpayProfile {
    serial_no: String,
    signer: RsaSigner,
    keys: Arc<AnswerKeys>,
    /// The profile's `notify_url`, filled into a row without one at import:
    /// a refund's every send then carries the same JSON, whatever the
    /// profile says by the time of a resend.
    row_defaults: BTreeMap<String, String>,
}

impl GatewayProfile for WechatpayProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(WechatpayClient::new(self.settings(endpoint))?))
    }

    fn bills(&self, endpoint: &Endpoint) -> Result<Option<Arc<dyn BillSource>>, BillError> {
        Ok(Some(super::bill_fetch::source(self.settings(endpoint))))
    }

    fn row_defaults(&self) -> &BTreeMap<String, String> {
        &self.row_defaults
    }
}

impl WechatpayProfile {
    /// What the client and the bill source are built from.
    fn settings(&self, endpoint: &Endpoint) -> WechatpaySettings {
        WechatpaySettings {
            base_url: endpoint.base_url.clone(),
            mchid: endpoint.merchant_id.clone(),
            serial_no: self.serial_no.clone(),
            signer: self.signer.clone(),
            keys: self.keys.clone(),
            timeout: endpoint.timeout,
            clock: system_clock(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    /// A section over the test keys of samples/keys/ (test keys only).
    const WX: &str = r#"
merchant_serial_no = "F5765756002FDD77"
private_key = { file = "keys/wechatpay-merchant-test.pem" }
wechatpay_public_key_id = "PUB_KEY_ID_0112345678902026110100000000000001"
wechatpay_public_key = { file = "keys/wechatpay-platform-test.pub.pem" }
platform_certificates = [{ file = "keys/wechatpay-platform-test-9AD59953ADF1BABB.crt.pem" }]
"#;

    fn endpoint() -> Endpoint {
        Endpoint {
            base_url: url::Url::parse("http://127.0.0.1:8902").unwrap(),
            merchant_id: "1234567890".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn check(text: &str) -> Result<Arc<dyn GatewayProfile>, String> {
        let section: Section = toml::from_str(text).map_err(|e| e.to_string())?;
        let endpoint = endpoint();
        let context = SectionContext {
            profile: "wx",
            dir: Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/samples")),
            endpoint: &endpoint,
        };
        section
            .check(&context)
            .map_err(|e| format!("{}: {}", e.setting, e.message))
    }

    #[test]
    fn a_section_loads_its_keys_and_builds_a_client() {
        let profile = check(WX).unwrap();
        assert!(profile.client(&endpoint()).is_ok());
        assert!(!format!("{profile:?}").contains("PRIVATE KEY"));
        let with_url = check(&format!("{WX}notify_url = \"https://m.example/n\"\n")).unwrap();
        assert!(format!("{with_url:?}").contains("https://m.example/n"));
    }

    #[test]
    fn plain_http_goes_only_to_this_machine() {
        let at = |base: &str| check_transport(&url::Url::parse(base).unwrap());
        assert!(at("https://api.mch.weixin.qq.com").is_ok());
        assert!(at("http://127.0.0.1:8900").is_ok());
        assert!(at("http://localhost:8900").is_ok());
        let refused = at("http://api.mch.weixin.qq.com").unwrap_err();
        assert_eq!(refused.setting, "base_url");
        assert!(
            refused.message.contains("https only"),
            "{}",
            refused.message
        );
        assert!(at("ftp://127.0.0.1").is_err());
    }

    #[test]
    fn bad_settings_are_named_and_keys_never_shown() {
        let error = |extra: &str, from: &str, to: &str| {
            check(&format!("{}{extra}", WX.replace(from, to))).unwrap_err()
        };
        // The merchant id is the common merchant_id: the spec's `mchid` is refused here.
        let unknown = error("mchid = \"1\"\n", "", "");
        assert!(unknown.contains("unknown field `mchid`"), "{unknown}");
        let query = error("notify_url = \"https://m.example/n?x=1\"\n", "", "");
        assert!(query.starts_with("notify_url:"), "{query}");
        let not_key = error(
            "",
            "wechatpay-merchant-test.pem",
            "wechatpay-platform-test.pub.pem",
        );
        assert!(not_key.starts_with("private_key:"), "{not_key}");
        assert!(!not_key.contains("BEGIN"), "{not_key}");
        let not_cert = error("", "test-9AD59953ADF1BABB.crt.pem", "test.pub.pem");
        assert!(
            not_cert.starts_with("platform_certificates[0]:"),
            "{not_cert}"
        );
        let not_public = error(
            "",
            "wechatpay-platform-test.pub.pem\" }",
            "wechatpay-merchant-test.pub.pem.absent\" }",
        );
        assert!(
            not_public.starts_with("wechatpay_public_key.file:"),
            "{not_public}"
        );
        let literal = error(
            "",
            "{ file = \"keys/wechatpay-merchant-test.pem\" }",
            "\"MIIE\"",
        );
        assert!(
            literal.starts_with("private_key:") && !literal.contains("MIIE"),
            "{literal}"
        );
        let empty = error("", "F5765756002FDD77", " ");
        assert!(empty.starts_with("merchant_serial_no:"), "{empty}");
    }
}
