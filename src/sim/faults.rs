//! Fault injection and traffic accounting for the simulator: the rate limit
//! (fixed one-second windows), the seeded dice for each fault flag, latency, and
//! the arrival time of every request, from which the ledger reports the busiest
//! one-second window a client produced.

use super::ledger::{Fate, SteadyPace};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The fault flags of `bulkrefund sim` (docs/specs/cli.md, "Simulator flags").
#[derive(Clone, Debug, Default)]
pub struct FaultConfig {
    /// Added to every answer: a fixed delay or a uniform range, in milliseconds.
    pub latency_ms: Option<(u64, u64)>,
    /// Above this many requests in one second, answer 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// HTTP 500 after the request was processed (refund recorded).
    pub fail_rate: f64,
    /// 503 or a busy code, before anything is recorded.
    pub busy_rate: f64,
    /// Process the request, then close the connection without an answer.
    pub drop_rate: f64,
    /// Answer with a wrong signature (Leshua: Lianshang answers carry none).
    pub bad_sign_rate: f64,
    /// How long a refund stays processing before it turns final.
    pub processing_for: Duration,
    /// Share of refunds that end failed.
    pub fail_refund_rate: f64,
    pub seed: Option<u64>,
    /// Share of answers, correctly signed, that echo another refund, amount,
    /// merchant, order or request than the one asked about.
    pub mismatch_rate: f64,
    /// The field a mismatch changes (default: one of the gateway's, at random).
    pub mismatch_field: Option<String>,
    /// Share of answers whose values are pretty-printed: padded with whitespace
    /// that is not part of the value (the signature covers the bare values).
    pub pad_rate: f64,
    /// Share of answers that are a 307 redirect, after the request was processed.
    pub redirect_rate: f64,
    /// Where redirects point (default: this simulator's `/__sim/elsewhere`,
    /// which counts what reaches it and answers an unsigned success).
    pub redirect_to: Option<String>,
    /// Share of answers with a 100 MB body, after the request was processed.
    pub oversize_rate: f64,
    /// Share of answers whose body never ends, after the request was processed.
    pub endless_rate: f64,
    /// The `Retry-After` (seconds) of 429 and 503 answers (default: 1 for 429, none for 503).
    pub retry_after_secs: Option<u64>,
    /// The simulator holds another key for the merchant: every request fails
    /// its signature check (what a profile with a wrong key meets).
    pub wrong_key: bool,
    /// How many lies the gateway tells, then it tells the truth: a refund it
    /// creates is answered with a signed -20023 (failed), and a query about
    /// one it holds with a signed -5019 (no such refund). Each answer is one lie.
    pub lies: u32,
    /// A request whose signature fails is refused with a business error signed
    /// by the key the simulator holds (Leshua `result_code` 1, `-20006`), not
    /// an unsigned protocol rejection: with `wrong_key`, an answer the client
    /// cannot verify, as a real gateway, which does not know the client's
    /// key, may give. Lianshang answers carry no signature.
    pub signed_refusals: bool,
    /// The gateway contradicts itself: every refund it records is answered
    /// HTTP 500, every resend of an id it holds "already exists" (Leshua
    /// `-5103`; Lianshang, which answers a same-content resend with the
    /// refund, 500 again), and every query says there is no such refund (a
    /// query service that lags its refund service).
    pub contradict: bool,
    /// Share of refund submissions recorded (and paid), then answered with a
    /// signed refusal the gateway did not mean (Leshua `-20023`, Lianshang
    /// `AmountExceed`); while the share is above zero, queries about those
    /// refunds say there is no such refund. The gateway lies twice.
    pub lie_rate: f64,
    /// WeChat Pay: share of refunds that end `ABNORMAL` (the payer's card
    /// refused the money) instead of succeeding.
    pub abnormal_rate: f64,
    /// WeChat Pay: these `out_refund_no` end `ABNORMAL` whatever the dice
    /// (tests choose exactly which refunds; no flag sets it).
    pub abnormal_refunds: Vec<String>,
    /// WeChat Pay: share of signed answers whose `Wechatpay-Timestamp` is ten
    /// minutes old (correctly signed), which a client must refuse as stale.
    pub stale_answer_rate: f64,
    /// Alipay: share of refunds answered `10000` with `fund_change` `N`
    /// though nothing was executed (nothing recorded): only the query, which
    /// finds no refund, tells.
    pub fund_change_n_rate: f64,
}

/// What to do to an answer after the request was processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterFault {
    None,
    ServerError,
    Drop,
    BadSign,
    /// Change this field (or, `None`, one the gateway picks) to another refund's.
    Mismatch(Option<String>),
    Padded,
    Redirect,
    Oversize,
    Endless,
}

pub struct Faults {
    config: Mutex<FaultConfig>,
    rng: Mutex<StdRng>,
    started: Instant,
    traffic: Mutex<Traffic>,
    lies_told: Mutex<u32>,
    /// The refunds `lie_rate` lied about (gateway, merchant, refund id).
    lied_about: Mutex<HashSet<String>>,
}

