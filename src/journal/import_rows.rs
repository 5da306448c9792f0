//! What recording a batch comes to, whatever stores the journal: the tally
//! of its rows ([`Tally`]), why it was refused or failed ([`ImportError`]),
//! and how an import a killed process left unfinished is told to the
//! operator ([`InterruptedImport`]; from an older bulkrefund, [`UnfinishedImport`]).

use super::records::Waiting;
use super::JournalError;
use crate::batch::FileError;
use crate::messages::shell_word;
use crate::money::Fen;

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

/// A batch whose rows were not all recorded (left by an older bulkrefund, which
/// imported in chunks): nothing of it is sent until the same file is run again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfinishedImport {
    pub batch: i64,
    pub file_name: String,
    pub profile: String,
    pub rows_recorded: u64,
}

impl UnfinishedImport {
    /// What the operator reads, and what to do.
    pub fn describe(&self) -> String {
        format!(
            "batch {}: the import of '{}' is unfinished ({} rows recorded); nothing of it is sent \
             until the rest is recorded: run `bulkrefund run {} --profile {}` again (the same file)",
            self.batch,
            self.file_name,
            self.rows_recorded,
            shell_word(&self.file_name),
            shell_word(&self.profile)
        )
    }
}

/// An import that began and never ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterruptedImport {
    /// The trace's id (`bulkrefund journal forget-import ID`).
    pub id: i64,
    pub file_name: String,
    pub profile: String,
    pub started_at: String,
}

impl InterruptedImport {
    /// What the operator reads, and what to do, from a command that holds
    /// the journal (so no import is under way); `started` is when it began,
    /// as the caller shows times.
    pub fn describe(&self, started: &str) -> String {
        format!(
            "the import of '{}' (profile {}, started {started}) never finished: the process was \
             killed before it was recorded, so nothing of it was recorded or sent. {}",
            self.file_name,
            self.profile,
            self.run_again()
        )
    }

    /// The same, from a reader without the journal's lock (`status`): the
    /// import may be under way in another process.
    pub fn describe_unlocked(&self, started: &str) -> String {
        format!(
            "the import of '{}' (profile {}, started {started}) has not finished: unless a \
             bulkrefund is importing it now, the process was killed, and nothing of it was \
             recorded or sent. {}",
            self.file_name,
            self.profile,
            self.run_again()
        )
    }

    fn run_again(&self) -> String {
        format!(
            "Run it again: `bulkrefund run {} --profile {}`; or, if it is not to be run, \
             forget it: `bulkrefund journal forget-import {}`",
            shell_word(&self.file_name),
            shell_word(&self.profile),
            self.id
        )
    }
}
