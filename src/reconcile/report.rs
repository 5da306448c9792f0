//! The reconciliation report (statements.md, "The report"): one row per
//! finding, in the order matching gives (outcome, then refund id), with the
//! contract's columns; times RFC 3339 in Beijing time (`+08:00`), whatever the
//! operator's zone, since a bill's day is Beijing's. CSV (UTF-8, a BOM with
//! `--excel`, every text cell formula-safe, then `#summary` lines as the
//! export ends with `#totals`) or XLSX (the summary on a first sheet, the rows
//! on a second), or HTML (`--out day.html`: the page of
//! `report::html::reconciliation`, the same figures and every finding with
//! statements.md's "what to do"). Written whole through a temporary file: a
//! killed process never leaves half a report. The summary is also what the
//! terminal shows.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::Workbook;

use super::matching::{bill_status_name, Finding, Matched, Outcome};
use crate::exit::UsageError;
use crate::journal::days::gateway_zone;
use crate::journal::{State, Status};
use crate::money::Fen;
use crate::report::export::ExportFormat;
use crate::report::html::reconciliation::{render_page, what_to_do};
use crate::report::html::{
    Finding as HtmlFinding, Heading, MoneyLine, OutcomeLine, ReconciliationSection,
};
use crate::report::results::formula_safe;
use crate::report::xlsx::{self, write_figures, Formats};
use crate::report::ReportError;

pub const COLUMNS: [&str; 15] = [
    "outcome",
    "bill_date",
    "refund_id",
    "gateway_refund_id",
    "order_id",
    "journal_status",
    "bill_status",
    "journal_fen",
    "bill_fen",
    "journal_success_at",
    "bill_success_at",
    "bill_day",
    "batch_id",
    "line",
    "note",
];

/// The columns that hold whole numbers, by index in [`COLUMNS`].
const NUMBERS: [usize; 4] = [7, 8, 12, 13];

/// What `reconcile --out` writes: the rows (CSV or XLSX), or the page to
/// look at (HTML).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table(ExportFormat),
    Html,
}

/// The format `--out` names (`.csv`, `.xlsx`, `.html`), checked against
/// `--format` (which names only the two tables).
pub fn format_for(out: &Path, given: Option<ExportFormat>) -> Result<ReportFormat, UsageError> {
    let html = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    if out.as_os_str() == "-" {
        return Err(UsageError(
            "--out -: the reconciliation report is written to a file, beside the raw bill it keeps"
                .into(),
        ));
    }
    match (html, given) {
        (true, Some(given)) => Err(UsageError(format!(
            "--out '{}' names an HTML page, but --format says {}: make them agree (--format is for .csv and .xlsx)",
            out.display(),
            given.name()
        ))),
        (true, None) => Ok(ReportFormat::Html),
        (false, _) => ExportFormat::for_output(out, given).map(ReportFormat::Table),
    }
}

/// A journal time (UTC) as RFC 3339 in Beijing time.
fn beijing(utc: &str) -> String {
    gateway_zone().show(utc)
}

/// One finding's cells, in [`COLUMNS`] order. `line` is the line of the
/// bill (of `bill_day`) the row came from; `batch_id` the journal batch that
/// sent the refund.
pub fn cells(finding: &Finding, date: jiff::civil::Date) -> [String; 15] {
    let journal = finding.journal.as_ref();
    let bill = finding.bill.as_ref();
    let text = |value: Option<String>| value.unwrap_or_default();
    let gateway_refund_id = bill
        .and_then(|b| b.gateway_refund_id.clone())
        .or_else(|| journal.and_then(|j| j.gateway_refund_id.clone()));
    let order_id = bill
        .and_then(|b| b.order_id.clone().or_else(|| b.gateway_order_id.clone()))
        .or_else(|| {
            journal.map(|j| {
                if j.order_id.is_empty() {
                    j.gateway_order_id.clone()
                } else {
                    j.order_id.clone()
                }
            })
        });
    let journal_success_at = journal
        .filter(|j| j.state == State::Succeeded)
        .and_then(|j| j.counted_at.as_deref())
        .map(beijing);
    let bill_success_at = bill
        .and_then(|b| b.success_at)
        .map(|at| beijing(&crate::zone::journal_time(at)));
    [
        finding.outcome.as_str().to_owned(),
        date.to_string(),
        finding.refund_id.clone(),
        text(gateway_refund_id),
        text(order_id),
        text(journal.map(|j| j.state.status().as_str().to_owned())),
        text(bill.map(|b| bill_status_name(&b.status).to_owned())),
        text(journal.map(|j| j.fen.0.to_string())),
        text(bill.map(|b| b.fen.0.to_string())),
        text(journal_success_at),
        text(bill_success_at),
        text(finding.bill_day.map(|d| d.to_string())),
        text(journal.map(|j| j.batch_id.to_string())),
        text(bill.map(|b| b.line.to_string())),
        finding.note.clone(),
    ]
}

