//! The gateway's own times, as its answers write them, read into instants
//! for a [`super::Receipt`]: WeChat Pay's RFC 3339 with an offset, and the
//! Beijing wall-clock times of Alipay (`yyyy-MM-dd HH:mm:ss`), Leshua and
//! Lianshang (`yyyyMMddHHmmss`). Reading is strict: a time that does not
//! read exactly so is not kept (`None`), and the outcome it came with stands;
//! a time is never guessed (statements.md, "Days: Asia/Shanghai, always").

use std::str::FromStr;

use jiff::civil::DateTime;
use jiff::tz::{self, TimeZone};
use jiff::Timestamp;

/// Alipay's answers: `2026-11-22 09:30:01`, Beijing time.
pub const DASHED: &str = "%Y-%m-%d %H:%M:%S";
/// Leshua's and Lianshang's answers: `20261122093001`, Beijing time.
pub const COMPACT: &str = "%Y%m%d%H%M%S";

/// An RFC 3339 time with its offset (WeChat Pay's `success_time`,
/// `create_time`): `2026-11-22T09:30:01+08:00`. A time without an offset is
/// not an instant, and is not kept.
pub fn rfc3339(text: &str) -> Option<Timestamp> {
    Timestamp::from_str(text).ok()
}

/// A Beijing wall-clock time in `format` ([`DASHED`] or [`COMPACT`]),
/// exactly: every digit in its place, nothing before or after. Beijing time
/// is UTC+8 all year (no daylight saving since 1991), as every gateway
/// writes it.
pub fn beijing(text: &str, format: &str) -> Option<Timestamp> {
    let shape = match format {
        DASHED => "dddd-dd-dd dd:dd:dd",
        COMPACT => "dddddddddddddd",
        _ => return None,
    };
    let fits = text.len() == shape.len()
        && text.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        });
    if !fits {
        return None;
    }
    let civil = DateTime::strptime(format, text).ok()?;
    let utc8 = TimeZone::fixed(tz::offset(8));
    civil.to_zoned(utc8).ok().map(|zoned| zoned.timestamp())
}

/// How far after bulkrefund's own receipt of an answer the gateway's clock
/// may say the refund succeeded: clocks drift, but not by more than this.
pub const MAX_SKEW: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// No gateway time is earlier than this: no gateway bulkrefund speaks to
/// existed before 2000, so an earlier time is a zero or a default value
/// (`1970-01-01`, `0000-...`), never the refund's.
pub const EARLIEST: Timestamp = Timestamp::constant(946_684_800, 0);

/// Whether a gateway's time `at` can be the refund's, given that bulkrefund
/// received the answer at `received`: not after it by more than
/// [`MAX_SKEW`], not before [`EARLIEST`]. A time that is not is not kept:
/// the refund's day falls back to bulkrefund's clock, and says so.
pub fn plausible(at: Timestamp, received: Timestamp) -> bool {
    let latest = received.checked_add(MAX_SKEW).unwrap_or(Timestamp::MAX);
    (EARLIEST..=latest).contains(&at)
}

/// A gateway's optional text time, read by `read`, as a receipt keeps it.
pub fn kept(text: Option<&str>, read: impl Fn(&str) -> Option<Timestamp>) -> Option<Timestamp> {
    text.filter(|t| !t.is_empty()).and_then(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn beijing_wall_clock_times_are_utc_plus_8() {
        assert_eq!(
            beijing("2026-11-30 23:59:59", DASHED),
            Some(at("2026-11-30T15:59:59Z"))
        );
        assert_eq!(
            beijing("20261201000001", COMPACT),
            Some(at("2026-11-30T16:00:01Z"))
        );
        for bad in [
            "2026-11-30 23:59:5",
            "2026-11-30T23:59:59",
            " 2026-11-30 23:59:59",
            "2026-11-31 10:00:00",
            "2026-11-30 24:00:00",
            "+026-11-30 23:59:59",
            "",
        ] {
            assert_eq!(beijing(bad, DASHED), None, "{bad:?}");
        }
        for bad in [
            "2026113023595",
            "202611302359590",
            "2026-1130235959",
            "20261330000000",
        ] {
            assert_eq!(beijing(bad, COMPACT), None, "{bad:?}");
        }
    }

    #[test]
    fn a_time_after_the_answer_or_before_2000_is_not_plausible() {
        let received = at("2026-11-30T16:00:00Z");
        assert!(plausible(at("2026-11-30T16:10:00Z"), received));
        assert!(!plausible(at("2026-11-30T16:10:00.001Z"), received));
        assert!(plausible(at("2000-01-01T00:00:00Z"), received));
        assert!(!plausible(at("1999-12-31T23:59:59Z"), received));
        assert!(!plausible(at("1970-01-01T00:00:00Z"), received));
        assert!(!plausible(at("2099-01-01T00:00:00Z"), received));
    }

    #[test]
    fn rfc3339_needs_its_offset() {
        assert_eq!(
            rfc3339("2026-11-30T23:59:59+08:00"),
            Some(at("2026-11-30T15:59:59Z"))
        );
        assert_eq!(rfc3339("2026-11-30T23:59:59"), None);
        assert_eq!(rfc3339("yesterday"), None);
        assert_eq!(kept(Some(""), rfc3339), None);
        assert_eq!(kept(None, rfc3339), None);
    }
}
