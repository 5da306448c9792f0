//! `bulkrefund validate`: every row checked and the dedupe previewed against the
//! journal (read-only), with what `run` would send (new refunds and the
//! earlier ones the file names that are not yet sent) and the profile's caps
//! checked by the very check `run` makes (caps.rs). Writes nothing. Exits as
//! `run` would refuse: 2 over a cap (unless `--allow-over-limit`), 3 with
//! invalid or conflicting rows, else 0.

use std::io::Write;
use std::path::Path;

use super::caps::{self, Outgoing};
use crate::batch::{CheckedBatch, FileError, ReadOptions};
use crate::cli::ValidateArgs;
use crate::config::{Config, Profile};
use crate::exit::{self, UsageError};
use crate::journal::import::{self, Tally};
use crate::journal::preview::preview;
use crate::journal::Journal;
use crate::journal::JournalLocation;
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
    let tally = preview(
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
    let (config, journal_at) = locations.load()?;
    let profile = config.profile(&args.profile)?;
    let asked = Asked {
        options: args.input.read_options(),
        allow_over_limit: args.allow_over_limit,
    };
    run(&args.batch, &asked, (&config, &profile), &journal_at)
}

/// What `validate` is asked besides the batch.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub options: ReadOptions,
    /// `--allow-over-limit`: the caps are reported, not refused.
    pub allow_over_limit: bool,
}

pub fn run(
    batch: &Path,
    asked: &Asked,
    (config, profile): (&Config, &Profile),
    journal_at: &JournalLocation,
) -> anyhow::Result<u8> {
    let options = &asked.options;
    let journal = journal_at.open_read_only()?;
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
    let outgoing = Outgoing::of_tally(&tally);
    writeln!(
        out,
        "  run would send:          {:>9} refunds, {} yuan",
        outgoing.count,
        outgoing.fen.grouped()
    )?;
    if !tally.earlier.is_empty() {
        writeln!(
            out,
            "    of which recorded earlier and not yet sent or settled: {}",
            caps::by_batch(&tally.earlier)
        )?;
    }
    writeln!(
        out,
        "  already in the journal:  {:>9} (not sent again; unresolved ones are resolved)",
        tally.known
    )?;
    writeln!(out, "  duplicates in this file: {:>9}", tally.duplicate)?;
    writeln!(out, "  conflicts:               {:>9}", tally.conflict)?;
    writeln!(out, "  invalid rows:            {:>9}", tally.invalid)?;
    let over = caps::over(profile, &outgoing);
    for limit in &over {
        writeln!(out, "  over the limit: {limit}")?;
    }
    Ok(if !over.is_empty() && !asked.allow_over_limit {
        writeln!(
            out,
            "run would refuse this batch (exit 2): it is over the profile's limits; split it, or pass --allow-over-limit if it is meant"
        )?;
        exit::USAGE
    } else if tally.invalid + tally.conflict > 0 {
        exit::SOME_FAILED
    } else {
        exit::SUCCESS
    })
}
