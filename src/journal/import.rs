//! Recording a batch, whatever stores the journal (docs/specs/batch-files.md,
//! "Dedupe"): every row or none. The store decides the verdicts and writes
//! (`JournalStore::import_checked`); these are the calls the commands make,
//! taking any iterator and closures. What an import comes to is in
//! [`super::import_rows`].

use super::approval::Hold;
pub use super::batch_meta::BatchMeta;
pub use super::import_rows::{
    ImportError, InterruptedImport, Refusal, Tally, UnfinishedImport, CODE_CONFLICT, CODE_INVALID,
};
use super::Journal;
pub use crate::batch::CheckedRow;
use crate::batch::FileError;

/// Records a batch and its rows, all in one transaction. Returns the tally
/// with the batch's id. `interrupted` is asked every few thousand rows: when
/// it says yes, nothing is recorded.
pub fn import(
    journal: &mut Journal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    on_problem: impl FnMut(&str),
) -> Result<Tally, ImportError> {
    import_checked(journal, meta, rows, interrupted, on_problem, |_| Ok(()))
}

/// [`import`], with a last look before the batch is committed: `check` sees
/// the tally (what the batch would send) and may refuse, with the reason, in
/// which case nothing of the batch is recorded (so nothing can be sent later).
pub fn import_checked(
    journal: &mut Journal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<(), Refusal>,
) -> Result<Tally, ImportError> {
    let check = |tally: &Tally| check(tally).map(|()| None);
    import_deciding(journal, meta, rows, interrupted, on_problem, check)
}

/// [`import_checked`], whose look may also hold the batch for a second
/// person's approval ([`super::approval`]): the store writes the hold in the
/// same transaction as the rows, so the batch is never recorded without it.
pub fn import_deciding(
    journal: &mut Journal,
    meta: &BatchMeta,
    mut rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    mut on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<Option<Hold>, Refusal>,
) -> Result<Tally, ImportError> {
    // The store asks once; were it to ask again, the answer is no (never a
    // batch sent on a check that did not look).
    let mut check = Some(check);
    let mut check_once = |tally: &Tally| match check.take() {
        Some(check) => check(tally),
        None => Err(Refusal::undecided(
            "the check before sending was asked twice; nothing of the batch was recorded",
        )),
    };
    journal.import_deciding(
        meta,
        &mut rows,
        &interrupted,
        &mut on_problem,
        &mut check_once,
    )
}