/// The summary: (figure, count, amount) in reading order: the bill's rows
/// whatever their status (and its stated totals, which count the same rows),
/// then its succeeded rows beside the journal's succeeded refunds, then each outcome (its bill side and journal side
/// where they can differ), then the unresolved refunds no bill lists.
pub fn summary_lines(matched: &Matched) -> Vec<(String, u64, Option<Fen>)> {
    let t = &matched.totals;
    let date = matched.date;
    let mut lines = vec![(
        format!("bill of {date}: refund rows"),
        t.bill.count,
        Some(t.bill.fen),
    )];
    if t.stated.count.is_some() || t.stated.fen.is_some() {
        lines.push((
            format!("bill of {date}: its stated totals"),
            t.stated.count.unwrap_or_default(),
            t.stated.fen,
        ));
    }
    // The two sides compared, filtered the same way: succeeded on D.
    lines.push((
        format!("bill of {date}: succeeded refund rows"),
        t.bill_succeeded.count,
        Some(t.bill_succeeded.fen),
    ));
    lines.push((
        format!("journal: succeeded on {date}"),
        t.expected.count,
        Some(t.expected.fen),
    ));
    for outcome in Outcome::ALL {
        let sum = t.of(outcome);
        match outcome {
            Outcome::Matched | Outcome::StatusDiffers | Outcome::MissingFromBill => {
                lines.push((
                    format!("{outcome} (journal)"),
                    sum.count,
                    Some(sum.journal_fen),
                ));
            }
            Outcome::AmountDiffers => {
                lines.push((
                    format!("{outcome} (journal)"),
                    sum.count,
                    Some(sum.journal_fen),
                ));
                lines.push((format!("{outcome} (bill)"), sum.count, Some(sum.bill_fen)));
            }
            Outcome::NotInJournal => {
                lines.push((format!("{outcome} (bill)"), sum.count, Some(sum.bill_fen)));
            }
        }
    }
    lines.push((
        "unresolved, not in the bill (run resume)".to_owned(),
        t.unresolved_not_in_bill.count,
        Some(t.unresolved_not_in_bill.fen),
    ));
    lines
}

/// The summary for the terminal.
pub fn table(matched: &Matched) -> String {
    let mut text = String::new();
    for (label, count, fen) in summary_lines(matched) {
        let amount = fen.map_or_else(String::new, |f| format!("{:>16} yuan", f.grouped()));
        text.push_str(&format!("  {label:<42} {count:>8} {amount}\n"));
    }
    text
}

/// What a report says of itself: the tables' title; the page's merchant,
/// and whose bill it is and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Described<'a> {
    pub title: &'a str,
    pub merchant: &'a str,
    pub source: &'a str,
}

/// Writes the report in `format`, whole or not at all.
pub fn write_any(
    matched: &Matched,
    described: Described,
    out: &Path,
    format: ReportFormat,
    excel_bom: bool,
) -> Result<(), ReportError> {
    match format {
        ReportFormat::Table(format) => write(matched, described.title, out, format, excel_bom),
        ReportFormat::Html => {
            let page = html_page(matched, described.merchant, described.source);
            crate::report::write_whole(out, "the reconciliation report", |mut file| {
                Ok(file.write_all(page.as_bytes())?)
            })
        }
    }
}

/// Writes the CSV or XLSX report, whole or not at all.
pub fn write(
    matched: &Matched,
    title: &str,
    out: &Path,
    format: ExportFormat,
    excel_bom: bool,
) -> Result<(), ReportError> {
    crate::report::write_whole(out, "the reconciliation report", |file| match format {
        ExportFormat::Csv => write_csv(matched, file, excel_bom),
        ExportFormat::Xlsx => write_xlsx(matched, title, file),
    })
}

