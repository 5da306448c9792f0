//! What the operator sees while a run works: refunds sent, settled and in
//! flight; succeeded, failed, processing, unknown (review and abnormal once
//! any refund is); requests per second against
//! the rate; an ETA from the refunds still to send at the pace actually
//! achieved, then "polling N processing refunds until HH:MM" (in the
//! configured zone). Redrawn twice a second on a terminal (indicatif), fitted
//! to its width by dropping detail in a fixed order ([`Detail`]); hidden
//! elsewhere or with `--quiet`; one final line, whole, either way.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::limit::InFlightLimit;
use crate::journal::State;
use crate::zone::Zone;

/// How often the display is recomputed.
const TICK: Duration = Duration::from_millis(500);
/// The window the achieved pace is measured over.
const PACE_WINDOW: Duration = Duration::from_secs(10);
/// The progress bar's width in characters, when there is room for it.
const BAR: usize = 24;

/// What a narrow terminal loses first, in this order, until the line fits
/// (a line that wraps is redrawn as a new line each tick): why the pace is
/// below the rate, the bar, the counts that are zero, the request rate, the
/// in-flight count, the settled count, "N processing refunds" in the polling
/// (the count is in "processing N"). "sent N/M", the outcomes and the ETA (or
/// "polling until HH:MM") stay; past them the line is cut with "…".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    Never,
    Why,
    Bar,
    Zeros,
    Rate,
    InFlight,
    Settled,
    Words,
}

impl Detail {
    const ORDER: [Detail; 8] = [
        Detail::Never,
        Detail::Why,
        Detail::Bar,
        Detail::Zeros,
        Detail::Rate,
        Detail::InFlight,
        Detail::Settled,
        Detail::Words,
    ];
}

/// A piece of the line: its group (groups are set apart by " · "), the text
/// that goes before it inside its group, its text, and when it goes.
struct Part {
    group: u8,
    joint: &'static str,
    text: String,
    drop: Detail,
}

impl Part {
    fn new(group: u8, text: String, drop: Detail) -> Part {
        Part {
            group,
            joint: "  ",
            text,
            drop,
        }
    }
}

/// The parts kept once everything up to `dropped` is dropped, as one line.
fn render(parts: &[Part], dropped: Detail) -> String {
    let mut line = String::new();
    let mut group = None;
    for part in parts
        .iter()
        .filter(|p| p.drop == Detail::Never || p.drop > dropped)
    {
        match group {
            None => {}
            Some(g) if g == part.group => line.push_str(part.joint),
            Some(_) => line.push_str("  ·  "),
        }
        group = Some(part.group);
        line.push_str(&part.text);
    }
    line
}

/// `done` of `all` as a bar of [`BAR`] characters.
fn bar(done: u64, all: u64) -> String {
    let filled = if all == 0 {
        BAR
    } else {
        (done.min(all) as u128 * BAR as u128 / all as u128) as usize
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR - filled))
}

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
    /// Succeeded, failed, processing, unknown, review, abnormal.
    counts: [u64; 6],
    /// The last state shown for each refund not yet final.
    last_state: HashMap<i64, State>,
    requests: Arc<AtomicU64>,
    /// Requests per second the gateway merchants allow, together (the
    /// profiles of one merchant share its rate).
    rate: u32,
    started: Instant,
    /// The wall clock when the run began, for the times the line names.
    started_at: jiff::Timestamp,
    zone: Zone,
    poll_deadline: Instant,
    /// (when, refunds sent by then, requests by then), oldest first, over [`PACE_WINDOW`].
    samples: Vec<(Instant, u64, u64)>,
    /// Each merchant's in-flight limit: what holds the pace back, when something does.
    limits: Vec<Arc<InFlightLimit>>,
}

