//! The engine (docs/DESIGN.md, "Data flow"): sweeps the journal for refunds
//! that are due (pending, retry_wait, unknown; abnormal, only ever queried,
//! once its hour is up, though none keeps a run waiting), and reads the polls due
//! (processing) every [`POLL_READS`] between them; hands each to a [`task`]
//! under its profile's [`pacing::Pace`] (polls within their share, [`polls`]),
//! and stops when nothing in scope can move any more, or when interrupted. It
//! reads with its own connection ([`crate::journal::due`]) and writes only
//! through the [`writer`]; a refund is never given to two tasks: it stays
//! `active` until its changes are committed and the scheduler has seen that
//! before its next read. Nor to two processes: a refund is handed out only
//! under this run's claim on it ([`claiming`]), and written only under it.

pub mod ask;
mod claiming;
mod gateway_times;
pub mod limit;
pub mod merchant_pace;
pub mod pacing;
pub mod pg_ledger;
pub mod policy;
pub mod polls;
pub mod progress;
pub mod rate_keys;
pub mod rate_ledger;
pub mod task;
pub mod trust;
pub mod verdict;
pub mod window;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::journal::claim::Claim;
use crate::journal::due::DueRefund;
use crate::journal::{self, DueReads, Journal, JournalError, Scope, State};
use merchant_pace::MerchantPace;
use pacing::Pace;
use policy::Counters;
use task::{Done, Job, Shared};
use writer::WriteError;

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How long processing refunds are polled before they are left for `resume`.
    pub poll_for: Duration,
    pub show_progress: bool,
    /// The zone of the times the progress line names.
    pub zone: crate::zone::Zone,
}

#[derive(Clone, Debug)]
pub struct EngineReport {
    pub requests: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Why the run stopped sending on its own: the gateway refused a request
    /// itself (bad signature, unknown merchant, authentication), or its
    /// answers could not be verified with the profile's key.
    pub stopped: Option<String>,
    /// How fast each gateway merchant went, where its in-flight limit
    /// settled, and why there: named "leshua merchant 8800 (profiles a, b)".
    pub limits: Vec<(String, pacing::PaceReport)>,
    /// Refunds another process took over while this one was stalled: a
    /// write of theirs was fenced off (each named in a warning).
    pub fenced: u64,
}

/// Why the engine could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the run stopped: {0}")]
    Write(#[from] WriteError),
    #[error("the run stopped: refund {refund_id} belongs to profile '{profile}', which this run has not loaded")]
    ProfileNotLoaded { refund_id: String, profile: String },
    #[error("the journal writer failed: {0}")]
    Writer(#[from] tokio::task::JoinError),
}

/// How often the polls due are read while refunds are being sent.
const POLL_READS: Duration = Duration::from_millis(100);

/// The most polls read at once: more than can be in flight, so that the ones
/// still in flight from the last read do not fill a page.
const POLL_PAGE: usize = 1024;

/// True while less than `gap` has passed since `finished` (RFC 3339).
fn within_gap(finished: Option<&str>, gap: Duration) -> bool {
    let Some(finished) = finished.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return false;
    };
    let since = journal::clock::now().duration_since(finished);
    // A finish in the future (a clock stepped back) is within the gap.
    Duration::try_from(since).map_or(true, |since| since < gap)
}

/// What the scheduler knows of the refunds it handed out.
struct Book {
    /// Handed to a task, or finished but not yet seen by a read.
    active: HashSet<i64>,
    counters: HashMap<i64, Counters>,
    fatal: Option<EngineError>,
    /// The first refusal of a request itself, naming its profile.
    stopped: Option<String>,
    /// Steps whose write another process fenced off.
    fenced: u64,
    progress: progress::Progress,
}

impl Book {
    fn new(progress: progress::Progress) -> Book {
        Book {
            active: HashSet::new(),
            counters: HashMap::new(),
            fatal: None,
            stopped: None,
            fenced: 0,
            progress,
        }
    }

