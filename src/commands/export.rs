//! `bulkrefund export`: the reconciliation file, from the journal (read-only).

use crate::cli::ExportArgs;
use crate::exit::{self, UsageError};
use crate::journal::Journal;
use crate::report::export::{self, ExportFormat, Filter};

pub fn run(journal_path: &std::path::Path, args: &ExportArgs) -> anyhow::Result<u8> {
    let Some(journal) = Journal::open_read_only(journal_path)? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing to export",
            journal_path.display()
        ))
        .into());
    };
    let filter = Filter {
        batch: args.batch,
        since: args
            .since
            .as_deref()
            .map(|t| export::parse_bound(t, false))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| export::parse_bound(t, true))
            .transpose()?,
        statuses: args.status.clone(),
    };
    let format = if args.format == "xlsx" {
        ExportFormat::Xlsx
    } else {
        ExportFormat::Csv
    };
    let totals = export::export(journal.conn(), &filter, &args.out, format, args.excel)?;
    eprintln!("exported to {}:", args.out.display());
    eprint!("{}", totals.table());
    Ok(exit::SUCCESS)
}