impl Stats {
    fn new(
        to_work: u64,
        requests: Arc<AtomicU64>,
        rate: u32,
        poll_deadline: Instant,
        limits: Vec<Arc<InFlightLimit>>,
        zone: Zone,
    ) -> Stats {
        Stats {
            to_work,
            sent: 0,
            settled: 0,
            in_flight: 0,
            flying: HashSet::new(),
            counts: [0; 6],
            last_state: HashMap::new(),
            requests,
            rate,
            started: Instant::now(),
            started_at: jiff::Timestamp::now(),
            zone,
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
            State::Abnormal => Some(5),
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
                "in-flight limit {} at the gateway's latency (p90 {} ms)",
                report.limit,
                p90.as_millis()
            ),
            None => format!(
                "in-flight limit {}, measuring the gateway's latency",
                report.limit
            ),
        })
    }

    /// The line's parts at `now`, in reading order.
    fn parts(&mut self, now: Instant) -> Vec<Part> {
        let [succeeded, failed, processing, unknown, review, abnormal] = self.counts;
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let requests = self.requests.load(Ordering::Relaxed);
        let mut parts = vec![
            Part::new(
                0,
                format!("sent {}/{}", self.sent.min(self.to_work), self.to_work),
                Detail::Never,
            ),
            Part::new(0, format!("settled {}", self.settled), Detail::Settled),
            Part::new(0, format!("in flight {}", self.in_flight), Detail::InFlight),
        ];
        for (name, count) in [
            ("succeeded", succeeded),
            ("failed", failed),
            ("processing", processing),
            ("unknown", unknown),
            ("review", review),
            ("abnormal", abnormal),
        ] {
            // Review and abnormal are named only once a refund is in them.
            if !matches!(name, "review" | "abnormal") || count > 0 {
                let drop = if count == 0 {
                    Detail::Zeros
                } else {
                    Detail::Never
                };
                parts.push(Part::new(1, format!("{name} {count}"), drop));
            }
        }
        self.sample(now);
        let to_send = self.to_work.saturating_sub(self.sent);
        // Under a second a rate says more about a burst than about the pace.
        match self.request_pace(now).filter(|_| elapsed >= 1.0) {
            Some(per_second) => {
                let rate = format!("{per_second:.1} req/s of {}", self.rate);
                parts.push(Part::new(2, rate, Detail::Rate));
                // Below the rate with refunds still to send, after the start-up: why.
                if to_send > 0 && elapsed >= 3.0 && per_second < 0.95 * f64::from(self.rate) {
                    if let Some(why) = self.held_by() {
                        parts.push(Part {
                            joint: " ",
                            ..Part::new(2, format!("({why})"), Detail::Why)
                        });
                    }
                }
            }
            None => {
                let text = format!("{requests} requests (rate {})", self.rate);
                parts.push(Part::new(2, text, Detail::Rate));
            }
        }
        if to_send > 0 {
            let eta = match self.pace(now) {
                Some(pace) => short_duration(Duration::from_secs_f64(to_send as f64 / pace)),
                None => "…".to_owned(),
            };
            parts.push(Part::new(3, format!("eta {eta}"), Detail::Never));
        } else if processing > 0 {
            let until = self.poll_deadline.saturating_duration_since(self.started);
            let until = jiff::SignedDuration::try_from(until)
                .ok()
                .and_then(|d| self.started_at.checked_add(d).ok())
                .unwrap_or(self.started_at);
            let word = |text: String, drop| Part {
                joint: " ",
                ..Part::new(3, text, drop)
            };
            // Narrow, "polling until 16:21": the count is in "processing N" already.
            parts.push(Part::new(3, "polling".into(), Detail::Never));
            parts.push(word(
                format!("{processing} processing refunds"),
                Detail::Words,
            ));
            let until = format!("until {}", self.zone.hour_minute(until));
            parts.push(word(until, Detail::Never));
        }
        parts
    }

    /// The whole line, every detail kept: the final line.
    fn line(&mut self, now: Instant) -> String {
        render(&self.parts(now), Detail::Never)
    }

    /// The line for a terminal `width` columns wide, the bar first when
    /// there is room: detail dropped in [`Detail`]'s order until it fits in
    /// all but the last column (where some terminals wrap at once).
    fn fitted(&mut self, now: Instant, width: usize) -> String {
        let width = width.saturating_sub(1);
        let parts = self.parts(now);
        let bar = bar(self.settled, self.to_work);
        for dropped in Detail::ORDER {
            let line = render(&parts, dropped);
            if dropped < Detail::Bar && BAR + 1 + line.chars().count() <= width {
                return format!("{bar} {line}");
            }
            if dropped >= Detail::Bar && line.chars().count() <= width {
                return line;
            }
        }
        let line = render(&parts, Detail::Words);
        let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
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
    /// The sum of the rates of the gateway merchants in the run, each once.
    pub rate: u32,
    pub poll_deadline: Instant,
    /// Each gateway merchant's in-flight limit, once.
    pub limits: Vec<Arc<InFlightLimit>>,
    /// The zone the times shown are in: the configured one.
    pub zone: Zone,
}

/// The terminal's width in columns (80 when it does not say).
fn terminal_width() -> usize {
    match console::Term::stderr().size_checked() {
        Some((_, columns)) if columns > 0 => usize::from(columns),
        _ => 80,
    }
}

