//! What every profile says, whatever its gateway: where the gateway is, which
//! merchant we are, and how fast and how patiently to work. Checked against
//! [`crate::limits`], the same rules the flags obey.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::gateway::PaceDefaults;
use crate::limits;
use crate::money::Fen;
use crate::setting::SettingError;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &[
    "base_url",
    "merchant_id",
    "rate",
    "query_rate",
    "concurrency",
    "max_concurrency",
    "timeout",
    "max_attempts",
    "same_order_gap",
    "poll_schedule",
    "max_batch_yuan",
    "max_refund_yuan",
    "approve_over_yuan",
];

/// The upper bound on requests in flight when a profile sets neither
/// `concurrency` nor `max_concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 256;

/// The common settings as the file gives them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonText {
    base_url: String,
    merchant_id: String,
    rate: Option<i64>,
    query_rate: Option<i64>,
    concurrency: Option<i64>,
    max_concurrency: Option<i64>,
    timeout: Option<String>,
    max_attempts: Option<i64>,
    same_order_gap: Option<String>,
    poll_schedule: Option<Vec<String>>,
    max_batch_yuan: Option<toml::Value>,
    max_refund_yuan: Option<toml::Value>,
    approve_over_yuan: Option<toml::Value>,
}

/// The common settings, checked, defaults applied.
#[derive(Clone, Debug)]
pub struct Common {
    pub base_url: Url,
    pub merchant_id: String,
    /// Requests per second: submits only when `query_rate` is set, else
    /// submits and queries together.
    pub rate: u32,
    /// Queries per second, for a gateway that limits them apart.
    pub query_rate: Option<u32>,
    /// The most requests in flight: `concurrency` when set, else
    /// `max_concurrency` (default 256). Below it the engine keeps as many in
    /// flight as the rate needs at the gateway's latency.
    pub concurrency: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub same_order_gap: Duration,
    /// The waits before each poll of a refund still processing, the last
    /// repeating; `None`: the gateway's own schedule.
    pub poll_schedule: Option<Vec<Duration>>,
    /// A batch that would send more than this in all is refused before anything is sent.
    pub max_batch: Option<Fen>,
    /// A batch with any one refund larger than this is refused before anything is sent.
    pub max_refund: Option<Fen>,
    /// A batch that would send more than this is recorded and waits for a
    /// second person's approval (`bulkrefund approve`); no flag bypasses it.
    pub approve_over: Option<Fen>,
}

impl CommonText {
    /// Checks the settings; those left out take the gateway's `defaults`.
    pub fn check(&self, defaults: &PaceDefaults) -> Result<Common, SettingError> {
        let base_url = Url::parse(&self.base_url)
            .map_err(|e| SettingError::new("base_url", format!("is not a URL ({e})")))?;
        let merchant_id = self.merchant_id.trim();
        if merchant_id.is_empty() {
            return Err(SettingError::new("merchant_id", "is empty"));
        }
        let timeout = duration("timeout", &self.timeout, Duration::from_secs(10))?;
        let timeout = limits::timeout(timeout).map_err(|m| SettingError::new("timeout", m))?;
        Ok(Common {
            base_url,
            merchant_id: merchant_id.to_owned(),
            rate: whole("rate", self.rate, &limits::RATE, defaults.rate)?,
            query_rate: match (defaults.query_rate, self.query_rate) {
                (None, None) => None,
                (None, Some(_)) => return Err(SettingError::new(
                    "query_rate",
                    "this gateway has one limit for refunds and queries together: set rate only",
                )),
                (Some(default), value) => Some(whole("query_rate", value, &limits::RATE, default)?),
            },
            concurrency: match self.concurrency {
                Some(_) => whole("concurrency", self.concurrency, &limits::CONCURRENCY, 16)?,
                None => whole(
                    "max_concurrency",
                    self.max_concurrency,
                    &limits::CONCURRENCY,
                    DEFAULT_MAX_CONCURRENCY,
                )?,
            },
            timeout,
            max_attempts: whole("max_attempts", self.max_attempts, &limits::MAX_ATTEMPTS, 8)?,
            same_order_gap: duration(
                "same_order_gap",
                &self.same_order_gap,
                defaults.same_order_gap,
            )?,
            poll_schedule: self
                .poll_schedule
                .as_deref()
                .map(limits::poll_schedule)
                .transpose()
                .map_err(|m| SettingError::new("poll_schedule", m))?,
            max_batch: yuan("max_batch_yuan", &self.max_batch_yuan)?,
            max_refund: yuan("max_refund_yuan", &self.max_refund_yuan)?,
            approve_over: yuan("approve_over_yuan", &self.approve_over_yuan)?,
        })
    }
}

fn whole(
    setting: &str,
    value: Option<i64>,
    bounds: &std::ops::RangeInclusive<i64>,
    default: u32,
) -> Result<u32, SettingError> {
    match value {
        None => Ok(default),
        Some(v) => limits::whole(v, bounds).map_err(|m| SettingError::new(setting, m)),
    }
}

/// A limit in yuan: a whole number (`50000`) or decimal text (`"50000.50"`).
/// A TOML float is refused: an amount never passes through a float.
fn yuan(setting: &str, value: &Option<toml::Value>) -> Result<Option<Fen>, SettingError> {
    let fen = match value {
        None => return Ok(None),
        Some(toml::Value::Integer(whole)) if *whole > 0 => {
            Fen::parse_yuan(&whole.to_string())
        }
        Some(toml::Value::String(text)) => Fen::parse_yuan(text.trim()),
        Some(toml::Value::Float(_)) => {
            return Err(SettingError::new(
                setting,
                "is a decimal number: write yuan with decimals as text, e.g. \"50000.50\", or a whole number",
            ))
        }
        Some(_) => {
            return Err(SettingError::new(
                setting,
                "is not an amount of yuan, e.g. 50000 or \"50000.50\"",
            ))
        }
    };
    fen.map(Some)
        .map_err(|e| SettingError::new(setting, format!("\"{}\" {e}", value_text(value))))
}

fn value_text(value: &Option<toml::Value>) -> String {
    match value {
        Some(toml::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn duration(
    setting: &str,
    value: &Option<String>,
    default: Duration,
) -> Result<Duration, SettingError> {
    match value {
        None => Ok(default),
        Some(text) => limits::parse_duration(text).map_err(|m| SettingError::new(setting, m)),
    }
}
