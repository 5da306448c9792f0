//! `bulkrefund report`: one self-contained HTML page about a batch or a
//! period, from the journal (read-only), like `export`: it finds the journal
//! and the zone the same way, reads `--since/--until` with export's own
//! function (the gateway's days, whatever `--timezone`), and never
//! writes over the journal, the configuration or a batch's input (README,
//! "Output paths"). What the page holds is [`crate::report::html`]'s.

use std::collections::HashMap;

use serde_json::Value;

use crate::cli::{OutputFormat, ReportArgs};
use crate::exit::{self, UsageError};
use crate::journal::days::gateway_zone;
use crate::journal::JournalLocation;
use crate::journal::{Journal, Status};
use crate::options::Locations;
use crate::report::export::Filter;
use crate::report::html::{self, AttentionRefund, ReconciliationSection, Report};
use crate::zone::Zone;

use super::export;

/// `bulkrefund report ...`: reads only the journal, so it works without a
/// configuration file.
pub fn main(locations: &Locations, args: ReportArgs) -> anyhow::Result<u8> {
    let (journal, zone) = locations.journal_only()?;
    run(&journal, Some(&locations.config_path()), &zone, &args)
}

/// "batch 3", "2026-11-01 to 2026-11-30 (the gateway's days, Asia/Shanghai)":
/// the page's title, as `export` names its period.
fn period(args: &ReportArgs) -> String {
    if let Some(batch) = args.batch {
        return format!("batch {batch}");
    }
    let range = match (&args.since, &args.until) {
        (None, None) => "every refund in the journal".to_owned(),
        (Some(since), None) => format!("from {since}"),
        (None, Some(until)) => format!("until {until}"),
        (Some(since), Some(until)) => format!("{since} to {until}"),
    };
    let days = export::days_named(args.since.as_deref(), args.until.as_deref());
    format!("{range}{days}")
}

