//! The journal: one SQLite file that remembers every refund id forever, every
//! state it went through and every HTTP attempt made for it. WAL mode with
//! `synchronous=NORMAL`; schema by [`schema`] migrations; one process at a time
//! ([`lock`]). [`apply`] is the only way a refund's state changes: it checks
//! the transition against [`state::check`] and appends the event.

pub mod batches;
pub mod chain;
pub mod file;
pub mod import;
pub mod lock;
pub mod schema;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::money::Fen;
use lock::{JournalLock, LockError};
use state::IllegalTransition;
pub use state::State;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("The journal '{path}' cannot be opened: {message}")]
    Open { path: PathBuf, message: String },
    #[error("'{path}' is not a bulkrefund journal: {why}. Nothing was done; give the right file with --journal (a missing journal is created)")]
    NotAJournal { path: PathBuf, why: String },
    #[error("The journal '{path}' is damaged ({report}); nothing was sent. Restore it from a backup, or ask for help before going on")]
    Damaged { path: PathBuf, report: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("refund #{refund}: {source}")]
    Illegal {
        refund: i64,
        source: IllegalTransition,
    },
    #[error("refund #{refund} is {actual}, not {expected} as the caller believed")]
    Stale {
        refund: i64,
        expected: State,
        actual: String,
    },
    #[error("no refund #{0} in the journal")]
    Missing(i64),
    #[error("the journal is inconsistent: {0}")]
    Inconsistent(String),
}

/// The journal. Its fields drop in order: the connection before the lock's
/// descriptor, which must outlive it (see [`lock`]).
pub struct Journal {
    conn: Connection,
    _lock: Option<JournalLock>,
}

/// Where a refund id is unique: the gateway and the merchant (`leshua:0000000018`).
pub fn scope(gateway: crate::gateway::GatewayKind, merchant_id: &str) -> String {
    format!("{gateway}:{merchant_id}")
}

/// Now, as the journal writes times: RFC 3339, UTC, milliseconds.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Now in unix milliseconds (`next_attempt_at`).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl Journal {
    /// Opens for writing, holding the process lock; a missing journal is
    /// created. A file that is not a journal is refused, and a damaged journal
    /// is noticed (`quick_check`) before anything is sent.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if std::fs::symlink_metadata(path).is_err() {
            file::create(path)?;
        }
        file::inspect(path)?;
        let lock = JournalLock::acquire(path)?;
        let open_error = |message: String| JournalError::Open {
            path: path.to_owned(),
            message,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        file::check_ours(&conn, path)?;
        configure(&conn).map_err(|e| open_error(e.to_string()))?;
        schema::migrate(&mut conn).map_err(open_error)?;
        file::quick_check(&conn, path)?;
        Ok(Journal {
            conn,
            _lock: Some(lock),
        })
    }

    /// Opens for reading only, without the lock (a run may be writing meanwhile:
    /// WAL lets readers see its last commit). `None` when there is no journal yet.
    pub fn open_read_only(path: &Path) -> Result<Option<Journal>, JournalError> {
        if !path.exists() {
            return Ok(None);
        }
        file::inspect(path)?;
        let open_error = |message: String| JournalError::Open {
            path: path.to_owned(),
            message,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| open_error(e.to_string()))?;
        file::check_ours(&conn, path)?;
        let version = schema::version(&conn).map_err(|e| open_error(e.to_string()))?;
        if version != schema::VERSION {
            return Err(open_error(format!(
                "schema version {version}, this bulkrefund reads version {}: run a writing command (run, resume) first",
                schema::VERSION
            )));
        }
        Ok(Some(Journal { conn, _lock: None }))
    }

    /// A private journal in memory, for tests.
    pub fn open_in_memory() -> Result<Journal, JournalError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn).map_err(|message| JournalError::Open {
            path: ":memory:".into(),
            message,
        })?;
        Ok(Journal { conn, _lock: None })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Every refund left `in_flight` by a process that stopped before recording
    /// the answer becomes `unknown`: it will be queried, never blindly resent.
    pub fn recover_in_flight(&mut self) -> Result<usize, JournalError> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM refunds WHERE state = 'in_flight'")?;
            let ids = stmt
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            ids
        };
        for &id in &ids {
            let change = Change::to(
                State::Unknown,
                "found in flight at start: the answer was never recorded, so it will be queried",
            );
            apply(&tx, id, State::InFlight, &change)?;
        }
        tx.commit()?;
        Ok(ids.len())
    }
}

