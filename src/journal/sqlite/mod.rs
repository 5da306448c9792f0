//! The journal: one SQLite file that remembers every refund id forever, every
//! state it went through and every HTTP attempt made for it. WAL mode with
//! `synchronous=NORMAL`; schema by [`schema`] migrations; one process at a time
//! ([`lock`]). [`apply`] is the only way a refund's state changes: it checks
//! the transition against [`state::check`] and appends the event.

use super::{batch_meta, claim, state, status};

pub mod approvals;
pub mod batches;
pub mod chain;
pub mod changes;
pub mod claims;
mod clock;
mod days;
mod dedupe;
pub mod due;
pub mod dump;
mod fence;
pub mod file;
pub mod history;
pub mod import;
pub mod imports;
pub mod latency;
pub mod lock;
pub mod money;
pub mod outgoing;
pub mod preview;
pub mod reconcile;
pub mod reconciled;
pub mod refunds;
pub mod reports;
pub mod schema;
mod store_impl;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use super::error::JournalError;
pub(crate) use super::id_space;
pub use super::{now_ms, now_text, DENIED_AFTER_AN_ANSWER};
pub use changes::{AttemptKind, AttemptRecord, Change, GatewayTimes, Op, Update};
use lock::JournalLock;
pub use refunds::{RefundRecord, Scope, PARKED};
pub use state::State;
pub use status::{RowStatus, Status};

/// Why a journal file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("cannot create a file in '{dir}': {source}")]
    Create {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("schema version {found}, this bulkrefund reads version {}: run a writing command (run, resume) first", schema::VERSION)]
    OlderSchema { found: i64 },
    #[error(transparent)]
    Migrate(#[from] schema::MigrateError),
}

impl JournalError {
    pub(crate) fn open(path: &Path, source: impl Into<OpenError>) -> JournalError {
        JournalError::Open {
            path: path.to_owned(),
            source: source.into(),
        }
    }
}

/// The journal. Its fields drop in order: the connection before the lock's
/// descriptor, which must outlive it (see [`lock`]).
pub struct SqliteJournal {
    conn: Connection,
    _lock: Option<JournalLock>,
    /// Where it is (`:memory:` for a private one), for readers of their own.
    path: PathBuf,
}

pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl SqliteJournal {
    /// Opens for writing, holding the process lock; a missing journal is
    /// created. A file that is not a journal is refused, and a damaged journal
    /// is noticed (`quick_check`) before anything is sent.
    pub fn open(path: &Path) -> Result<SqliteJournal, JournalError> {
        if std::fs::symlink_metadata(path).is_err() {
            file::create(path)?;
        }
        file::inspect(path)?;
        let lock = JournalLock::acquire(path)?;
        let open_error = |e: OpenError| JournalError::open(path, e);
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(e.into()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        file::check_ours(&conn, path)?;
        configure(&conn).map_err(|e| open_error(e.into()))?;
        schema::migrate(&mut conn).map_err(|e| open_error(e.into()))?;
        file::quick_check(&conn, path)?;
        // The lock is held: no other process is alive, nor any claim of one.
        claims::lapse_all(&conn)?;
        Ok(SqliteJournal {
            conn,
            _lock: Some(lock),
            path: path.to_owned(),
        })
    }

    /// Opens for reading only, without the lock (a run may be writing meanwhile:
    /// WAL lets readers see its last commit). `None` when there is no journal yet.
    pub fn open_read_only(path: &Path) -> Result<Option<SqliteJournal>, JournalError> {
        if !path.exists() {
            return Ok(None);
        }
        file::inspect(path)?;
        let open_error = |e: OpenError| JournalError::open(path, e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(e.into()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| open_error(e.into()))?;
        file::check_ours(&conn, path)?;
        let version = schema::version(&conn).map_err(|e| open_error(e.into()))?;
        if version != schema::VERSION {
            return Err(open_error(OpenError::OlderSchema { found: version }));
        }
        Ok(Some(SqliteJournal {
            conn,
            _lock: None,
            path: path.to_owned(),
        }))
    }

    /// A private journal in memory, for tests.
    pub fn open_in_memory() -> Result<SqliteJournal, JournalError> {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn).map_err(|e| JournalError::open(Path::new(":memory:"), e))?;
        Ok(SqliteJournal {
            conn,
            _lock: None,
            path: ":memory:".into(),
        })
    }
}

#[cfg(test)]
mod claims_tests;
#[cfg(test)]
mod days_tests;
#[cfg(test)]
mod import_trace_tests;
#[cfg(test)]
mod tests;
