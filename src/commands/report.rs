//! `bulkrefund report`: one self-contained HTML page about a batch or a
//! period, from the journal (read-only), like `export`: it finds the journal
//! and the zone the same way, takes the same `--since/--until`, and never
//! writes over the journal, the configuration or a batch's input (README,
//! "Output paths"). What the page holds is [`crate::report::html`]'s.

use serde_json::Value;

use crate::cli::{OutputFormat, ReportArgs};
use crate::exit::{self, UsageError};
use crate::journal::{Journal, Status};
use crate::options::Locations;
use crate::paths::Protected;
use crate::report::export::Filter;
use crate::report::html::{self, AttentionRefund};
use crate::zone::Zone;

/// `bulkrefund report ...`: reads only the journal, so it works without a
/// configuration file.
pub fn main(locations: &Locations, args: ReportArgs) -> anyhow::Result<u8> {
    let (journal, zone) = locations.journal_only()?;
    run(&journal, Some(&locations.config_path()), &zone, &args)
}

/// "batch 3", "2026-11-01 to 2026-11-30": the page's title.
fn period(args: &ReportArgs) -> String {
    if let Some(batch) = args.batch {
        return format!("batch {batch}");
    }
    match (&args.since, &args.until) {
        (None, None) => "every refund in the journal".to_owned(),
        (Some(since), None) => format!("from {since}"),
        (None, Some(until)) => format!("until {until}"),
        (Some(since), Some(until)) => format!("{since} to {until}"),
    }
}

/// The refunds the flags ask for, as `export` reads the same flags; a period
/// that ends before it starts is a usage error (exit 2).
fn filter(args: &ReportArgs, zone: &Zone) -> Result<Filter, UsageError> {
    let bound = |text: &Option<String>, is_until| {
        text.as_deref().map(|t| zone.bound(t, is_until)).transpose()
    };
    let filter = Filter {
        batch: args.batch,
        since: bound(&args.since, false)?,
        until: bound(&args.until, true)?,
        statuses: Vec::new(),
    };
    if let (Some(since), Some(until)) = (&filter.since, &filter.until) {
        if since >= until {
            return Err(UsageError(format!(
                "--since {} is not before --until {}: the period is backwards (--since is its first day, --until its last)",
                args.since.as_deref().unwrap_or_default(),
                args.until.as_deref().unwrap_or_default()
            )));
        }
    }
    Ok(filter)
}

fn check_extension(out: &std::path::Path) -> Result<(), UsageError> {
    let extension = out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("html" | "htm") => Ok(()),
        _ => Err(UsageError(format!(
            "--out '{}': the report is an HTML page; end the name with .html",
            out.display()
        ))),
    }
}

pub fn run(
    journal_path: &std::path::Path,
    config: Option<&std::path::Path>,
    zone: &Zone,
    args: &ReportArgs,
) -> anyhow::Result<u8> {
    check_extension(&args.out)?;
    let Some(journal) = Journal::open_read_only(journal_path)? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing to report",
            journal_path.display()
        ))
        .into());
    };
    let filter = filter(args, zone)?;
    if let Some(batch) = args.batch {
        if journal.batch(batch)?.is_none() {
            return Err(UsageError(format!(
                "There is no batch {batch} in the journal; `bulkrefund status` lists them"
            ))
            .into());
        }
    }
    let mut protected = Protected::new();
    protected.journal(journal_path);
    if let Some(config) = config {
        protected.add(config, "the configuration");
    }
    for input in journal.batch_inputs()? {
        protected.add(&input, "the input of a batch in the journal");
    }
    protected.check(&args.out, "--out")?;
    let mut report = html::gather(&journal, &filter, zone, &period(args))?;
    for refund in &mut report.attention {
        if refund.status == Status::Abnormal {
            refund.what_to_do = what_show_says(journal_path, refund, zone)?;
        }
    }
    html::write(&report, zone, &args.out)?;
    crate::say!(
        "report written to {} ({} days with refunds, {} requests to the gateway, {} refunds to act on; times in {})",
        args.out.display(),
        report.by_day.len(),
        report.latency.attempts(),
        report.attention_total,
        zone.name()
    );
    Ok(exit::SUCCESS)
}

/// The steps `bulkrefund show` gives for this refund (its JSON's
/// `what_to_do`): the page says exactly what `show` says.
fn what_show_says(
    journal_path: &std::path::Path,
    refund: &AttentionRefund,
    zone: &Zone,
) -> anyhow::Result<Vec<String>> {
    let mut json = Vec::new();
    super::show::run(
        journal_path,
        &refund.refund_id,
        OutputFormat::Json,
        zone,
        &mut json,
    )?;
    let shown: Value = serde_json::from_slice(&json)?;
    let steps = shown["refunds"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["merchant_id"].as_str() == Some(refund.merchant_id.as_str()))
        .and_then(|r| r["what_to_do"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|step| step.as_str().map(str::to_owned))
        .collect();
    Ok(steps)
}
