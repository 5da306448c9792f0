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
use super::window::SendWindow;
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

/// A request [`Pace::ready`] let go, and its slot in the send window until
/// it has gone: [`Pace::send`] moves the slot to when it went; dropped
/// unsent (a stop, a pause), the slot stays where it was, never used.
pub struct Departure<'a> {
    window: &'a SendWindow,
    at: Instant,
    gone: bool,
}

impl Departure<'_> {
    fn went(&mut self, at: Instant) {
        if !self.gone {
            self.at = self.window.moved(self.at, at, true);
            self.gone = true;
        }
    }
}

impl Drop for Departure<'_> {
    fn drop(&mut self) {
        if !self.gone {
            self.gone = true;
            self.window.moved(self.at, self.at, true);
        }
    }
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
                first_query_after: settings.first_query_after,
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
    /// from when it went out, that is when the client, having made and signed
    /// it (an RSA signature takes a millisecond, more on a busy core), first
    /// waits: it has handed the request to the HTTP client. A client that
    /// waited on something else first would be counted early, as before this. Counted from the slot, a request
    /// whose signing was held up reached the gateway up to 17 ms after it,
    /// the request a second later on time, and the gateway saw 151 in one
    /// second at a rate of 150 (`scripts/bench --only wechatpay`).
    pub async fn send(
        &self,
        mut departure: Departure<'_>,
        request: impl std::future::Future<Output = crate::gateway::Attempt>,
    ) -> crate::gateway::Attempt {
        let mut request = std::pin::pin!(request);
        let attempt = std::future::poll_fn(|cx| {
            let poll = request.as_mut().poll(cx);
            if poll.is_pending() {
                departure.went(Instant::now());
            }
            poll
        })
        .await;
        // A client that answered without waiting on the network (a row its
        // contract cannot carry) sent nothing, or nothing later than now.
        departure.went(Instant::now());
        attempt
    }

    /// Waits for the profile's pause and the rate limiter of a request of
    /// this `kind`: the request may go now, and goes through [`Pace::send`].
    /// `None` when cancelled first.
    pub async fn ready(
        &self,
        kind: RequestKind,
        cancel: &CancellationToken,
    ) -> Option<Departure<'_>> {
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
            let slot = match lane.window.reserve(now) {
                Ok(slot) => slot,
                Err(again) => {
                    // The request a `rate` before has not gone yet.
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return None,
                        _ = tokio::time::sleep_until(again) => {}
                    }
                    continue;
                }
            };
            let mut departure = Departure {
                window: &lane.window,
                at: slot,
                gone: false,
            };
            if slot > now {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep_until(slot) => {}
                }
                // Woken late (a timer tick, a busy core): the window counts it from now.
                departure.at = lane.window.moved(slot, Instant::now(), false);
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
                return Some(departure);
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

    fn settings(rate: u32, query_rate: Option<u32>) -> PaceSettings {
        PaceSettings {
            rate,
            query_rate,
            concurrency: 8,
            max_attempts: 3,
            same_order_gap: Duration::ZERO,
            poll_schedule: vec![Duration::from_secs(1)],
            first_query_after: Duration::ZERO,
        }
    }

    fn slots(lane: &Lane) -> usize {
        lane.window.given_out()
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

    /// A request counts from its first wait (its hand-off to the HTTP client): here, a client
    /// that takes 30 ms to make and sign it, then waits once.
    #[tokio::test]
    async fn a_request_counts_from_when_it_goes_out_not_from_its_slot() {
        use crate::gateway::stub::client::{StubClient, StubLedger};
        use crate::gateway::{Attempt, Outcome};
        let gateway: Arc<dyn Gateway> = Arc::new(StubClient {
            merchant_id: "M".into(),
            ledger: StubLedger::named("pacing send"),
        });
        let cancel = CancellationToken::new();
        let pace = Pace::new(gateway, &settings(1, None));
        let departure = pace.ready(RequestKind::Submit, &cancel).await.unwrap();
        let slot = departure.at;
        let mut polls = 0;
        let signed_slowly = std::future::poll_fn(|cx| {
            polls += 1;
            if polls == 1 {
                std::thread::sleep(Duration::from_millis(30));
                cx.waker().wake_by_ref();
                return std::task::Poll::Pending;
            }
            std::task::Poll::Ready(Attempt::without_answer(Outcome::NotFound))
        });
        pace.send(departure, signed_slowly).await;
        // The next request of a rate of 1 waits a second and the slack from
        // when the first went, not from its slot.
        let next = pace.sends.window.reserve(slot).unwrap();
        let went = slot + Duration::from_millis(30);
        assert!(next >= went + Duration::from_secs(1), "{next:?} {slot:?}");
    }
}
