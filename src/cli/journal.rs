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
    /// Copy the journal into an empty PostgreSQL journal, in one transaction,
    /// and prove it (every table's rows, every batch's money, the same on
    /// both) or roll it back; the password from --password-env,
    /// --password-file or PGPASSFILE/~/.pgpass, e.g.
    /// `bulkrefund journal copy --to postgres://alice@db.internal/refunds --password-env PGPW`.
    Copy(CopyArgs),
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

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub places: Places,
    /// The PostgreSQL journal to copy into: `postgres://ROLE@HOST/DB` or
    /// `postgres://ROLE@/DB?host=/socket/dir` (never a password in it).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The password is in this environment variable.
    #[arg(long, value_name = "NAME", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// The password is in this file (its first line).
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
}
