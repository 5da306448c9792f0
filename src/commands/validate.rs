//! `bulkrefund validate`: every row checked and the dedupe previewed against the
//! journal (read-only), with what `run` would send. Writes nothing.

use std::io::Write;
use std::path::Path;

use crate::batch::{CheckedBatch, FileError, ReadOptions};
use crate::cli::ValidateArgs;
use crate::config::{Config, Profile};
use crate::exit::{self, UsageError};
use crate::journal::import::{self, Tally};
use crate::journal::Journal;
use crate::options::Locations;

/// Checks a batch; prints every problem to `out` as it is found.
pub fn check(
    batch: &Path,
    options: &ReadOptions,
    (config, profile): (&Config, &Profile),
    journal: Option<&Journal>,
    out: &mut dyn Write,
) -> anyhow::Result<Tally> {
    let rows = CheckedBatch::open(batch, options, profile.spec(), profile.row_defaults())
        .map_err(|e| super::suggest::file_error(config, &profile.name, e))?;
    let mut write_failed = None;
    let tally = import::preview(
        journal,
        profile.gateway,
        &profile.merchant_id,
        rows,
        |problem| {
            if let Err(e) = writeln!(out, "  {problem}") {
                write_failed.get_or_insert(e);
            }
        },
    )
    .map_err(|e| match e {
        import::ImportError::File(e) => file_error(e),
        other => anyhow::Error::new(other),
    })?;
    if let Some(e) = write_failed {
        return Err(e.into());
    }
    Ok(tally)
}

pub fn file_error(e: FileError) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// `bulkrefund validate BATCH --profile P`.
pub fn main(locations: &Locations, args: ValidateArgs) -> anyhow::Result<u8> {
    let (config, journal_path) = locations.load()?;
    let profile = config.profile(&args.profile)?;
    run(
        &args.batch,
        &args.input.read_options(),
        (&config, &profile),
        &journal_path,
    )
}

pub fn run(
    batch: &Path,
    options: &ReadOptions,
    (config, profile): (&Config, &Profile),
    journal_path: &Path,
) -> anyhow::Result<u8> {
    let journal = Journal::open_read_only(journal_path)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "{} (profile '{}', {} gateway, merchant {}):",
        batch.display(),
        profile.name,
        profile.gateway,
        profile.merchant_id
    )?;
    let tally = check(
        batch,
        options,
        (config, profile),
        journal.as_ref(),
        &mut out,
    )?;
    writeln!(out, "{} data rows", tally.rows)?;
    writeln!(
        out,
        "  run would send:          {:>9} refunds, {} yuan",
        tally.new, tally.new_fen
    )?;
    writeln!(
        out,
        "  already in the journal:  {:>9} (not sent again; unresolved ones are resolved)",
        tally.known
    )?;
    writeln!(out, "  duplicates in this file: {:>9}", tally.duplicate)?;
    writeln!(out, "  conflicts:               {:>9}", tally.conflict)?;
    writeln!(out, "  invalid rows:            {:>9}", tally.invalid)?;
    Ok(if tally.invalid + tally.conflict > 0 {
        exit::SOME_FAILED
    } else {
        exit::SUCCESS
    })
}
