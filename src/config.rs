//! `bulkrefund.toml` (cli.md, "Configuration"): the journal path and the gateway
//! profiles. Secrets are given by reference only (`{ env = ... }` or
//! `{ file = ... }`); a literal key is refused. A profile is checked completely
//! (key loads, URL parses, limits make sense) before anything uses it.
//!
//! Every error names the file, the line and the setting, never a value: a
//! secret may sit where a value was expected (pasted in the wrong place, typed
//! as an environment variable's name), so the TOML parser's own message, which
//! quotes the text, is rebuilt from its kind and position (see [`toml_error`]).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::exit::UsageError;
use crate::gateway::leshua::{LeshuaClient, LeshuaSettings};
use crate::gateway::lianshang::{self, LianshangClient, LianshangSettings};
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner};
use crate::gateway::{Gateway, GatewayKind};
use crate::limits;
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

/// A secret as written in the file. A plain value is accepted by the parser
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
    base_url: Spanned<String>,
    merchant_id: Spanned<String>,
    trade_key: Option<Spanned<SecretRef>>,
    notify_url: Option<String>,
    private_key: Option<Spanned<SecretRef>>,
    rsa_digest: Option<Spanned<String>>,
    #[serde(default)]
    allow_insecure_http: bool,
    #[serde(default)]
    compress: bool,
    rate: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    max_attempts: Option<Spanned<i64>>,
    same_order_gap: Option<Spanned<String>>,
    #[serde(default)]
    defaults: BTreeMap<String, Spanned<toml::Value>>,
}

/// The settings a configuration file may hold: only these are ever named in
/// an error (anything else on a line may be a secret typed in the wrong place).
const SETTINGS: &[&str] = &[
    "journal",
    "profiles",
    "gateway",
    "base_url",
    "merchant_id",
    "trade_key",
    "notify_url",
    "private_key",
    "rsa_digest",
    "allow_insecure_http",
    "compress",
    "rate",
    "concurrency",
    "timeout",
    "max_attempts",
    "same_order_gap",
    "defaults",
    "env",
    "file",
];

/// The configuration file, parsed but with no profile checked yet.
pub struct Config {
    path: PathBuf,
    /// Where each line of the file starts, to name lines in errors.
    line_starts: Vec<usize>,
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

/// Where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// (line, column), both from 1, of a byte offset.
fn position(line_starts: &[usize], offset: usize) -> (usize, usize) {
    let line = line_starts.partition_point(|&start| start <= offset).max(1);
    (line, offset - line_starts[line - 1] + 1)
}

/// The table a line sits in (`profiles.leshua`), when its header is plainly one.
fn enclosing_table(text: &str, line: usize) -> Option<String> {
    let header = text
        .lines()
        .take(line)
        .filter(|l| l.trim_start().starts_with('['))
        .last()?
        .trim();
    let name = header.strip_prefix('[')?.strip_suffix(']')?.trim();
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .then(|| name.to_owned())
}

/// The setting a line assigns, when it is one bulkrefund knows.
fn setting_on_line(text: &str, line: usize) -> Option<&'static str> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    SETTINGS
        .iter()
        .chain(lianshang::BASE_FIELDS)
        .chain(lianshang::BIZ_FIELDS)
        .find(|known| **known == key)
        .copied()
}

/// The names between backticks in a serde message (`expected one of `a`, `b``):
/// they come from bulkrefund's own schema.
fn schema_names(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// What a TOML error is, in words that never quote the file.
fn toml_error_kind(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let expected = rest.split_once("expected").map_or("", |(_, e)| e);
        let names = schema_names(expected);
        // The unknown name itself is not repeated: it may be anything.
        let typed = rest.split('`').next().unwrap_or("");
        let closest = names
            .iter()
            .map(|n| (strsim::levenshtein(typed, n), *n))
            .filter(|(distance, _)| *distance <= 2)
            .min();
        let suggestion = closest.map_or(String::new(), |(_, n)| format!(" (did you mean `{n}`?)"));
        return format!(
            "an unknown setting{suggestion}; the settings here are {}",
            names.join(", ")
        );
    }
    if message.starts_with("duplicate key") {
        return "a setting is given twice".into();
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        if SETTINGS.contains(&name) {
            return format!("the setting `{name}` is missing");
        }
        return "a setting is missing".into();
    }
    if message.starts_with("unknown variant") {
        let expected = message.split_once("expected").map_or("", |(_, e)| e);
        return format!("not one of {}", schema_names(expected).join(", "));
    }
    if message.starts_with("invalid type") {
        let expected = message.split_once(", expected ").map_or("", |(_, e)| e);
        // serde's names for types are words of the schema, not of the file.
        if expected
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ')
        {
            return format!("a value of the wrong type (expected {expected})");
        }
        return "a value of the wrong type".into();
    }
    if message.contains("string") {
        return "a string is not closed, or holds a character TOML does not allow".into();
    }
    "this is not valid TOML here".into()
}