/// A change of a refund's state and what the answer that caused it taught us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub to: State,
    pub why: String,
    /// Set when the gateway told us its id.
    pub gateway_refund_id: Option<String>,
    /// (code, message) to show; `None` clears an earlier error.
    pub error: Option<(String, String)>,
    /// When to act on it next (unix ms); `None` means now.
    pub next_attempt_at: Option<i64>,
    /// The gateway has shown that it holds this refund.
    pub created: bool,
}

impl Change {
    pub fn to(to: State, why: impl Into<String>) -> Change {
        Change {
            to,
            why: why.into(),
            gateway_refund_id: None,
            error: None,
            next_attempt_at: None,
            created: false,
        }
    }
}

/// Changes a refund's state: checks that it is in `expected` and that the
/// transition is legal, updates it and appends the event. Within the caller's
/// transaction; a refused change writes nothing.
pub fn apply(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
) -> Result<(), JournalError> {
    transition(conn, refund, expected, change, None)
}

/// [`apply`], recording the attempt whose answer caused the change.
pub fn settle(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    transition(conn, refund, expected, change, Some(attempt))
}

/// (attempts, submits, first_sent_at) that an attempt adds to its refund.
fn counted(attempt: Option<&AttemptRecord>) -> (i64, i64, Option<&str>) {
    match attempt {
        None => (0, 0, None),
        Some(a) if a.kind == AttemptKind::Submit => (1, 1, Some(a.at.as_str())),
        Some(_) => (1, 0, None),
    }
}

fn transition(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
    attempt: Option<&AttemptRecord>,
) -> Result<(), JournalError> {
    // Every check comes before the first write. The state is checked by the
    // UPDATE itself (`AND state = expected`); it is read only to explain a refusal.
    state::check(expected, change.to).map_err(|source| JournalError::Illegal { refund, source })?;
    let now = now_text();
    let (code, message) = match &change.error {
        Some((code, message)) => (Some(code.as_str()), Some(message.as_str())),
        None => (None, None),
    };
    let finished = change.to.is_final().then_some(now.as_str());
    let (attempts, submits, sent_at) = counted(attempt);
    let changed = conn
        .prepare_cached(
            "UPDATE refunds SET state = ?2, error_code = ?3, error_message = ?4,
             gateway_refund_id = COALESCE(?5, gateway_refund_id),
             next_attempt_at = COALESCE(?6, 0), finished_at = ?7,
             ever_created = ever_created OR ?8,
             attempts = attempts + ?9, submits = submits + ?10,
             first_sent_at = COALESCE(first_sent_at, ?11)
         WHERE id = ?1 AND state = ?12",
        )?
        .execute(params![
            refund,
            change.to.as_str(),
            code,
            message,
            change.gateway_refund_id,
            change.next_attempt_at,
            finished,
            change.created,
            attempts,
            submits,
            sent_at,
            expected.as_str()
        ])?;
    if changed == 0 {
        let actual: Option<String> = conn
            .prepare_cached("SELECT state FROM refunds WHERE id = ?1")?
            .query_row([refund], |row| row.get(0))
            .optional()?;
        return Err(match actual {
            None => JournalError::Missing(refund),
            Some(actual) => JournalError::Stale {
                refund,
                expected,
                actual,
            },
        });
    }
    if let Some(attempt) = attempt {
        insert_attempt(conn, refund, attempt)?;
    }
    conn.prepare_cached(
        "INSERT INTO events (refund, at, from_state, to_state, why) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        refund,
        now,
        expected.as_str(),
        change.to.as_str(),
        change.why
    ])?;
    Ok(())
}

