//! `bulkrefund report`: one self-contained HTML page about a batch or a
//! period, for people to look at and print. This module gathers what the page
//! shows from the journal ([`gather`]) into a plain [`Report`]; [`page`] writes
//! it as HTML (no script, nothing fetched), [`charts`] draws its charts as
//! inline SVG. Every figure is read through the code that `status` and
//! `export` use (README, "The money"): a batch's money is
//! [`BatchMoney::for_batch`], a period's the export's totals, and the days of
//! the chart are the export's "by day" sums. Nothing here counts money anew.

pub mod charts;
mod days;
mod markup;
pub mod page;
pub mod reconciliation;

use std::collections::BTreeMap;

use super::export::{self, ExportTotals, Filter};
use super::summary::{BatchMoney, Sum};
use super::ReportError;
use crate::journal::latency::LatencyCurve;
use crate::journal::money::{FailureGroup, FAILURE_SAMPLES};
use crate::journal::reports::ExportRow;
use crate::journal::{Journal, Status};
use crate::money::Fen;
use crate::zone::Zone;

pub use reconciliation::{Finding, OutcomeLine, ReconciliationSection};

/// At most this many buckets on the latency chart.
pub const LATENCY_BUCKETS: usize = 120;

/// At most this many refunds in review or abnormal are listed one by one;
/// the page says how many more there are and how to list them all.
pub const ATTENTION_LISTED: usize = 200;

/// What the page's title says: whose refunds, which period, which zone, when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heading {
    pub merchants: Vec<String>,
    /// "batch 3" or "2026-11-01 to 2026-11-30", as the operator asked.
    pub period: String,
    pub zone: String,
    pub generated_at: String,
}

/// One line of the money: a figure, its count and amount (none for a count
/// with no money of its own, such as the links retried under a new id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoneyLine {
    pub label: String,
    pub count: u64,
    pub fen: Option<Fen>,
    /// A line that splits the one above it (shown indented).
    pub part: bool,
}

/// A refund a person must act on (in review or abnormal), and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttentionRefund {
    pub refund_id: String,
    pub merchant_id: String,
    pub status: Status,
    pub fen: Fen,
    pub error_code: String,
    pub error_message: String,
    pub batch: i64,
    pub line: u64,
    /// The steps, as `bulkrefund show` gives them for an abnormal refund, and
    /// as the README's "Review" gives them for one in review. The command
    /// fills an abnormal refund's (see `commands::report`).
    pub what_to_do: Vec<String>,
}

/// Everything the page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub heading: Heading,
    /// Which command gives the same figures (`status --batch 3`, `export ...`).
    pub money_source: String,
    pub money: Vec<MoneyLine>,
    /// Refunded per day, as the export's "by day" sheet sums it.
    pub by_day: Vec<(String, Sum)>,
    /// Of each day's refunds, how many bulkrefund's clock placed there (the
    /// journal has no gateway time for them); days with none are absent.
    pub by_our_clock: BTreeMap<String, u64>,
    /// What the days are and how many refunds bulkrefund's clock placed
    /// ([`ExportTotals::days_note`]), as the export says it.
    pub days_note: String,
    pub failures: Vec<FailureGroup>,
    pub latency: LatencyCurve,
    pub attention: Vec<AttentionRefund>,
    /// How many refunds are in review or abnormal in all (some may not be listed).
    pub attention_total: usize,
    /// The latest reconciliation of each day in the period (the command
    /// fills them from the journal), by day.
    pub reconciliations: Vec<ReconciliationSection>,
}

/// What to do about a refund in review (README, "Review").
pub const REVIEW_STEPS: [&str; 2] = [
    "`bulkrefund resume --review` asks the gateway once about each refund in review: a verified \
     answer about that very refund settles it; anything else leaves it in review and says why",
    "if it stays in review, look the refund up in the gateway's merchant console and ask the \
     gateway's support why its answers name another refund; bulkrefund never marks a refund by \
     hand: its outcome is only ever the gateway's",
];

/// Writes the page to `out`, whole or not at all.
pub fn write(report: &Report, zone: &Zone, out: &std::path::Path) -> Result<(), ReportError> {
    let html = page::render(report, zone)?;
    super::write_whole(out, "the report", |mut file| {
        use std::io::Write;
        Ok(file.write_all(html.as_bytes())?)
    })
}

