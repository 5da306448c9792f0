//! What a command line asks for, resolved once. clap's raw values ([`crate::cli`])
//! become these options: where the configuration and the journal are, and how
//! the engine works, each engine flag resolved against a profile's setting here
//! (the flag wins) rather than where it is used.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, EngineArgs};
use crate::config::{Config, Profile, DEFAULT_JOURNAL};
use crate::exit::UsageError;
use crate::journal::location::is_postgres_url;
use crate::journal::JournalLocation;
use crate::zone::Zone;

/// Where the configuration and the journal are, from the global flags.
#[derive(Clone, Debug, Default)]
pub struct Locations {
    /// `--config` (or `$BULKREFUND_CONFIG`, which clap reads into it).
    pub config: Option<PathBuf>,
    /// `--journal`.
    pub journal: Option<PathBuf>,
    /// `--timezone`.
    pub timezone: Option<String>,
}

impl Locations {
    pub fn from_cli(cli: &Cli) -> Locations {
        let places = cli.command.places();
        Locations {
            config: places.config,
            journal: places.journal,
            timezone: places.timezone,
        }
    }

    /// The configuration file's path: given, else `./bulkrefund.toml`.
    pub fn config_path(&self) -> PathBuf {
        Config::locate(self.config.as_deref())
    }

    /// The configuration, which must exist, and the journal it names.
    pub fn load(&self) -> Result<(Config, JournalLocation), UsageError> {
        let config = Config::load(&self.config_path())?;
        let journal = config.journal_location(self.journal.as_deref());
        Ok((config, journal))
    }

    /// The journal and the time zone, for commands that read only the
    /// journal: they work without a configuration file (one that exists is
    /// read, once, for its `journal` and its `timezone`).
    pub fn journal_only(&self) -> Result<(JournalLocation, Zone), UsageError> {
        let path = self.config_path();
        // A PostgreSQL journal's password may be the configuration's.
        let postgres = self
            .journal
            .as_deref()
            .and_then(|j| j.to_str())
            .is_some_and(is_postgres_url);
        let config = if self.journal.is_none() || self.timezone.is_none() || postgres {
            path.exists().then(|| Config::load(&path)).transpose()?
        } else {
            None
        };
        let journal = match (&self.journal, &config) {
            (_, Some(config)) => config.journal_location(self.journal.as_deref()),
            (Some(journal), None) => JournalLocation::named(journal, None, None),
            (None, None) => JournalLocation::file(DEFAULT_JOURNAL),
        };
        Ok((journal, self.zone(config.as_ref())?))
    }

    /// The time zone: `--timezone`, else the configuration's `timezone`, else
    /// the machine's.
    pub fn zone(&self, config: Option<&Config>) -> Result<Zone, UsageError> {
        match (&self.timezone, config) {
            (Some(name), _) => {
                Zone::named(name).map_err(|e| UsageError(format!("--timezone: {}", e.0)))
            }
            (None, Some(config)) => Ok(zone_of(config)),
            (None, None) => Ok(Zone::system()),
        }
    }
}

/// The configuration's zone (checked when it was parsed), else the machine's.
pub fn zone_of(config: &Config) -> Zone {
    config
        .timezone()
        .and_then(|name| Zone::named(name).ok())
        .unwrap_or_else(Zone::system)
}

/// How the engine works a run, as the flags say; what they leave out comes
/// from each profile ([`RunOptions::pace_for`]).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub rate: Option<u32>,
    pub concurrency: Option<u32>,
    pub max_attempts: Option<u32>,
    /// How long to keep polling refunds that are processing.
    pub poll_for: Duration,
    /// Results files start with a BOM, for Excel.
    pub excel: bool,
    /// No progress bar.
    pub quiet: bool,
}

impl Default for RunOptions {
    /// What the flags default to.
    fn default() -> RunOptions {
        RunOptions {
            rate: None,
            concurrency: None,
            max_attempts: None,
            poll_for: Duration::from_secs(600),
            excel: false,
            quiet: false,
        }
    }
}

impl From<&EngineArgs> for RunOptions {
    fn from(args: &EngineArgs) -> RunOptions {
        RunOptions {
            rate: args.rate,
            concurrency: args.concurrency,
            max_attempts: args.max_attempts,
            poll_for: args.poll_for,
            excel: args.excel,
            quiet: crate::messages::quiet(),
        }
    }
}

/// How the requests of one profile are paced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaceSettings {
    /// Requests per second: submits only when `query_rate` is set, else
    /// submits and queries together.
    pub rate: u32,
    /// Queries per second, paced apart, for a gateway that limits them apart.
    pub query_rate: Option<u32>,
    pub concurrency: u32,
    pub max_attempts: u32,
    /// The pause between the end of one refund of an order and the next one's send.
    pub same_order_gap: Duration,
    /// The waits before each poll of a refund still processing.
    pub poll_schedule: Vec<Duration>,
    /// The gateway's wait before the first query of a send whose outcome is unknown.
    pub first_query_after: Duration,
}

impl RunOptions {
    /// The profile's pace, each flag given overriding the profile's setting.
    pub fn pace_for(&self, profile: &Profile) -> PaceSettings {
        PaceSettings {
            rate: self.rate.unwrap_or(profile.rate),
            query_rate: profile.query_rate,
            concurrency: self.concurrency.unwrap_or(profile.concurrency),
            max_attempts: self.max_attempts.unwrap_or(profile.max_attempts),
            same_order_gap: profile.same_order_gap,
            poll_schedule: profile.poll_schedule.clone(),
            first_query_after: profile.first_query_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_flag_overrides_the_profiles_setting_and_only_that() {
        let config = Config::parse(
            Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/samples/bulkrefund.toml"
            )),
            "[profiles.p]\ngateway = \"leshua\"\nbase_url = \"http://127.0.0.1:1\"\nmerchant_id = \"M\"\n\
             trade_key = { file = \"keys/leshua-trade.key\" }\nrate = 7\nconcurrency = 3\nsame_order_gap = \"2s\"\n\
             poll_schedule = [\"1s\", \"3s\"]\n",
        )
        .unwrap();
        let profile = config.profile("p").unwrap();
        let options = RunOptions {
            concurrency: Some(9),
            ..RunOptions::default()
        };
        assert_eq!(
            options.pace_for(&profile),
            PaceSettings {
                rate: 7,
                query_rate: None,
                concurrency: 9,
                max_attempts: 8,
                same_order_gap: Duration::from_secs(2),
                poll_schedule: vec![Duration::from_secs(1), Duration::from_secs(3)],
                first_query_after: Duration::ZERO,
            }
        );
    }
}
