//! The pace of one profile (docs/DESIGN.md, "Rate, concurrency, retries"): one rate
//! limiter shared by submits and queries, a bound on requests in flight, and a
//! pause that a 429/503/busy answer puts on the whole profile, not just on the
//! refund that saw it. Also the backoff every retry waits.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limit::InFlightLimit;
use crate::gateway::Gateway;
use crate::options::PaceSettings;

pub const BACKOFF_BASE: Duration = Duration::from_millis(200);
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with full jitter: a random wait up to base × 2^attempt, capped.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling.as_micros() as u64))
}

/// How long to wait before the n-th poll of a refund that is processing.
pub fn poll_interval(polls: u32) -> Duration {
    const STEPS: [u64; 4] = [2, 5, 10, 30];
    Duration::from_secs(STEPS.get(polls as usize).copied().unwrap_or(60))
}

/// The quota for `rate` requests per second.
///
/// A waiter wakes up to a timer tick late, and a GCRA limiter with a burst of 1
/// cannot catch up on lateness, which cost ~4% of the rate at 200/s. A burst of
/// 2 absorbs lateness up to one period. A burst-2 GCRA with period T lets at
/// most ceil(W / T) + 1 requests into any window W; with T = 1.01 s / (rate - 1)
/// that is at most `rate` in a second even when sends are up to 9 ms late.
pub fn quota(rate: u32) -> Quota {
    let (burst, slots) = if rate >= 2 {
        (2, rate - 1)
    } else {
        (1, rate.max(1))
    };
    let period = Duration::from_secs_f64(1.01 / f64::from(slots));
    Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst).expect("burst is 1 or 2"))
}

/// The most requests a quota admits in any window `window` long (GCRA: a burst, then one per period).
pub fn most_in_window(quota: &Quota, window: Duration) -> u64 {
    let period = quota.replenish_interval().as_secs_f64();
    let burst = u64::from(quota.burst_size().get());
    (window.as_secs_f64() / period).ceil() as u64 + burst - 1
}

/// How much longer than a second the send window is: the room left for a
/// request to reach the gateway later than it left (a descheduled thread, the
/// network) without two seconds' requests landing in one. It also caps the rate
/// at `limit` per 1.01 s, just above the limiter's pace, so it bites on bursts only.
pub const WINDOW_SLACK: Duration = Duration::from_millis(10);

/// The last `limit` send times: a send goes only when fewer than `limit` fell
/// within the last second plus [`WINDOW_SLACK`]. The limiter spaces requests; this
/// makes the promise exact at the moment of sending, whatever stalled before.
pub struct SendWindow {
    limit: usize,
    span: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl SendWindow {
    pub fn new(limit: u32) -> SendWindow {
        SendWindow {
            limit: limit.max(1) as usize,
            span: Duration::from_secs(1) + WINDOW_SLACK,
            sent: Mutex::new(std::collections::VecDeque::with_capacity(
                limit.max(1) as usize
            )),
        }
    }

    /// Takes a place in the window at `now`, or says when one frees up.
    pub fn try_take(&self, now: Instant) -> Result<(), Instant> {
        let mut sent = self.sent.lock().expect("window lock");
        while sent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= self.span)
        {
            sent.pop_front();
        }
        if sent.len() < self.limit {
            sent.push_back(now);
            Ok(())
        } else {
            Err(sent[0] + self.span)
        }
    }
}

pub struct Pace {
    pub gateway: Arc<dyn Gateway>,
    /// How many requests may be in flight, following the gateway's latency.
    pub in_flight: Arc<InFlightLimit>,
    pub max_attempts: u32,
    /// Requests per second, submits and queries together.
    pub rate: u32,
    /// The pause after a refund of an order ends before the next one of that order is sent.
    pub same_order_gap: Duration,
    limiter: DefaultDirectRateLimiter,
    window: SendWindow,
    paused_until: Mutex<Option<Instant>>,
}

