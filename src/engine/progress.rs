//! What the operator sees while a run works: refunds sent, settled and in
//! flight; succeeded, failed, processing, unknown; requests per second against
//! the rate; an ETA from the refunds still to send at the pace actually
//! achieved, then "polling N processing refunds until HH:MM". Redrawn twice a
//! second on a terminal (indicatif), hidden elsewhere or with `--quiet`; one
//! final line either way.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::limit::InFlightLimit;
use crate::journal::State;

/// How often the display is recomputed.
const TICK: Duration = Duration::from_millis(500);
/// The window the achieved pace is measured over.
const PACE_WINDOW: Duration = Duration::from_secs(10);

/// The run's counts, shared by the engine (which updates them) and the ticker
/// (which draws them).
struct Stats {
    /// Refunds in scope that had not ended when the run began.
    to_work: u64,
    /// Refunds this run has sent a request about (a submit, or a query of
    /// one taken up again), at least once.
    sent: u64,
    settled: u64,
    /// Requests that have left and not been answered (and recorded) yet.
    in_flight: u64,
    /// The refunds those requests are about.
    flying: HashSet<i64>,
    /// Succeeded, failed, processing, unknown, review.
    counts: [u64; 5],
    /// The last state shown for each refund not yet final.
    last_state: HashMap<i64, State>,
    requests: Arc<AtomicU64>,
    /// Requests per second the profiles allow, together.
    rate: u32,
    started: Instant,
    poll_deadline: Instant,
    /// (when, refunds sent by then, requests by then), oldest first, over [`PACE_WINDOW`].
    samples: Vec<(Instant, u64, u64)>,
    /// Each profile's in-flight limit: what holds the pace back, when something does.
    limits: Vec<Arc<InFlightLimit>>,
}

impl Stats {
    fn new(
        to_work: u64,
        requests: Arc<AtomicU64>,
        rate: u32,
        poll_deadline: Instant,
        limits: Vec<Arc<InFlightLimit>>,
    ) -> Stats {
        Stats {
            to_work,
            sent: 0,
            settled: 0,
            in_flight: 0,
            flying: HashSet::new(),
            counts: [0; 5],
            last_state: HashMap::new(),
            requests,
            rate,
            started: Instant::now(),
            poll_deadline,
            samples: Vec::new(),
            limits,
        }
    }

    fn slot(state: State) -> Option<usize> {
        match state {
            State::Succeeded => Some(0),
            State::Failed => Some(1),
            State::Processing => Some(2),
            State::Unknown | State::InFlight => Some(3),
            State::Review => Some(4),
            _ => None,
        }
    }

    fn request_left(&mut self, id: i64) {
        if self.flying.insert(id) {
            self.in_flight += 1;
        }
        // Pending counts under no status until its answer comes.
        if let std::collections::hash_map::Entry::Vacant(new) = self.last_state.entry(id) {
            new.insert(State::Pending);
            self.sent += 1;
        }
    }

    fn update(&mut self, id: i64, state: State) {
        if self.flying.remove(&id) {
            self.in_flight -= 1;
        }
        let previous = self.last_state.insert(id, state);
        if let Some(i) = previous.and_then(Stats::slot) {
            self.counts[i] = self.counts[i].saturating_sub(1);
        }
        if let Some(i) = Stats::slot(state) {
            self.counts[i] += 1;
        }
        if state.is_final() {
            self.last_state.remove(&id);
            self.settled += 1;
        }
    }

    /// Takes a sample of the counts at `now`, keeping the last [`PACE_WINDOW`].
    fn sample(&mut self, now: Instant) {
        let requests = self.requests.load(Ordering::Relaxed);
        self.samples.push((now, self.sent, requests));
        self.samples
            .retain(|(at, _, _)| now.duration_since(*at) <= PACE_WINDOW);
    }

    /// Refunds per second sent over the last [`PACE_WINDOW`], at most the rate.
    fn pace(&self, now: Instant) -> Option<f64> {
        let (first_at, first_sent, _) = *self.samples.first()?;
        let seconds = now.duration_since(first_at).as_secs_f64();
        if seconds < 1.0 || self.sent == first_sent {
            return None;
        }
        Some(((self.sent - first_sent) as f64 / seconds).min(f64::from(self.rate.max(1))))
    }

