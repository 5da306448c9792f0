//! A profile's gateway section (docs/specs/cli.md, "Configuration"): the settings only one
//! gateway has, chosen by `gateway = "..."`. Each section refuses the others'
//! settings, so a Leshua profile cannot carry a private key, nor a Lianshang
//! one a trade key. Checking a section loads its keys, once, and yields what
//! builds that gateway's client.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::section::{GatewayProfile, SectionContext};
use super::{alipay, leshua, lianshang, wechatpay, GatewayKind};
use crate::setting::SettingError;

/// A profile's gateway section as the file gives it.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "gateway", rename_all = "lowercase")]
pub enum ProfileSection {
    Leshua(leshua::profile::Section),
    Lianshang(lianshang::profile::Section),
    Wechatpay(wechatpay::profile::Section),
    Alipay(alipay::profile::Section),
    #[cfg(test)]
    Stub(super::stub::profile::Section),
}

/// Why a section could not be read: serde's message, and the setting at fault
/// when it can be told.
#[derive(Debug)]
pub struct SectionError {
    pub setting: Option<String>,
    pub message: String,
}

impl ProfileSection {
    pub fn kind(&self) -> GatewayKind {
        match self {
            ProfileSection::Leshua(_) => GatewayKind::Leshua,
            ProfileSection::Lianshang(_) => GatewayKind::Lianshang,
            ProfileSection::Wechatpay(_) => GatewayKind::Wechatpay,
            ProfileSection::Alipay(_) => GatewayKind::Alipay,
            #[cfg(test)]
            ProfileSection::Stub(_) => GatewayKind::Stub,
        }
    }

    /// Checks the section completely (keys load, transport is trusted).
    pub fn check(&self, context: &SectionContext) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        match self {
            ProfileSection::Leshua(section) => section.check(context),
            ProfileSection::Lianshang(section) => section.check(context),
            ProfileSection::Wechatpay(section) => section.check(context),
            ProfileSection::Alipay(section) => section.check(context),
            #[cfg(test)]
            ProfileSection::Stub(section) => section.check(context),
        }
    }

    /// Reads the section from a profile's settings (`gateway` and those only
    /// that gateway has).
    pub fn read(settings: toml::Table) -> Result<ProfileSection, SectionError> {
        ProfileSection::deserialize(toml::Value::Table(settings.clone())).map_err(|e| {
            SectionError {
                setting: setting_at_fault(settings),
                message: e.message().to_owned(),
            }
        })
    }
}

/// The setting a section's error is about. The tagged enum buffers its input
/// and so loses the path; reading the named gateway's section alone keeps it.
fn setting_at_fault(mut settings: toml::Table) -> Option<String> {
    let kind = settings
        .remove("gateway")
        .and_then(|v| v.as_str().and_then(GatewayKind::parse));
    let settings = toml::Value::Table(settings);
    let path = match kind? {
        GatewayKind::Leshua => path_of_error::<leshua::profile::Section>(settings),
        GatewayKind::Lianshang => path_of_error::<lianshang::profile::Section>(settings),
        GatewayKind::Wechatpay => path_of_error::<wechatpay::profile::Section>(settings),
        GatewayKind::Alipay => path_of_error::<alipay::profile::Section>(settings),
        #[cfg(test)]
        GatewayKind::Stub => path_of_error::<super::stub::profile::Section>(settings),
    }?;
    (path != ".").then_some(path)
}

/// The names a profile's section may hold, every gateway's, as an error may
/// show them (row field names included, for `[defaults]`).
pub fn setting_names() -> impl Iterator<Item = &'static str> {
    let names = leshua::profile::SETTINGS
        .iter()
        .chain(lianshang::profile::SETTINGS)
        .chain(lianshang::BASE_FIELDS)
        .chain(lianshang::BIZ_FIELDS)
        .chain(wechatpay::profile::SETTINGS)
        .chain(alipay::profile::SETTINGS);
    #[cfg(test)]
    let names = names.chain(super::stub::profile::SETTINGS);
    names.copied()
}

fn path_of_error<T: DeserializeOwned>(value: toml::Value) -> Option<String> {
    serde_path_to_error::deserialize::<_, T>(value)
        .err()
        .map(|e| e.path().to_string())
}
