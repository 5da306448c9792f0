//! How much of a profile's rate the polls of refunds still processing may
//! take. While new refunds of the profile wait to be sent, polls take at most
//! a quarter of the rate ([`POLL_SHARE`]), so that a month end's worth of
//! refunds the gateway is still processing cannot hold back the rest of the
//! batch; once nothing waits to be sent, polls use all of it. Queries that
//! settle an unknown outcome are never held back: they are few, and a refund's
//! retry may depend on them.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The part of the rate polls may take while submits wait: one in this many.
pub const POLL_SHARE: u32 = 4;

/// The poll budget of one profile. Only the scheduler uses it, one sweep of
/// the due refunds at a time.
pub struct PollShare {
    /// A quarter of the rate, with a second's worth of burst so that polls
    /// the sweep passed over late still get their share.
    limiter: DefaultDirectRateLimiter,
    /// False when the gateway limits queries apart: polls then never take
    /// from the submits' rate, and need no share.
    shares_the_rate: bool,
    /// A submit of this profile was due in the sweep going on.
    submits_now: AtomicBool,
    /// ... or in the sweep before it (a sweep may reach the polls first).
    submits_before: AtomicBool,
}

impl PollShare {
    pub fn new(rate: u32) -> PollShare {
        let rate = rate.max(1);
        let burst = (rate / POLL_SHARE).max(1);
        let quota = Quota::with_period(Duration::from_secs(u64::from(POLL_SHARE)) / rate)
            .expect("a positive period")
            .allow_burst(NonZeroU32::new(burst).expect("at least 1"));
        PollShare {
            limiter: RateLimiter::direct(quota),
            shares_the_rate: true,
            submits_now: AtomicBool::new(false),
            submits_before: AtomicBool::new(false),
        }
    }

    /// Polls of a gateway that limits queries apart from submits: they keep
    /// to the queries' own lane (engine/pacing.rs) and are never held back.
    pub fn apart() -> PollShare {
        PollShare {
            shares_the_rate: false,
            ..PollShare::new(1)
        }
    }

    /// A submit of this profile is due.
    pub fn submit_due(&self) {
        self.submits_now.store(true, Ordering::Relaxed);
    }

    /// The sweep reached the end of the due refunds.
    pub fn sweep_ended(&self) {
        let now = self.submits_now.swap(false, Ordering::Relaxed);
        self.submits_before.store(now, Ordering::Relaxed);
    }

    /// Whether a poll may go now; when it may not, it stays due for a later sweep.
    pub fn admit_poll(&self) -> bool {
        let submits_wait =
            self.submits_now.load(Ordering::Relaxed) || self.submits_before.load(Ordering::Relaxed);
        !self.shares_the_rate || !submits_wait || self.limiter.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_take_a_quarter_while_submits_wait_and_all_once_none_do() {
        let share = PollShare::new(100);
        share.submit_due();
        // A second's worth of the share at once, then no more until it refills.
        let admitted = (0..1_000).filter(|_| share.admit_poll()).count();
        assert_eq!(admitted, 25);
        // A sweep that found submits keeps the share on through the next one.
        share.sweep_ended();
        assert!(!share.admit_poll());
        share.sweep_ended();
        assert!((0..1_000).all(|_| share.admit_poll()), "no submit waits");
        // Polls with a lane of their own are never held back for submits.
        let apart = PollShare::apart();
        apart.submit_due();
        assert!((0..1_000).all(|_| apart.admit_poll()));
    }
}