    /// Requests per second over the last [`PACE_WINDOW`], once it spans a second.
    fn request_pace(&self, now: Instant) -> Option<f64> {
        let (first_at, _, first_requests) = *self.samples.first()?;
        let seconds = now.duration_since(first_at).as_secs_f64();
        let requests = self.samples.last()?.2;
        (seconds >= 1.0).then(|| (requests - first_requests) as f64 / seconds)
    }

    /// Why requests go slower than the rate while refunds wait to be sent:
    /// the in-flight limit's bound, else the latency it follows.
    fn held_by(&self) -> Option<String> {
        let reports: Vec<_> = self.limits.iter().map(|limit| limit.report()).collect();
        if let Some(holding) = reports.iter().find_map(|report| report.holding()) {
            return Some(holding);
        }
        let report = reports.first()?;
        Some(match report.latency {
            Some(p90) => format!(
                "{} in flight at the gateway's latency (p90 {} ms)",
                report.limit,
                p90.as_millis()
            ),
            None => format!(
                "{} in flight, measuring the gateway's latency",
                report.limit
            ),
        })
    }

    fn line(&mut self, now: Instant) -> String {
        let [succeeded, failed, processing, unknown, review] = self.counts;
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let requests = self.requests.load(Ordering::Relaxed);
        let mut line = format!(
            "sent {}/{}  settled {}  in flight {}  ·  succeeded {succeeded}  failed {failed}  processing {processing}  unknown {unknown}",
            self.sent.min(self.to_work),
            self.to_work,
            self.settled,
            self.in_flight
        );
        if review > 0 {
            line.push_str(&format!("  review {review}"));
        }
        self.sample(now);
        let to_send = self.to_work.saturating_sub(self.sent);
        // Under a second a rate says more about a burst than about the pace.
        match self.request_pace(now).filter(|_| elapsed >= 1.0) {
            Some(per_second) => {
                line.push_str(&format!("  ·  {per_second:.1} req/s of {}", self.rate));
                // Below the rate with refunds still to send, after the start-up: why.
                if to_send > 0 && elapsed >= 3.0 && per_second < 0.95 * f64::from(self.rate) {
                    if let Some(why) = self.held_by() {
                        line.push_str(&format!(" ({why})"));
                    }
                }
            }
            None => line.push_str(&format!("  ·  {requests} requests (rate {})", self.rate)),
        }
        if to_send > 0 {
            match self.pace(now) {
                Some(pace) => {
                    let eta = Duration::from_secs_f64(to_send as f64 / pace);
                    line.push_str(&format!("  ·  eta {}", short_duration(eta)));
                }
                None => line.push_str("  ·  eta …"),
            }
        } else if processing > 0 {
            let until = chrono::Local::now()
                + chrono::Duration::from_std(self.poll_deadline.saturating_duration_since(now))
                    .unwrap_or_default();
            line.push_str(&format!(
                "  ·  polling {processing} processing refunds until {}",
                until.format("%H:%M")
            ));
        }
        line
    }
}

/// `45s`, `3m 05s`, `2h 10m`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A task's side of the display.
#[derive(Clone)]
pub struct ProgressHandle(Arc<Mutex<Stats>>);

impl ProgressHandle {
    /// A request about the refund is leaving (after the rate allowed it).
    pub fn request_left(&self, id: i64) {
        self.0.lock().expect("progress lock").request_left(id);
    }

    /// Records a refund's new state, as its step ended.
    pub fn update(&self, id: i64, state: State) {
        self.0.lock().expect("progress lock").update(id, state);
    }
}

pub struct Progress {
    bar: ProgressBar,
    stats: Arc<Mutex<Stats>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    /// `--quiet`: no final line either.
    quiet: bool,
}

