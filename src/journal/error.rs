//! What can go wrong with the journal, whatever stores it. The state machine's
//! refusals (an illegal or stale transition, a missing refund) and a group's
//! one cause are the same for every store; [`JournalError::Store`] carries a
//! store's own failure as words (a PostgreSQL store, which has no SQLite error
//! to give). The SQLite store still has its own variants (`Lock`, `Open`,
//! `Sql`), which name rusqlite and its lock. [`BackupError`] is why a
//! backup of the journal was not made.

use std::path::PathBuf;

use super::sqlite::lock::LockError;
use super::sqlite::OpenError;
use super::state::{IllegalTransition, State};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("The journal '{path}' cannot be opened: {source}")]
    Open { path: PathBuf, source: OpenError },
    #[error("'{path}' is not a bulkrefund journal: {why}. Nothing was done; give the right file with --journal (a missing journal is created)")]
    NotAJournal { path: PathBuf, why: String },
    #[error("The journal '{path}' is damaged ({report}); nothing was sent. Restore it from a backup, or ask for help before going on")]
    Damaged { path: PathBuf, report: String },
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A store's own failure, said in words that hold no secret (no password,
    /// no connection string): what a store without rusqlite reports.
    #[error("journal: {0}")]
    Store(String),
    #[error("refund #{refund}: {source}")]
    Illegal {
        refund: i64,
        source: IllegalTransition,
    },
    #[error("refund #{refund} is {actual}, not {expected} as the caller believed")]
    Stale {
        refund: i64,
        expected: State,
        actual: State,
    },
    /// A write under a claim another process took over: nothing was written.
    #[error("refund #{refund}: another process took this refund over (this write was made under claim {generation}; it is now {now}), so nothing of it was recorded")]
    Fenced {
        refund: i64,
        generation: i64,
        now: String,
    },
    #[error("no refund #{0} in the journal")]
    Missing(i64),
    #[error("the journal is inconsistent: {0}")]
    Inconsistent(String),
    /// A group of changes could not be committed (none of it was): each
    /// change of the group carries the one cause.
    #[error("journal: {0}")]
    Group(std::sync::Arc<JournalError>),
}

/// Why a backup of the journal was not made. (`Copy` is the SQLite store's
/// own failure; another store reports its own as `Journal(Store(..))`.)
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("'{0}' already exists: a backup never replaces a file; give a new name")]
    Exists(PathBuf),
    #[error("cannot write the backup '{path}': {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the backup '{path}' cannot be made: {source}")]
    Copy {
        path: PathBuf,
        source: rusqlite::Error,
    },
}