    fn finish(&mut self, done: Done) {
        self.active.remove(&done.id);
        if let Some(e) = done.fatal {
            self.fatal.get_or_insert(e.into());
        }
        if let Some(why) = done.stop {
            self.stopped.get_or_insert(why);
        }
        self.fenced += u64::from(done.fenced);
        if done.state.is_final() {
            self.counters.remove(&done.id);
        } else {
            self.counters.insert(done.id, done.counters);
        }
    }
}

/// What became of one due refund in a sweep.
enum Dispatched {
    Sent,
    Skipped,
    /// Sending stopped (an interrupt, or the gateway refused the requests).
    Stopping,
}

struct Scheduler {
    reader: Box<dyn DueReads>,
    paces: HashMap<String, Arc<Pace>>,
    /// The merchants of `paces`, each once.
    merchants: Vec<Arc<MerchantPace>>,
    shared: Shared,
    done_rx: mpsc::UnboundedReceiver<Done>,
    book: Book,
    tasks: JoinSet<()>,
    poll_deadline: Instant,
    /// When the polls due are next read.
    next_poll_read: Instant,
    /// When a sweep that found nothing to take may next recover lapsed claims.
    next_recovery: Instant,
    /// Renews the run's claims until the tasks are done.
    renewal: tokio::task::JoinHandle<()>,
}

/// Runs the engine over `scope` until nothing can move or `cancel` fires.
/// Returns the journal (with every change committed) and what happened.
pub async fn run(
    mut journal: Journal,
    paces: HashMap<String, Arc<Pace>>,
    scope: Scope,
    options: EngineOptions,
    cancel: CancellationToken,
) -> Result<(Journal, EngineReport), EngineError> {
    let started = Instant::now();
    let claims = claiming::recover(&mut journal)?;
    let (owner, lease) = (claims.owner.clone(), claims.lease);
    // Refunds an earlier run gave up on (still unknown) are taken up again.
    journal.unpark(&scope)?;
    let gaps = paces.values().any(|pace| !pace.same_order_gap.is_zero());
    let reader = journal.due_reader(&scope, gaps)?;
    let requests = Arc::new(AtomicU64::new(0));
    let poll_deadline = started + options.poll_for;
    let merchants = merchants_of(&paces);
    let labels: Vec<String> = merchants.iter().map(|m| label(m, &paces)).collect();
    let progress = progress::Progress::new(progress::ProgressSetup {
        show: options.show_progress,
        to_work: reader.count(false)?.saturating_sub(reader.count(true)?),
        requests: requests.clone(),
        rate: merchants.iter().map(|merchant| merchant.rate).sum(),
        poll_deadline,
        limits: merchants
            .iter()
            .map(|merchant| merchant.in_flight.clone())
            .collect(),
        zone: options.zone.clone(),
    });
    let lease_watch = claiming::LeaseWatch::new(lease);
    let (writer, writer_thread) = writer::start(journal, claims);
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
    let mut scheduler = Scheduler {
        reader,
        paces,
        merchants: merchants.clone(),
        renewal: claiming::renewing(writer.clone(), lease, lease_watch.clone()),
        shared: Shared {
            writer,
            stop_sending: cancel.child_token(),
            lease: lease_watch,
            requests,
            done: done_tx,
            progress: progress.handle(),
        },
        done_rx,
        book: Book::new(progress),
        tasks: JoinSet::new(),
        poll_deadline,
        next_poll_read: started,
        next_recovery: started,
    };
    let swept = scheduler.sweep().await;
    let (book, requests) = scheduler.drain().await;
    let journal = claiming::release(writer_thread, owner, book.fenced).await?;
    book.progress.finish();
    swept?;
    if let Some(e) = book.fatal {
        return Err(e);
    }
    let report = EngineReport {
        requests,
        elapsed: started.elapsed(),
        interrupted: cancel.is_cancelled(),
        stopped: book.stopped,
        fenced: book.fenced,
        limits: labels
            .into_iter()
            .zip(merchants.iter().map(|merchant| merchant.report()))
            .collect(),
    };
    Ok((journal, report))
}

