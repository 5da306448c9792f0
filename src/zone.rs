//! The operator's time zone: `--timezone`, else `timezone` in the
//! configuration, else the machine's. The journal keeps UTC; people see local
//! times with their offset (`2026-11-30T23:30:00+08:00`), and `--since/--until`
//! dates are local days. The zone database is jiff's, bundled into the binary,
//! so a machine without tzdata gives the same answers.

use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::exit::UsageError;

#[derive(Clone, Debug)]
pub struct Zone {
    tz: TimeZone,
    name: String,
}

impl Zone {
    /// A zone by its IANA name (`Asia/Shanghai`, `UTC`).
    pub fn named(name: &str) -> Result<Zone, UsageError> {
        let tz = TimeZone::get(name).map_err(|_| {
            UsageError(format!(
                "{name:?} is not a time zone name the zone database knows (e.g. Asia/Shanghai, UTC)"
            ))
        })?;
        Ok(Zone {
            tz,
            name: name.to_owned(),
        })
    }

    /// The machine's zone ($TZ, else /etc/localtime), UTC when it has none.
    pub fn system() -> Zone {
        let tz = TimeZone::try_system().unwrap_or(TimeZone::UTC);
        let name = tz.iana_name().unwrap_or("UTC").to_owned();
        Zone { tz, name }
    }

    pub fn utc() -> Zone {
        Zone {
            tz: TimeZone::UTC,
            name: "UTC".into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A journal time (RFC 3339 in UTC) as local RFC 3339 with the offset.
    /// Text that is not a time is shown as it is.
    pub fn show(&self, utc: &str) -> String {
        match Timestamp::from_str(utc) {
            Ok(at) => self.format(at),
            Err(_) => utc.to_owned(),
        }
    }

    /// Now, local, with the offset.
    pub fn now(&self) -> String {
        self.format(Timestamp::now())
    }

    fn format(&self, at: Timestamp) -> String {
        let zoned = at.to_zoned(self.tz.clone());
        if zoned.subsec_nanosecond() == 0 {
            zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        } else {
            zoned.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
        }
    }

    /// An instant's local clock time, `16:21`: for the terminal, whatever
    /// the machine's zone.
    pub fn hour_minute(&self, at: Timestamp) -> String {
        at.to_zoned(self.tz.clone()).strftime("%H:%M").to_string()
    }

    /// A time with an offset as this zone's wall-clock time, without the
    /// offset (`2026-11-30T23:30:00.000`): for spreadsheets, which have no zones.
    pub fn wall_clock(&self, text: &str) -> Option<String> {
        let at = Timestamp::from_str(text).ok()?;
        Some(
            at.to_zoned(self.tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%.3f")
                .to_string(),
        )
    }

    /// The local day a journal time falls on (`2026-11-30`).
    pub fn day_of(&self, utc: &str) -> Option<Date> {
        Timestamp::from_str(utc)
            .ok()
            .map(|at| at.to_zoned(self.tz.clone()).date())
    }

    /// `--since`/`--until` text as a journal time: a date is that local day's
    /// first instant (for `until`, the next day's, so that the day is
    /// included); an RFC 3339 time with an offset is taken as it is.
    pub fn bound(&self, text: &str, is_until: bool) -> Result<String, UsageError> {
        // Only the bare date form is a day: jiff also reads a date out of a datetime.
        let date = (text.len() == 10)
            .then(|| Date::from_str(text).ok())
            .flatten();
        let at = if let Some(date) = date {
            let day = if is_until {
                date.tomorrow().unwrap_or(date)
            } else {
                date
            };
            day.to_zoned(self.tz.clone())
                .map_err(|e| UsageError(format!("{text}: {e}")))?
                .timestamp()
        } else {
            Timestamp::from_str(text).map_err(|_| {
                UsageError(format!(
                    "{text:?} is neither a date (2026-11-01, a day in {}) nor an RFC 3339 time with an offset (2026-11-01T08:00:00+08:00)",
                    self.name
                ))
            })?
        };
        Ok(journal_time(at))
    }
}

/// A time as the journal writes it (`2026-11-01T00:00:00.000Z`), so that
/// bounds and stored times compare as text.
pub fn journal_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_and_offsets() {
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        assert_eq!(
            shanghai.bound("2026-11-01", false).unwrap(),
            "2026-10-31T16:00:00.000Z"
        );
        assert_eq!(
            shanghai.bound("2026-11-30", true).unwrap(),
            "2026-11-30T16:00:00.000Z"
        );
        assert_eq!(
            shanghai.bound("2026-11-01T08:00:00+08:00", false).unwrap(),
            "2026-11-01T00:00:00.000Z"
        );
        assert_eq!(
            shanghai.show("2026-11-30T15:30:00.000Z"),
            "2026-11-30T23:30:00+08:00"
        );
        assert_eq!(
            shanghai.show("2026-11-30T15:30:00.250Z"),
            "2026-11-30T23:30:00.250+08:00"
        );
        assert_eq!(
            shanghai
                .day_of("2026-11-30T16:10:00.000Z")
                .unwrap()
                .to_string(),
            "2026-12-01"
        );
        assert!(shanghai.bound("yesterday", false).is_err());
        let at = Timestamp::from_str("2026-11-30T08:21:40Z").unwrap();
        assert_eq!(shanghai.hour_minute(at), "16:21");
        assert_eq!(Zone::utc().hour_minute(at), "08:21");
        assert!(Zone::named("Mars/Olympus").is_err());
        assert_eq!(
            journal_time(Timestamp::from_str("2026-11-01T00:00:00Z").unwrap()),
            "2026-11-01T00:00:00.000Z"
        );
    }

    #[test]
    fn a_day_that_starts_in_a_gap_starts_when_the_clock_resumes() {
        // São Paulo skipped midnight on 2018-11-04 (DST began at 00:00).
        let sao_paulo = Zone::named("America/Sao_Paulo").unwrap();
        assert_eq!(
            sao_paulo.bound("2018-11-04", false).unwrap(),
            "2018-11-04T03:00:00.000Z"
        );
    }
}
