//! WeChat Pay's traffic, call by call: the arrival time of every apply and of
//! every query (bills and downloads with the queries, as they share its
//! window), and the 429 `FREQUENCY_LIMITED` answers given, so that a
//! benchmark can tell whether a client kept applies and queries each within
//! their own limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::sim::faults::{busiest_second, steady_pace, whole_pace};
use crate::sim::snapshot::WechatpayTraffic;

use super::Call;

#[derive(Default)]
pub(super) struct Arrivals {
    /// Microseconds since the simulator started, in the order recorded.
    applies: Mutex<Vec<u64>>,
    queries: Mutex<Vec<u64>>,
    frequency_limited: AtomicU64,
}

impl Arrivals {
    pub(super) fn arrive(&self, call: Call, started: Instant) {
        let micros = started.elapsed().as_micros() as u64;
        let list = match call {
            Call::Apply => &self.applies,
            Call::Query => &self.queries,
        };
        list.lock().expect("arrivals lock").push(micros);
    }

    pub(super) fn note_frequency_limited(&self) {
        self.frequency_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> WechatpayTraffic {
        let sorted = |list: &Mutex<Vec<u64>>| {
            let mut times = list.lock().expect("arrivals lock").clone();
            times.sort_unstable();
            times
        };
        let (applies, queries) = (sorted(&self.applies), sorted(&self.queries));
        WechatpayTraffic {
            applies: applies.len() as u64,
            queries: queries.len() as u64,
            max_applies_in_one_second: busiest_second(&applies),
            max_queries_in_one_second: busiest_second(&queries),
            applies_whole: whole_pace(&applies),
            applies_steady: steady_pace(&applies),
            frequency_limited: self.frequency_limited.load(Ordering::Relaxed),
        }
    }
}
