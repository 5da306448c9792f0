//! What every gateway's profile section builds on: the endpoint a profile
//! names, what checking a section may need, and the checked section that
//! builds a client. Each gateway's `profile.rs` implements this seam and
//! `gateway/profile.rs` chooses among them, so neither depends on the other.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::bill::{Bill, BillError, BillSource};
use super::bill_read::quoted;
use super::{ClientError, Gateway};

/// Where and how a client reaches its gateway: what every profile says.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub base_url: Url,
    pub merchant_id: String,
    pub timeout: Duration,
}

/// What checking a section may need: the profile's name and endpoint, and the
/// configuration's directory (key files are found relative to it).
pub struct SectionContext<'a> {
    pub profile: &'a str,
    pub dir: &'a Path,
    pub endpoint: &'a Endpoint,
}

/// A checked section, its keys loaded: it builds the gateway's client.
pub trait GatewayProfile: Debug + Send + Sync {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError>;

    /// The gateway's bill API for this profile (`reconcile`); `None` for a
    /// gateway that has none (its bills are files the operator gives).
    fn bills(&self, endpoint: &Endpoint) -> Result<Option<Arc<dyn BillSource>>, BillError> {
        let _ = endpoint;
        Ok(None)
    }

    /// Whether a bill given as a file is this profile's merchant's
    /// (`BillError::Refused` saying why not): by default the merchant the
    /// bill names must be the profile's `merchant_id`; a gateway whose bills
    /// name the merchant another way (Alipay's `#账号`, a PID) overrides it.
    /// A bill that names no merchant is not refused here.
    fn owns_bill(&self, endpoint: &Endpoint, bill: &Bill) -> Result<(), BillError> {
        match bill.merchant_id.as_deref() {
            Some(named) if named != endpoint.merchant_id => Err(BillError::Refused(format!(
                "it is the bill of merchant {}, not of merchant_id {}",
                quoted(named),
                quoted(&endpoint.merchant_id)
            ))),
            _ => Ok(()),
        }
    }

    /// The profile's values for row fields a batch may leave empty.
    fn row_defaults(&self) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        &NONE
    }
}
