//! The pace of one gateway merchant (docs/DESIGN.md, "Rate, concurrency,
//! retries"): a gateway's limit is the merchant's, so every profile of one
//! merchant in this process ([`super::pacing::Pace`]) shares its one
//! [`MerchantPace`]: its rates, a bound on requests in flight, the polls'
//! share of the rate, and a pause that a 429/503/busy answer puts on the
//! whole merchant, not just on the refund that saw it.
//!
//! Each rate is a [`Lane`]: the [`RateLedger`] grants its slots (it spaces
//! requests), and the lane's [`SendWindow`] keeps the promise exact, whatever
//! held a request up on its way. Where the gateway has one limit (Leshua,
//! Lianshang, Alipay), submits and queries share one lane and
//! [`super::polls`] shares its rate between submits and polls; where it
//! limits queries apart (WeChat: 150 applies/s, 300 queries/s), queries and
//! polls keep to a lane of their own, so that they never push the submits
//! over their limit, nor wait behind them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limit::InFlightLimit;
use super::polls::PollShare;
use super::rate_keys::{Merchant, SharedRates};
use super::rate_ledger::{CallKind, LedgerError, RateKey, RateLedger, RateQuota};
use super::window::SendWindow;

/// How fast a merchant went against its rate, and what held it back.
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

/// What a request does at the gateway: which of its limits it counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Submit,
    Query,
}

/// How long a lane waits to ask again when its ledger granted nothing.
const LEDGER_RETRY: Duration = Duration::from_secs(1);

/// The requests of a merchant while it had refunds to send: from its first
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

/// One rate: the slots its ledger granted and this process has not used
/// yet, in order, and the window that keeps the promise exact.
pub(super) struct Lane {
    key: RateKey,
    quota: RateQuota,
    ledger: Arc<dyn RateLedger>,
    /// Taken one at a time, in order: a waiter that finds none asks the
    /// ledger for a block while the others wait behind it.
    granted: tokio::sync::Mutex<VecDeque<Instant>>,
    pub(super) window: SendWindow,
}

impl Lane {
    fn new(key: RateKey, rate: u32, ledger: Arc<dyn RateLedger>) -> Lane {
        Lane {
            key,
            quota: RateQuota::of(rate),
            ledger,
            granted: tokio::sync::Mutex::new(VecDeque::new()),
            window: SendWindow::new(rate),
        }
    }

    /// Whether a request leaving at `at` would use `slot` later than its
    /// ledger allows.
    fn too_late(&self, slot: Instant, at: Instant) -> bool {
        self.ledger
            .used_late_by_at_most()
            .is_some_and(|late| at > slot + late)
    }

    /// The next slot granted to this process.
    async fn next_slot(&self) -> Result<Instant, LedgerError> {
        let mut granted = self.granted.lock().await;
        if granted.is_empty() {
            let block = self.ledger.block(self.quota).max(1);
            granted.extend(self.ledger.grant(&self.key, self.quota, block).await?);
        }
        granted
            .pop_front()
            .ok_or_else(|| LedgerError(format!("the ledger granted no slot of {}", self.key)))
    }
}

/// A request [`MerchantPace::ready`] let go, and its slot in the send window
/// until it has gone: [`super::pacing::Pace::send`] moves the slot to when it
/// went; dropped unsent (a stop, a pause), the slot stays where it was, never used.
pub struct Departure<'a> {
    window: &'a SendWindow,
    pub(super) at: Instant,
    gone: bool,
}

