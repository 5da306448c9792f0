//! `bulkrefund.toml` (docs/specs/cli.md, "Configuration"): the journal path and the gateway
//! profiles. A profile is the settings every gateway shares ([`common`]) and its
//! gateway's own section ([`ProfileSection`], one per gateway folder); a setting
//! of another gateway is refused. Secrets are given by reference only
//! (`{ env = ... }` or `{ file = ... }`); a literal key is refused. A profile is
//! checked completely (key loads, URL parses, limits make sense) before
//! anything uses it.
//!
//! Every error names the file, the line and the setting, never a value: a
//! secret may sit where a value was expected (pasted in the wrong place, typed
//! as an environment variable's name), so the parser's own messages, which
//! quote the text, are rebuilt from their kind and position ([`toml_errors`]).

mod common;
mod places;
mod toml_errors;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use self::common::{CommonText, SETTINGS as COMMON_SETTINGS};
use self::places::Places;
use crate::exit::UsageError;
use crate::gateway::bill::{Bill, BillError, BillSource};
use crate::gateway::profile::{self, ProfileSection, SectionError};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{ClientError, Gateway, GatewayKind, GatewaySpec};
use crate::journal::JournalLocation;
use crate::money::Fen;
use crate::setting::SettingError;
use crate::small_files;

pub const DEFAULT_FILE: &str = "bulkrefund.toml";
pub use crate::journal::location::DEFAULT_JOURNAL;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    journal: Option<PathBuf>,
    journal_password: Option<crate::secret::SecretRef>,
    timezone: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, toml::Table>,
}

/// A profile as the file gives it: the common settings and its gateway's section.
#[derive(Clone, Debug)]
struct ProfileText {
    common: CommonText,
    section: ProfileSection,
}

/// The configuration file, parsed, every profile's shape checked, but no
/// profile's values checked yet (an unused profile's missing key file is no error).
pub struct Config {
    path: PathBuf,
    text: String,
    places: Places,
    journal: Option<PathBuf>,
    /// A PostgreSQL journal's password, as a secret (`{ env }`/`{ file }`).
    journal_password: Option<crate::secret::SecretRef>,
    /// The IANA name of the operator's time zone.
    timezone: Option<String>,
    profiles: BTreeMap<String, ProfileText>,
}

/// What a profile says of its merchant and its rates ([`Config::pace_of`]).
#[derive(Clone, Debug)]
pub struct ProfilePace {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub rate: u32,
    pub query_rate: Option<u32>,
    pub concurrency: u32,
}

/// A profile, checked and ready to use.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub gateway: GatewayKind,
    pub base_url: Url,
    pub merchant_id: String,
    /// Requests per second: submits only when `query_rate` is set, else
    /// submits and queries together.
    pub rate: u32,
    /// Queries per second, for a gateway that limits them apart from submits.
    pub query_rate: Option<u32>,
    pub concurrency: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// The pause between the end of one refund of an order and the next one's
    /// send (refunds of one order are sent one at a time, in input order).
    pub same_order_gap: Duration,
    /// The waits before each poll of a refund still processing, the last one
    /// repeating: `poll_schedule`, else the gateway's.
    pub poll_schedule: Vec<Duration>,
    /// The gateway's wait before the first query of a send whose outcome is unknown.
    pub first_query_after: Duration,
    /// The most a batch may send in all (`max_batch_yuan`), unless `--allow-over-limit`.
    pub max_batch: Option<Fen>,
    /// The most one refund may be (`max_refund_yuan`), unless `--allow-over-limit`.
    pub max_refund: Option<Fen>,
    /// Over this (`approve_over_yuan`) a batch waits for a second person's approval.
    pub approve_over: Option<Fen>,
    section: Arc<dyn GatewayProfile>,
}

impl Profile {
    pub fn client(&self) -> Result<Arc<dyn Gateway>, ClientError> {
        self.section.client(&Endpoint {
            base_url: self.base_url.clone(),
            merchant_id: self.merchant_id.clone(),
            timeout: self.timeout,
        })
    }

    /// The gateway's bill API (`reconcile`), where it has one.
    pub fn bills(&self) -> Result<Arc<dyn BillSource>, BillError> {
        let endpoint = Endpoint {
            base_url: self.base_url.clone(),
            merchant_id: self.merchant_id.clone(),
            timeout: self.timeout,
        };
        self.section.bills(&endpoint)?.ok_or(BillError::NoApi {
            gateway: self.gateway.as_str(),
        })
    }

    /// Whether a bill given as a file is this profile's: of its gateway, and
    /// of its merchant by the gateway's own rule
    /// ([`GatewayProfile::owns_bill`]); `BillError::Refused` saying why not.
    pub fn owns_bill(&self, bill: &Bill) -> Result<(), BillError> {
        if bill.gateway != self.gateway {
            return Err(BillError::Refused(format!(
                "it is a {} bill, not a {} one",
                bill.gateway, self.gateway
            )));
        }
        let endpoint = Endpoint {
            base_url: self.base_url.clone(),
            merchant_id: self.merchant_id.clone(),
            timeout: self.timeout,
        };
        self.section.owns_bill(&endpoint, bill)
    }

