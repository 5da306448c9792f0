//! How a setting of the configuration file is wrong: by its name and the rule
//! it breaks, never by its value (a secret may sit where a value was expected).
//! The configuration adds the file and the line; the gateways' profile
//! sections and the secret references produce these.

/// A setting that is wrong: its name (`rate`, `trade_key.file`,
/// `defaults.appid`) and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {message}")]
pub struct SettingError {
    pub setting: String,
    pub message: String,
}

impl SettingError {
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> SettingError {
        SettingError {
            setting: setting.into(),
            message: message.into(),
        }
    }
}
