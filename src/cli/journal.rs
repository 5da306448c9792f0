//! `bulkrefund journal ...`: the commands that work on the journal file itself.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::places::Places;

#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub command: JournalCommand,
}

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Copy the journal, whole, into a new file: safe while a run is writing
    /// it (copying the journal's file alone may miss what its -wal file holds),
    /// e.g. `bulkrefund journal backup journal-2026-11-30.db`.
    Backup(BackupArgs),
    /// Forget the trace of an import that never finished (killed): its file
    /// will not be run. `resume` and `status` name such imports with their
    /// ids and do not exit 0 while one stands, e.g. `bulkrefund journal forget-import 3`.
    ForgetImport(ForgetImportArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub places: Places,
    /// The copy: a new file (one that exists is never replaced).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ForgetImportArgs {
    #[command(flatten)]
    pub places: Places,
    /// The import's id, as `resume` and `status` show it.
    pub id: i64,
}
