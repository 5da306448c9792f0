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
