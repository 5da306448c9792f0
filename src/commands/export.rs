//! `bulkrefund export`: the reconciliation file, from the journal (read-only).
//! `--out -` writes CSV to standard output; a file is never the journal, the
//! configuration or a batch's input (README, "Output paths"). `--since` and
//! `--until` select by the day a refund counts for, the gateway's day in
//! Beijing time (journal/days.rs), whatever zone the times are shown in.

use crate::cli::ExportArgs;
use crate::exit::{self, UsageError};
use crate::journal::days::{self, GATEWAY_ZONE};
use crate::journal::Journal;
use crate::journal::JournalLocation;
use crate::options::Locations;
use crate::paths::Protected;
use crate::report::export::{self, ExportFormat, Filter, Heading};
use crate::zone::Zone;

/// `bulkrefund export ...`: reads only the journal, so it works without a
/// configuration file (one that exists is never overwritten).
pub fn main(locations: &Locations, args: ExportArgs) -> anyhow::Result<u8> {
    let (journal, zone) = locations.journal_only()?;
    run(&journal, Some(&locations.config_path()), &zone, &args)
}

/// "2026-11-01 to 2026-11-30", as the operator gave the bounds.
fn period(args: &ExportArgs) -> String {
    let batch = args.batch.map(|b| format!("batch {b}, "));
    let range = match (&args.since, &args.until) {
        (None, None) => "all times".to_owned(),
        (Some(since), None) => format!("from {since}"),
        (None, Some(until)) => format!("until {until}"),
        (Some(since), Some(until)) => format!("{since} to {until}"),
    };
    let days = days_named(args.since.as_deref(), args.until.as_deref());
    format!("{}{range}{days}", batch.unwrap_or_default())
}

/// " (the gateway's days, Asia/Shanghai)" after a period given by
/// `--since/--until`, nothing without them: a title says whose days it means.
pub(crate) fn days_named(since: Option<&str>, until: Option<&str>) -> String {
    match (since, until) {
        (None, None) => String::new(),
        _ => format!(" (the gateway's days, {GATEWAY_ZONE})"),
    }
}

/// The refunds of `batch` (or of every batch) that count for the period
/// `--since`..=`--until`, its dates being the gateway's days whatever zone
/// the times are shown in: the one reading of these flags, for `export` and
/// `report` alike. A period that ends before it starts is a usage error
/// (exit 2), before anything is written. Every status (`statuses` empty).
pub(crate) fn period_filter(
    batch: Option<i64>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<Filter, UsageError> {
    let gateway_days = days::gateway_zone();
    let filter = Filter {
        batch,
        since: since.map(|t| gateway_days.bound(t, false)).transpose()?,
        until: until.map(|t| gateway_days.bound(t, true)).transpose()?,
        statuses: Vec::new(),
    };
    if let (Some(since_at), Some(until_at)) = (&filter.since, &filter.until) {
        if since_at >= until_at {
            return Err(UsageError(format!(
                "--since {} is not before --until {}: the period is backwards (--since is its first day, --until its last)",
                since.unwrap_or_default(),
                until.unwrap_or_default()
            )));
        }
    }
    Ok(filter)
}

/// The refunds the flags ask for: [`period_filter`], and `--status`.
fn filter(args: &ExportArgs) -> anyhow::Result<Filter> {
    let mut filter = period_filter(args.batch, args.since.as_deref(), args.until.as_deref())?;
    filter.statuses = args
        .status
        .iter()
        .map(|s| export::refund_status(s))
        .collect::<Result<_, _>>()?;
    Ok(filter)
}

pub fn run(
    journal_at: &JournalLocation,
    config: Option<&std::path::Path>,
    zone: &Zone,
    args: &ExportArgs,
) -> anyhow::Result<u8> {
    let format = ExportFormat::for_output(&args.out, args.format)?;
    let Some(journal) = journal_at.open_read_only()? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing to export",
            journal_at.display()
        ))
        .into());
    };
    let filter = filter(args)?;
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout {
        if format == ExportFormat::Xlsx {
            return Err(UsageError(
                "--out -: an XLSX export needs a file (CSV can go to standard output)".into(),
            )
            .into());
        }
        let totals = export::export_csv(
            &journal,
            &filter,
            zone,
            std::io::stdout().lock(),
            args.excel,
        )?;
        crate::say_part!("{}", totals.table());
        say_if_empty(&journal, &filter, args)?;
        return Ok(exit::SUCCESS);
    }
    check_out(&journal, journal_at, config, &args.out)?;
    let heading = Heading {
        period: period(args),
        zone: zone.clone(),
    };
    let totals = export::export(&journal, &filter, &heading, &args.out, format, args.excel)?;
    crate::say!(
        "exported to {} ({}, times in {}):",
        args.out.display(),
        format.name(),
        zone.name()
    );
    crate::say_part!("{}", totals.table());
    say_if_empty(&journal, &filter, args)?;
    Ok(exit::SUCCESS)
}

/// An export that holds no refund says so, and names the days the journal's
/// refunds count for: a period typed for the wrong month is seen at once.
/// It is still written, and the exit code is 0: an empty period is an answer.
fn say_if_empty(journal: &Journal, filter: &Filter, args: &ExportArgs) -> anyhow::Result<()> {
    if !journal.export_merchants(filter)?.is_empty() {
        return Ok(());
    }
    let held = match journal.export_span()? {
        None => "the journal holds no refund yet".to_owned(),
        Some((first, last)) => {
            let zone = days::gateway_zone();
            let day = |utc: &str| {
                zone.day_of(utc)
                    .map_or_else(|| utc.to_owned(), |d| d.to_string())
            };
            format!(
                "the journal's refunds count for the gateway's days from {} to {}",
                day(&first),
                day(&last)
            )
        }
    };
    let asked = match period(args).as_str() {
        "all times" => String::new(),
        period => format!(" in {period}"),
    };
    crate::say!("Note: the export holds no refund{asked}; {held}");
    Ok(())
}

/// Refuses an `--out` that is the journal, the configuration or a batch's
/// input (the export and the report write only new files of their own).
pub(crate) fn check_out(
    journal: &Journal,
    journal_at: &JournalLocation,
    config: Option<&std::path::Path>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let mut protected = Protected::new();
    journal_at.protect(&mut protected);
    if let Some(config) = config {
        protected.add(config, "the configuration");
    }
    for input in journal.batch_inputs()? {
        protected.add(&input, "the input of a batch in the journal");
    }
    protected.check(out, "--out")?;
    Ok(())
}
