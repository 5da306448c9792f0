//! `bulkrefund.toml` (cli.md, "Configuration"): the journal path and the gateway
//! profiles. Secrets are given by reference only (`{ env = ... }` or
//! `{ file = ... }`); a literal key is refused. A profile is checked completely
//! (key loads, URL parses, limits make sense) before anything uses it, and every
//! error names the profile and the field, never a secret's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::exit::UsageError;
use crate::gateway::leshua::{LeshuaClient, LeshuaSettings};
use crate::gateway::lianshang::{self, LianshangClient, LianshangSettings};
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner};
use crate::gateway::{Gateway, GatewayKind};
use crate::secret::Secret;

pub const DEFAULT_FILE: &str = "bulkrefund.toml";
pub const DEFAULT_JOURNAL: &str = "bulkrefund.db";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    journal: Option<PathBuf>,
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

/// A secret as written in the file. A plain string is accepted by the parser
/// only so that the check can refuse it with a clear message.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SecretRef {
    Env { env: String },
    File { file: PathBuf },
    Literal(#[allow(dead_code)] toml::Value),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    gateway: GatewayKind,
    base_url: String,
    merchant_id: String,
    trade_key: Option<SecretRef>,
    notify_url: Option<String>,
    private_key: Option<SecretRef>,
    rsa_digest: Option<String>,
    #[serde(default)]
    allow_insecure_http: bool,
    #[serde(default)]
    compress: bool,
    rate: Option<i64>,
    concurrency: Option<i64>,
    timeout: Option<String>,
    max_attempts: Option<i64>,
    same_order_gap: Option<String>,
    #[serde(default)]
    defaults: BTreeMap<String, toml::Value>,
}

/// The configuration file, parsed but with no profile checked yet.
pub struct Config {
    path: PathBuf,
    raw: RawConfig,
}

/// A profile, checked and ready to use.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub gateway: GatewayKind,
    pub base_url: Url,
    pub merchant_id: String,
    pub notify_url: Option<String>,
    /// Requests per second, submits and queries together.
    pub rate: u32,
    pub concurrency: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The pause between the end of one refund of an order and the next one's
    /// send (refunds of one order are sent one at a time, in input order).
    pub same_order_gap: Duration,
    /// Lianshang: fields a row may lack.
    pub defaults: BTreeMap<String, String>,
    credentials: Credentials,
    allow_insecure_http: bool,
    compress: bool,
}

#[derive(Clone, Debug)]
enum Credentials {
    TradeKey(Secret),
    Signer(Box<RsaSigner>),
}

impl Profile {
    /// The scope of refund ids: the gateway and the merchant.
    pub fn scope(&self) -> String {
        crate::journal::scope(self.gateway, &self.merchant_id)
    }

    pub fn client(&self) -> anyhow::Result<Arc<dyn Gateway>> {
        Ok(match &self.credentials {
            Credentials::TradeKey(key) => Arc::new(LeshuaClient::new(LeshuaSettings {
                base_url: self.base_url.clone(),
                merchant_id: self.merchant_id.clone(),
                trade_key: key.clone(),
                notify_url: self.notify_url.clone(),
                timeout: self.timeout,
            })?),
            Credentials::Signer(signer) => Arc::new(
                LianshangClient::new(LianshangSettings {
                    base_url: self.base_url.clone(),
                    merchant_id: self.merchant_id.clone(),
                    signer: (**signer).clone(),
                    timeout: self.timeout,
                    allow_insecure_http: self.allow_insecure_http,
                    compress: self.compress,
                })
                .map_err(UsageError)?,
            ),
        })
    }

    /// A copy pointing at another base URL (the demo and tests aim profiles at a simulator).
    pub fn with_base_url(&self, base_url: Url) -> Profile {
        Profile {
            base_url,
            ..self.clone()
        }
    }
}

