//! The pace of one profile (docs/DESIGN.md, "Rate, concurrency, retries"): its
//! rates, a bound on requests in flight, and a pause that a 429/503/busy
//! answer puts on the whole profile, not just on the refund that saw it.
//! Where the gateway has one limit (Leshua, Lianshang), submits and queries
//! share one [`Lane`] and [`super::polls`] shares its rate between submits
//! and polls; where it limits queries apart (WeChat: 150 applies/s, 300
//! queries/s), queries and polls keep to a lane of their own, so that they
//! never push the submits over their limit, nor wait behind them.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limit::InFlightLimit;
use super::policy::Patience;
use super::polls::PollShare;
use super::trust::Trust;
use crate::gateway::Gateway;
use crate::options::PaceSettings;

/// The limiter's quota: `rate` requests per second, spaced evenly.
///
/// It spaces requests; it does not keep the promise ([`SendWindow`] does), so
/// it runs at the full rate and the window is what binds. A waiter wakes up to
/// a timer tick late, and a GCRA limiter with a burst of 1 cannot catch up on
/// lateness; a burst of 2 absorbs lateness up to one period.
pub fn quota(rate: u32) -> Quota {
    let rate = rate.max(1);
    let burst = if rate >= 2 { 2 } else { 1 };
    Quota::with_period(Duration::from_secs(1) / rate)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst).expect("burst is 1 or 2"))
}

/// How much longer than a second the send window is: the room left for a
/// request to reach the gateway later than its slot (a timer tick, a
/// descheduled thread, the network) without two seconds' requests landing in
/// one. It is also the price: the rate is at most `limit` per 1.005 s, 0.995
/// of it (README, "Rate and concurrency").
pub const WINDOW_SLACK: Duration = Duration::from_millis(5);

/// The slack of the windows that begin in a run's first second. Every
/// request then opens a connection of its own, and a new connection reaches
/// the gateway later than a warm one by the time it takes to connect: with
/// only [`WINDOW_SLACK`], the first second's early requests, late on their
/// new connections, and the requests a second later, quick on warm ones,
/// landed 101 in one second at a rate of 100 (`scripts/bench`). It costs the
/// run at most this much time, once.
pub const START_SLACK: Duration = Duration::from_millis(25);

/// A lull after which the next request is a run's first again (its
/// connection closed meanwhile).
const IDLE: Duration = Duration::from_secs(30);

/// The send slots given out in the last second plus [`WINDOW_SLACK`]: a
/// request takes the first slot that keeps every such window at `limit` or
/// fewer, and goes at that time. The limiter spaces requests; this makes the
/// promise exact, whatever stalled before. Slots are handed out in order, so
/// waiters do not crowd the same freed place. A request that went out after
/// its slot moves it to when it went ([`SendWindow::left_late`]): the slots a
/// second later wait for it by as much, and no more.
pub struct SendWindow {
    limit: usize,
    span: Duration,
    slots: Mutex<std::collections::VecDeque<Instant>>,
    /// The first slot given out: windows that begin within a second of it
    /// take [`START_SLACK`].
    first: Mutex<Option<Instant>>,
}

impl SendWindow {
    pub fn new(limit: u32) -> SendWindow {
        SendWindow {
            limit: limit.max(1) as usize,
            span: Duration::from_secs(1) + WINDOW_SLACK,
            slots: Mutex::new(std::collections::VecDeque::with_capacity(
                limit.max(1) as usize + 1,
            )),
            first: Mutex::new(None),
        }
    }

