//! How many requests of one profile may be in flight: enough to reach the
//! rate, no more. By Little's law a gateway that answers in L seconds takes
//! `rate × L` requests in flight to be sent `rate` a second; the limit follows
//! the gateway's measured latency (a high percentile of the recent answers)
//! with headroom, within an upper bound (the profile's `concurrency`, else
//! `max_concurrency`). A busy answer or a 429 cuts it by a third and holds it
//! there a while (AIMD's multiplicative decrease): a gateway that is
//! struggling gets fewer requests at once, not more. Lost answers (a 5xx, a
//! timeout, a reset) cut it when they are a share of the recent answers, not
//! one by one: a gateway that loses one answer in a hundred is not loaded,
//! and cutting at each held a WeChat run at 0.95 of its rate (`scripts/bench`).
//!
//! It starts where a slow gateway would need it ([`ASSUMED_LATENCY`]), not
//! low: the pacer keeps the rate whatever the limit, so a high start costs
//! nothing, while a low one held the first second of every run below the
//! rate as the latency was learnt. It comes down on evidence only: measured
//! latencies (enough of them), busy answers and timeouts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The latencies the percentile is taken over.
const SAMPLES: usize = 200;
/// Answers needed before the measured latency is trusted.
const MIN_SAMPLES: usize = 8;
/// In flight = rate × (latency + [`AROUND`]) × this, plus [`SPARE`]: room
/// for the latency's jitter.
const HEADROOM: f64 = 1.5;
const SPARE: u32 = 2;
/// What a place in flight is held for besides the request itself: the
/// intent's commit before it, the answer's after, a wait for the send slot.
/// Without it, at 50 ms of latency the limit held WeChat at 0.989 of its
/// rate (`scripts/bench --only wechatpay`).
const AROUND: Duration = Duration::from_millis(20);
/// The limit is worked out again every this many answers: sorting the samples
/// at every answer cost 5 % of a fast run's CPU.
const RECOMPUTE_EVERY: u64 = 16;
/// Lost answers (5xx, none) among the last [`LOSS_SAMPLES`] answers that are
/// load, not noise. Busy answers and 429s are not counted here: each cuts.
const LOSS_SAMPLES: usize = 100;
const LOSSES_THAT_CUT: usize = 5;
/// How long a cut holds before the limit may grow again.
const HOLD_AFTER_CUT: Duration = Duration::from_secs(2);
/// The latency the limit starts from, before any answer: generous (gateways
/// answer in 50-500 ms), so that the rate is reached from the first second.
pub const ASSUMED_LATENCY: Duration = Duration::from_secs(1);

/// Why the limit is where it is, for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Following the gateway's latency: as many as the rate needs.
    Latency,
    /// The rate needs more than the upper bound allows.
    Upper,
    /// Cut after busy answers, 429s or timeouts.
    Busy,
}

struct State {
    limit: u32,
    /// Permits to take out of circulation as they come back (the limit was cut
    /// while they were out).
    debt: u32,
    latencies: VecDeque<Duration>,
    /// The last answers, true where it was lost, and how many of them were.
    recent: VecDeque<bool>,
    lost_of_recent: usize,
    hold_until: Option<Instant>,
    bound: Bound,
    /// The most the limit reached.
    peak: u32,
    cuts: u64,
    answers: u64,
}

pub struct InFlightLimit {
    semaphore: Arc<Semaphore>,
    state: Mutex<State>,
    rate: u32,
    upper: u32,
}

/// A place in flight; given back (or retired, if the limit was cut) on drop.
pub struct LimitPermit {
    permit: Option<OwnedSemaphorePermit>,
    limit: Arc<InFlightLimit>,
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        let mut state = self.limit.state.lock().expect("limit lock");
        if state.debt > 0 {
            state.debt -= 1;
            if let Some(permit) = self.permit.take() {
                permit.forget();
            }
        }
    }
}

/// What the limit settled on, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitReport {
    pub limit: u32,
    pub peak: u32,
    pub upper: u32,
    pub bound: Bound,
    pub cuts: u64,
    /// The latency percentile the limit follows, when measured.
    pub latency: Option<Duration>,
}

impl LimitReport {
    /// What holds the requests below the rate, when the in-flight limit does:
    /// a few words for the progress line.
    pub fn holding(&self) -> Option<String> {
        match self.bound {
            Bound::Latency => None,
            Bound::Upper => Some(format!(
                "held at {} in flight by concurrency / max_concurrency",
                self.upper
            )),
            Bound::Busy => Some(format!(
                "the gateway is busy: in flight cut to {}",
                self.limit
            )),
        }
    }