impl Pace {
    /// At most `rate` requests in any one-second window, spaced evenly.
    pub fn new(gateway: Arc<dyn Gateway>, settings: &PaceSettings) -> Pace {
        Pace {
            gateway,
            in_flight: InFlightLimit::new(settings.rate, settings.concurrency),
            max_attempts: settings.max_attempts.max(1),
            rate: settings.rate,
            same_order_gap: settings.same_order_gap,
            limiter: RateLimiter::direct(quota(settings.rate)),
            window: SendWindow::new(settings.rate),
            paused_until: Mutex::new(None),
        }
    }

    /// What an answer says about the gateway's load: its latency feeds the
    /// in-flight limit; a busy answer, a 429 or no answer at all cuts it.
    pub fn feedback(&self, outcome: &crate::gateway::Outcome, latency: Duration) {
        use crate::gateway::Outcome;
        match outcome {
            Outcome::Retry { .. } | Outcome::Unknown { .. } => self.in_flight.overloaded(),
            _ => self.in_flight.answered(latency),
        }
    }

    /// Pauses the whole profile for at least `wait`.
    pub fn pause(&self, wait: Duration) {
        tracing::debug!(?wait, "the gateway asked to slow down: pausing the profile");
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().expect("pause lock");
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Waits for the profile's pause and the rate limiter. False when cancelled first.
    pub async fn ready(&self, cancel: &CancellationToken) -> bool {
        loop {
            let paused = *self.paused_until.lock().expect("pause lock");
            if let Some(until) = paused.filter(|u| *u > Instant::now()) {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = cancel.cancelled() => return false,
                }
            }
            tokio::select! {
                _ = self.limiter.until_ready() => {}
                _ = cancel.cancelled() => return false,
            }
            // A pause set while we waited for the limiter applies to us too.
            let paused = *self.paused_until.lock().expect("pause lock");
            if paused.is_some_and(|u| u > Instant::now()) {
                continue;
            }
            match self.window.try_take(Instant::now()) {
                Ok(()) => return true,
                Err(free_at) => tokio::select! {
                    _ = tokio::time::sleep_until(free_at) => {}
                    _ = cancel.cancelled() => return false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_under_a_growing_cap() {
        for attempt in 0..40 {
            let ceiling = BACKOFF_BASE
                .saturating_mul(1 << attempt.min(16))
                .min(BACKOFF_CAP);
            for _ in 0..20 {
                assert!(backoff(attempt) <= ceiling);
            }
        }
        assert!(
            (0..200).any(|_| backoff(10) > Duration::from_secs(1)),
            "jitter spans the range"
        );
    }

    #[test]
    fn no_window_of_a_second_holds_more_than_the_rate() {
        // A second plus the lateness a send may have (a timer tick, the network).
        let window = Duration::from_millis(1_009);
        for rate in [1, 2, 3, 10, 49, 50, 51, 199, 200, 1_000, 5_000] {
            let q = quota(rate);
            assert!(most_in_window(&q, window) <= u64::from(rate), "rate {rate}");
            let sustained = 1.0 / q.replenish_interval().as_secs_f64();
            assert!(
                sustained >= 0.98 * f64::from(rate) || rate < 100,
                "rate {rate}: {sustained}"
            );
        }
    }

    #[test]
    fn the_send_window_never_holds_more_than_its_limit() {
        let window = SendWindow::new(3);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert!(window.try_take(at(0)).is_ok());
        assert!(window.try_take(at(0)).is_ok());
        assert!(window.try_take(at(10)).is_ok());
        // A fourth within 1.01 s of the first must wait until the first leaves the window.
        assert_eq!(window.try_take(at(500)), Err(at(1_010)));
        assert_eq!(window.try_take(at(1_009)), Err(at(1_010)));
        // Both sends at 0 ms have left by then: two places free.
        assert!(window.try_take(at(1_010)).is_ok());
        assert!(window.try_take(at(1_011)).is_ok());
        assert_eq!(window.try_take(at(1_012)), Err(at(1_020)));
    }

    #[test]
    fn polls_slow_down() {
        let waits: Vec<u64> = (0..7).map(|n| poll_interval(n).as_secs()).collect();
        assert_eq!(waits, [2, 5, 10, 30, 60, 60, 60]);
    }
}