/// A TOML parse error as an operator reads it: the file, the line, the column,
/// the table and setting when known, and what is wrong, never the text itself.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> UsageError {
    let starts = line_starts(text);
    let at = match e.span() {
        Some(span) => {
            let (line, column) = position(&starts, span.start);
            let mut at = format!("line {line}, column {column}");
            if let Some(table) = enclosing_table(text, line) {
                at.push_str(&format!(", in [{table}]"));
            }
            if let Some(setting) = setting_on_line(text, line) {
                at.push_str(&format!(", {setting}"));
            }
            at
        }
        None => "somewhere".into(),
    };
    UsageError(format!(
        "The configuration file '{}' is not valid: {at}: {}",
        path.display(),
        toml_error_kind(e.message())
    ))
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        Ok(Config {
            path: path.to_owned(),
            line_starts: line_starts(text),
            raw,
        })
    }

    /// The configuration file itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        crate::paths::directory_of(&self.path)
    }

    fn line_of(&self, span: Range<usize>) -> usize {
        position(&self.line_starts, span.start).0
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
        let error = |field: &str, span: Range<usize>, message: String| {
            UsageError(format!(
                "'{}', profile '{name}', {field} (line {}): {message}",
                self.path.display(),
                self.line_of(span)
            ))
        };
        let base_url = Url::parse(raw.base_url.get_ref()).map_err(|e| {
            error(
                "base_url",
                raw.base_url.span(),
                format!("is not a URL ({e})"),
            )
        })?;
        let merchant_id = raw.merchant_id.get_ref().trim();
        if merchant_id.is_empty() {
            return Err(error(
                "merchant_id",
                raw.merchant_id.span(),
                "is empty".into(),
            ));
        }
        let whole = |field: &str,
                     value: &Option<Spanned<i64>>,
                     bounds: &std::ops::RangeInclusive<i64>,
                     default: u32| {
            match value {
                None => Ok(default),
                Some(v) => {
                    limits::whole(*v.get_ref(), bounds).map_err(|m| error(field, v.span(), m))
                }
            }
        };
        let duration = |field: &str, value: &Option<Spanned<String>>, default: Duration| match value
        {
            None => Ok(default),
            Some(text) => {
                limits::parse_duration(text.get_ref()).map_err(|m| error(field, text.span(), m))
            }
        };
        let timeout = duration("timeout", &raw.timeout, Duration::from_secs(10))?;
        let timeout = limits::timeout(timeout).map_err(|m| {
            error(
                "timeout",
                raw.timeout.as_ref().map_or(0..0, Spanned::span),
                m,
            )
        })?;
        let same_order_gap = duration("same_order_gap", &raw.same_order_gap, Duration::ZERO)?;
        let credentials = self.credentials(name, raw, &base_url)?;
        let mut defaults = BTreeMap::new();
        for (field, value) in &raw.defaults {
            let text = match value.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                _ => {
                    return Err(error(
                        &format!("defaults.{field}"),
                        value.span(),
                        "must be text or a whole number".into(),
                    ))
                }
            };
            defaults.insert(field.clone(), text);
        }
        Ok(Profile {
            name: name.to_owned(),
            gateway: raw.gateway,
            base_url,
            merchant_id: merchant_id.to_owned(),
            notify_url: raw.notify_url.clone().filter(|u| !u.is_empty()),
            rate: whole("rate", &raw.rate, &limits::RATE, 50)?,
            concurrency: whole("concurrency", &raw.concurrency, &limits::CONCURRENCY, 16)?,
            timeout,
            max_attempts: whole("max_attempts", &raw.max_attempts, &limits::MAX_ATTEMPTS, 8)?,
            same_order_gap,
            defaults,
            credentials,
            allow_insecure_http: raw.allow_insecure_http,
            compress: raw.compress,
        })
    }

    /// The gateway's credentials: a Leshua trade key, or a Lianshang signing key.
    fn credentials(
        &self,
        name: &str,
        raw: &RawProfile,
        base_url: &Url,
    ) -> Result<Credentials, UsageError> {
        let error = |field: &str, span: Option<Range<usize>>, message: String| {
            let line = span.map_or(String::new(), |s| format!(" (line {})", self.line_of(s)));
            UsageError(format!(
                "'{}', profile '{name}', {field}{line}: {message}",
                self.path.display()
            ))
        };
        match raw.gateway {
            GatewayKind::Leshua => {
                let reference = raw.trade_key.as_ref();
                let key = self
                    .secret(reference, "trade_key", name)
                    .map_err(|(field, m)| error(&field, reference.map(Spanned::span), m))?;
                if key.expose().trim().is_empty() {
                    return Err(error(
                        "trade_key",
                        reference.map(Spanned::span),
                        "the key is empty".into(),
                    ));
                }
                Ok(Credentials::TradeKey(Secret::new(key.expose().trim())))
            }
            GatewayKind::Lianshang => {
                let digest: RsaDigest = match &raw.rsa_digest {
                    None => RsaDigest::Sha256,
                    Some(text) => text.get_ref().parse().map_err(|_| {
                        error(
                            "rsa_digest",
                            Some(text.span()),
                            "must be sha256 or sha1".into(),
                        )
                    })?,
                };
                let reference = raw.private_key.as_ref();
                let pem = self
                    .secret(reference, "private_key", name)
                    .map_err(|(field, m)| error(&field, reference.map(Spanned::span), m))?;
                let signer = RsaSigner::from_pem(pem.expose(), digest).map_err(|e| {
                    error("private_key", reference.map(Spanned::span), e.to_string())
                })?;
                lianshang::check_base_url(base_url, raw.allow_insecure_http)
                    .map_err(|e| error("base_url", Some(raw.base_url.span()), e))?;
                Ok(Credentials::Signer(Box::new(signer)))
            }
        }
    }

    /// Reads a secret by reference. Errors (the field, the message) never
    /// contain the secret, nor what the reference names: a key typed where the
    /// variable's name or the file's path belongs must not be echoed.
    fn secret(
        &self,
        reference: Option<&Spanned<SecretRef>>,
        field: &str,
        profile: &str,
    ) -> Result<Secret, (String, String)> {
        match reference.map(Spanned::get_ref) {
            None => Err((field.into(), format!("is missing: give it as {field} = {{ env = \"VAR\" }} or {{ file = \"path\" }}"))),
            Some(SecretRef::Literal(_)) => Err((field.into(), format!(
                "a literal secret in the configuration is refused: use {field} = {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            ))),
            Some(SecretRef::Env { env }) => std::env::var(env).map(Secret::new).map_err(|_| {
                (
                    format!("{field}.env"),
                    "the environment variable it names is not set (or not UTF-8)".into(),
                )
            }),
            Some(SecretRef::File { file }) => {
                let path = self.dir().join(file);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    (
                        format!("{field}.file"),
                        format!("the file it names cannot be read ({})", e.kind()),
                    )
                })?;
                warn_if_others_can_read(&path, field, profile);
                Ok(Secret::new(text))
            }
        }
    }
}