    /// "in-flight limit 50 at the end (peak 50, at most 256): as many as the rate needs ...":
    /// the limit the run ended with, not the requests in flight then (none, at the end).
    pub fn describe(&self) -> String {
        let why = match self.bound {
            Bound::Latency => match self.latency {
                Some(p90) => format!(
                    "as many as the rate needs at the gateway's latency (p90 {} ms)",
                    p90.as_millis()
                ),
                None => "too few answers yet to measure the gateway's latency".to_owned(),
            },
            Bound::Upper => format!(
                "held by the upper bound (concurrency / max_concurrency = {}): the rate needs more at the gateway's latency{}",
                self.upper,
                self.latency
                    .map(|p90| format!(" (p90 {} ms)", p90.as_millis()))
                    .unwrap_or_default()
            ),
            Bound::Busy => format!(
                "cut {} times after busy answers, 429s or timeouts",
                self.cuts
            ),
        };
        format!(
            "in-flight limit {} at the end (peak {}, at most {}): {why}",
            self.limit, self.peak, self.upper
        )
    }
}

impl InFlightLimit {
    /// Starts at what a gateway answering in [`ASSUMED_LATENCY`] would need, within `upper`.
    pub fn new(rate: u32, upper: u32) -> Arc<InFlightLimit> {
        let upper = upper.max(1);
        let start = needed(rate, ASSUMED_LATENCY).clamp(1, upper);
        Arc::new(InFlightLimit {
            semaphore: Arc::new(Semaphore::new(start as usize)),
            state: Mutex::new(State {
                limit: start,
                debt: 0,
                latencies: VecDeque::with_capacity(SAMPLES),
                recent: VecDeque::with_capacity(LOSS_SAMPLES),
                lost_of_recent: 0,
                hold_until: None,
                bound: if start == upper {
                    Bound::Upper
                } else {
                    Bound::Latency
                },
                peak: start,
                cuts: 0,
                answers: 0,
            }),
            rate,
            upper,
        })
    }

    pub async fn acquire(self: &Arc<Self>) -> LimitPermit {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        LimitPermit {
            permit: Some(permit),
            limit: self.clone(),
        }
    }

    /// An answer came after `latency`: the limit follows what the rate needs.
    pub fn answered(&self, latency: Duration) {
        let mut state = self.state.lock().expect("limit lock");
        state.remember(false);
        if state.latencies.len() == SAMPLES {
            state.latencies.pop_front();
        }
        state.latencies.push_back(latency);
        state.answers += 1;
        if !state.answers.is_multiple_of(RECOMPUTE_EVERY) && state.answers != MIN_SAMPLES as u64 {
            return;
        }
        let Some(p90) = percentile(&state.latencies, 0.9) else {
            return;
        };
        if state.hold_until.is_some_and(|until| Instant::now() < until) {
            return;
        }
        let needed = needed(self.rate, p90);
        let (target, bound) = if needed >= self.upper {
            (self.upper, Bound::Upper)
        } else {
            (needed.max(1), Bound::Latency)
        };
        state.bound = bound;
        self.set(&mut state, target);
    }

    /// No answer, or a 5xx: a cut once such answers are a share of the recent ones.
    pub fn lost(&self) {
        let mut state = self.state.lock().expect("limit lock");
        state.remember(true);
        // After a cut, the next ones are counted afresh; during a cut's hold
        // they keep counting towards the next.
        if state.lost_of_recent >= LOSSES_THAT_CUT && self.cut(&mut state) {
            state.recent.clear();
            state.lost_of_recent = 0;
        }
    }

    /// A busy answer or a 429: a third fewer in flight, held a while.
    pub fn overloaded(&self) {
        let mut state = self.state.lock().expect("limit lock");
        self.cut(&mut state);
    }

    /// True when it cut: one cut per hold, as a burst of busy answers is one signal.
    fn cut(&self, state: &mut State) -> bool {
        if state.hold_until.is_some_and(|until| Instant::now() < until) {
            return false;
        }
        let cut = (state.limit * 2 / 3).max(1);
        state.hold_until = Some(Instant::now() + HOLD_AFTER_CUT);
        state.bound = Bound::Busy;
        state.cuts += 1;
        tracing::debug!(
            from = state.limit,
            to = cut,
            "the gateway is struggling: fewer requests in flight"
        );
        self.set(state, cut);
        true
    }

    fn set(&self, state: &mut State, target: u32) {
        let current = state.limit;
        if target > current {
            let mut grow = target - current;
            // Permits still owed from a cut are forgiven first.
            let forgiven = grow.min(state.debt);
            state.debt -= forgiven;
            grow -= forgiven;
            self.semaphore.add_permits(grow as usize);
        } else if target < current {
            let shrink = current - target;
            let taken = self.semaphore.forget_permits(shrink as usize) as u32;
            state.debt += shrink - taken;
        }
        state.limit = target;
        state.peak = state.peak.max(target);
    }

    pub fn report(&self) -> LimitReport {
        let state = self.state.lock().expect("limit lock");
        LimitReport {
            limit: state.limit,
            peak: state.peak,
            upper: self.upper,
            bound: state.bound,
            cuts: state.cuts,
            latency: percentile(&state.latencies, 0.9),
        }
    }
}

impl State {
    fn remember(&mut self, lost: bool) {
        if self.recent.len() == LOSS_SAMPLES && self.recent.pop_front() == Some(true) {
            self.lost_of_recent -= 1;
        }
        self.recent.push_back(lost);
        self.lost_of_recent += usize::from(lost);
    }
}

