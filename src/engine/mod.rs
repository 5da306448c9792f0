//! The engine (DESIGN.md, "Data flow"): sweeps the journal for refunds that are
//! due (pending, retry_wait, unknown, processing), hands each to a [`task`]
//! under its profile's [`pacing::Pace`], and stops when nothing in scope can
//! move any more, or when interrupted. It reads with its own connection and
//! writes only through the [`writer`]; a refund is never given to two tasks:
//! it stays `active` until its changes are committed and the scheduler has
//! seen that before its next read.

pub mod ask;
pub mod pacing;
pub mod progress;
pub mod task;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::journal::state::{sql_list, FINAL};
use crate::journal::{self, Journal, RefundRecord, State, RECORD_COLUMNS};
use pacing::Pace;
use task::{Counters, Done, Job, Shared, PARKED};

/// Which refunds a run works on.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Those that the rows of these batches name (their own, and known ones from earlier runs).
    Batches(Vec<i64>),
    /// Exactly these refunds (what a retry started or must follow).
    Refunds(Vec<i64>),
    /// Every refund in the journal.
    All,
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Scope {
    /// SQL that selects the scope's refund ids.
    pub fn ids_sql(&self) -> String {
        match self {
            Scope::Batches(ids) => format!(
                "SELECT refund FROM batch_rows WHERE refund IS NOT NULL AND batch_id IN ({})",
                id_list(ids)
            ),
            Scope::Refunds(ids) => {
                format!("SELECT id FROM refunds WHERE id IN ({})", id_list(ids))
            }
            Scope::All => "SELECT id FROM refunds".to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How long processing refunds are polled before they are left for `resume`.
    pub poll_for: Duration,
    pub show_progress: bool,
}

#[derive(Clone, Debug)]
pub struct EngineReport {
    pub requests: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Why the run stopped sending on its own: the gateway refused a request
    /// itself (bad signature, unknown merchant, authentication).
    pub stopped: Option<String>,
}

/// The profiles that unresolved refunds in `scope` belong to.
pub fn unresolved_profiles(conn: &Connection, scope: &Scope) -> rusqlite::Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT profile FROM refunds WHERE state NOT IN {} AND id IN ({})",
        sql_list(&FINAL),
        scope.ids_sql()
    );
    let mut stmt = conn.prepare(&sql)?;
    let names = stmt.query_map([], |row| row.get(0))?.collect();
    names
}

const DUE: &str =
    "(f.state IN ('pending', 'retry_wait', 'unknown') OR (f.state = 'processing' AND ?1))";

/// A refund still to be sent while an earlier refund of its order (in input
/// order: ids grow with it) is unfinished: it waits, so that refunds of one
/// order reach the gateway one at a time, in the order they were asked for.
fn waits_for_its_order() -> String {
    format!(
        "(f.state IN ('pending', 'retry_wait') AND f.order_key <> '' AND EXISTS (
            SELECT 1 FROM refunds e WHERE e.scope = f.scope AND e.order_key = f.order_key
            AND e.id < f.id AND e.state NOT IN {}))",
        sql_list(&FINAL)
    )
}

/// When the refund before this one of its order finished (for `same_order_gap`).
const PREVIOUS_OF_ORDER_FINISHED: &str = "(SELECT MAX(e.finished_at) FROM refunds e
    WHERE f.order_key <> '' AND e.scope = f.scope AND e.order_key = f.order_key AND e.id < f.id)";

/// A due refund, with when the previous refund of its order finished (read
/// only when some profile keeps a gap between them).
struct DueRefund {
    record: RefundRecord,
    previous_finished: Option<String>,
}

struct Reader {
    conn: Connection,
    /// Whether any profile keeps a pause between refunds of one order.
    gaps: bool,
}