/// What the display needs to know of the run.
pub struct ProgressSetup {
    pub show: bool,
    pub to_work: u64,
    pub requests: Arc<AtomicU64>,
    pub rate: u32,
    pub poll_deadline: Instant,
    pub limits: Vec<Arc<InFlightLimit>>,
}

impl Progress {
    pub fn new(setup: ProgressSetup) -> Progress {
        let on_terminal = setup.show && std::io::stderr().is_terminal();
        let bar = if on_terminal {
            let bar =
                ProgressBar::with_draw_target(Some(setup.to_work), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:24} {msg}").expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let stats = Arc::new(Mutex::new(Stats::new(
            setup.to_work,
            setup.requests,
            setup.rate,
            setup.poll_deadline,
            setup.limits,
        )));
        let ticker = on_terminal.then(|| {
            let (bar, stats) = (bar.clone(), stats.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    let mut stats = stats.lock().expect("progress lock");
                    bar.set_position(stats.settled);
                    bar.set_message(stats.line(Instant::now()));
                }
            })
        });
        Progress {
            bar,
            stats,
            ticker,
            quiet: !setup.show,
        }
    }

    /// What a task uses to report a refund's new state the moment its step ends.
    pub fn handle(&self) -> ProgressHandle {
        ProgressHandle(self.stats.clone())
    }

    /// Stops the display and says the last line (on a terminal or not).
    pub fn finish(&self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        self.bar.finish_and_clear();
        if !self.quiet {
            let line = self
                .stats
                .lock()
                .expect("progress lock")
                .line(Instant::now());
            crate::say!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(to_work: u64) -> Stats {
        let deadline = Instant::now() + Duration::from_secs(600);
        Stats::new(
            to_work,
            Arc::new(AtomicU64::new(0)),
            10,
            deadline,
            vec![InFlightLimit::new(10, 2)],
        )
    }

    #[test]
    fn a_pace_below_the_rate_says_what_holds_it() {
        let mut s = stats(100);
        let start = s.started;
        s.line(start);
        // 10 a second needs 17 in flight at 1 s a request; 2 are allowed.
        for _ in 0..10 {
            s.limits[0].answered(Duration::from_secs(1));
        }
        s.requests.store(8, Ordering::Relaxed);
        let line = s.line(start + Duration::from_secs(4));
        assert!(
            line.contains("2.0 req/s of 10 (held at 2 in flight by concurrency / max_concurrency)"),
            "{line}"
        );
        // The pace is the last ten seconds': still below the rate at 10 s ...
        s.requests.store(8 + 60, Ordering::Relaxed);
        let line = s.line(start + Duration::from_secs(10));
        assert!(line.contains("6.8 req/s of 10 (held"), "{line}");
        // ... and at the rate by 20 s: nothing to explain.
        s.requests.store(8 + 60 + 100, Ordering::Relaxed);
        let line = s.line(start + Duration::from_secs(20));
        assert!(line.contains("  ·  10.0 req/s of 10  ·  eta"), "{line}");
    }

    #[test]
    fn the_eta_follows_the_pace_achieved_then_polling_is_named() {
        let mut s = stats(100);
        let start = s.started;
        // 20 refunds sent in 4 s: 5 a second, though the rate allows 10.
        s.line(start);
        for id in 0..20 {
            s.request_left(id);
            s.update(id, State::Processing);
        }
        let line = s.line(start + Duration::from_secs(4));
        assert!(line.contains("sent 20/100"), "{line}");
        assert!(line.contains("processing 20"), "{line}");
        assert!(line.contains("eta 16s"), "80 left at 5/s: {line}");
        for id in 20..100 {
            s.request_left(id);
            s.update(id, State::Processing);
        }
        for id in 0..10 {
            s.update(id, State::Succeeded);
        }
        let line = s.line(start + Duration::from_secs(20));
        assert!(line.contains("settled 10"), "{line}");
        assert!(line.contains("succeeded 10"), "{line}");
        assert!(
            line.contains("polling 90 processing refunds until "),
            "{line}"
        );
        assert_eq!(short_duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(short_duration(Duration::from_secs(7800)), "2h 10m");
    }
}