    /// Takes the first free slot at or after `now` and says when it is.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut slots = self.slots.lock().expect("window lock");
        let first = {
            let mut first = self.first.lock().expect("window lock");
            // After a lull (a prompt, a long pause) the connections have
            // closed: the next second starts anew.
            if slots.back().is_none_or(|&last| now > last + IDLE) {
                *first = Some(now);
            }
            first.unwrap_or(now)
        };
        let mut at = slots.back().map_or(now, |&last| last.max(now));
        if slots.len() >= self.limit {
            let opens = slots[slots.len() - self.limit];
            let starting = opens < first + Duration::from_secs(1);
            let extra = if starting {
                START_SLACK - WINDOW_SLACK
            } else {
                Duration::ZERO
            };
            at = at.max(opens + self.span + extra);
        }
        slots.push_back(at);
        // Only the last `limit` slots can hold a later one back.
        while slots.len() > self.limit {
            slots.pop_front();
        }
        at
    }

    /// Moves `slot`, given out by [`SendWindow::reserve`], to `at`, later:
    /// its request left then. The slots stay in order.
    pub fn left_late(&self, slot: Instant, at: Instant) {
        let mut slots = self.slots.lock().expect("window lock");
        // Within the last `limit` slots, unless as many were given out since.
        let Some(index) = slots.iter().rposition(|&s| s == slot) else {
            return;
        };
        slots.remove(index);
        let place = slots.partition_point(|&s| s <= at);
        slots.insert(place, at);
    }
}

/// The requests of a profile while it had refunds to send: from its first
/// submit to its last, polls and queries included.
#[derive(Default)]
struct Sending {
    first: Option<Instant>,
    last: Option<Instant>,
    requests: u64,
    /// The requests counted when the first submit left, and when the last did.
    at_first: u64,
    at_last: u64,
}

/// How fast a profile went against its rate, and what held it back.
#[derive(Clone, Copy, Debug)]
pub struct PaceReport {
    pub rate: u32,
    /// Requests per second while refunds were being sent (a second or more of it).
    pub sending: Option<f64>,
    pub limit: super::limit::LimitReport,
}

impl PaceReport {
    /// "198.9 requests/s of the rate 200 while refunds were sent; in-flight limit 18 at the end ...".
    pub fn describe(&self) -> String {
        let Some(reached) = self.sending else {
            return self.limit.describe();
        };
        let rate = f64::from(self.rate);
        let mut text = format!(
            "{reached:.1} requests/s of the rate {} while refunds were sent ({:.3}); {}",
            self.rate,
            reached / rate,
            self.limit.describe()
        );
        // Within a few percent is the send window's margin and the first second.
        if reached < 0.95 * rate && self.limit.holding().is_none() {
            text.push_str(
                "; below the rate though the in-flight limit was not the bound: refunds waited \
                 for an earlier refund of their order, or for bulkrefund itself (journal, CPU)",
            );
        }
        text
    }
}

/// One rate: a limiter that spaces requests and the window that keeps the
/// promise exact.
struct Lane {
    limiter: DefaultDirectRateLimiter,
    window: SendWindow,
}

impl Lane {
    fn new(rate: u32) -> Lane {
        Lane {
            limiter: RateLimiter::direct(quota(rate)),
            window: SendWindow::new(rate),
        }
    }
}

/// A request [`Pace::ready`] let go: its lane, and when the window counts it as gone.
#[derive(Clone, Copy, Debug)]
pub struct Departure {
    kind: RequestKind,
    at: Instant,
}

/// What a request does at the gateway: which of its limits it counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Submit,
    Query,
}

pub struct Pace {
    pub gateway: Arc<dyn Gateway>,
    /// How many requests may be in flight, following the gateway's latency.
    pub in_flight: Arc<InFlightLimit>,
    /// How much of the rate polls may take while submits wait.
    pub polls: PollShare,
    pub patience: Patience,
    /// Whether the profile's answers can be verified at all.
    pub trust: Trust,
    /// Requests per second: submits only when queries have their own lane,
    /// else submits and queries together.
    pub rate: u32,
    /// The pause after a refund of an order ends before the next one of that order is sent.
    pub same_order_gap: Duration,
    sends: Lane,
    /// The queries' own lane, when the gateway limits them apart; else they
    /// share `sends`.
    queries: Option<Lane>,
    paused_until: Mutex<Option<Instant>>,
    sending: Mutex<Sending>,
}

