//! How patient the engine is with one refund: how many times it is sent or
//! queried in a run ([`Patience`], counted in [`Counters`]), how long it waits
//! between polls, and the [`backoff`] every retry waits. A module of its own
//! so that the step (`task.rs`), the pace (`pacing.rs`) and what an answer
//! proves (`verdict.rs`) all read it without reading each other.

use std::time::Duration;

use rand::Rng;

/// What the engine remembers about a refund: the requests of this run (its
/// budget: `max_attempts` submits and as many queries), and how often the
/// gateway has denied holding it after it was sent, over every run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub submits: u32,
    pub queries: u32,
    pub polls: u32,
    /// Queries that said "no such refund" about a refund whose last send the
    /// gateway answered (read from the journal when a run first meets the
    /// refund, so that no run, `resume` or `retry` starts the count again).
    pub denials: u32,
    /// The last send got an answer from the gateway (HTTP 2xx) that was not
    /// the refund: "already exists", say. A "no such refund" after it
    /// contradicts it; after a timeout or a 5xx it does not (nothing may have
    /// been created, and `max_attempts` bounds the resends).
    pub answered: bool,
}

/// How many times the gateway may answer a send of a refund (without the
/// refund: "already exists") and then say it has no such refund, before the
/// refund goes to review. Once can be a query service that lags its refund
/// service; again and again, the gateway contradicts itself, and resending
/// would never end.
pub const MAX_DENIALS: u32 = 2;

/// How often an abnormal refund is asked about: at most hourly (a person
/// must act at the gateway first; docs/specs/wechatpay-v3.md, "Status").
pub const ABNORMAL_RECHECK: Duration = Duration::from_secs(3600);

/// How patient a profile is with one refund: how many times it is sent or
/// queried before bulkrefund gives up on it for this run, and how long it
/// waits between polls of a refund still processing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patience {
    pub max_attempts: u32,
    /// The waits before each poll, the last one repeating.
    pub poll_waits: Vec<Duration>,
    /// The wait before the first query of a send whose outcome is unknown.
    pub first_query_after: Duration,
}

impl Patience {
    /// The wait before the poll after `polls` polls.
    pub fn poll_wait(&self, polls: u32) -> Duration {
        self.poll_waits
            .get(polls as usize)
            .or(self.poll_waits.last())
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

pub const BACKOFF_BASE: Duration = Duration::from_millis(200);
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with full jitter: a random wait up to base × 2^attempt, capped.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    Duration::from_micros(rand::thread_rng().gen_range(0..=ceiling.as_micros() as u64))
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
    fn polls_follow_the_schedule_and_its_last_wait_repeats() {
        let patience = Patience {
            max_attempts: 8,
            poll_waits: vec![Duration::from_secs(2), Duration::from_secs(5)],
            first_query_after: Duration::ZERO,
        };
        let waits: Vec<u64> = (0..4).map(|n| patience.poll_wait(n).as_secs()).collect();
        assert_eq!(waits, [2, 5, 5, 5]);
    }
}
