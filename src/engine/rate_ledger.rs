//! Who decides when a request of a gateway merchant may go: the seam between
//! the engine's pace ([`super::merchant`]) and the place that keeps the
//! merchant's rate. A [`RateLedger`] grants send slots of a [`RateKey`] (a
//! gateway, a merchant, and the kind of call the gateway counts) at a
//! [`RateQuota`], a few at a time, as the instants they may be used at; the
//! engine uses them in order, each by one request.
//!
//! [`InProcessLedger`] keeps the rate in this process, with the generic cell
//! rate algorithm (GCRA) in memory: every profile of one merchant in this
//! process shares it. A journal shared by several processes keeps it in the
//! journal instead (the same algorithm, one statement granting a block), so
//! that together they never exceed it; it implements this trait, and asks
//! for larger blocks ([`RateLedger::block`]) to save round trips.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::gateway::GatewayKind;

/// What a gateway counts apart: one budget for every request of a merchant
/// (Leshua, Lianshang, Alipay), or one for refund submits and another for
/// queries (WeChat Pay: 150 applies/s, 300 queries/s; a gateway whose pace
/// defaults have a `query_rate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    /// Submits and queries together.
    Requests,
    Submits,
    Queries,
}

impl CallKind {
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Requests => "requests",
            CallKind::Submits => "submits",
            CallKind::Queries => "queries",
        }
    }
}

/// Whose limit a slot counts against: the gateway merchant's, for one kind of call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RateKey {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub calls: CallKind,
}

impl std::fmt::Display for RateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} merchant {} ({})",
            self.gateway,
            self.merchant_id,
            self.calls.name()
        )
    }
}

/// A rate and the burst it allows: `rate` slots per second, evenly spaced,
/// of which up to `burst` may fall at one instant after a lull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuota {
    pub rate: u32,
    pub burst: u32,
}

impl RateQuota {
    /// The engine's quota for `rate`. It spaces requests; it does not keep
    /// the promise (the send window does, engine/window.rs), so it runs at
    /// the full rate and the window is what binds. A request goes up to a
    /// timer tick after its slot; a burst of 2 lets the next slot follow at
    /// once after a lull rather than a period later.
    pub fn of(rate: u32) -> RateQuota {
        let rate = rate.max(1);
        RateQuota {
            rate,
            burst: if rate >= 2 { 2 } else { 1 },
        }
    }

    /// The time between two slots.
    pub fn period(self) -> Duration {
        Duration::from_secs(1) / self.rate.max(1)
    }
}

/// Why a ledger granted nothing (a shared journal out of reach). The
/// in-process ledger never fails.
#[derive(Debug, thiserror::Error)]
#[error("no send slot could be granted: {0}")]
pub struct LedgerError(pub String);

/// The slots granted, in order: the instants they may be used at.
pub type Granted<'a> = Pin<Box<dyn Future<Output = Result<Vec<Instant>, LedgerError>> + Send + 'a>>;

/// Grants send slots of a merchant's rate.
pub trait RateLedger: Send + Sync {
    /// Grants up to `wanted` slots of `key` at `quota`, in order, each at
    /// least a period after the one before it (but for the burst). A slot
    /// granted is spent, used or not: one not used only slows the key down.
    fn grant<'a>(&'a self, key: &'a RateKey, quota: RateQuota, wanted: u32) -> Granted<'a>;

    /// How many slots the engine asks for at once at `quota`: one where a
    /// grant costs nothing; more where each costs a round trip.
    fn block(&self, quota: RateQuota) -> u32 {
        let _ = quota;
        1
    }