/// The gateway merchants of `paces`, each once (its profiles share one
/// pace), in the order of their names.
fn merchants_of(paces: &HashMap<String, Arc<Pace>>) -> Vec<Arc<MerchantPace>> {
    let mut merchants: Vec<Arc<MerchantPace>> = Vec::new();
    for pace in paces.values() {
        if !merchants.iter().any(|m| Arc::ptr_eq(m, &pace.merchant)) {
            merchants.push(pace.merchant.clone());
        }
    }
    merchants.sort_by(|a, b| a.merchant.cmp(&b.merchant));
    merchants
}

/// "leshua merchant 8800 (profiles a, b)": a merchant and the profiles of
/// it that this run used, for the summary.
fn label(merchant: &Arc<MerchantPace>, paces: &HashMap<String, Arc<Pace>>) -> String {
    let mut names: Vec<&str> = paces
        .iter()
        .filter(|(_, pace)| Arc::ptr_eq(&pace.merchant, merchant))
        .map(|(name, _)| name.as_str())
        .collect();
    names.sort_unstable();
    let word = if names.len() == 1 {
        "profile"
    } else {
        "profiles"
    };
    format!("{} ({word} {})", merchant.merchant, names.join(", "))
}

impl Scheduler {
    /// Sweeps the due refunds in id order, again and again, until nothing in
    /// scope can move, sending stops, or the journal refuses a change.
    async fn sweep(&mut self) -> Result<(), EngineError> {
        let mut cursor = 0i64;
        let mut dispatched_in_sweep = 0u64;
        loop {
            if self.shared.stop_sending.is_cancelled() || self.book.fatal.is_some() {
                return Ok(());
            }
            // Only now are finished refunds released: their commits precede this read.
            while let Ok(done) = self.done_rx.try_recv() {
                self.book.finish(done);
            }
            while self.tasks.try_join_next().is_some() {}
            let poll_open = Instant::now() < self.poll_deadline;
            match self.dispatch_polls().await? {
                Some(polls) => dispatched_in_sweep += polls,
                None => return Ok(()),
            }
            let page = self.reader.page(cursor)?;
            if page.is_empty() {
                // Each merchant's share once, whichever of its profiles are here.
                for merchant in &self.merchants {
                    merchant.polls.sweep_ended();
                }
                let swept_idle = cursor == 0 || dispatched_in_sweep == 0;
                cursor = 0;
                dispatched_in_sweep = 0;
                if swept_idle && !self.wait_for_work(poll_open).await? {
                    return Ok(());
                }
                continue;
            }
            // Polls fall due while a page is sent, which takes a while at
            // a low rate: the rest of the page is read afresh after them
            // (a page read before a refund's commit was released is stale).
            let handed = self.dispatch_claimed(page, true).await;
            dispatched_in_sweep += handed.sent;
            cursor = handed.last.unwrap_or(cursor);
            if handed.stopping {
                return Ok(());
            }
        }
    }

    /// Hands out the polls due now, each within its profile's share of the
    /// rate; reads them at most every [`POLL_READS`], and not once polling is
    /// over. How many went, or `None` when sending stops. Called only right
    /// after finished refunds are released, like every read.
    async fn dispatch_polls(&mut self) -> Result<Option<u64>, EngineError> {
        let now = Instant::now();
        if now < self.next_poll_read || now >= self.poll_deadline {
            return Ok(Some(0));
        }
        self.next_poll_read = now + POLL_READS;
        // Read right after finished refunds were released, and used before any more are.
        let polls = self.reader.polls(POLL_PAGE)?;
        let handed = self.dispatch_claimed(polls, false).await;
        Ok((!handed.stopping).then_some(handed.sent))
    }