/// A key file others can read gets a warning, as ssh gives one.
fn warn_if_others_can_read(path: &Path, field: &str, profile: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                crate::say!(
                    "Warning: the key file of profile '{profile}' ({field}.file) can be read by other users \
                     (mode {mode:03o}); make it private: chmod 600 it"
                );
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

    const SECRET: &str = "S3CRET-VALUE-0042";

    #[test]
    fn a_file_secret_loads_and_defaults_apply() {
        let profile = config(LESHUA).profile("leshua").unwrap();
        assert_eq!(
            (profile.rate, profile.concurrency, profile.max_attempts),
            (50, 16, 8)
        );
        assert_eq!(profile.timeout, Duration::from_secs(10));
        assert_eq!(profile.same_order_gap, Duration::ZERO);
        assert_eq!(
            (profile.gateway, profile.merchant_id.as_str()),
            (GatewayKind::Leshua, "0000000018")
        );
        assert!(
            !format!("{profile:?}").contains("TESTKEY"),
            "Debug must not show the key"
        );
    }

    fn profile_error(text: &str) -> String {
        config(text).profile("leshua").unwrap_err().to_string()
    }

    #[test]
    fn a_literal_secret_is_refused_without_echoing_it() {
        let text = LESHUA.replace(
            r#"{ file = "keys/leshua-trade.key" }"#,
            &format!("\"{SECRET}\""),
        );
        let error = profile_error(&text);
        assert!(
            error.contains("profile 'leshua', trade_key (line 6): a literal secret"),
            "{error}"
        );
        assert!(!error.contains(SECRET));
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_setting() {
        let error = profile_error(&LESHUA.replace("keys/leshua-trade.key", "missing.key"));
        assert!(
            error.ends_with("profile 'leshua', trade_key.file (line 6): the file it names cannot be read (entity not found)"),
            "{error}"
        );
        assert!(error.starts_with('\''), "{error}");
        for (setting, value, rule) in [
            ("rate", "0", "must be a whole number from 1 to 100000"),
            (
                "rate",
                "99999999999",
                "must be a whole number from 1 to 100000",
            ),
            ("concurrency", "0", "must be a whole number from 1 to 4096"),
            ("max_attempts", "0", "must be a whole number from 1 to 100"),
            ("timeout", "\"0s\"", "must be from 1ms to 10m"),
            (
                "same_order_gap",
                "\"soon\"",
                "must be a duration like 500ms, 10s or 10m",
            ),
        ] {
            let error = profile_error(&format!("{LESHUA}{setting} = {value}\n"));
            assert!(
                error.ends_with(&format!("profile 'leshua', {setting} (line 7): {rule}")),
                "{error}"
            );
        }
        assert!(
            profile_error(&LESHUA.replace("http://127.0.0.1:8900", "not a url"))
                .contains("profile 'leshua', base_url (line 4): is not a URL")
        );
        assert!(config(LESHUA)
            .profile("nope")
            .unwrap_err()
            .to_string()
            .contains("profiles: leshua"));
    }

    #[test]
    fn a_secret_typed_where_a_name_belongs_is_never_echoed() {
        for reference in [
            format!("{{ env = \"{SECRET}\" }}"),
            format!("{{ file = \"{SECRET}\" }}"),
        ] {
            let text = LESHUA.replace(r#"{ file = "keys/leshua-trade.key" }"#, &reference);
            let error = profile_error(&text);
            assert!(!error.contains(SECRET), "{error}");
            assert!(error.contains("(line 6)"), "{error}");
        }
    }

    fn parse_error(text: &str) -> String {
        Config::parse(Path::new("bulkrefund.toml"), text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn toml_errors_never_quote_the_file() {
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\nMIIEv{SECRET}QIBADANBgkqhkiG9w0BAQEFAASC==\n-----END PRIVATE KEY-----"
        );
        let cases = [
            (
                format!("{LESHUA}trade_kye = \"{SECRET}\"\n"),
                7,
                "did you mean `trade_key`?",
            ),
            (
                format!("{LESHUA}notify_url = \"{SECRET}\n"),
                7,
                "a string is not closed",
            ),
            (
                format!("{LESHUA}trade_key = \"{SECRET}\"\n"),
                7,
                "a setting is given twice",
            ),
            (
                format!("{LESHUA}rate = \"{SECRET}\"\n"),
                7,
                "a value of the wrong type",
            ),
            (
                LESHUA.replace("\"leshua\"\nbase_url", &format!("\"{SECRET}\"\nbase_url")),
                3,
                "not one of leshua, lianshang",
            ),
            (
                format!("[profiles.ls]\ngateway = \"lianshang\"\nprivate_key = \"{pem}"),
                3,
                "a string is not closed",
            ),
        ];
        for (text, line, kind) in cases {
            let error = parse_error(&text);
            assert!(!error.contains(SECRET), "{error}");
            assert!(!error.contains("MIIE"), "{error}");
            assert!(
                error.starts_with("The configuration file 'bulkrefund.toml' is not valid: line "),
                "{error}"
            );
            assert!(error.contains(&format!("line {line},")), "{error}");
            assert!(error.contains(kind), "{error}");
        }
        assert!(parse_error(&format!("{LESHUA}rate = 1\n")).is_empty());
    }

    #[test]
    fn a_key_file_others_can_read_still_loads() {
        // The warning goes to stderr; the key is still used.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("open.key");
        std::fs::write(&key, "TESTKEY").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = LESHUA.replace("keys/leshua-trade.key", key.to_str().unwrap());
        assert!(config(&text).profile("leshua").is_ok());
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
        assert!(check(text.replace("https://pay", "http://pay"))
            .contains("profile 'ls', base_url (line 4):"));
        assert!(
            check(text.replace("merchant-test-2048.pem", "merchant-test-2048.pub.pem"))
                .contains("profile 'ls', private_key (line 6): not an RSA private key")
        );
        assert!(check(text.replace("\"sha1\"", "\"md5\""))
            .contains("profile 'ls', rsa_digest (line 7): must be sha256 or sha1"));
        let insecure_allowed = text.replace(
            "\"https://pay.example.com\"",
            "\"http://pay.example.com\"\nallow_insecure_http = true",
        );
        assert!(config(&insecure_allowed).profile("ls").is_ok());
    }
}
