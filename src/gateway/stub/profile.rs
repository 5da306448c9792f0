//! A stub profile's own setting: which in-memory ledger its client pays into.

use std::sync::Arc;

use serde::Deserialize;

use super::client::{StubClient, StubLedger};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway};
use crate::setting::SettingError;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &["ledger"];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    ledger: String,
}

impl Section {
    pub fn check(
        &self,
        _context: &SectionContext,
    ) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        if self.ledger.trim().is_empty() {
            return Err(SettingError::new("ledger", "is empty"));
        }
        Ok(Arc::new(StubProfile {
            ledger: StubLedger::named(&self.ledger),
        }))
    }
}

#[derive(Debug)]
struct StubProfile {
    ledger: Arc<StubLedger>,
}

impl GatewayProfile for StubProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(StubClient {
            merchant_id: endpoint.merchant_id.clone(),
            ledger: self.ledger.clone(),
        }))
    }
}