impl Departure<'_> {
    pub(super) fn went(&mut self, at: Instant) {
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

pub struct MerchantPace {
    pub merchant: Merchant,
    /// Requests per second: submits only when queries have their own lane,
    /// else submits and queries together. The lowest of its profiles'.
    pub rate: u32,
    /// How many requests may be in flight, following the gateway's latency.
    pub in_flight: Arc<InFlightLimit>,
    /// How much of the rate polls may take while submits wait.
    pub polls: PollShare,
    pub(super) sends: Lane,
    /// The queries' own lane, when the gateway limits them apart; else they
    /// share `sends`.
    pub(super) queries: Option<Lane>,
    paused_until: Mutex<Option<Instant>>,
    sending: Mutex<Sending>,
}

impl MerchantPace {
    /// At most `rates.rate` requests in any one-second window, spaced evenly
    /// (and at most `rates.query_rate` queries, when set, in a lane of their own).
    pub fn new(
        merchant: Merchant,
        rates: SharedRates,
        ledger: Arc<dyn RateLedger>,
    ) -> MerchantPace {
        let both = rates.rate.saturating_add(rates.query_rate.unwrap_or(0));
        let (sends, queries) = match rates.query_rate {
            None => (merchant.key(CallKind::Requests), None),
            Some(_) => (
                merchant.key(CallKind::Submits),
                Some(merchant.key(CallKind::Queries)),
            ),
        };
        MerchantPace {
            rate: rates.rate,
            in_flight: InFlightLimit::new(both, rates.concurrency),
            polls: match rates.query_rate {
                None => PollShare::new(rates.rate),
                Some(_) => PollShare::apart(),
            },
            sends: Lane::new(sends, rates.rate, ledger.clone()),
            queries: queries
                .zip(rates.query_rate)
                .map(|(key, rate)| Lane::new(key, rate, ledger)),
            merchant,
            paused_until: Mutex::new(None),
            sending: Mutex::new(Sending::default()),
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

    /// Pauses the whole merchant for at least `wait`.
    pub fn pause(&self, wait: Duration) {
        tracing::debug!(?wait, merchant = %self.merchant, "the gateway asked to slow down: pausing the merchant");
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().expect("pause lock");
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    fn paused(&self) -> Option<Instant> {
        let paused = *self.paused_until.lock().expect("pause lock");
        paused.filter(|until| *until > Instant::now())
    }

    fn lane(&self, kind: RequestKind) -> &Lane {
        match (kind, &self.queries) {
            (RequestKind::Query, Some(queries)) => queries,
            _ => &self.sends,
        }
    }

    /// Waits for the merchant's pause and a slot of the rate of a request of
    /// this `kind`: the request may go now, and goes through
    /// [`super::pacing::Pace::send`]. `None` when cancelled first.
    pub async fn ready(
        &self,
        kind: RequestKind,
        cancel: &CancellationToken,
    ) -> Option<Departure<'_>> {
        let lane = self.lane(kind);
        loop {
            if let Some(until) = self.paused() {
                sleep_until(until, cancel).await?;
            }
            // A stop wins over a slot that is ready at the same moment.
            let granted = tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                granted = lane.next_slot() => granted,
            };
            let slot = match granted {
                Ok(slot) => slot,
                Err(e) => {
                    tracing::warn!("{e}; asking again in a second");
                    sleep_until(Instant::now() + LEDGER_RETRY, cancel).await?;
                    continue;
                }
            };
            // A slot of a shared ledger found too late is given up unused.
            if lane.too_late(slot, Instant::now()) {
                continue;
            }
            sleep_until(slot, cancel).await?;
            // A pause set while we waited for the slot applies to us too; a
            // slot given up (a cancel, a pause) only slows the merchant down.
            if self.paused().is_some() {
                continue;
            }
            if let Some(departure) = self.window_slot(lane, cancel).await? {
                // Dropped unsent when it would leave too late: never used.
                if lane.too_late(slot, departure.at) {
                    continue;
                }
                return Some(departure);
            }
        }
    }

    /// The request's slot in the lane's send window, once it is due: `None`
    /// inside when it must wait for the ledger again (the request a `rate`
    /// before has not gone yet, or a pause came meanwhile), `None` outside
    /// when cancelled.
    async fn window_slot<'a>(
        &'a self,
        lane: &'a Lane,
        cancel: &CancellationToken,
    ) -> Option<Option<Departure<'a>>> {
        let now = Instant::now();
        let slot = match lane.window.reserve(now) {
            Ok(slot) => slot,
            Err(again) => {
                // The request a `rate` before has not gone yet.
                sleep_until(again, cancel).await?;
                return Some(None);
            }
        };
        let mut departure = Departure {
            window: &lane.window,
            at: slot,
            gone: false,
        };
        if slot > now {
            sleep_until(slot, cancel).await?;
            // Woken late (a timer tick, a busy core): the window counts it from now.
            departure.at = lane.window.moved(slot, Instant::now(), false);
        }
        if cancel.is_cancelled() {
            return None;
        }
        Some(self.paused().is_none().then_some(departure))
    }
}

