//! `bulkrefund journal forget-import ID`: the trace of a killed import goes.
//!
//! `bulkrefund journal backup FILE`: a whole copy of the journal, made with
//! SQLite's `VACUUM INTO` from a read-only connection, so it is safe while a
//! run holds the journal's lock. Copying the journal's file by hand is safe
//! only when no bulkrefund is running and the last one ended cleanly: until
//! then, the `-wal` file beside it holds the latest refunds.

use std::path::Path;

use crate::cli::{JournalArgs, JournalCommand};
use crate::exit::{self, UsageError};
use crate::journal::file::BackupError;
use crate::options::Locations;
use crate::paths::Protected;

pub fn main(locations: &Locations, args: JournalArgs) -> anyhow::Result<u8> {
    match args.command {
        JournalCommand::Backup(args) => backup(locations, &args.file),
        JournalCommand::ForgetImport(args) => forget_import(locations, args.id),
        JournalCommand::Copy(args) => super::journal_copy::main(locations, &args),
    }
}

/// `bulkrefund journal forget-import ID`: deletes the trace a killed import
/// left, once the operator has decided its file will not be run. Never one
/// under way: on SQLite that import holds the journal's lock; on PostgreSQL
/// its session holds its trace's lock, and the store refuses.
fn forget_import(locations: &Locations, id: i64) -> anyhow::Result<u8> {
    let (journal_at, zone) = locations.journal_only()?;
    if !journal_at.exists() {
        return Err(UsageError(format!(
            "There is no journal at '{}': no import to forget",
            journal_at.display()
        ))
        .into());
    }
    let journal = journal_at.open()?;
    let Some(trace) = journal.forget_import(id)? else {
        return Err(UsageError(format!(
            "no unfinished import {id} in the journal: `bulkrefund status` lists them"
        ))
        .into());
    };
    crate::say!(
        "forgot the import of '{}' (profile {}, started {}): nothing of it was recorded or sent",
        trace.file_name,
        trace.profile,
        zone.show(&trace.started_at)
    );
    Ok(exit::SUCCESS)
}

fn backup(locations: &Locations, target: &Path) -> anyhow::Result<u8> {
    let (journal_at, _) = locations.journal_only()?;
    let Some(journal) = journal_at.open_read_only()? else {
        return Err(UsageError(format!(
            "There is no journal at '{}': nothing to back up",
            journal_at.display()
        ))
        .into());
    };
    let mut protected = Protected::new();
    journal_at.protect(&mut protected);
    protected.add(&locations.config_path(), "the configuration");
    protected.check(target, "FILE")?;
    let refunds = match journal.backup(target) {
        Err(e @ BackupError::Exists(_)) => return Err(UsageError(e.to_string()).into()),
        other => other?,
    };
    crate::say!(
        "backed up the journal '{}' to '{}': {refunds} refunds",
        journal_at.display(),
        target.display()
    );
    Ok(exit::SUCCESS)
}
