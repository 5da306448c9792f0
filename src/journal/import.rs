//! Recording a batch, whatever stores the journal (docs/specs/batch-files.md,
//! "Dedupe"): every row or none. The store decides the verdicts and writes
//! (`JournalStore::import_checked`); these are the calls the commands make,
//! taking any iterator and closures.

pub use super::batch_meta::BatchMeta;
use super::records::Waiting;
use super::{Journal, JournalError};
pub use crate::batch::CheckedRow;
use crate::batch::FileError;
use crate::money::Fen;

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
    mut rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    mut on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<(), Refusal>,
) -> Result<Tally, ImportError> {
    let mut check = Some(check);
    let mut check_once = |tally: &Tally| match check.take() {
        Some(check) => check(tally),
        None => Ok(()),
    };
    journal.import_checked(
        meta,
        &mut rows,
        &interrupted,
        &mut on_problem,
        &mut check_once,
    )
}

pub const CODE_INVALID: &str = "BR_INVALID";

pub const CODE_CONFLICT: &str = "BR_CONFLICT";

/// What a batch's rows came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub batch_id: Option<i64>,
    pub rows: u64,
    /// New refunds: what `run` sends.
    pub new: u64,
    pub new_fen: Fen,
    /// The largest new refund: its amount and line.
    pub largest_new: Option<(Fen, u64)>,
    /// Ids the journal already holds with the same content.
    pub known: u64,
    pub duplicate: u64,
    pub conflict: u64,
    pub invalid: u64,
    /// Refunds recorded before this batch that its rows name and that may
    /// still leave (a killed run never sent them): the run sends them too.
    pub earlier: Vec<Waiting>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("interrupted during the import: nothing of this batch was recorded or sent")]
    Interrupted,
    /// The check before sending said no (declined, or over a limit).
    #[error("{}", .0.why)]
    Refused(Refusal),
}

/// Why the check before sending said no.
#[derive(Debug)]
pub struct Refusal {
    pub why: String,
    /// The operator decided about this file: declined it, or its caps
    /// refused it. The traces earlier, killed imports of the same file left
    /// are cleared with this one's (they asked for that decision).
    pub decided: bool,
}

impl Refusal {
    /// A no the operator gave (or the caps): a decision about the file.
    pub fn decided(why: impl Into<String>) -> Refusal {
        Refusal {
            why: why.into(),
            decided: true,
        }
    }

    /// A no for want of a decision (no terminal to ask on, interrupted).
    pub fn undecided(why: impl Into<String>) -> Refusal {
        Refusal {
            why: why.into(),
            decided: false,
        }
    }
}
