//! `bulkrefund status`: the batches in the journal with counts and yuan per
//! status, or one batch in detail with every row that did not succeed.

use std::io::Write;

use crate::cli::StatusArgs;
use crate::exit::{self, UsageError};
use crate::journal::Journal;
use crate::options::Locations;
use crate::report::summary::StatusCounts;

/// `bulkrefund status [--batch ID]`: reads only the journal, so it works
/// without a configuration file.
pub fn main(locations: &Locations, args: StatusArgs) -> anyhow::Result<u8> {
    run(&locations.journal_only()?, args.batch)
}

pub fn run(journal_path: &std::path::Path, batch: Option<i64>) -> anyhow::Result<u8> {
    let Some(journal) = Journal::open_read_only(journal_path)? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing has been run",
            journal_path.display()
        ))
        .into());
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match batch {
        None => list(&journal, &mut out)?,
        Some(id) => detail(&journal, id, &mut out)?,
    }
    Ok(exit::SUCCESS)
}

fn list(journal: &Journal, out: &mut dyn Write) -> anyhow::Result<()> {
    let batches = journal.batches()?;
    if batches.is_empty() {
        writeln!(out, "no batches yet")?;
    }
    for batch in batches {
        let counts = StatusCounts::for_batch(journal, batch.id)?;
        let state = match (batch.imported, &batch.finished_at) {
            (false, _) => "import unfinished".to_owned(),
            (true, Some(at)) => format!("finished {at}"),
            (true, None) => "not finished".to_owned(),
        };
        writeln!(
            out,
            "batch {}  {}  profile {}  started {}  {state}",
            batch.id, batch.file_name, batch.profile, batch.started_at
        )?;
        writeln!(out, "  {}", counts.one_line())?;
    }
    for unfinished in journal.unfinished_imports(None)? {
        writeln!(out, "{}", unfinished.describe())?;
    }
    Ok(())
}

fn detail(journal: &Journal, id: i64, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(batch) = journal.batch(id)? else {
        return Err(UsageError(format!(
            "There is no batch {id} in the journal; `bulkrefund status` lists them"
        ))
        .into());
    };
    writeln!(out, "batch {id}: {}", batch.file_name)?;
    writeln!(
        out,
        "  profile {}, started {}",
        batch.profile, batch.started_at
    )?;
    if let Some(results) = batch.results_path {
        writeln!(out, "  results: {}", results.display())?;
    }
    writeln!(out, "{}", StatusCounts::for_batch(journal, id)?.table())?;
    let retries = journal.retries_in_batch(id)?;
    if !retries.is_empty() {
        writeln!(out, "retried with new ids:")?;
    }
    for link in retries {
        writeln!(
            out,
            "  line {:<7} {} ({}) -> {} ({})",
            link.line, link.retried.0, link.retried.1, link.retry.0, link.retry.1
        )?;
    }
    let rows = journal.rows_needing_attention(id)?;
    if !rows.is_empty() {
        writeln!(out, "rows that did not succeed:")?;
    }
    for row in rows {
        writeln!(
            out,
            "  line {:<7} {:<24} {:<11} {} {}",
            row.line,
            row.refund_id,
            row.status.as_str(),
            row.error_code,
            row.error_message
        )?;
    }
    Ok(())
}