/// Updates a refund that stays in its state (a poll that found it still
/// processing, a query that could not learn anything): no event, since
/// nothing changed; the attempt is recorded.
pub fn reschedule(
    conn: &Connection,
    refund: i64,
    next_attempt_at: i64,
    note: Option<(&str, &str)>,
    gateway_refund_id: Option<&str>,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    insert_attempt(conn, refund, attempt)?;
    let (code, message) = note.unzip();
    let (attempts, submits, sent_at) = counted(Some(attempt));
    conn.prepare_cached(
        "UPDATE refunds SET next_attempt_at = ?2, error_code = ?3, error_message = ?4,
             gateway_refund_id = COALESCE(?5, gateway_refund_id),
             attempts = attempts + ?6, submits = submits + ?7,
             first_sent_at = COALESCE(first_sent_at, ?8)
         WHERE id = ?1",
    )?
    .execute(params![
        refund,
        next_attempt_at,
        code,
        message,
        gateway_refund_id,
        attempts,
        submits,
        sent_at
    ])?;
    Ok(())
}

/// Records an attempt that changed nothing about its refund (a query that
/// confirmed what the journal holds).
pub fn note_attempt(
    conn: &Connection,
    refund: i64,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    insert_attempt(conn, refund, attempt)?;
    conn.prepare_cached("UPDATE refunds SET attempts = attempts + 1 WHERE id = ?1")?
        .execute([refund])?;
    Ok(())
}

/// One HTTP attempt, as the attempts table keeps it.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub kind: AttemptKind,
    pub at: String,
    pub http_status: Option<u16>,
    pub gateway_codes: Option<String>,
    pub outcome: String,
    pub latency_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKind {
    Submit,
    Query,
}

fn insert_attempt(
    conn: &Connection,
    refund: i64,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    let kind = match attempt.kind {
        AttemptKind::Submit => "submit",
        AttemptKind::Query => "query",
    };
    conn.prepare_cached(
        "INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        refund,
        kind,
        attempt.at,
        attempt.http_status,
        attempt.gateway_codes,
        attempt.outcome,
        attempt.latency_ms as i64
    ])?;
    Ok(())
}

/// A refund as the engine works on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: i64,
    pub refund_id: String,
    pub profile: String,
    pub amount: Fen,
    pub fields: BTreeMap<String, String>,
    pub state: State,
    pub gateway_refund_id: Option<String>,
    pub next_attempt_at: i64,
    pub attempts: u32,
    pub submits: u32,
    pub ever_created: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

pub const RECORD_COLUMNS: &str =
    "id, refund_id, profile, amount_fen, fields, state, gateway_refund_id, \
     next_attempt_at, attempts, submits, ever_created, error_code, error_message";

/// Reads a row selected with [`RECORD_COLUMNS`].
pub fn read_record(row: &rusqlite::Row) -> rusqlite::Result<RefundRecord> {
    let fields: String = row.get(4)?;
    let state: String = row.get(5)?;
    let bad = |i, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(RefundRecord {
        id: row.get(0)?,
        refund_id: row.get(1)?,
        profile: row.get(2)?,
        amount: Fen(row.get::<_, i64>(3)? as u64),
        fields: serde_json::from_str(&fields).map_err(|e| bad(4, e.to_string()))?,
        state: State::parse(&state).ok_or_else(|| bad(5, format!("unknown state {state:?}")))?,
        gateway_refund_id: row.get(6)?,
        next_attempt_at: row.get(7)?,
        attempts: row.get(8)?,
        submits: row.get(9)?,
        ever_created: row.get(10)?,
        error_code: row.get(11)?,
        error_message: row.get(12)?,
    })
}

/// The refunds in review among those `scope_sql` selects (ids).
pub fn refunds_in_review(
    conn: &Connection,
    scope_sql: &str,
) -> Result<Vec<RefundRecord>, JournalError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RECORD_COLUMNS} FROM refunds WHERE state = ?1 AND id IN ({scope_sql}) ORDER BY id"
    ))?;
    let records = stmt
        .query_map([State::Review.as_str()], read_record)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(records)
}

pub fn refund_by_id(conn: &Connection, id: i64) -> Result<RefundRecord, JournalError> {
    conn.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM refunds WHERE id = ?1"),
        [id],
        read_record,
    )
    .optional()?
    .ok_or(JournalError::Missing(id))
}

#[cfg(test)]
mod tests;
