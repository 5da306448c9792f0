//! Secrets (trade keys, private keys): a wrapper whose `Debug` and `Display`
//! never show the value, so a key cannot leak through a log line, an error or a
//! panic; and the only way the configuration may give one, by reference
//! (`{ env = "VAR" }` or `{ file = "path" }`), read without ever echoing it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::setting::SettingError;
use crate::small_files;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The key itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret as the configuration file gives it. A plain value is accepted by
/// the parser only so that [`SecretRef::read`] can refuse it with a clear message.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    Env { env: String },
    File { file: PathBuf },
    Literal(#[allow(dead_code)] toml::Value),
}

impl SecretRef {
    /// Reads the secret of the setting `setting` of profile `profile`; a file
    /// is found relative to `dir`, the configuration's directory. Errors never
    /// contain the secret, nor what the reference names: a key typed where the
    /// variable's name or the file's path belongs must not be echoed.
    pub fn read(
        reference: Option<&SecretRef>,
        setting: &str,
        dir: &Path,
        profile: &str,
    ) -> Result<Secret, SettingError> {
        match reference {
            None => Err(SettingError::new(setting, format!(
                "is missing: give it as {setting} = {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            ))),
            Some(SecretRef::Literal(_)) => Err(SettingError::new(setting, format!(
                "a literal secret in the configuration is refused: use {setting} = {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            ))),
            Some(SecretRef::Env { env }) => std::env::var(env).map(Secret::new).map_err(|_| {
                SettingError::new(
                    format!("{setting}.env"),
                    "the environment variable it names is not set (or not UTF-8)",
                )
            }),
            Some(SecretRef::File { file }) => {
                let path = dir.join(file);
                let (text, meta) = small_files::read(&path, small_files::MAX_KEY, "64 KiB")
                    .map_err(|e| {
                        SettingError::new(
                            format!("{setting}.file"),
                            format!("the file it names cannot be read ({})", e.brief()),
                        )
                    })?;
                warn_if_others_can_read(&meta, setting, profile);
                Ok(Secret::new(text))
            }
        }
    }
}

/// A key file others can read gets a warning, as ssh gives one.
fn warn_if_others_can_read(meta: &std::fs::Metadata, setting: &str, profile: &str) {
    if let Some(mode) = small_files::mode(meta).filter(|mode| mode & 0o077 != 0) {
        crate::say!(
            "Warning: the key file of profile '{profile}' ({setting}.file) can be read by other users \
             (mode {mode:03o}); make it private: chmod 600 it"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_printed() {
        let s = super::Secret::new("TESTKEY");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
    }
}
