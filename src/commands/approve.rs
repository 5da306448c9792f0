//! `bulkrefund approve --batch N`: the person the journal names (on SQLite
//! the OS user of this process) approves a batch that waits for a second
//! person, or is refused, and the refusal recorded, when it is the person who
//! recorded the batch (journal/approval.rs holds the rule). Approved, the
//! batch's refunds are due: `run` or `resume` sends them.

use crate::cli::ApproveArgs;
use crate::exit::{self, UsageError};
use crate::journal::approval::{self, ApproveError};
use crate::journal::Journal;
use crate::options::Locations;

pub fn main(locations: &Locations, args: ApproveArgs) -> anyhow::Result<u8> {
    let (journal_path, zone) = locations.journal_only()?;
    if !journal_path.exists() {
        return Err(UsageError(format!(
            "There is no journal at '{}': nothing has been run",
            journal_path.display()
        ))
        .into());
    }
    let journal = Journal::open(&journal_path)?;
    let batch = args.batch;
    match approval::approve(&journal, batch) {
        Ok(approved) => {
            crate::say!(
                "batch {batch} approved by {} at {}: {}. `bulkrefund resume --batch {batch}` sends it",
                approved.person,
                zone.show(&approved.at),
                approved.why
            );
            Ok(exit::SUCCESS)
        }
        Err(ApproveError::Store(e)) => Err(e.into()),
        Err(refused) => Err(UsageError(refused.to_string()).into()),
    }
}