impl Pace {
    /// At most `rate` requests in any one-second window, spaced evenly (and
    /// at most `query_rate` queries, when set, in a lane of their own).
    pub fn new(gateway: Arc<dyn Gateway>, settings: &PaceSettings) -> Pace {
        let both = settings
            .rate
            .saturating_add(settings.query_rate.unwrap_or(0));
        Pace {
            gateway,
            in_flight: InFlightLimit::new(both, settings.concurrency),
            polls: match settings.query_rate {
                None => PollShare::new(settings.rate),
                Some(_) => PollShare::apart(),
            },
            patience: Patience {
                max_attempts: settings.max_attempts.max(1),
                poll_waits: settings.poll_schedule.clone(),
            },
            trust: Trust::default(),
            rate: settings.rate,
            same_order_gap: settings.same_order_gap,
            sends: Lane::new(settings.rate),
            queries: settings.query_rate.map(Lane::new),
            paused_until: Mutex::new(None),
            sending: Mutex::new(Sending::default()),
        }
    }

    /// What an answer says about the gateway's load: its latency feeds the
    /// in-flight limit; a busy answer or a 429 cuts it; a 5xx or no answer at
    /// all counts towards a cut. An answer that came back but proved nothing
    /// (a signature that does not verify, an id that "already exists") is no
    /// sign of load.
    pub fn feedback(&self, attempt: &crate::gateway::Attempt, latency: Duration) {
        use crate::gateway::Outcome;
        match attempt.outcome {
            Outcome::Retry { .. } => self.in_flight.overloaded(),
            Outcome::Unknown { .. } if attempt.http_status.is_none_or(|status| status >= 500) => {
                self.in_flight.lost()
            }
            _ => self.in_flight.answered(latency),
        }
    }

    /// Counts a request that left; `submit` when it sent a refund. The report
    /// holds the requests against `rate`: queries only when they share it.
    pub fn count(&self, submit: bool) {
        if !submit && self.queries.is_some() {
            return;
        }
        let mut sending = self.sending.lock().expect("sending lock");
        sending.requests += 1;
        if submit {
            let now = Instant::now();
            if sending.first.is_none() {
                sending.first = Some(now);
                sending.at_first = sending.requests;
            }
            sending.last = Some(now);
            sending.at_last = sending.requests;
        }
    }

