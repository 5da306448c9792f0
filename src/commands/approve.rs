//! `bulkrefund approve --batch N`: the person the journal names (on SQLite
//! the OS user of this process, compared by uid) approves a batch that waits
//! for a second person, or is refused, and the refusal recorded, when it is
//! the person who recorded the batch (journal/approval.rs holds the rule).
//! What is approved is shown first (its file, who recorded it and when, the
//! refunds and money it lets leave), and the approval keeps it. Approved, the
//! batch's refunds are due: `run` or `resume` sends them.

use crate::cli::ApproveArgs;
use crate::exit::{self, UsageError};
use crate::journal::approval::{self, ApproveError};
use crate::options::Locations;

pub fn main(locations: &Locations, args: ApproveArgs) -> anyhow::Result<u8> {
    let (journal_at, zone) = locations.journal_only()?;
    if !journal_at.exists() {
        return Err(UsageError(format!(
            "There is no journal at '{}': nothing has been run",
            journal_at.display()
        ))
        .into());
    }
    let journal = journal_at.open()?;
    let batch = args.batch;
    let present = |state: &approval::BatchApproval| {
        crate::say!("approving {}", state.seen(&zone.show(&state.recorded_at)));
    };
    match approval::approve(&journal, batch, present) {
        Ok(approved) => {
            crate::say!(
                "batch {batch} approved by {} at {}. `bulkrefund resume --batch {batch}` sends it \
                 (with --allow-over-limit if it is over max_batch_yuan or max_refund_yuan)",
                approved.person,
                zone.show(&approved.at),
            );
            Ok(exit::SUCCESS)
        }
        Err(ApproveError::Store(e)) => Err(e.into()),
        Err(refused) => Err(UsageError(refused.to_string()).into()),
    }
}
