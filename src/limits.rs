//! The bounds a rate, a concurrency, a number of attempts and a timeout must
//! keep: one rule, with one message, whether the value comes from a flag
//! (`--rate 0`) or from the configuration (`rate = 0`). Nothing is silently
//! raised to 1 or cut to fit.

use std::ops::RangeInclusive;
use std::time::Duration;

/// Requests per second, queries included.
pub const RATE: RangeInclusive<i64> = 1..=100_000;
/// Requests in flight at once.
pub const CONCURRENCY: RangeInclusive<i64> = 1..=4096;
/// Attempts per refund (submits, or queries of an unknown refund).
pub const MAX_ATTEMPTS: RangeInclusive<i64> = 1..=100;
/// How long one request may take.
pub const TIMEOUT: RangeInclusive<Duration> = Duration::from_millis(1)..=Duration::from_secs(600);

/// One wait of a poll schedule: often enough to be useful, seldom enough that
/// the gateway is not asked more than once a tenth of a second per refund.
pub const POLL_WAIT: RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(3600);
/// Waits in a poll schedule.
pub const POLL_STEPS: RangeInclusive<usize> = 1..=16;

/// Checks a poll schedule, the waits as text ("2s", "1m").
pub fn poll_schedule(steps: &[String]) -> Result<Vec<Duration>, String> {
    if !POLL_STEPS.contains(&steps.len()) {
        return Err("must list from 1 to 16 waits, e.g. [\"2s\", \"10s\", \"1m\"]".to_owned());
    }
    steps
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let wait = parse_duration(text).map_err(|m| format!("wait {}: {m}", i + 1))?;
            if POLL_WAIT.contains(&wait) {
                Ok(wait)
            } else {
                Err(format!("wait {}: must be from 100ms to 1h", i + 1))
            }
        })
        .collect()
}

/// Checks a whole number against its bounds.
pub fn whole(value: i64, bounds: &RangeInclusive<i64>) -> Result<u32, String> {
    if bounds.contains(&value) {
        Ok(value as u32)
    } else {
        Err(format!(
            "must be a whole number from {} to {}",
            bounds.start(),
            bounds.end()
        ))
    }
}

/// Parses a flag's text as a whole number within bounds.
pub fn parse_whole(text: &str, bounds: &RangeInclusive<i64>) -> Result<u32, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| {
            format!(
                "must be a whole number from {} to {}",
                bounds.start(),
                bounds.end()
            )
        })
        .and_then(|value| whole(value, bounds))
}

pub fn parse_rate(text: &str) -> Result<u32, String> {
    parse_whole(text, &RATE)
}

pub fn parse_concurrency(text: &str) -> Result<u32, String> {
    parse_whole(text, &CONCURRENCY)
}

pub fn parse_max_attempts(text: &str) -> Result<u32, String> {
    parse_whole(text, &MAX_ATTEMPTS)
}

/// Parses a duration (`500ms`, `10s`, `10m`); the message never repeats the text.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| "must be a duration like 500ms, 10s or 10m".to_owned())
}

/// A request timeout within [`TIMEOUT`].
pub fn timeout(value: Duration) -> Result<Duration, String> {
    if TIMEOUT.contains(&value) {
        Ok(value)
    } else {
        Err("must be from 1ms to 10m".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_rule_for_every_source() {
        assert_eq!(parse_rate("50"), Ok(50));
        for bad in ["0", "-1", "99999999999", "1.5", "fast"] {
            assert_eq!(
                parse_rate(bad),
                Err("must be a whole number from 1 to 100000".into()),
                "{bad}"
            );
        }
        assert_eq!(
            whole(99_999_999_999, &RATE),
            Err("must be a whole number from 1 to 100000".into())
        );
        assert!(parse_concurrency("0").is_err());
        assert!(parse_max_attempts("0").is_err());
        assert_eq!(parse_max_attempts("8"), Ok(8));
        assert!(timeout(Duration::ZERO).is_err());
        assert!(parse_duration("S3CRET").unwrap_err().contains("duration"));
        assert!(!parse_duration("S3CRET").unwrap_err().contains("S3CRET"));
    }

    #[test]
    fn a_poll_schedule_is_a_short_list_of_sane_waits() {
        let texts = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            poll_schedule(&texts(&["500ms", "2s", "1m"])),
            Ok(vec![
                Duration::from_millis(500),
                Duration::from_secs(2),
                Duration::from_secs(60)
            ])
        );
        assert!(poll_schedule(&[]).unwrap_err().contains("from 1 to 16"));
        assert_eq!(
            poll_schedule(&texts(&["2s", "10ms"])),
            Err("wait 2: must be from 100ms to 1h".to_owned())
        );
        assert!(poll_schedule(&texts(&["soon"]))
            .unwrap_err()
            .starts_with("wait 1: must be a duration"));
        assert!(poll_schedule(&texts(&["1s"; 17])).is_err());
    }
}
