//! A Lianshang profile's own settings (docs/specs/cli.md, "Configuration"): the RSA private
//! key, by reference, its digest, the transport (`allow_insecure_http`,
//! `compress`) and `[defaults]` for the fields a row may leave empty.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::client::{LianshangClient, LianshangSettings};
use super::wire::check_base_url;
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway};
use crate::secret::SecretRef;
use crate::setting::SettingError;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &[
    "private_key",
    "rsa_digest",
    "allow_insecure_http",
    "compress",
    "defaults",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    private_key: Option<SecretRef>,
    rsa_digest: Option<String>,
    #[serde(default)]
    allow_insecure_http: bool,
    #[serde(default)]
    compress: bool,
    #[serde(default)]
    defaults: BTreeMap<String, toml::Value>,
}

impl Section {
    pub fn check(&self, context: &SectionContext) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        let digest: RsaDigest = match &self.rsa_digest {
            None => RsaDigest::Sha256,
            Some(text) => text
                .parse()
                .map_err(|_| SettingError::new("rsa_digest", "must be sha256 or sha1"))?,
        };
        let pem = SecretRef::read(
            self.private_key.as_ref(),
            "private_key",
            context.dir,
            context.profile,
        )?;
        let signer = RsaSigner::from_pem(pem.expose(), digest)
            .map_err(|e| SettingError::new("private_key", e.to_string()))?;
        check_base_url(&context.endpoint.base_url, self.allow_insecure_http)
            .map_err(|e| SettingError::new("base_url", e.to_string()))?;
        let mut defaults = BTreeMap::new();
        for (field, value) in &self.defaults {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                _ => {
                    return Err(SettingError::new(
                        format!("defaults.{field}"),
                        "must be text or a whole number",
                    ))
                }
            };
            defaults.insert(field.clone(), text);
        }
        Ok(Arc::new(LianshangProfile {
            signer,
            allow_insecure_http: self.allow_insecure_http,
            compress: self.compress,
            defaults,
        }))
    }
}

#[derive(Debug)]
struct LianshangProfile {
    signer: RsaSigner,
    allow_insecure_http: bool,
    compress: bool,
    defaults: BTreeMap<String, String>,
}

impl GatewayProfile for LianshangProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(LianshangClient::new(LianshangSettings {
            base_url: endpoint.base_url.clone(),
            merchant_id: endpoint.merchant_id.clone(),
            signer: self.signer.clone(),
            timeout: endpoint.timeout,
            allow_insecure_http: self.allow_insecure_http,
            compress: self.compress,
        })?))
    }

    fn row_defaults(&self) -> &BTreeMap<String, String> {
        &self.defaults
    }
}
