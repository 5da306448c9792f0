//! The pace of one profile (docs/DESIGN.md, "Rate, concurrency, retries"):
//! its gateway client, its patience and its trust, and the pace of its
//! gateway merchant ([`MerchantPace`]), which it shares with every other
//! profile of that merchant: the rates, the bound on requests in flight,
//! the polls' share and the pause a 429/503/busy answer puts on them all.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limit::InFlightLimit;
pub use super::merchant_pace::{Departure, MerchantPace, PaceReport, RequestKind};
use super::policy::Patience;
use super::polls::PollShare;
use super::trust::Trust;
use crate::gateway::Gateway;
use crate::options::PaceSettings;

pub struct Pace {
    pub gateway: Arc<dyn Gateway>,
    /// The pace of the profile's gateway merchant, shared with its other profiles.
    pub merchant: Arc<MerchantPace>,
    /// The merchant's: how many requests may be in flight, following the gateway's latency.
    pub in_flight: Arc<InFlightLimit>,
    pub patience: Patience,
    /// Whether the profile's answers can be verified at all.
    pub trust: Trust,
    /// The merchant's requests per second: submits only when queries have
    /// their own lane, else submits and queries together.
    pub rate: u32,
    /// The pause after a refund of an order ends before the next one of that order is sent.
    pub same_order_gap: Duration,
}

impl Pace {
    /// A profile's pace within its merchant's: the rates, the in-flight
    /// bound and the pause are `merchant`'s; the patience is `settings`'.
    pub fn new(
        gateway: Arc<dyn Gateway>,
        settings: &PaceSettings,
        merchant: Arc<MerchantPace>,
    ) -> Pace {
        Pace {
            gateway,
            in_flight: merchant.in_flight.clone(),
            patience: Patience {
                max_attempts: settings.max_attempts.max(1),
                poll_waits: settings.poll_schedule.clone(),
                first_query_after: settings.first_query_after,
            },
            trust: Trust::default(),
            rate: merchant.rate,
            same_order_gap: settings.same_order_gap,
            merchant,
        }
    }

    /// How much of the merchant's rate polls may take while submits wait.
    pub fn polls(&self) -> &PollShare {
        &self.merchant.polls
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

    /// Counts a request that left; `submit` when it sent a refund.
    pub fn count(&self, submit: bool) {
        self.merchant.count(submit);
    }

    /// The merchant's report: its requests, whichever profile sent them.
    pub fn report(&self) -> PaceReport {
        self.merchant.report()
    }

    /// Pauses the whole merchant, every profile of it, for at least `wait`.
    pub fn pause(&self, wait: Duration) {
        self.merchant.pause(wait);
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

    /// Waits for the merchant's pause and a slot of its rate for a request
    /// of this `kind`: the request may go now, and goes through
    /// [`Pace::send`]. `None` when cancelled first.
    pub async fn ready(
        &self,
        kind: RequestKind,
        cancel: &CancellationToken,
    ) -> Option<Departure<'_>> {
        self.merchant.ready(kind, cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rate_keys::{Merchant, SharedRates};
    use crate::engine::rate_ledger::InProcessLedger;

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

    /// A profile alone at its merchant, at its own rates.
    fn alone(gateway: Arc<dyn Gateway>, settings: &PaceSettings) -> Pace {
        let merchant = Merchant {
            gateway: crate::gateway::GatewayKind::Stub,
            merchant_id: "M".into(),
        };
        let rates = SharedRates {
            rate: settings.rate,
            query_rate: settings.query_rate,
            concurrency: settings.concurrency,
        };
        let ledger = Arc::new(InProcessLedger::default());
        let merchant = Arc::new(MerchantPace::new(merchant, rates, ledger));
        Pace::new(gateway, settings, merchant)
    }

    fn stub(name: &str) -> Arc<dyn Gateway> {
        use crate::gateway::stub::client::{StubClient, StubLedger};
        Arc::new(StubClient {
            merchant_id: "M".into(),
            ledger: StubLedger::named(name),
        })
    }

    #[tokio::test]
    async fn queries_keep_to_their_own_lane_where_the_gateway_limits_them_apart() {
        let gateway = stub("pacing lanes");
        let cancel = CancellationToken::new();
        let apart = alone(gateway.clone(), &settings(100, Some(200)));
        for _ in 0..3 {
            assert!(apart.ready(RequestKind::Query, &cancel).await.is_some());
        }
        assert!(apart.ready(RequestKind::Submit, &cancel).await.is_some());
        let merchant = &apart.merchant;
        let queries = merchant.queries.as_ref().expect("a lane of their own");
        let given = |lane: &super::super::merchant_pace::Lane| lane.window.given_out();
        assert_eq!((given(&merchant.sends), given(queries)), (1, 3));
        // Queries do not count against the submits' rate in the report.
        apart.count(false);
        apart.count(true);
        apart.count(true);
        assert_eq!(apart.report().rate, 100);

        let shared = alone(gateway, &settings(100, None));
        for _ in 0..3 {
            assert!(shared.ready(RequestKind::Query, &cancel).await.is_some());
        }
        assert!(shared.ready(RequestKind::Submit, &cancel).await.is_some());
        assert!(shared.merchant.queries.is_none());
        assert_eq!(given(&shared.merchant.sends), 4, "one limit for both");
    }

    /// Two profiles of one merchant take their slots from its one lane and
    /// its one in-flight limit, and a pause one of them meets holds the other too.
    #[tokio::test]
    async fn profiles_of_one_merchant_share_its_lane_and_its_pause() {
        let merchant = Merchant {
            gateway: crate::gateway::GatewayKind::Stub,
            merchant_id: "M".into(),
        };
        let rates = SharedRates {
            rate: 100,
            query_rate: None,
            concurrency: 8,
        };
        let ledger = Arc::new(InProcessLedger::default());
        let shared = Arc::new(MerchantPace::new(merchant, rates, ledger));
        let a = Pace::new(stub("pacing a"), &settings(100, None), shared.clone());
        let b = Pace::new(stub("pacing b"), &settings(100, None), shared.clone());
        assert!(Arc::ptr_eq(&a.in_flight, &b.in_flight));
        let cancel = CancellationToken::new();
        for pace in [&a, &b, &a, &b] {
            let departure = pace.ready(RequestKind::Submit, &cancel).await.unwrap();
            pace.send(departure, std::future::ready(not_found())).await;
            pace.count(true);
        }
        assert_eq!(shared.sends.window.given_out(), 4, "one window for both");
        a.pause(Duration::from_millis(50));
        let paused_at = Instant::now();
        let departure = b.ready(RequestKind::Query, &cancel).await.unwrap();
        assert!(departure.at >= paused_at + Duration::from_millis(50));
    }

    fn not_found() -> crate::gateway::Attempt {
        crate::gateway::Attempt::without_answer(crate::gateway::Outcome::NotFound)
    }

    /// A request counts from its first wait (its hand-off to the HTTP client): here, a client
    /// that takes 30 ms to make and sign it, then waits once.
    #[tokio::test]
    async fn a_request_counts_from_when_it_goes_out_not_from_its_slot() {
        let cancel = CancellationToken::new();
        let pace = alone(stub("pacing send"), &settings(1, None));
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
            std::task::Poll::Ready(not_found())
        });
        pace.send(departure, signed_slowly).await;
        // The next request of a rate of 1 waits a second and the slack from
        // when the first went, not from its slot.
        let next = pace.merchant.sends.window.reserve(slot).unwrap();
        let went = slot + Duration::from_millis(30);
        assert!(next >= went + Duration::from_secs(1), "{next:?} {slot:?}");
    }
}