/// What a submission that recorded a new refund is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewRefundAnswer {
    /// The refund, as it is.
    Truth,
    /// HTTP 500 (`contradict`).
    ServerError,
    /// A signed refusal the gateway did not mean (`lie_rate`).
    Lie,
}

#[derive(Default)]
struct Traffic {
    window_second: u64,
    window_count: u32,
    /// Microseconds since start, in arrival order.
    arrivals: Vec<u64>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Faults {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Faults {
            config: Mutex::new(config),
            rng: Mutex::new(rng),
            started: Instant::now(),
            traffic: Mutex::new(Traffic::default()),
            lies_told: Mutex::new(0),
            lied_about: Mutex::new(HashSet::new()),
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config.lock().expect("fault config lock").clone()
    }

    /// Changes the faults of a running simulator (tests turn them on and off).
    pub fn set_config(&self, config: FaultConfig) {
        *self.config.lock().expect("fault config lock") = config;
    }

    /// Counts a request's arrival. `Some(retry_after)` when it is over the rate limit.
    pub fn arrive(&self) -> Option<Duration> {
        self.arrive_at(self.started.elapsed())
    }

    fn arrive_at(&self, elapsed: Duration) -> Option<Duration> {
        let mut traffic = self.traffic.lock().expect("traffic lock");
        traffic.arrivals.push(elapsed.as_micros() as u64);
        let limit = self.config().rate_limit?;
        let second = elapsed.as_secs();
        if traffic.window_second != second {
            traffic.window_second = second;
            traffic.window_count = 0;
        }
        traffic.window_count += 1;
        (traffic.window_count > limit).then_some(Duration::from_secs(1))
    }

    /// (requests, the most in any one-second sliding window, the pace after
    /// the first second, the pace from the first request to the last).
    pub fn traffic(&self) -> (u64, u64, SteadyPace, SteadyPace) {
        // Arrivals are pushed in the order their tasks took the lock, which
        // is not always the order of their times.
        let mut arrivals = self.traffic.lock().expect("traffic lock").arrivals.clone();
        arrivals.sort_unstable();
        (
            arrivals.len() as u64,
            busiest_second(&arrivals),
            steady_pace(&arrivals),
            whole_pace(&arrivals),
        )
    }

    fn roll(&self, probability: f64) -> bool {
        probability > 0.0
            && self
                .rng
                .lock()
                .expect("rng lock")
                .gen_bool(probability.min(1.0))
    }

    pub fn busy(&self) -> bool {
        self.roll(self.config().busy_rate)
    }

    /// A coin toss for the form a fault takes (503 or a busy code).
    pub fn coin(&self) -> bool {
        self.roll(0.5)
    }

    /// True when this answer is to lie (see [`FaultConfig::lies`]).
    pub fn lie(&self) -> bool {
        let mut told = self.lies_told.lock().expect("lies lock");
        let lie = *told < self.config().lies;
        *told += u32::from(lie);
        lie
    }

    pub fn refund_ends_failed(&self) -> bool {
        self.roll(self.config().fail_refund_rate)
    }

    /// How the WeChat Pay refund `out_refund_no` ends: abnormal when listed
    /// in `abnormal_refunds`; else closed (`fail_refund_rate`), abnormal
    /// (`abnormal_rate`, among those not closed), else a success.
    pub fn refund_fate(&self, out_refund_no: &str) -> Fate {
        let config = self.config();
        if config.abnormal_refunds.iter().any(|id| id == out_refund_no) {
            Fate::Abnormal
        } else if self.roll(config.fail_refund_rate) {
            Fate::Fails
        } else if self.roll(config.abnormal_rate) {
            Fate::Abnormal
        } else {
            Fate::Succeeds
        }
    }

    /// Whether this Alipay refund is answered `fund_change` `N` unexecuted.
    pub fn fund_change_n(&self) -> bool {
        self.roll(self.config().fund_change_n_rate)
    }

    /// Whether this signed answer carries a stale timestamp.
    pub fn stale_answer(&self) -> bool {
        self.roll(self.config().stale_answer_rate)
    }

    /// The fault for an answer. 500s and drops hit refund submissions only (the
    /// flags say "after the refund was recorded"); the others hit any answer.
    pub fn after(&self, is_refund: bool) -> AfterFault {
        let config = self.config();
        if is_refund && self.roll(config.fail_rate) {
            AfterFault::ServerError
        } else if is_refund && self.roll(config.drop_rate) {
            AfterFault::Drop
        } else if self.roll(config.bad_sign_rate) {
            AfterFault::BadSign
        } else if self.roll(config.mismatch_rate) {
            AfterFault::Mismatch(config.mismatch_field)
        } else if self.roll(config.pad_rate) {
            AfterFault::Padded
        } else if self.roll(config.redirect_rate) {
            AfterFault::Redirect
        } else if self.roll(config.oversize_rate) {
            AfterFault::Oversize
        } else if self.roll(config.endless_rate) {
            AfterFault::Endless
        } else {
            AfterFault::None
        }
    }

    /// How to answer the submission that just recorded the refund `key`.
    pub fn new_refund_answer(&self, key: String) -> NewRefundAnswer {
        let config = self.config();
        if config.contradict {
            NewRefundAnswer::ServerError
        } else if self.roll(config.lie_rate) {
            self.lied_about.lock().expect("lies lock").insert(key);
            NewRefundAnswer::Lie
        } else {
            NewRefundAnswer::Truth
        }
    }

    /// Whether a query about the refund `key`, which the gateway holds, is
    /// answered "no such refund" (`contradict`, or a refund `lie_rate` lied about).
    pub fn denies(&self, key: &str) -> bool {
        let config = self.config();
        config.contradict
            || (config.lie_rate > 0.0 && self.lied_about.lock().expect("lies lock").contains(key))
    }

    /// One of `choices`, by the seeded dice.
    pub fn pick<'a>(&self, choices: &[&'a str]) -> &'a str {
        let i = self
            .rng
            .lock()
            .expect("rng lock")
            .gen_range(0..choices.len());
        choices[i]
    }

    pub async fn delay(&self) {
        let Some((low, high)) = self.config().latency_ms else {
            return;
        };
        let ms = if high > low {
            self.rng.lock().expect("rng lock").gen_range(low..=high)
        } else {
            low
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The arrivals after the first second of traffic (the client's start-up:
/// its first requests, its in-flight limit still growing) and their span.
pub(crate) fn steady_pace(sorted_micros: &[u64]) -> SteadyPace {
    let (Some(&first), Some(&last)) = (sorted_micros.first(), sorted_micros.last()) else {
        return SteadyPace::default();
    };
    let from = first + 1_000_000;
    if last <= from {
        return SteadyPace::default();
    }
    SteadyPace {
        requests: sorted_micros.iter().filter(|&&t| t > from).count() as u64,
        micros: last - from,
    }
}

/// The pace from the first arrival to the last: the gaps between them and
/// their span (a run's start-up included, as the operator waits through it).
pub(crate) fn whole_pace(sorted_micros: &[u64]) -> SteadyPace {
    match (sorted_micros.first(), sorted_micros.last()) {
        (Some(&first), Some(&last)) if sorted_micros.len() > 1 => SteadyPace {
            requests: sorted_micros.len() as u64 - 1,
            micros: last - first,
        },
        _ => SteadyPace::default(),
    }
}

/// The largest number of arrivals within any window of one second; the
/// arrivals in microseconds, sorted.
pub(crate) fn busiest_second(sorted_micros: &[u64]) -> u64 {
    let mut start = 0;
    let mut best = 0;
    for (end, &t) in sorted_micros.iter().enumerate() {
        while t - sorted_micros[start] >= 1_000_000 {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steady_pace_leaves_out_the_first_second() {
        // 10 in the first second, then 100 a second for 2 s.
        let mut arrivals: Vec<u64> = (0..10).map(|i| i * 100_000).collect();
        arrivals.extend((1..=200).map(|i| 1_000_000 + i * 10_000));
        let steady = steady_pace(&arrivals);
        assert_eq!(
            steady,
            SteadyPace {
                requests: 200,
                micros: 2_000_000
            }
        );
        assert_eq!(steady.per_second(), Some(100.0));
        assert_eq!(steady_pace(&[5, 6]).per_second(), None);
        // From the first arrival: 10 a second over 2 s is 20 gaps.
        let whole = whole_pace(&(0..=20).map(|i| i * 100_000).collect::<Vec<u64>>());
        assert_eq!(whole.per_second(), Some(10.0));
    }

    #[test]
    fn arrivals_recorded_out_of_order_are_counted_in_time_order() {
        // Two tasks read the clock, then take the lock in the other order.
        let faults = Faults::new(FaultConfig::default());
        for ms in [0, 1_200, 900, 1_100, 2_500] {
            faults.arrive_at(Duration::from_millis(ms));
        }
        let (requests, busiest, _, _) = faults.traffic();
        assert_eq!((requests, busiest), (5, 3));
    }

    #[test]
    fn busiest_second_slides() {
        assert_eq!(busiest_second(&[]), 0);
        assert_eq!(busiest_second(&[0, 999_999]), 2);
        assert_eq!(busiest_second(&[0, 1_000_000]), 1);
        assert_eq!(
            busiest_second(&[0, 500_000, 900_000, 1_400_000, 1_450_000]),
            4
        );
    }

    #[test]
    fn rate_limit_answers_over_the_limit() {
        let faults = Faults::new(FaultConfig {
            rate_limit: Some(3),
            ..Default::default()
        });
        let at = |ms| faults.arrive_at(Duration::from_millis(ms)).is_some();
        let answers: Vec<bool> = [0, 100, 200, 300, 999, 1000, 1001]
            .into_iter()
            .map(at)
            .collect();
        assert_eq!(answers, [false, false, false, true, true, false, false]);
        // 0 ms and 1000 ms are a full second apart: the busiest window is 100..=1001 ms.
        let (requests, busiest, _, _) = faults.traffic();
        assert_eq!((requests, busiest), (7, 6));
    }
}