/// In flight to keep `rate` a second at `latency` (Little's law), with headroom.
fn needed(rate: u32, latency: Duration) -> u32 {
    (f64::from(rate) * (latency + AROUND).as_secs_f64() * HEADROOM).ceil() as u32 + SPARE
}

/// The `q` percentile of the samples, once there are enough of them.
fn percentile(samples: &VecDeque<Duration>, q: f64) -> Option<Duration> {
    if samples.len() < MIN_SAMPLES {
        return None;
    }
    let mut sorted: Vec<Duration> = samples.iter().copied().collect();
    sorted.sort_unstable();
    let at = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(limit: &InFlightLimit, ms: u64, times: usize) {
        for _ in 0..times {
            limit.answered(Duration::from_millis(ms));
        }
    }

    #[tokio::test]
    async fn the_limit_follows_latency_within_the_upper_bound() {
        // 100/s at 300 ms needs 30 in flight, 32 with the commits around each: 50 with headroom and spare.
        let limit = InFlightLimit::new(100, 256);
        answered(&limit, 300, 20);
        let report = limit.report();
        assert_eq!((report.limit, report.bound), (50, Bound::Latency));
        assert_eq!(limit.semaphore.available_permits(), 50);
        // A faster gateway needs fewer.
        answered(&limit, 50, 200);
        assert_eq!(limit.report().limit, 13);
        // A slow one more than the bound allows: the bound, and it says so.
        let bounded = InFlightLimit::new(200, 16);
        answered(&bounded, 300, 20);
        let report = bounded.report();
        assert_eq!((report.limit, report.bound), (16, Bound::Upper));
    }

    #[tokio::test]
    async fn the_limit_starts_where_the_rate_may_need_it_and_waits_for_evidence() {
        // 100/s at an assumed 1 s: 100 in flight, 155 with the commits, headroom and spare.
        let limit = InFlightLimit::new(100, 256);
        let report = limit.report();
        assert_eq!((report.limit, report.bound), (155, Bound::Latency));
        assert_eq!(limit.semaphore.available_permits(), 155);
        // Places taken and given back, and a few fast answers, are no evidence.
        let out: Vec<LimitPermit> =
            futures::future::join_all((0..100).map(|_| limit.acquire())).await;
        drop(out);
        answered(&limit, 5, MIN_SAMPLES - 1);
        assert_eq!(limit.report().limit, 155);
        assert_eq!(limit.semaphore.available_permits(), 155);
        // Enough measured answers are: 100/s at 300 ms needs 50.
        answered(&limit, 300, 20);
        assert_eq!(limit.report().limit, 50);
        // Within the upper bound from the start, and it says so.
        let bounded = InFlightLimit::new(2000, 32);
        let report = bounded.report();
        assert_eq!((report.limit, report.bound), (32, Bound::Upper));
        // A slow rate needs few, but never none.
        assert_eq!(InFlightLimit::new(1, 256).report().limit, 4);
    }

    #[tokio::test]
    async fn a_cut_takes_back_permits_that_are_out_as_they_return() {
        let limit = InFlightLimit::new(100, 256);
        answered(&limit, 300, 20);
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(limit.acquire().await);
        }
        limit.overloaded();
        let report = limit.report();
        assert_eq!(
            (report.limit, report.bound, report.cuts),
            (33, Bound::Busy, 1)
        );
        // 10 were free and are gone; 7 more are owed by those out.
        assert_eq!(limit.semaphore.available_permits(), 0);
        limit.overloaded();
        assert_eq!(limit.report().cuts, 1, "one cut per hold");
        out.truncate(20);
        assert_eq!(limit.semaphore.available_permits(), 20 - 7);
        drop(out);
        assert_eq!(limit.semaphore.available_permits(), 33);
        // Held: answers do not raise it until the hold ends.
        answered(&limit, 300, 5);
        assert_eq!(limit.report().limit, 33);
    }

    #[tokio::test]
    async fn lost_answers_cut_the_limit_only_as_a_share_of_the_recent_ones() {
        let limit = InFlightLimit::new(100, 256);
        answered(&limit, 300, 20);
        assert_eq!(limit.report().limit, 50);
        // One lost answer in twenty-five is noise: no cut, however long it goes on.
        for _ in 0..10 {
            limit.lost();
            answered(&limit, 300, 24);
        }
        assert_eq!((limit.report().limit, limit.report().cuts), (50, 0));
        answered(&limit, 300, LOSS_SAMPLES);
        // Five in the last hundred are load: one cut, then counted afresh.
        for _ in 0..4 {
            limit.lost();
            answered(&limit, 300, 2);
        }
        assert_eq!(limit.report().cuts, 0);
        limit.lost();
        let report = limit.report();
        assert_eq!(
            (report.limit, report.bound, report.cuts),
            (33, Bound::Busy, 1)
        );
        // A busy answer cuts at once (after the hold).
        limit.state.lock().unwrap().hold_until = None;
        limit.overloaded();
        assert_eq!(limit.report().cuts, 2);
    }
}