impl Reader {
    fn open(path: &Path, scope: &Scope, gaps: bool) -> anyhow::Result<Reader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot read the journal '{}'", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // The scope, materialized once: a key lookup per row instead of a subquery per page.
        conn.execute_batch(
            "PRAGMA temp_store = FILE; CREATE TEMP TABLE scope_ids (id INTEGER PRIMARY KEY);",
        )?;
        conn.execute(
            &format!("INSERT OR IGNORE INTO temp.scope_ids {}", scope.ids_sql()),
            [],
        )?;
        // A batch is sent only once all its rows are recorded: never-sent refunds
        // of an import an older bulkrefund left unfinished wait for it to finish.
        conn.execute(
            "DELETE FROM temp.scope_ids WHERE id IN (
                SELECT f.id FROM refunds f JOIN batches b ON b.id = f.batch_id
                WHERE b.imported_at IS NULL AND f.state = 'pending' AND f.first_sent_at IS NULL)",
            [],
        )?;
        Ok(Reader { conn, gaps })
    }

    /// Due refunds after `cursor`, in id order.
    fn page(&self, cursor: i64, poll_open: bool) -> rusqlite::Result<Vec<DueRefund>> {
        let previous = if self.gaps {
            PREVIOUS_OF_ORDER_FINISHED
        } else {
            "NULL"
        };
        let sql = format!(
            // Pages walk the table in id order; an index scan would have to sort.
            "SELECT {RECORD_COLUMNS}, {previous} FROM refunds AS f NOT INDEXED
             WHERE f.id > ?2 AND f.next_attempt_at <= ?3 AND {DUE} AND f.id IN temp.scope_ids
             AND NOT {waits} ORDER BY f.id LIMIT 512",
            waits = waits_for_its_order()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            rusqlite::params![poll_open, cursor, journal::now_ms()],
            |row| {
                Ok(DueRefund {
                    record: journal::read_record(row)?,
                    previous_finished: row.get(13)?,
                })
            },
        )?;
        rows.collect()
    }

    /// When the next refund in scope falls due, if any still can.
    fn next_due(&self, poll_open: bool) -> rusqlite::Result<Option<i64>> {
        let sql = format!(
            "SELECT MIN(f.next_attempt_at) FROM refunds AS f WHERE {DUE} AND f.next_attempt_at < ?2
             AND f.id IN temp.scope_ids AND NOT {waits}",
            waits = waits_for_its_order()
        );
        self.conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params![poll_open, PARKED], |row| row.get(0))
    }

    fn count(&self, finals_only: bool) -> rusqlite::Result<u64> {
        let filter = if finals_only {
            format!("AND state IN {}", sql_list(&FINAL))
        } else {
            String::new()
        };
        self.conn.query_row(
            &format!("SELECT COUNT(*) FROM refunds WHERE id IN temp.scope_ids {filter}"),
            [],
            |row| row.get(0),
        )
    }
}

/// True while less than `gap` has passed since `finished` (RFC 3339).
fn within_gap(finished: Option<&str>, gap: Duration) -> bool {
    let Some(finished) = finished.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return false;
    };
    let since = chrono::Utc::now().signed_duration_since(finished);
    since.to_std().map_or(true, |since| since < gap)
}

/// What the scheduler knows of the refunds it handed out.
struct Book {
    /// Handed to a task, or finished but not yet seen by a read.
    active: HashSet<i64>,
    counters: HashMap<i64, Counters>,
    fatal: Option<String>,
    /// The first refusal of a request itself, naming its profile.
    stopped: Option<String>,
    progress: progress::Progress,
}

impl Book {
    fn finish(&mut self, done: Done) {
        self.active.remove(&done.id);
        if let Some(e) = done.fatal {
            self.fatal.get_or_insert(e);
        }
        if let Some(why) = done.stop {
            self.stopped.get_or_insert(why);
        }
        self.progress.update(done.id, done.state);
        if done.state.is_final() {
            self.counters.remove(&done.id);
        } else {
            self.counters.insert(done.id, done.counters);
        }
    }
}

