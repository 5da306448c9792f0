//! The one definition of the day a refund counts for (statements.md, "Days:
//! Asia/Shanghai, always"): the gateway's own success time when an answer
//! gave one, else bulkrefund's `finished_at` (refunds recorded before the
//! journal kept the gateway's times, or whose gateway gave none), in the
//! gateway's day, Beijing time. A refund not final yet has neither: it is
//! placed by when it was first sent, else recorded (bulkrefund's clock too).
//! Everything that groups or filters refunds by day reads it from here: the
//! export's "by day" sheet and `#by_day` lines, `--since/--until`, the report,
//! reconciliation's expected refunds; and each says whose clock it used.

use jiff::civil::Date;

use crate::zone::Zone;

/// The zone every gateway's day is in (UTC+8, no daylight saving).
pub const GATEWAY_ZONE: &str = "Asia/Shanghai";

/// The gateway's day zone.
pub fn gateway_zone() -> Zone {
    Zone::named(GATEWAY_ZONE).expect("the bundled zone database has Asia/Shanghai")
}

/// The refund's times a day is counted by, in order: the first one a refund
/// has is its time ([`RefundTimes`](super::report_rows::RefundTimes) names
/// them alike). The first is the gateway's own clock; the others are
/// bulkrefund's. A store builds its query from this list.
pub const COUNTED_BY: [&str; 4] = [
    "gateway_success_at",
    "finished_at",
    "first_sent_at",
    "created_at",
];

/// Whose clock placed a refund on its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayBasis {
    /// The gateway's success time.
    Gateway,
    /// bulkrefund's own time of the answer: the journal has no gateway time.
    Bulkrefund,
}

impl DayBasis {
    /// As files write it: `gateway`, `bulkrefund`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayBasis::Gateway => "gateway",
            DayBasis::Bulkrefund => "bulkrefund",
        }
    }
}

/// The time a refund counts by ([`COUNTED_BY`]), and whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counted {
    /// A journal time (RFC 3339 UTC).
    pub at: String,
    pub basis: DayBasis,
}

impl Counted {
    /// The gateway's day it counts for (Beijing time).
    pub fn day(&self) -> Option<Date> {
        gateway_zone().day_of(&self.at)
    }
}

/// What a "by day" figure says of its days: that they are the gateway's,
/// and how many refunds bulkrefund's clock placed.
pub fn note(placed_by_our_clock: u64) -> String {
    let mut note = format!("days: the gateway's success time in {GATEWAY_ZONE}");
    if placed_by_our_clock > 0 {
        let refunds = if placed_by_our_clock == 1 {
            "refund"
        } else {
            "refunds"
        };
        note.push_str(&format!(
            "; {placed_by_our_clock} {refunds} placed by bulkrefund's clock (no gateway time: \
             recorded before bulkrefund kept the gateway's times, or the gateway gave none)"
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_day_is_beijings() {
        let zone = gateway_zone();
        let day = zone.day_of("2026-11-30T15:59:59.000Z").unwrap();
        assert_eq!(day.to_string(), "2026-11-30");
        let day = zone.day_of("2026-11-30T16:00:00.000Z").unwrap();
        assert_eq!(day.to_string(), "2026-12-01");
        assert_eq!(
            zone.bound("2026-11-30", false).unwrap(),
            "2026-11-29T16:00:00.000Z"
        );
        assert_eq!(
            zone.bound("2026-11-30", true).unwrap(),
            "2026-11-30T16:00:00.000Z"
        );
    }

    #[test]
    fn the_note_says_whose_clock() {
        assert_eq!(note(0), "days: the gateway's success time in Asia/Shanghai");
        assert!(note(2).contains("; 2 refunds placed by bulkrefund's clock"));
    }
}