/// Sleeps until `until`; `None` when cancelled first.
async fn sleep_until(until: Instant, cancel: &CancellationToken) -> Option<()> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        _ = tokio::time::sleep_until(until) => Some(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rate_ledger::Granted;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A ledger out of reach at first: its first grant fails, its second
    /// grants nothing, then it grants a slot now.
    #[derive(Default)]
    struct Flaky {
        asked: AtomicU32,
    }

    impl RateLedger for Flaky {
        fn grant<'a>(&'a self, _: &'a RateKey, _: RateQuota, _: u32) -> Granted<'a> {
            let asked = self.asked.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::ready(match asked {
                0 => Err(LedgerError("the journal is out of reach".into())),
                1 => Ok(Vec::new()),
                _ => Ok(vec![Instant::now()]),
            }))
        }
    }

    fn merchant(ledger: Arc<dyn RateLedger>) -> MerchantPace {
        let merchant = Merchant {
            gateway: crate::gateway::GatewayKind::Stub,
            merchant_id: "M".into(),
        };
        let rates = SharedRates {
            rate: 100,
            query_rate: None,
            concurrency: 4,
        };
        MerchantPace::new(merchant, rates, ledger)
    }

    /// A ledger that grants nothing lets nothing go: the request waits and
    /// asks again, and a stop meanwhile ends the wait.
    #[tokio::test]
    async fn no_request_goes_without_a_slot_granted() {
        let ledger = Arc::new(Flaky::default());
        let pace = merchant(ledger.clone());
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(pace.ready(RequestKind::Submit, &stop).await.is_none());
        let cancel = CancellationToken::new();
        let departure = pace.ready(RequestKind::Submit, &cancel).await;
        assert!(departure.is_some());
        assert_eq!(ledger.asked.load(Ordering::SeqCst), 3);
        assert_eq!(pace.sends.window.given_out(), 1);
    }

    /// A ledger whose first grant is a block of slots already a second old
    /// (as a block not used in time is), then a slot now; shared by other
    /// processes or not.
    struct Stale {
        asked: AtomicU32,
        shared: bool,
    }

    impl RateLedger for Stale {
        fn grant<'a>(&'a self, _: &'a RateKey, _: RateQuota, _: u32) -> Granted<'a> {
            let asked = self.asked.fetch_add(1, Ordering::SeqCst);
            let now = Instant::now();
            let old = now - Duration::from_secs(1);
            Box::pin(std::future::ready(Ok(match asked {
                0 => vec![old, old + Duration::from_millis(10)],
                _ => vec![now],
            })))
        }

        fn used_late_by_at_most(&self) -> Option<Duration> {
            self.shared.then_some(Duration::from_micros(2_500))
        }
    }

    /// A shared ledger's slots found late are given up, not used at once
    /// (they would land among the slots other processes use on time); one
    /// process's own ledger may use them (its send window keeps the rate).
    #[tokio::test]
    async fn a_shared_ledgers_late_slots_are_given_up() {
        for (shared, asked) in [(true, 2), (false, 1)] {
            let ledger = Arc::new(Stale {
                asked: AtomicU32::new(0),
                shared,
            });
            let pace = merchant(ledger.clone());
            let asking = Instant::now();
            let departure = pace
                .ready(RequestKind::Submit, &CancellationToken::new())
                .await;
            assert!(departure.unwrap().at >= asking);
            assert_eq!(
                ledger.asked.load(Ordering::SeqCst),
                asked,
                "shared: {shared}"
            );
        }
    }
}
