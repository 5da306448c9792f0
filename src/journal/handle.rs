//! The journal the commands hold: a [`JournalStore`] behind one box, whichever
//! store it is. It dereferences to `dyn JournalStore`, so every named
//! operation is called on it as on the store itself (`journal.refund(id)`)
//! and no command changed when the store went behind the trait; the few
//! operations whose convenient form is generic (any iterator of changes, the
//! caller's own error type) are written here once, over the trait's
//! object-safe forms.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use super::change::Op;
use super::report_rows::{ExportFilter, ExportRow, ResultsRow};
use super::sqlite::SqliteJournal;
use super::store::JournalStore;
use super::JournalError;

/// An open journal. Dropping it closes the store (the SQLite store folds its
/// log into the file then).
pub struct Journal {
    store: Box<dyn JournalStore>,
}

impl Journal {
    /// A journal kept by `store`.
    pub fn from_store(store: Box<dyn JournalStore>) -> Journal {
        Journal { store }
    }

    /// Opens the SQLite journal at `path` for writing, holding its lock; a
    /// missing journal is created (see [`SqliteJournal::open`]).
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        Ok(Journal::from_store(Box::new(SqliteJournal::open(path)?)))
    }

    /// Opens the SQLite journal at `path` for reading only, without the lock;
    /// `None` when there is no journal yet.
    pub fn open_read_only(path: &Path) -> Result<Option<Journal>, JournalError> {
        Ok(SqliteJournal::open_read_only(path)?.map(|store| Journal::from_store(Box::new(store))))
    }

    /// A private SQLite journal in memory, for tests.
    pub fn open_in_memory() -> Result<Journal, JournalError> {
        Ok(Journal::from_store(Box::new(
            SqliteJournal::open_in_memory()?,
        )))
    }

    /// Commits a group of changes in one transaction: one result each. A
    /// refused change fails alone; any other error fails the whole group.
    pub fn commit_group<'a>(
        &mut self,
        mut ops: impl ExactSizeIterator<Item = &'a Op>,
    ) -> Vec<Result<(), JournalError>> {
        self.store.commit_ops(&mut ops)
    }

    /// A batch's rows in input order, as its results file reports them; the
    /// first error `each` gives ends the reading and is returned.
    pub fn results_rows<E: From<JournalError>>(
        &self,
        batch: i64,
        mut each: impl FnMut(ResultsRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut failed = None;
        self.store
            .results_rows_while(batch, &mut |row| keep_going(each(row), &mut failed))?;
        failed.map_or(Ok(()), Err)
    }

    /// Every refund the filter holds, oldest first; the first error `each`
    /// gives ends the reading and is returned.
    pub fn export_rows<E: From<JournalError>>(
        &self,
        filter: &ExportFilter,
        mut each: impl FnMut(ExportRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut failed = None;
        self.store
            .export_rows_while(filter, &mut |row| keep_going(each(row), &mut failed))?;
        failed.map_or(Ok(()), Err)
    }
}

/// Whether a row callback lets the reading go on; its error is kept aside.
fn keep_going<E>(result: Result<(), E>, failed: &mut Option<E>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            *failed = Some(e);
            false
        }
    }
}

impl Deref for Journal {
    type Target = dyn JournalStore;

    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

impl DerefMut for Journal {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.store
    }
}