/// The reconciliation as the HTML report's section: the same figures as
/// [`summary_lines`], each finding with statements.md's "what to do".
pub fn html_section(matched: &Matched, source: &str) -> ReconciliationSection {
    let t = &matched.totals;
    let line = |label: String, count: u64, fen: Option<Fen>| MoneyLine {
        label,
        count,
        fen,
        part: false,
    };
    let mut totals = vec![line(
        format!("bill of {}: refund rows", matched.date),
        t.bill.count,
        Some(t.bill.fen),
    )];
    if t.stated.count.is_some() || t.stated.fen.is_some() {
        let label = format!("bill of {}: its stated totals", matched.date);
        totals.push(line(
            label,
            t.stated.count.unwrap_or_default(),
            t.stated.fen,
        ));
    }
    let label = format!("bill of {}: succeeded refund rows", matched.date);
    totals.push(line(
        label,
        t.bill_succeeded.count,
        Some(t.bill_succeeded.fen),
    ));
    let label = format!("journal: succeeded on {}", matched.date);
    totals.push(line(label, t.expected.count, Some(t.expected.fen)));
    let label = "unresolved, not in the bill (run resume)".to_owned();
    let unresolved = &t.unresolved_not_in_bill;
    totals.push(line(label, unresolved.count, Some(unresolved.fen)));
    let outcomes = Outcome::ALL
        .into_iter()
        .map(|outcome| {
            let sum = t.of(outcome);
            OutcomeLine {
                outcome: outcome.as_str().to_owned(),
                count: sum.count,
                journal_fen: (outcome != Outcome::NotInJournal).then_some(sum.journal_fen),
                bill_fen: (outcome != Outcome::MissingFromBill).then_some(sum.bill_fen),
            }
        })
        .collect();
    let findings = matched
        .findings
        .iter()
        .filter(|f| f.outcome != Outcome::Matched)
        .map(html_finding)
        .collect();
    ReconciliationSection {
        date: matched.date.to_string(),
        source: source.to_owned(),
        totals,
        outcomes,
        findings,
    }
}

fn html_finding(finding: &Finding) -> HtmlFinding {
    // As matching judges a status that differs: `resume` settles these.
    let unresolved = finding.journal.as_ref().map(|j| {
        let status = j.state.status();
        status.is_unresolved() || status == Status::Abnormal
    });
    HtmlFinding {
        outcome: finding.outcome.as_str().to_owned(),
        refund_id: finding.refund_id.clone(),
        journal_fen: finding.journal.as_ref().map(|j| j.fen),
        bill_fen: finding.bill.as_ref().map(|b| b.fen),
        bill_day: finding.bill_day.map(|d| d.to_string()).unwrap_or_default(),
        note: finding.note.clone(),
        what_to_do: what_to_do(finding.outcome.as_str(), unresolved).to_owned(),
    }
}

/// The whole page of a reconciliation, times of its heading in Beijing time.
pub fn html_page(matched: &Matched, merchant: &str, source: &str) -> String {
    let zone = gateway_zone();
    let heading = Heading {
        merchants: vec![merchant.to_owned()],
        period: format!("bill of {} (Beijing day)", matched.date),
        zone: zone.name().to_owned(),
        generated_at: zone.now(),
    };
    render_page(&heading, &html_section(matched, source))
}

pub fn write_csv(matched: &Matched, out: impl Write, excel_bom: bool) -> Result<(), ReportError> {
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, out);
    if excel_bom {
        buffered.write_all("\u{feff}".as_bytes())?;
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(buffered);
    writer.write_record(COLUMNS)?;
    for finding in &matched.findings {
        let cells = cells(finding, matched.date);
        writer.write_record(cells.iter().map(|c| formula_safe(c).into_owned()))?;
    }
    writer.write_record(["#summary", "figure", "count", "amount_fen", "amount_yuan"])?;
    for (figure, count, fen) in summary_lines(matched) {
        writer.write_record([
            "#summary".to_owned(),
            formula_safe(&figure).into_owned(),
            count.to_string(),
            fen.map(|f| f.0.to_string()).unwrap_or_default(),
            fen.map(|f| f.to_string()).unwrap_or_default(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

fn write_xlsx(matched: &Matched, title: &str, out: std::fs::File) -> Result<(), ReportError> {
    let mut workbook = Workbook::new();
    let formats = Formats::default();
    let summary = workbook.add_worksheet();
    summary.set_name("summary")?;
    let header = ["figure", "count", "amount_fen", "amount_yuan"];
    write_figures(summary, title, header, summary_lines(matched), &formats)?;
    let sheet = workbook.add_worksheet();
    sheet.set_name("findings")?;
    sheet.write_string_with_format(0, 0, title, &formats.title)?;
    let mut widths = xlsx::Widths::new(&COLUMNS);
    for (col, name) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(1, col as u16, *name, &formats.header)?;
    }
    for (i, finding) in matched.findings.iter().enumerate() {
        let row = i as u32 + 2;
        for (col, cell) in cells(finding, matched.date).iter().enumerate() {
            widths.see(col, cell);
            if cell.is_empty() {
                continue;
            }
            match cell.parse::<u64>() {
                Ok(number) if NUMBERS.contains(&col) => {
                    sheet.write_number(row, col as u16, number as f64)?
                }
                // A typed string cell is never run as a formula.
                _ => sheet.write_string(row, col as u16, cell)?,
            };
        }
    }
    let note = COLUMNS.len() - 1;
    for (col, width) in widths.widths().into_iter().enumerate() {
        let width = if col == note { width.min(80.0) } else { width };
        sheet.set_column_width(col as u16, width)?;
    }
    sheet.set_freeze_panes(2, 3)?;
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_repeat_rows(1, 1)?;
    xlsx::save(&mut workbook, out)?;
    Ok(())
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
