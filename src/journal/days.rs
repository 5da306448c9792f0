//! The one definition of the day a refund counts for (statements.md, "Days:
//! Asia/Shanghai, always"): the gateway's own success time when an answer
//! gave one, else bulkrefund's `finished_at` (refunds recorded before the
//! journal kept the gateway's times), in the gateway's day, Beijing time.
//! Everything that groups or filters refunds by day reads it from here.

use crate::zone::Zone;

/// The zone every gateway's day is in (UTC+8, no daylight saving).
pub const GATEWAY_ZONE: &str = "Asia/Shanghai";

/// The gateway's day zone.
pub fn gateway_zone() -> Zone {
    Zone::named(GATEWAY_ZONE).expect("the bundled zone database has Asia/Shanghai")
}

/// SQL over `refunds` (unqualified columns): the journal time (RFC 3339 UTC,
/// compared as text) a refund counts by.
pub const COUNTED_AT: &str = "COALESCE(gateway_success_at, finished_at)";

/// SQL over `refunds`: 1 when [`COUNTED_AT`] is bulkrefund's clock, not the gateway's.
pub const COUNTED_BY_OUR_CLOCK: &str = "(gateway_success_at IS NULL)";

/// Whose clock placed a refund on its day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayBasis {
    /// The gateway's success time.
    Gateway,
    /// bulkrefund's own time of the answer: the journal has no gateway time.
    Bulkrefund,
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
    }
}