    /// The profile's values for row fields a batch may leave empty.
    pub fn row_defaults(&self) -> &BTreeMap<String, String> {
        self.section.row_defaults()
    }

    pub fn spec(&self) -> &'static dyn GatewaySpec {
        self.gateway.spec()
    }

    /// A copy pointing at another base URL (the demo and tests aim profiles at a simulator).
    pub fn with_base_url(&self, base_url: Url) -> Profile {
        Profile {
            base_url,
            ..self.clone()
        }
    }
}

/// Every name a configuration may hold: only these are ever shown in an error
/// (anything else on a line may be a secret typed in the wrong place).
fn known_names() -> Vec<&'static str> {
    [
        "journal",
        "journal_password",
        "timezone",
        "profiles",
        "gateway",
        "env",
        "file",
    ]
    .into_iter()
    .chain(COMMON_SETTINGS.iter().copied())
    .chain(profile::setting_names())
    .collect()
}

/// The profile a mistyped name most likely meant: the nearest by edit
/// distance (case aside), if it is within two edits.
fn nearest<'a>(typed: &str, names: &[&'a str]) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    names
        .iter()
        .map(|name| (strsim::levenshtein(&typed, &name.to_lowercase()), *name))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name)
}

/// A serde error's path as the keys it names.
fn keys(path: &serde_path_to_error::Path) -> Vec<String> {
    path.iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            _ => None,
        })
        .collect()
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
        let (text, meta) = small_files::read(path, small_files::MAX_CONFIG, "1 MiB").map_err(|e| {
            UsageError(format!(
                "The configuration file '{}' cannot be read ({e}); give one with --config or $BULKREFUND_CONFIG",
                path.display()
            ))
        })?;
        // Whoever can change the configuration can aim a profile at another gateway.
        if let Some(mode) = small_files::mode(&meta).filter(|mode| mode & 0o002 != 0) {
            crate::say!(
                "Warning: the configuration file '{}' can be changed by any user (mode {mode:03o}); \
                 make it yours alone: chmod o-w it",
                path.display()
            );
        }
        Config::parse(path, &text)
    }

    /// Parses the file and checks the shape of every profile: unknown
    /// settings, wrong types and unknown gateways are errors here.
    pub fn parse(path: &Path, text: &str) -> Result<Config, UsageError> {
        let known = known_names();
        let table: toml::Table =
            toml::from_str(text).map_err(|e| toml_errors::syntax_error(path, text, &e, &known))?;
        let mut config = Config {
            path: path.to_owned(),
            text: text.to_owned(),
            places: Places::parse(text),
            journal: None,
            journal_password: None,
            timezone: None,
            profiles: BTreeMap::new(),
        };
        let raw: RawConfig =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let path = keys(e.path());
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                config.shape_error(
                    &path,
                    e.inner().message(),
                    &["journal", "journal_password", "timezone", "profiles"],
                )
            })?;
        config.journal = raw.journal;
        config.journal_password = raw.journal_password;
        if let Some(name) = &raw.timezone {
            crate::zone::Zone::named(name)
                .map_err(|e| UsageError(format!("'{}', timezone: {}", path.display(), e.0)))?;
        }
        config.timezone = raw.timezone;
        for (name, settings) in raw.profiles {
            let text = config.read_profile(&name, settings)?;
            config.profiles.insert(name, text);
        }
        Ok(config)
    }

    /// Splits a profile into its common settings and its gateway's section.
    fn read_profile(&self, name: &str, settings: toml::Table) -> Result<ProfileText, UsageError> {
        let at = |rest: &[&str]| -> Vec<String> {
            ["profiles", name]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };
        let (common, section): (toml::Table, toml::Table) = settings
            .into_iter()
            .partition(|(key, _)| COMMON_SETTINGS.contains(&key.as_str()));
        let gateway = section
            .get("gateway")
            .and_then(toml::Value::as_str)
            .and_then(GatewayKind::parse);
        let section =
            ProfileSection::read(section).map_err(|SectionError { setting, message }| {
                let setting: Vec<&str> = match setting.as_deref() {
                    Some(setting) => setting.split('.').collect(),
                    None if message.starts_with("unknown variant") => vec!["gateway"],
                    None => vec![],
                };
                let here: Vec<&str> = COMMON_SETTINGS
                    .iter()
                    .copied()
                    .chain(toml_errors::expected_names(&message))
                    .collect();
                let path = at(&setting);
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                self.section_error(&path, &message, &here, gateway)
            })?;
        let common: CommonText = serde_path_to_error::deserialize(toml::Value::Table(common))
            .map_err(|e| {
                let path = at(&[])
                    .into_iter()
                    .chain(keys(e.path()))
                    .collect::<Vec<_>>();
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                let message = e.inner().message().to_owned();
                self.shape_error(&path, &message, &toml_errors::expected_names(&message))
            })?;
        Ok(ProfileText { common, section })
    }

    /// An error about the file's shape at `path`: the unknown setting, the
    /// missing one's table, or the value of the wrong type.
    fn shape_error(&self, path: &[&str], message: &str, here: &[&str]) -> UsageError {
        let offset = if let Some(rest) = message.strip_prefix("unknown field `") {
            // serde names the unknown key in the path, or the table that holds it.
            let unknown = rest.split('`').next().unwrap_or("");
            self.places
                .key(&[path, &[unknown]].concat())
                .or_else(|| self.places.key(path))
        } else if message.starts_with("missing field") {
            self.places.key(path)
        } else {
            self.places.value(path)
        };
        let known = known_names();
        toml_errors::invalid(
            &self.path,
            &self.text,
            offset.or_else(|| self.places.key(&path[..path.len().min(2)])),
            &known,
            &toml_errors::kind_of(message, here, &known),
        )
    }

    /// A section's shape error; a setting of another gateway is named as such.
    fn section_error(
        &self,
        path: &[&str],
        message: &str,
        here: &[&str],
        gateway: Option<GatewayKind>,
    ) -> UsageError {
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        match (unknown, gateway) {
            // A known name is the schema's, not the file's: it may be shown.
            (Some(name), Some(gateway)) if known_names().contains(&name) => {
                let offset = self
                    .places
                    .key(&[path, &[name]].concat())
                    .or_else(|| self.places.key(path));
                toml_errors::invalid(
                    &self.path,
                    &self.text,
                    offset,
                    &known_names(),
                    &format!(
                        "`{name}` is not a setting of a {gateway} profile; the settings here are {}",
                        here.join(", ")
                    ),
                )
            }
            _ => self.shape_error(path, message, here),
        }
    }

    /// The configuration file itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> &Path {
        crate::paths::directory_of(&self.path)
    }

    /// The journal `--journal` or the file names ([`JournalLocation::chosen`]).
    pub fn journal_location(&self, explicit: Option<&Path>) -> JournalLocation {
        let password = (self.journal_password.clone()).map(|p| (p, self.dir().to_owned()));
        JournalLocation::chosen(explicit, self.journal.as_deref(), self.dir(), password)
    }

    /// The configuration's `timezone`, if it sets one (checked when parsed).
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// Profile `name`'s gateway, merchant and rates, its common settings
    /// checked but not its gateway's section (no key is loaded): what the
    /// rate its merchant's profiles share needs of each (engine/rate_keys.rs).
    /// `None` when there is no such profile or its settings do not check.
    pub fn pace_of(&self, name: &str) -> Option<ProfilePace> {
        let text = self.profiles.get(name)?;
        let gateway = text.section.kind();
        let common = text.common.check(&gateway.spec().pace_defaults()).ok()?;
        Some(ProfilePace {
            gateway,
            merchant_id: common.merchant_id,
            rate: common.rate,
            query_rate: common.query_rate,
            concurrency: common.concurrency,
        })
    }

    /// Checks one profile completely and returns it ready to use.
    pub fn profile(&self, name: &str) -> Result<Profile, UsageError> {
        let text = self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profile_names().collect();
            UsageError(format!(
                "There is no profile '{name}' in '{}' (profiles: {}){}",
                self.path.display(),
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
                nearest(name, &known).map_or(String::new(), |near| format!(
                    "; did you mean `--profile {near}`?"
                ))
            ))
        })?;
        let error = |e: SettingError| self.setting_error(name, e);
        let spec = text.section.kind().spec();
        let common = text.common.check(&spec.pace_defaults()).map_err(error)?;
        let endpoint = Endpoint {
            base_url: common.base_url.clone(),
            merchant_id: common.merchant_id.clone(),
            timeout: common.timeout,
        };
        let section = text
            .section
            .check(&SectionContext {
                profile: name,
                dir: self.dir(),
                endpoint: &endpoint,
            })
            .map_err(error)?;
        Ok(Profile {
            name: name.to_owned(),
            gateway: text.section.kind(),
            base_url: common.base_url,
            merchant_id: common.merchant_id,
            rate: common.rate,
            query_rate: common.query_rate,
            concurrency: common.concurrency,
            timeout: common.timeout,
            max_attempts: common.max_attempts,
            same_order_gap: common.same_order_gap,
            poll_schedule: common
                .poll_schedule
                .unwrap_or_else(|| spec.poll_schedule().to_vec()),
            first_query_after: spec.pace_defaults().first_query_after,
            max_batch: common.max_batch,
            max_refund: common.max_refund,
            approve_over: common.approve_over,
            section,
        })
    }

    /// "'F', profile 'P', trade_key.file (line 6): the file it names cannot be read".
    fn setting_error(&self, profile: &str, e: SettingError) -> UsageError {
        let path: Vec<&str> = ["profiles", profile]
            .into_iter()
            .chain(e.setting.split('.'))
            .collect();
        let line = self
            .places
            .key(&path)
            .or_else(|| self.places.key(&path[..3]))
            .map(|offset| toml_errors::position(&toml_errors::line_starts(&self.text), offset).0);
        let line = line.map_or(String::new(), |line| format!(" (line {line})"));
        UsageError(format!(
            "'{}', profile '{profile}', {}{line}: {}",
            self.path.display(),
            e.setting,
            e.message
        ))
    }
}

#[cfg(test)]
mod tests;
