//! A Leshua profile's own settings (docs/specs/cli.md, "Configuration"): the trade key,
//! by reference, and an optional `notify_url` for every refund.

use std::sync::Arc;

use serde::Deserialize;

use super::client::{LeshuaClient, LeshuaSettings};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway};
use crate::secret::{Secret, SecretRef};
use crate::setting::SettingError;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &["trade_key", "notify_url"];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    trade_key: Option<SecretRef>,
    notify_url: Option<String>,
}

impl Section {
    pub fn check(&self, context: &SectionContext) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        let key = SecretRef::read(
            self.trade_key.as_ref(),
            "trade_key",
            context.dir,
            context.profile,
        )?;
        let key = key.expose().trim();
        if key.is_empty() {
            return Err(SettingError::new("trade_key", "the key is empty"));
        }
        Ok(Arc::new(LeshuaProfile {
            trade_key: Secret::new(key),
            notify_url: self.notify_url.clone().filter(|url| !url.is_empty()),
        }))
    }
}

#[derive(Debug)]
struct LeshuaProfile {
    trade_key: Secret,
    notify_url: Option<String>,
}

impl GatewayProfile for LeshuaProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(LeshuaClient::new(LeshuaSettings {
            base_url: endpoint.base_url.clone(),
            merchant_id: endpoint.merchant_id.clone(),
            trade_key: self.trade_key.clone(),
            notify_url: self.notify_url.clone(),
            timeout: endpoint.timeout,
        })?))
    }
}
