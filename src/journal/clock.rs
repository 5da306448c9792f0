//! The journal's clock, by which this process writes and compares every time
//! the journal keeps (when a refund is next due, when an attempt was made):
//! this machine's clock, or on a PostgreSQL journal the server's. Processes
//! on several machines share a PostgreSQL journal and their clocks disagree;
//! the server dates events and leases and decides what is due by its own
//! clock, so a machine whose clock ran an hour ahead would otherwise write
//! retries due an hour late, and one behind would wait for nothing.
//!
//! The server's clock is followed as an offset from this machine's,
//! measured at every reading of it ([`follow`]: when a PostgreSQL journal
//! opens, and at every lease renewal), so that a clock stepped by NTP
//! during a long run is followed within a third of a lease. One process
//! opens one journal; the offset is the process's.
//!
//! A gateway's signed timestamps are not journal times: they stay on this
//! machine's clock, which the gateway checks against its own.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

/// How far the journal's clock runs ahead of this machine's, in ms.
static AHEAD_OF_THIS_MACHINE_MS: AtomicI64 = AtomicI64::new(0);

/// Now on the journal's clock, in unix milliseconds (`next_attempt_at`).
pub fn now_ms() -> i64 {
    machine_ms().saturating_add(AHEAD_OF_THIS_MACHINE_MS.load(Ordering::Relaxed))
}

/// Now on the journal's clock, as the journal writes times: RFC 3339, UTC,
/// milliseconds.
pub fn now_text() -> String {
    crate::zone::journal_time(now())
}

/// Now on the journal's clock.
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(now_ms()).unwrap_or_else(|_| jiff::Timestamp::now())
}

/// Follows a clock (the PostgreSQL server's) that read `clock_ms` while
/// this machine's read `asked_ms` when asked and `answered_ms` when the
/// answer came: it read at the middle of the round trip, as NTP assumes.
pub fn follow(clock_ms: i64, asked_ms: i64, answered_ms: i64) {
    AHEAD_OF_THIS_MACHINE_MS.store(ahead(clock_ms, asked_ms, answered_ms), Ordering::Relaxed);
}

/// How far ahead a clock that read `clock_ms` between `asked_ms` and
/// `answered_ms` on this machine's runs.
fn ahead(clock_ms: i64, asked_ms: i64, answered_ms: i64) -> i64 {
    let middle = asked_ms + (answered_ms - asked_ms) / 2;
    clock_ms.saturating_sub(middle)
}

/// This machine's clock, in unix milliseconds: what [`follow`] measures
/// against.
pub fn machine_ms() -> i64 {
    jiff::Timestamp::now()
        .as_millisecond()
        .saturating_add(test_skew_ms())
}

/// Tests only, and only in a debug build (a release build never reads it):
/// `BULKREFUND_TEST_CLOCK_SKEW_MS` sets this machine's clock wrong by that
/// many ms (negative: behind), to show what the journal's clock does for a
/// machine whose clock is wrong. Read once, and said on stderr when set.
fn test_skew_ms() -> i64 {
    static SKEW: OnceLock<i64> = OnceLock::new();
    *SKEW.get_or_init(|| {
        if !cfg!(debug_assertions) {
            return 0;
        }
        let skew = std::env::var("BULKREFUND_TEST_CLOCK_SKEW_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0);
        if skew != 0 {
            tracing::warn!(
                "BULKREFUND_TEST_CLOCK_SKEW_MS: this machine's clock is read {skew} ms off (a test)"
            );
        }
        skew
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_read_at_the_middle_of_the_round_trip() {
        // Asked at 1,000 and answered at 1,010 on this machine; the server
        // read 3,601,005: an hour ahead. (The process's offset is left
        // alone: other tests read the clock meanwhile.)
        assert_eq!(ahead(3_601_005, 1_000, 1_010), 3_600_000);
        assert_eq!(ahead(995, 1_000, 1_010), -10);
    }
}