    /// How much later than its instant a slot may still be used; `None`:
    /// any time (one process, whose send window keeps the promise alone).
    /// Where processes share the ledger, each slot is the only promise: one
    /// used late lands among later slots that other processes use on time.
    fn used_late_by_at_most(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The rate of every key kept in this process: GCRA, its theoretical
/// arrival time per key.
#[derive(Default)]
pub struct InProcessLedger {
    arrivals: Mutex<HashMap<RateKey, Instant>>,
}

impl InProcessLedger {
    /// The slots of `key` granted at `now`.
    pub fn grant_at(
        &self,
        key: &RateKey,
        quota: RateQuota,
        wanted: u32,
        now: Instant,
    ) -> Vec<Instant> {
        let period = quota.period();
        let tolerance = period * (quota.burst.max(1) - 1);
        let mut arrivals = self.arrivals.lock().expect("rate ledger lock");
        if !arrivals.contains_key(key) {
            arrivals.insert(key.clone(), now);
        }
        let arrival = arrivals.get_mut(key).expect("inserted");
        (0..wanted)
            .map(|_| {
                let earliest = arrival.checked_sub(tolerance).unwrap_or(now);
                let slot = earliest.max(now);
                *arrival = (*arrival).max(now) + period;
                slot
            })
            .collect()
    }
}

impl RateLedger for InProcessLedger {
    fn grant<'a>(&'a self, key: &'a RateKey, quota: RateQuota, wanted: u32) -> Granted<'a> {
        let slots = self.grant_at(key, quota, wanted, Instant::now());
        Box::pin(std::future::ready(Ok(slots)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(merchant: &str, calls: CallKind) -> RateKey {
        RateKey {
            gateway: GatewayKind::Leshua,
            merchant_id: merchant.into(),
            calls,
        }
    }

    #[test]
    fn slots_are_spaced_a_period_apart_after_a_burst_of_two() {
        let ledger = InProcessLedger::default();
        let start = Instant::now();
        let ms = |n| start + Duration::from_millis(n);
        let quota = RateQuota::of(10);
        let a = key("M", CallKind::Requests);
        assert_eq!(
            ledger.grant_at(&a, quota, 4, start),
            vec![ms(0), ms(0), ms(100), ms(200)]
        );
        // Asked again before those were used: the next follow on, in order.
        assert_eq!(ledger.grant_at(&a, quota, 1, ms(50)), vec![ms(300)]);
        // After a lull, a burst of two again, from then.
        assert_eq!(
            ledger.grant_at(&a, quota, 3, ms(5_000)),
            vec![ms(5_000), ms(5_000), ms(5_100)]
        );
        // A rate of 1 has no burst.
        let one = key("M", CallKind::Submits);
        assert_eq!(
            ledger.grant_at(&one, RateQuota::of(1), 2, start),
            vec![ms(0), ms(1_000)]
        );
    }

    #[test]
    fn each_key_keeps_its_own_rate() {
        let ledger = InProcessLedger::default();
        let start = Instant::now();
        let quota = RateQuota::of(2);
        let ms = |n| start + Duration::from_millis(n);
        for other in [
            key("M", CallKind::Requests),
            key("N", CallKind::Requests),
            key("M", CallKind::Queries),
        ] {
            assert_eq!(
                ledger.grant_at(&other, quota, 3, start),
                vec![ms(0), ms(0), ms(500)],
                "{other}"
            );
        }
    }

    /// Asked for many at once, in blocks of any size, the slots after the
    /// burst follow a period apart, and the period never holds the rate back.
    #[tokio::test]
    async fn the_sustained_rate_is_the_quota_whatever_the_block() {
        let ledger = InProcessLedger::default();
        for rate in [1, 2, 3, 10, 150, 200, 5_000] {
            let quota = RateQuota::of(rate);
            let sustained = 1.0 / quota.period().as_secs_f64();
            assert!(
                sustained >= f64::from(rate) * 0.999_999,
                "rate {rate}: {sustained}"
            );
            let k = key(&format!("rate {rate}"), CallKind::Requests);
            let start = Instant::now();
            let mut slots: Vec<Instant> = (0..4)
                .flat_map(|_| ledger.grant_at(&k, quota, rate / 2 + 1, start))
                .collect();
            slots.extend(ledger.grant(&k, quota, 2).await.unwrap());
            let burst = quota.burst as usize;
            assert!(
                slots[..burst].iter().all(|&slot| slot == start),
                "rate {rate}"
            );
            assert!(
                slots[burst - 1..]
                    .windows(2)
                    .all(|w| w[1] - w[0] == quota.period()),
                "rate {rate}"
            );
        }
    }
}