/// The refunds the flags ask for, read exactly as `export` reads the same
/// flags ([`export::period_filter`]): the dates are the gateway's days, not
/// the operator's `--timezone`.
fn filter(args: &ReportArgs) -> Result<Filter, UsageError> {
    export::period_filter(args.batch, args.since.as_deref(), args.until.as_deref())
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
    journal_at: &JournalLocation,
    config: Option<&std::path::Path>,
    zone: &Zone,
    args: &ReportArgs,
) -> anyhow::Result<u8> {
    check_extension(&args.out)?;
    let Some(journal) = journal_at.open_read_only()? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing to report",
            journal_at.display()
        ))
        .into());
    };
    let filter = filter(args)?;
    if let Some(batch) = args.batch {
        if journal.batch(batch)?.is_none() {
            return Err(UsageError(format!(
                "There is no batch {batch} in the journal; `bulkrefund status` lists them"
            ))
            .into());
        }
    }
    super::export::check_out(&journal, journal_at, config, &args.out)?;
    let mut report = html::gather(&journal, &filter, zone, &period(args))?;
    report.reconciliations = reconciliations(&journal, &filter, &report)?;
    for refund in &mut report.attention {
        if refund.status == Status::Abnormal {
            refund.what_to_do = what_show_says(journal_at, refund, zone)?;
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

/// The Beijing days whose reconciliations the page shows: a period's days
/// (`--since`'s first to `--until`'s last, open ends unbounded), or the
/// days a batch's refunds succeeded on; `None` when there are none.
fn reconciled_period(filter: &Filter, report: &Report) -> Option<(String, String)> {
    if filter.batch.is_some() {
        let first = report.by_day.first()?;
        let last = report.by_day.last()?;
        return Some((first.0.clone(), last.0.clone()));
    }
    let zone = gateway_zone();
    let first = match filter.since.as_deref() {
        Some(since) => zone.day_of(since)?.to_string(),
        None => "0000-01-01".to_owned(),
    };
    // `until` is the first instant after the period: its day is the one before.
    let last = match filter.until.as_deref() {
        Some(until) => {
            let at: jiff::Timestamp = until.parse().ok()?;
            let before = at.checked_sub(jiff::SignedDuration::from_millis(1)).ok()?;
            zone.day_of(&crate::zone::journal_time(before))?.to_string()
        }
        None => "9999-12-31".to_owned(),
    };
    Some((first, last))
}

/// The latest reconciliation of each day of the period, with its findings
/// and what the journal holds as succeeded on that day; for a batch, only
/// its merchants'.
fn reconciliations(
    journal: &Journal,
    filter: &Filter,
    report: &Report,
) -> anyhow::Result<Vec<ReconciliationSection>> {
    let Some((first, last)) = reconciled_period(filter, report) else {
        return Ok(Vec::new());
    };
    let recorded = journal.recorded_reconciliations(&first, &last)?;
    if recorded.is_empty() {
        return Ok(Vec::new());
    }
    let succeeded: HashMap<_, _> = journal
        .reconciled_days()?
        .into_iter()
        .map(|d| ((d.gateway, d.merchant_id, d.day), d.succeeded))
        .collect();
    let ours =
        |merchant: &String| filter.batch.is_none() || report.heading.merchants.contains(merchant);
    Ok(recorded
        .iter()
        .filter(|r| ours(&r.merchant_id))
        .map(|r| {
            let key = (r.gateway, r.merchant_id.clone(), r.bill_date.clone());
            html::reconciliation::recorded(r, succeeded.get(&key).copied())
        })
        .collect())
}

/// The steps `bulkrefund show` gives for this refund (its JSON's
/// `what_to_do`): the page says exactly what `show` says.
fn what_show_says(
    journal_at: &JournalLocation,
    refund: &AttentionRefund,
    zone: &Zone,
) -> anyhow::Result<Vec<String>> {
    let mut json = Vec::new();
    super::show::run(
        journal_at,
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::super::stub_gateway::config;
    use super::*;
    use crate::commands::app::App;
    use crate::commands::run::{self as run_command, RunRequest};
    use crate::options::RunOptions;

    fn args(out: &Path) -> ReportArgs {
        ReportArgs {
            places: Default::default(),
            batch: Some(1),
            since: None,
            until: None,
            out: out.to_owned(),
        }
    }

    /// The stub gateway pays r1, declines r2 and leaves r3 abnormal (17 fen).
    async fn stub_batch(dir: &Path) -> std::path::PathBuf {
        let journal = dir.join("journal.db");
        let options = RunOptions {
            poll_for: Duration::from_secs(5),
            quiet: true,
            ..RunOptions::default()
        };
        let app = App::new(
            config(dir, "report"),
            JournalLocation::file(&journal),
            options,
            CancellationToken::new(),
        );
        let batch = dir.join("stub.csv");
        std::fs::write(
            &batch,
            "refund_id,order_id,amount_fen\nr1,o1,100\nr2,o2,13\nr3,o3,17\n",
        )
        .unwrap();
        let outcome = run_command::run(&app, RunRequest::confirmed(&batch, "acme"))
            .await
            .unwrap();
        assert_eq!(outcome.exit_code, 3);
        journal
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abnormal_refund_is_on_the_page_with_what_show_says() {
        let dir = tempfile::tempdir().unwrap();
        let journal = stub_batch(dir.path()).await;
        let out = dir.path().join("batch-1.html");
        let utc = Zone::utc();
        assert_eq!(
            run(&JournalLocation::file(&journal), None, &utc, &args(&out)).unwrap(),
            0
        );
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(
            html.contains(
                "<tr><td>abnormal</td><td class=\"num\">1</td><td class=\"num\">0.17</td></tr>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<tr class=\"part\"><td>paid by this batch</td><td class=\"num\">1</td><td class=\"num\">1.00</td></tr>"),
            "{html}"
        );
        // The stub gives no success time: its one paid refund is on the day
        // bulkrefund's clock placed it, and the page says so.
        let by_day = &html[html.find("<section id=\"by-day\">").unwrap()..];
        let by_day = &by_day[..by_day.find("</section>").unwrap()];
        assert!(
            by_day.contains(
                "days: the gateway&#39;s success time in Asia/Shanghai; 1 refund placed by bulkrefund&#39;s clock"
            ),
            "{by_day}"
        );
        assert!(
            by_day.contains("<td class=\"num fen\">100</td><td class=\"num\">1</td></tr>"),
            "{by_day}"
        );
        // The refund to act on, with `show`'s four steps.
        let attention = &html[html.find("<section id=\"attention\">").unwrap()..];
        assert!(
            attention.contains("<td class=\"ids\">r3<br>"),
            "{attention}"
        );
        assert_eq!(attention.matches("<li>").count(), 4, "{attention}");
        assert!(attention.contains(
            "<li>act at the gateway: in WeChat Pay&#39;s merchant platform (交易中心), or through its \
             apply-abnormal-refund API, have the money paid to the payer another way</li>"
        ));
        assert!(attention.contains("on <code>bulkrefund resume</code> (next after "));
        // Failures by code: the declined one and the abnormal one.
        let failures = &html[html.find("<section id=\"failures\">").unwrap()..];
        let failures = &failures[..failures.find("</section>").unwrap()];
        assert_eq!(failures.matches("<tr><td>").count(), 2, "{failures}");
        assert!(failures.contains("<code>ABNORMAL</code>"), "{failures}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_flags_are_usage_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = stub_batch(dir.path()).await;
        let utc = Zone::utc();
        let usage = |args: &ReportArgs| {
            let error = run(&JournalLocation::file(&journal), None, &utc, args).unwrap_err();
            error.downcast::<UsageError>().expect("a usage error").0
        };
        let out = dir.path().join("r.html");
        let pdf = usage(&args(&dir.path().join("r.pdf")));
        assert!(pdf.contains("end the name with .html"), "{pdf}");
        let missing = usage(&ReportArgs {
            batch: Some(9),
            ..args(&out)
        });
        assert!(missing.contains("There is no batch 9"), "{missing}");
        let backwards = usage(&ReportArgs {
            batch: None,
            since: Some("2026-11-30".into()),
            until: Some("2026-11-01".into()),
            ..args(&out)
        });
        assert!(backwards.contains("the period is backwards"), "{backwards}");
        assert!(!out.exists());
    }
}