    /// Waits for a refund to fall due, a step to finish, or an interrupt.
    /// False when nothing in scope can move any more.
    async fn wait_for_work(&mut self, poll_open: bool) -> Result<bool, EngineError> {
        let next = self.reader.next_due(poll_open)?;
        if next.is_none() && self.book.active.is_empty() {
            return Ok(false);
        }
        // One reading: the journal's clock may move between two (it follows
        // the server's, from another thread).
        let now = journal::now_ms();
        let wait = match next {
            Some(at) if at > now => Duration::from_millis(at.abs_diff(now)),
            Some(_) => {
                // Due, yet the sweep found nothing it could take: another
                // process holds it, or its lease in flight has run out.
                self.recover_lapsed().await;
                Duration::from_millis(200)
            }
            None => Duration::from_millis(200),
        };
        let wait = if poll_open {
            wait.min(
                self.poll_deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            )
        } else {
            wait
        };
        tokio::select! {
            Some(done) = self.done_rx.recv() => self.book.finish(done),
            _ = tokio::time::sleep(wait) => {}
            _ = self.shared.stop_sending.cancelled() => {}
        }
        Ok(true)
    }

    /// Whether a due refund may be handed out now, within its profile's
    /// pace (before it is claimed); `Break` when the run must stop.
    fn admit(&mut self, due: &DueRefund) -> ControlFlow<(), bool> {
        let record = &due.record;
        let Some(pace) = self.paces.get(&record.profile) else {
            if record.state == State::Abnormal {
                // Its hour came during the run: the next `resume` asks.
                return ControlFlow::Continue(false);
            }
            self.book.fatal = Some(EngineError::ProfileNotLoaded {
                refund_id: record.refund_id.clone(),
                profile: record.profile.clone(),
            });
            return ControlFlow::Break(());
        };
        if matches!(record.state, State::Pending | State::RetryWait) {
            // Handed out or not yet, it is a submit waiting for the rate.
            pace.polls().submit_due();
        }
        if self.book.active.contains(&record.id) {
            return ControlFlow::Continue(false);
        }
        if record.state == State::Processing && !pace.polls().admit_poll() {
            return ControlFlow::Continue(false);
        }
        if !pace.same_order_gap.is_zero()
            && matches!(record.state, State::Pending | State::RetryWait)
            && within_gap(due.previous_finished.as_deref(), pace.same_order_gap)
        {
            // The gateway wants a pause after the previous refund of this order.
            return ControlFlow::Continue(false);
        }
        ControlFlow::Continue(true)
    }

    /// Hands an admitted refund this run claimed to a task, within its
    /// profile's pace.
    async fn dispatch(&mut self, due: DueRefund, claim: Claim) -> Dispatched {
        let record = due.record;
        let Some(pace) = self.paces.get(&record.profile) else {
            return Dispatched::Skipped;
        };
        let permit = tokio::select! {
            biased;
            _ = self.shared.stop_sending.cancelled() => return Dispatched::Stopping,
            permit = pace.in_flight.acquire() => permit,
        };
        let counters = match self.book.counters.get(&record.id) {
            Some(counters) => *counters,
            None => match self.first_counters(&record) {
                Ok(counters) => counters,
                Err(e) => {
                    self.book.fatal.get_or_insert(e.into());
                    return Dispatched::Stopping;
                }
            },
        };
        self.book.active.insert(record.id);
        let job = Job {
            counters,
            record,
            claim,
        };
        self.tasks
            .spawn(task::work(job, pace.clone(), permit, self.shared.clone()));
        Dispatched::Sent
    }

    /// The counters of a refund this run meets for the first time: its
    /// requests start at none, its denials are what earlier runs recorded
    /// (only a refund already sent can have any).
    fn first_counters(&self, record: &journal::RefundRecord) -> Result<Counters, JournalError> {
        let denials = if record.submits > 0 && record.state != State::Processing {
            self.reader.denials(record.id)?
        } else {
            0
        };
        Ok(Counters {
            denials,
            ..Counters::default()
        })
    }

    /// Lets the requests in flight finish (bounded by the request timeout;
    /// queued ones see the cancel) and books what they did.
    async fn drain(mut self) -> (Book, u64) {
        while self.tasks.join_next().await.is_some() {}
        // No task writes any more: nothing is left to renew.
        self.renewal.abort();
        let _ = (&mut self.renewal).await;
        let Shared {
            writer,
            requests,
            done,
            ..
        } = self.shared;
        drop(done);
        drop(writer);
        while let Some(done) = self.done_rx.recv().await {
            self.book.finish(done);
        }
        (
            self.book,
            requests.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}
