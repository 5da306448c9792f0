//! Exit codes (docs/specs/cli.md, "Exit codes"), named once, decided at the end of a command.

/// Every row succeeded (or repeats a row that did).
pub const SUCCESS: u8 = 0;
/// The run could not go on: journal, I/O, configuration found broken mid-run.
pub const FATAL: u8 = 1;
/// Usage error, unreadable or malformed batch, bad configuration: nothing was sent.
pub const USAGE: u8 = 2;
/// Finished, and some rows failed, are invalid or conflict, or refunds are in
/// review or abnormal (accepted, the money reached nobody): a person acts.
pub const SOME_FAILED: u8 = 3;
/// Some rows are still unresolved (processing, unknown, pending): run `resume`.
pub const UNRESOLVED: u8 = 4;

/// An error that means "nothing was done: fix the input". Exits [`USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An interruption that ended a command before it could record anything of
/// its work (the import, say). Exits [`UNRESOLVED`], as every interruption does.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// The exit code for an error that ended a command. An output path refused,
/// or a file at the journal's path that is not a journal, is a usage error:
/// nothing was done.
pub fn code_for(error: &anyhow::Error) -> u8 {
    use crate::journal::JournalError;
    let usage = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<UsageError>()
            || cause.is::<crate::paths::Refused>()
            || matches!(
                cause.downcast_ref::<JournalError>(),
                Some(JournalError::NotAJournal { .. })
            )
    };
    if error.chain().any(usage) {
        USAGE
    } else if error.chain().any(|cause| cause.is::<Interrupted>()) {
        UNRESOLVED
    } else {
        FATAL
    }
}