    pub fn report(&self) -> PaceReport {
        let sending = self.sending.lock().expect("sending lock");
        let reached = match (sending.first, sending.last) {
            (Some(first), Some(last)) if last.duration_since(first) >= Duration::from_secs(1) => {
                // The requests after the first submit, over the time they took.
                let requests = sending.at_last - sending.at_first;
                Some(requests as f64 / last.duration_since(first).as_secs_f64())
            }
            _ => None,
        };
        PaceReport {
            rate: self.rate,
            sending: reached,
            limit: self.in_flight.report(),
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

    fn lane(&self, kind: RequestKind) -> &Lane {
        match (kind, &self.queries) {
            (RequestKind::Query, Some(queries)) => queries,
            _ => &self.sends,
        }
    }

    /// Sends `request`, which [`Pace::ready`] let go: the window counts it
    /// from when it went out, that is when the client first waits on the
    /// network, after making and signing the request (an RSA signature takes
    /// a millisecond, more on a busy core). Counted from the slot, a request
    /// whose signing was held up reached the gateway up to 17 ms after it,
    /// the request a second later on time, and the gateway saw 151 in one
    /// second at a rate of 150 (`scripts/bench --only wechatpay`).
    pub async fn send(
        &self,
        departure: Departure,
        request: impl std::future::Future<Output = crate::gateway::Attempt>,
    ) -> crate::gateway::Attempt {
        let mut request = std::pin::pin!(request);
        let mut out = false;
        std::future::poll_fn(|cx| {
            let poll = request.as_mut().poll(cx);
            if poll.is_pending() && !out {
                out = true;
                let now = Instant::now();
                if now > departure.at {
                    self.lane(departure.kind)
                        .window
                        .left_late(departure.at, now);
                }
            }
            poll
        })
        .await
    }

    /// Waits for the profile's pause and the rate limiter of a request of
    /// this `kind`: the request may go now, and goes through [`Pace::send`].
    /// `None` when cancelled first.
    pub async fn ready(&self, kind: RequestKind, cancel: &CancellationToken) -> Option<Departure> {
        let lane = self.lane(kind);
        loop {
            let paused = *self.paused_until.lock().expect("pause lock");
            if let Some(until) = paused.filter(|u| *u > Instant::now()) {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep_until(until) => {}
                }
            }
            // A stop wins over a slot that is ready at the same moment.
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                _ = lane.limiter.until_ready() => {}
            }
            // A pause set while we waited for the limiter applies to us too.
            let paused = *self.paused_until.lock().expect("pause lock");
            if paused.is_some_and(|u| u > Instant::now()) {
                continue;
            }
            // A slot given up (a cancel, a pause) only slows the profile down.
            let now = Instant::now();
            let mut slot = lane.window.reserve(now);
            if slot > now {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep_until(slot) => {}
                }
                // Woken late (a timer tick, a busy core): the window counts it from now.
                let woke = Instant::now();
                if woke > slot {
                    lane.window.left_late(slot, woke);
                    slot = woke;
                }
            }
            if cancel.is_cancelled() {
                return None;
            }
            if self
                .paused_until
                .lock()
                .expect("pause lock")
                .is_none_or(|u| u <= Instant::now())
            {
                return Some(Departure { kind, at: slot });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_alone_never_holds_the_rate_back() {
        for rate in [1, 2, 3, 10, 200, 5_000] {
            let q = quota(rate);
            let sustained = 1.0 / q.replenish_interval().as_secs_f64();
            assert!(
                sustained >= f64::from(rate) * 0.999_999,
                "rate {rate}: {sustained}"
            );
        }
    }

    #[test]
    fn no_window_of_a_second_and_the_slack_holds_more_slots_than_the_limit() {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for limit in [1u32, 3, 100, 200] {
            let window = SendWindow::new(limit);
            let start = Instant::now();
            let mut now = start;
            let mut slots = Vec::new();
            for _ in 0..limit * 12 {
                // Requests ask in bursts and in lulls, sometimes behind their slot.
                now += Duration::from_micros(rng.gen_range(0..4_000_000 / u64::from(limit)));
                slots.push(window.reserve(now));
            }
            assert!(slots.windows(2).all(|w| w[0] <= w[1]), "slots in order");
            for (i, &first) in slots.iter().enumerate() {
                let within = slots[i..]
                    .iter()
                    .take_while(|&&t| t < first + Duration::from_secs(1) + WINDOW_SLACK)
                    .count();
                assert!(within <= limit as usize, "limit {limit}: {within}");
            }
            // Asked all at once, the window gives `limit` slots per 1.005 s, no fewer.
            let window = SendWindow::new(limit);
            let slots: Vec<Instant> = (0..limit * 10).map(|_| window.reserve(start)).collect();
            let span = Duration::from_secs(1) + WINDOW_SLACK;
            let first_span = Duration::from_secs(1) + START_SLACK;
            assert_eq!(slots[limit as usize], start + first_span, "limit {limit}");
            assert_eq!(
                slots[slots.len() - 1],
                start + first_span + span * 8,
                "limit {limit}"
            );
        }
    }

    #[test]
    fn a_request_that_leaves_late_holds_the_later_ones_back_not_over_the_limit() {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for limit in [3u32, 150] {
            let window = SendWindow::new(limit);
            let mut now = Instant::now();
            let mut left = Vec::new();
            for _ in 0..limit * 12 {
                // Asked faster than the rate: the window binds throughout.
                now += Duration::from_micros(rng.gen_range(0..200_000 / u64::from(limit)));
                let slot = window.reserve(now);
                // Most wake within a tick; some are descheduled for up to 20 ms.
                let late = if rng.gen_bool(0.1) {
                    Duration::from_micros(rng.gen_range(0..20_000))
                } else {
                    Duration::from_micros(rng.gen_range(0..1_000))
                };
                let at = slot + late;
                window.left_late(slot, at);
                left.push(at);
                now = now.max(at);
            }
            left.sort();
            // Every window of a second and the slack holds at most `limit` departures.
            for (i, &first) in left.iter().enumerate() {
                let within = left[i..]
                    .iter()
                    .take_while(|&&t| t < first + Duration::from_secs(1) + WINDOW_SLACK)
                    .count();
                assert!(within <= limit as usize, "limit {limit}: {within}");
            }
        }
    }

    #[test]
    fn the_send_window_never_holds_more_than_its_limit() {
        let window = SendWindow::new(3);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(window.reserve(at(0)), at(0));
        assert_eq!(window.reserve(at(0)), at(0));
        assert_eq!(window.reserve(at(10)), at(10));
        // A fourth within the first window takes the slot the first frees,
        // 1.025 s after it: the run's first second has the wider slack.
        assert_eq!(window.reserve(at(500)), at(1_025));
        // The next waiter is not sent to the same place: it takes the second's.
        assert_eq!(window.reserve(at(600)), at(1_025));
        assert_eq!(window.reserve(at(700)), at(1_035));
        // A window opening after the first second has the usual 5 ms.
        assert_eq!(window.reserve(at(1_100)), at(2_030));
        // Slots stay in order: a request now never jumps ahead of a later slot.
        assert_eq!(window.reserve(at(1_101)), at(2_030));
        assert_eq!(window.reserve(at(5_000)), at(5_000));
        // After a lull of more than 30 s, a second starts anew, with its slack.
        for _ in 0..3 {
            window.reserve(at(40_000));
        }
        assert_eq!(window.reserve(at(40_000)), at(41_025));
    }

    fn settings(rate: u32, query_rate: Option<u32>) -> PaceSettings {
        PaceSettings {
            rate,
            query_rate,
            concurrency: 8,
            max_attempts: 3,
            same_order_gap: Duration::ZERO,
            poll_schedule: vec![Duration::from_secs(1)],
        }
    }

    fn slots(lane: &Lane) -> usize {
        lane.window.slots.lock().unwrap().len()
    }

    #[tokio::test]
    async fn queries_keep_to_their_own_lane_where_the_gateway_limits_them_apart() {
        use crate::gateway::stub::client::{StubClient, StubLedger};
        let gateway: Arc<dyn Gateway> = Arc::new(StubClient {
            merchant_id: "M".into(),
            ledger: StubLedger::named("pacing lanes"),
        });
        let cancel = CancellationToken::new();
        let apart = Pace::new(gateway.clone(), &settings(100, Some(200)));
        for _ in 0..3 {
            assert!(apart.ready(RequestKind::Query, &cancel).await.is_some());
        }
        assert!(apart.ready(RequestKind::Submit, &cancel).await.is_some());
        let queries = apart.queries.as_ref().expect("a lane of their own");
        assert_eq!((slots(&apart.sends), slots(queries)), (1, 3));
        // Queries do not count against the submits' rate in the report.
        apart.count(false);
        apart.count(true);
        assert_eq!(apart.sending.lock().unwrap().requests, 1);

        let shared = Pace::new(gateway, &settings(100, None));
        for _ in 0..3 {
            assert!(shared.ready(RequestKind::Query, &cancel).await.is_some());
        }
        assert!(shared.ready(RequestKind::Submit, &cancel).await.is_some());
        assert!(shared.queries.is_none());
        assert_eq!(slots(&shared.sends), 4, "one limit for both");
    }
}
