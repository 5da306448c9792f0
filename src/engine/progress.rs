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
    /// (when, refunds sent by then), oldest first, over [`PACE_WINDOW`].
    samples: Vec<(Instant, u64)>,
}

impl Stats {
    fn new(to_work: u64, requests: Arc<AtomicU64>, rate: u32, poll_deadline: Instant) -> Stats {
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

    /// Refunds per second sent over the last [`PACE_WINDOW`], at most the rate.
    fn pace(&mut self, now: Instant) -> Option<f64> {
        self.samples.push((now, self.sent));
        self.samples
            .retain(|(at, _)| now.duration_since(*at) <= PACE_WINDOW);
        let (first_at, first_sent) = *self.samples.first()?;
        let seconds = now.duration_since(first_at).as_secs_f64();
        if seconds < 1.0 || self.sent == first_sent {
            return None;
        }
        Some(((self.sent - first_sent) as f64 / seconds).min(f64::from(self.rate.max(1))))
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
        // Under a second a rate says more about a burst than about the pace.
        if elapsed >= 1.0 {
            let per_second = requests as f64 / elapsed;
            line.push_str(&format!("  ·  {per_second:.1} req/s of {}", self.rate));
        } else {
            line.push_str(&format!("  ·  {requests} requests (rate {})", self.rate));
        }
        let to_send = self.to_work.saturating_sub(self.sent);
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
        Stats::new(to_work, Arc::new(AtomicU64::new(0)), 10, deadline)
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