/// Reads the page's data from the journal: the refunds `filter` holds (a
/// batch's, or a period's), times in `zone`. Abnormal refunds' steps are left
/// for the caller to fill.
pub fn gather(
    journal: &Journal,
    filter: &Filter,
    zone: &Zone,
    period: &str,
) -> Result<Report, ReportError> {
    // The export's own computation, its CSV thrown away: the same money and
    // the same days as `bulkrefund export` with these bounds.
    let totals = export::export_csv(journal, filter, zone, std::io::sink(), false)?;
    let (money_source, money) = match filter.batch {
        Some(batch) => (
            format!("as `bulkrefund status --batch {batch}` counts them"),
            batch_lines(&BatchMoney::for_batch(journal, batch)?),
        ),
        None => (
            "as `bulkrefund export` counts them over the same period".to_owned(),
            export_lines(&totals),
        ),
    };
    let mut failures = Failures::default();
    let mut attention = Vec::new();
    let mut attention_total = 0;
    journal.export_rows(filter, |row| {
        // A link retried under a new id has no status of its own left.
        if row.retried_as.is_some() {
            return Ok::<_, ReportError>(());
        }
        failures.add(&row);
        if matches!(row.status, Status::Review | Status::Abnormal) {
            attention_total += 1;
            if attention.len() < ATTENTION_LISTED {
                attention.push(attention_refund(row));
            }
        }
        Ok(())
    })?;
    let failures = match filter.batch {
        Some(batch) => journal.failures_by_code(batch)?,
        None => failures.groups(),
    };
    Ok(Report {
        heading: Heading {
            merchants: journal.export_merchants(filter)?,
            period: period.to_owned(),
            zone: zone.name().to_owned(),
            generated_at: zone.now(),
        },
        money_source,
        money,
        days_note: totals.days_note(),
        by_day: totals.by_day.into_iter().collect(),
        by_our_clock: totals.by_our_clock,
        failures,
        latency: journal.attempt_latency(filter, LATENCY_BUCKETS, utc_offset(zone))?,
        attention,
        attention_total,
        reconciliations: Vec::new(),
    })
}

/// How far east of UTC `zone`'s clock is now, in seconds.
fn utc_offset(zone: &Zone) -> i64 {
    let now = jiff::Timestamp::now();
    // `2026-11-30T23:30:00+08:00`: the wall clock, read as if it were UTC.
    let shown = zone.show(&crate::zone::journal_time(now));
    let wall = shown
        .get(..19)
        .and_then(|t| t.parse::<jiff::civil::DateTime>().ok())
        .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC).ok());
    wall.map_or(0, |wall| wall.timestamp().as_second() - now.as_second())
}

fn batch_lines(money: &BatchMoney) -> Vec<MoneyLine> {
    money
        .lines()
        .into_iter()
        .map(|(label, sum)| MoneyLine {
            part: label.starts_with(' '),
            label: label.trim().to_owned(),
            count: sum.count,
            fen: Some(sum.fen),
        })
        .collect()
}

fn export_lines(totals: &ExportTotals) -> Vec<MoneyLine> {
    let parts: Vec<bool> = totals
        .intents
        .lines()
        .iter()
        .map(|(label, _)| label.starts_with(' '))
        .collect();
    totals
        .lines()
        .into_iter()
        .enumerate()
        .map(|(i, (label, count, fen))| MoneyLine {
            label,
            count,
            fen,
            part: parts.get(i).copied().unwrap_or(false),
        })
        .collect()
}

fn attention_refund(row: ExportRow) -> AttentionRefund {
    let what_to_do = match row.status {
        Status::Review => REVIEW_STEPS.iter().map(|s| (*s).to_owned()).collect(),
        _ => Vec::new(),
    };
    AttentionRefund {
        refund_id: row.refund_id,
        merchant_id: row.merchant_id,
        status: row.status,
        fen: row.fen,
        error_code: row.error_code.unwrap_or_default(),
        error_message: row.error_message.unwrap_or_default(),
        batch: row.batch_id,
        line: row.line,
        what_to_do,
    }
}

/// A period's failures by status and error code, grouped as `status --batch`
/// groups a batch's ([`Journal::failures_by_code`]): intents that failed, are
/// in review or abnormal; largest count first.
#[derive(Default)]
struct Failures {
    groups: BTreeMap<(Status, String), FailureGroup>,
}

impl Failures {
    fn add(&mut self, row: &ExportRow) {
        if !matches!(
            row.status,
            Status::Failed | Status::Review | Status::Abnormal
        ) {
            return;
        }
        let code = row.error_code.clone().unwrap_or_default();
        let group = self
            .groups
            .entry((row.status, code.clone()))
            .or_insert_with(|| FailureGroup {
                status: Some(row.status),
                code,
                message: row.error_message.clone().unwrap_or_default(),
                ..FailureGroup::default()
            });
        group.count += 1;
        group.fen = group.fen.saturating_add(row.fen);
        if group.samples.len() < FAILURE_SAMPLES {
            group.samples.push(row.refund_id.clone());
        }
    }

    fn groups(self) -> Vec<FailureGroup> {
        let mut groups: Vec<FailureGroup> = self.groups.into_values().collect();
        groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_east_of_utc() {
        assert_eq!(utc_offset(&Zone::named("Asia/Shanghai").unwrap()), 8 * 3600);
        assert_eq!(utc_offset(&Zone::utc()), 0);
    }
}