impl Config {
    /// Finds the file: `--config`, else `$BULKREFUND_CONFIG`, else `./bulkrefund.toml`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("BULKREFUND_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE))
    }

    pub fn load(path: &Path) -> Result<Config, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "The configuration file '{}' cannot be read ({e}); give one with --config or $BULKREFUND_CONFIG",
                path.display()
            ))
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, UsageError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            UsageError(format!(
                "The configuration file '{}' is not valid: {e}",
                path.display()
            ))
        })?;
        Ok(Config {
            path: path.to_owned(),
            raw,
        })
    }

    /// The configuration file itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The journal: `--journal`, else the file's `journal` (relative to the file), else `./bulkrefund.db`.
    pub fn journal_path(&self, explicit: Option<&Path>) -> PathBuf {
        match (explicit, &self.raw.journal) {
            (Some(path), _) => path.to_owned(),
            (None, Some(path)) => self.dir().join(path),
            (None, None) => PathBuf::from(DEFAULT_JOURNAL),
        }
    }

    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.raw.profiles.keys().map(String::as_str)
    }

    /// Checks one profile completely and returns it ready to use.
    pub fn profile(&self, name: &str) -> Result<Profile, UsageError> {
        let raw = self.raw.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profile_names().collect();
            UsageError(format!(
                "There is no profile '{name}' in '{}' (profiles: {})",
                self.path.display(),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let field_error = |field: &str, message: String| {
            UsageError(format!("profile '{name}', {field}: {message}"))
        };
        let base_url = Url::parse(&raw.base_url).map_err(|e| {
            field_error("base_url", format!("{:?} is not a URL: {e}", raw.base_url))
        })?;
        if raw.merchant_id.trim().is_empty() {
            return Err(field_error("merchant_id", "is empty".into()));
        }
        let positive = |field: &str, value: Option<i64>, default: u32| -> Result<u32, UsageError> {
            match value {
                None => Ok(default),
                Some(v) if v > 0 && v <= i64::from(u32::MAX) => Ok(v as u32),
                Some(v) => Err(field_error(field, format!("{v} must be more than 0"))),
            }
        };
        let timeout = match &raw.timeout {
            None => Duration::from_secs(10),
            Some(text) => {
                crate::cli::parse_duration(text).map_err(|e| field_error("timeout", e))?
            }
        };
        if timeout.is_zero() {
            return Err(field_error("timeout", "must be more than 0".into()));
        }
        let same_order_gap = match &raw.same_order_gap {
            None => Duration::ZERO,
            Some(text) => {
                crate::cli::parse_duration(text).map_err(|e| field_error("same_order_gap", e))?
            }
        };
        let credentials = match raw.gateway {
            GatewayKind::Leshua => {
                let key = self
                    .secret(raw.trade_key.as_ref(), "trade_key")
                    .map_err(|m| field_error("trade_key", m))?;
                if key.expose().trim().is_empty() {
                    return Err(field_error("trade_key", "is empty".into()));
                }
                Credentials::TradeKey(Secret::new(key.expose().trim()))
            }
            GatewayKind::Lianshang => {
                let digest: RsaDigest = raw
                    .rsa_digest
                    .as_deref()
                    .unwrap_or("sha256")
                    .parse()
                    .map_err(|e| field_error("rsa_digest", e))?;
                let pem = self
                    .secret(raw.private_key.as_ref(), "private_key")
                    .map_err(|m| field_error("private_key", m))?;
                let signer = RsaSigner::from_pem(pem.expose(), digest)
                    .map_err(|e| field_error("private_key", e.to_string()))?;
                lianshang::check_base_url(&base_url, raw.allow_insecure_http)
                    .map_err(|e| field_error("base_url", e))?;
                Credentials::Signer(Box::new(signer))
            }
        };
        let mut defaults = BTreeMap::new();
        for (field, value) in &raw.defaults {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(field_error(
                        &format!("defaults.{field}"),
                        format!("{other} is not text or a whole number"),
                    ))
                }
            };
            defaults.insert(field.clone(), text);
        }
        Ok(Profile {
            name: name.to_owned(),
            gateway: raw.gateway,
            base_url,
            merchant_id: raw.merchant_id.trim().to_owned(),
            notify_url: raw.notify_url.clone().filter(|u| !u.is_empty()),
            rate: positive("rate", raw.rate, 50)?,
            concurrency: positive("concurrency", raw.concurrency, 16)?,
            timeout,
            max_attempts: positive("max_attempts", raw.max_attempts, 8)?,
            same_order_gap,
            defaults,
            credentials,
            allow_insecure_http: raw.allow_insecure_http,
            compress: raw.compress,
        })
    }

    /// Reads a secret by reference. Errors never contain the secret.
    fn secret(&self, reference: Option<&SecretRef>, field: &str) -> Result<Secret, String> {
        match reference {
            None => Err(format!("is missing: give it as {field} = {{ env = \"VAR\" }} or {{ file = \"path\" }}")),
            Some(SecretRef::Literal(_)) => Err(format!(
                "a literal secret in the configuration is refused: use {field} = {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            )),
            Some(SecretRef::Env { env }) => std::env::var(env)
                .map(Secret::new)
                .map_err(|_| format!("the environment variable {env} is not set")),
            Some(SecretRef::File { file }) => {
                let path = self.dir().join(file);
                std::fs::read_to_string(&path)
                    .map(Secret::new)
                    .map_err(|e| format!("cannot read the file '{}': {e}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(
            Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/samples/bulkrefund.toml"
            )),
            text,
        )
        .unwrap()
    }

    const LESHUA: &str = r#"
[profiles.leshua]
gateway = "leshua"
base_url = "http://127.0.0.1:8900"
merchant_id = "0000000018"
trade_key = { file = "keys/leshua-trade.key" }
"#;

    #[test]
    fn a_file_secret_loads_and_defaults_apply() {
        let profile = config(LESHUA).profile("leshua").unwrap();
        assert_eq!(
            (profile.rate, profile.concurrency, profile.max_attempts),
            (50, 16, 8)
        );
        assert_eq!(profile.timeout, Duration::from_secs(10));
        assert_eq!(profile.scope(), "leshua:0000000018");
        assert!(
            !format!("{profile:?}").contains("TESTKEY"),
            "Debug must not show the key"
        );
    }

    #[test]
    fn a_literal_secret_is_refused_without_echoing_it() {
        let text = LESHUA.replace(r#"{ file = "keys/leshua-trade.key" }"#, r#""S3CRET-VALUE""#);
        let error = config(&text).profile("leshua").unwrap_err().to_string();
        assert!(
            error.starts_with("profile 'leshua', trade_key: a literal secret"),
            "{error}"
        );
        assert!(!error.contains("S3CRET-VALUE"));
    }

    #[test]
    fn errors_name_the_profile_and_field() {
        let check = |text: &str| config(text).profile("leshua").unwrap_err().to_string();
        assert!(
            check(&LESHUA.replace("keys/leshua-trade.key", "missing.key"))
                .starts_with("profile 'leshua', trade_key: cannot read")
        );
        assert!(check(&format!("{LESHUA}rate = 0\n"))
            .starts_with("profile 'leshua', rate: 0 must be more than 0"));
        assert!(check(&LESHUA.replace("http://127.0.0.1:8900", "not a url"))
            .starts_with("profile 'leshua', base_url:"));
        assert!(check(&LESHUA.replace(
            r#"{ file = "keys/leshua-trade.key" }"#,
            r#"{ env = "BULKREFUND_TEST_UNSET_VAR" }"#
        ))
        .contains("BULKREFUND_TEST_UNSET_VAR is not set"));
        assert!(config(LESHUA)
            .profile("nope")
            .unwrap_err()
            .to_string()
            .contains("profiles: leshua"));
        assert!(Config::parse(Path::new("x.toml"), "[profiles.a]\ngateway = \"paypal\"").is_err());
    }

    #[test]
    fn lianshang_profile_checks_key_and_transport() {
        let text = r#"
[profiles.ls]
gateway = "lianshang"
base_url = "https://pay.example.com"
merchant_id = "pay001"
private_key = { file = "keys/merchant-test-2048.pem" }
rsa_digest = "sha1"
[profiles.ls.defaults]
refund_expire = 30
appid = "app01"
"#;
        let profile = config(text).profile("ls").unwrap();
        assert_eq!(profile.defaults["refund_expire"], "30");
        let check = |text: String| config(&text).profile("ls").unwrap_err().to_string();
        assert!(
            check(text.replace("https://pay", "http://pay")).starts_with("profile 'ls', base_url:")
        );
        assert!(
            check(text.replace("merchant-test-2048.pem", "merchant-test-2048.pub.pem"))
                .starts_with("profile 'ls', private_key: not an RSA private key")
        );
        assert!(check(text.replace("\"sha1\"", "\"md5\"")).starts_with("profile 'ls', rsa_digest:"));
        let insecure_allowed = text.replace(
            "\"https://pay.example.com\"",
            "\"http://pay.example.com\"\nallow_insecure_http = true",
        );
        assert!(config(&insecure_allowed).profile("ls").is_ok());
    }
}