/// Runs the engine over `scope` until nothing can move or `cancel` fires.
/// Returns the journal (with every change committed) and what happened.
pub async fn run(
    mut journal: Journal,
    journal_path: &Path,
    paces: HashMap<String, Arc<Pace>>,
    scope: Scope,
    options: EngineOptions,
    cancel: CancellationToken,
) -> anyhow::Result<(Journal, EngineReport)> {
    let started = Instant::now();
    let recovered = journal.recover_in_flight()?;
    if recovered > 0 {
        tracing::warn!(
            "{recovered} refunds were in flight when an earlier run stopped; they will be queried"
        );
    }
    // Refunds an earlier run gave up on (still unknown) are taken up again.
    journal.conn().execute(
        &format!(
            "UPDATE refunds SET next_attempt_at = 0 WHERE next_attempt_at >= ?1 AND id IN ({})",
            scope.ids_sql()
        ),
        [PARKED],
    )?;
    let gaps = paces.values().any(|pace| !pace.same_order_gap.is_zero());
    let reader = Reader::open(journal_path, &scope, gaps)?;
    let progress = progress::Progress::new(
        options.show_progress,
        reader.count(false)?,
        reader.count(true)?,
    );
    let (writer, writer_thread) = writer::start(journal);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let shared = Shared {
        writer,
        stop_sending: cancel.child_token(),
        requests: Arc::new(AtomicU64::new(0)),
        done: done_tx,
    };
    let poll_deadline = started + options.poll_for;
    let mut book = Book {
        active: HashSet::new(),
        counters: HashMap::new(),
        fatal: None,
        stopped: None,
        progress,
    };
    let mut tasks = JoinSet::new();
    let mut cursor = 0i64;
    let mut dispatched_in_sweep = 0u64;

    'sweeps: loop {
        if shared.stop_sending.is_cancelled() || book.fatal.is_some() {
            break;
        }
        // Only now are finished refunds released: their commits precede this read.
        while let Ok(done) = done_rx.try_recv() {
            book.finish(done);
        }
        while tasks.try_join_next().is_some() {}
        let poll_open = Instant::now() < poll_deadline;
        let page = reader.page(cursor, poll_open)?;
        if page.is_empty() {
            let swept_idle = cursor == 0 || dispatched_in_sweep == 0;
            cursor = 0;
            dispatched_in_sweep = 0;
            if !swept_idle {
                continue;
            }
            let next = reader.next_due(poll_open)?;
            if next.is_none() && book.active.is_empty() {
                break;
            }
            // Wait for a refund to fall due, a step to finish, or an interrupt.
            let wait = match next {
                Some(at) if at > journal::now_ms() => {
                    Duration::from_millis((at - journal::now_ms()) as u64)
                }
                _ => Duration::from_millis(200),
            };
            let wait = if poll_open {
                wait.min(
                    poll_deadline
                        .saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                )
            } else {
                wait
            };
            tokio::select! {
                Some(done) = done_rx.recv() => book.finish(done),
                _ = tokio::time::sleep(wait) => {}
                _ = shared.stop_sending.cancelled() => {}
            }
            continue;
        }
        for DueRefund {
            record,
            previous_finished,
        } in page
        {
            cursor = record.id;
            if book.active.contains(&record.id) {
                continue;
            }
            let Some(pace) = paces.get(&record.profile) else {
                book.fatal = Some(format!(
                    "refund {} belongs to profile '{}', which this run has not loaded",
                    record.refund_id, record.profile
                ));
                break 'sweeps;
            };
            if !pace.same_order_gap.is_zero()
                && matches!(record.state, State::Pending | State::RetryWait)
                && within_gap(previous_finished.as_deref(), pace.same_order_gap)
            {
                // The gateway wants a pause after the previous refund of this order.
                continue;
            }
            let permit = tokio::select! {
                permit = pace.in_flight.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = shared.stop_sending.cancelled() => break 'sweeps,
            };
            book.active.insert(record.id);
            dispatched_in_sweep += 1;
            let job = Job {
                counters: book.counters.get(&record.id).copied().unwrap_or_default(),
                record,
            };
            tasks.spawn(task::work(job, pace.clone(), permit, shared.clone()));
        }
    }
    // In-flight requests finish (bounded by the request timeout); queued ones see the cancel.
    while tasks.join_next().await.is_some() {}
    let Shared {
        writer,
        requests,
        done,
        ..
    } = shared;
    drop(done);
    while let Some(done) = done_rx.recv().await {
        book.finish(done);
    }
    drop(writer);
    let journal = tokio::task::spawn_blocking(move || writer_thread.finish()).await?;
    book.progress.finish();
    if let Some(e) = book.fatal {
        anyhow::bail!("the run stopped: {e}");
    }
    let report = EngineReport {
        requests: requests.load(std::sync::atomic::Ordering::Relaxed),
        elapsed: started.elapsed(),
        interrupted: cancel.is_cancelled(),
        stopped: book.stopped,
    };
    Ok((journal, report))
}