impl Progress {
    pub fn new(setup: ProgressSetup) -> Progress {
        let on_terminal = setup.show && std::io::stderr().is_terminal();
        let bar = if on_terminal {
            let bar =
                ProgressBar::with_draw_target(Some(setup.to_work), ProgressDrawTarget::stderr());
            // The line draws its own bar: it fits the whole line to the terminal.
            bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
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
            setup.zone,
        )));
        let ticker = on_terminal.then(|| {
            let (bar, stats) = (bar.clone(), stats.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(TICK);
                loop {
                    tick.tick().await;
                    let mut stats = stats.lock().expect("progress lock");
                    bar.set_position(stats.settled);
                    bar.set_message(stats.fitted(Instant::now(), terminal_width()));
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
            Zone::named("Asia/Shanghai").unwrap(),
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

    /// A run 4 s in: 21 refunds sent, 5 succeeded, 15 processing, one in
    /// flight; the pace held at 2 in flight. Started 16:11:40 in Shanghai.
    fn busy() -> (Stats, Instant) {
        let mut s = stats(100);
        s.started_at = "2026-11-30T08:11:40Z".parse().unwrap();
        let start = s.started;
        s.line(start);
        for _ in 0..10 {
            s.limits[0].answered(Duration::from_secs(1));
        }
        for id in 0..20 {
            s.request_left(id);
            s.update(id, State::Processing);
        }
        for id in 0..5 {
            s.update(id, State::Succeeded);
        }
        s.request_left(20);
        s.requests.store(8, Ordering::Relaxed);
        (s, start + Duration::from_secs(4))
    }

    #[test]
    fn the_line_fits_the_terminal_dropping_detail_in_a_fixed_order() {
        let (mut s, at) = busy();
        assert_eq!(
            s.fitted(at, 200),
            "█░░░░░░░░░░░░░░░░░░░░░░░ sent 21/100  settled 5  in flight 1  ·  succeeded 5  failed 0  \
             processing 15  unknown 0  ·  2.0 req/s of 10 (held at 2 in flight by concurrency / \
             max_concurrency)  ·  eta 15s"
        );
        assert_eq!(
            s.fitted(at, 160),
            "█░░░░░░░░░░░░░░░░░░░░░░░ sent 21/100  settled 5  in flight 1  ·  succeeded 5  failed 0  \
             processing 15  unknown 0  ·  2.0 req/s of 10  ·  eta 15s"
        );
        assert_eq!(
            s.fitted(at, 100),
            "sent 21/100  settled 5  in flight 1  ·  succeeded 5  processing 15  ·  2.0 req/s of 10  ·  eta 15s"
        );
        assert_eq!(
            s.fitted(at, 80),
            "sent 21/100  settled 5  in flight 1  ·  succeeded 5  processing 15  ·  eta 15s"
        );
        assert_eq!(
            s.fitted(at, 60),
            "sent 21/100  ·  succeeded 5  processing 15  ·  eta 15s"
        );
        assert_eq!(s.fitted(at, 40), "sent 21/100  ·  succeeded 5  processin…");
        // The final line keeps everything, and no bar.
        assert_eq!(
            s.line(at),
            "sent 21/100  settled 5  in flight 1  ·  succeeded 5  failed 0  processing 15  unknown 0  \
             ·  2.0 req/s of 10 (held at 2 in flight by concurrency / max_concurrency)  ·  eta 15s"
        );
    }

    #[test]
    fn polling_names_the_time_in_the_configured_zone() {
        let (mut s, start) = busy();
        for id in 21..100 {
            s.request_left(id);
            s.update(id, State::Processing);
        }
        s.update(20, State::Failed);
        s.requests.store(100, Ordering::Relaxed);
        let at = start + Duration::from_secs(16);
        // Started 16:11:40 in Shanghai, polling for 600 s: until 16:21 there,
        // whatever the machine's zone.
        assert_eq!(
            s.fitted(at, 80),
            "sent 100/100  ·  succeeded 5  failed 1  processing 94  ·  polling until 16:21"
        );
        s.zone = Zone::utc();
        assert!(s
            .line(at)
            .ends_with("  ·  polling 94 processing refunds until 08:21"));
    }

    #[test]
    fn an_abnormal_refund_is_counted_apart_once_there_is_one() {
        let (mut s, at) = busy();
        let before = s.line(at);
        assert!(!before.contains("abnormal"), "{before}");
        // A refund polled found abnormal.
        s.update(19, State::Abnormal);
        let line = s.line(at);
        assert!(
            line.contains("succeeded 5  failed 0  processing 14  unknown 0  abnormal 1  ·"),
            "{line}"
        );
    }
}
