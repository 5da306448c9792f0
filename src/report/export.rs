//! The reconciliation export (`bulkrefund export`): one row per gateway
//! refund across runs, with its retry chain, order ids, amounts, status, gateway
//! id, local times, attempts and source, the gateway's success time and the
//! day the refund counts for, then the money (README, "The money"): intents
//! per status, and refunded per gateway day (the gateway's success time in
//! Beijing time, else bulkrefund's: journal/days.rs, the one definition,
//! with a note of how many bulkrefund's clock placed). CSV (formula-safe, an
//! optional BOM) or XLSX (a title row, a frozen header, amounts as numbers with
//! two decimals, times as dates, a summary sheet and a "by day" sheet; its
//! layout and print setup are [`super::xlsx`]'s). Rows stream from the journal
//! to the file: the export never holds them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Workbook, Worksheet};

use super::results::formula_safe;
use super::summary::{IntentMoney, Sum};
use super::xlsx::{self, write_figures, yuan_number, Formats};
use super::ReportError;
use crate::exit::UsageError;
use crate::journal::days::{self, DayBasis};
use crate::journal::reports::ExportRow;
use crate::journal::{Journal, Status};
use crate::money::Fen;
use crate::zone::Zone;

pub const COLUMNS: [&str; 22] = [
    "profile",
    "merchant_id",
    "refund_id",
    "retry_of",
    "retried_as",
    "order_id",
    "gateway_order_id",
    "amount_fen",
    "amount_yuan",
    "status",
    "gateway_refund_id",
    "error_code",
    "error_message",
    "attempts",
    "first_sent_at",
    "finished_at",
    "batch_id",
    "source_file",
    "line",
    // Appended, never reordered: readers may pick columns by place.
    "gateway_success_at",
    "day",
    "day_basis",
];

/// Columns that hold numbers or times rather than text, by index in [`COLUMNS`].
const AMOUNT_FEN: usize = 7;
const AMOUNT_YUAN: usize = 8;
const MESSAGE: usize = 12;
const ATTEMPTS: usize = 13;
const FIRST_SENT: usize = 14;
const FINISHED: usize = 15;
const BATCH: usize = 16;
const LINE: usize = 18;
const GATEWAY_SUCCESS: usize = 19;

/// What a link that was retried under a new id shows as its status: its own
/// failure is in its error columns, and its intent's status is its retry's.
pub const RETRIED: &str = "retried";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    /// The format `--out` names by its extension, checked against `--format`
    /// when both are given. `-` (standard output) is CSV.
    pub fn for_output(out: &Path, given: Option<ExportFormat>) -> Result<ExportFormat, UsageError> {
        let extension = out
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let inferred = match extension.as_deref() {
            _ if out.as_os_str() == "-" => Some(ExportFormat::Csv),
            Some("csv") => Some(ExportFormat::Csv),
            Some("xlsx") => Some(ExportFormat::Xlsx),
            _ => None,
        };
        match (inferred, given) {
            (Some(inferred), Some(given)) if inferred != given => Err(UsageError(format!(
                "--out '{}' names a {} file, but --format says {}: make them agree",
                out.display(),
                inferred.name(),
                given.name()
            ))),
            (Some(format), _) | (None, Some(format)) => Ok(format),
            (None, None) => Err(UsageError(format!(
                "--out '{}': the export is written as CSV (.csv) or Excel (.xlsx); end the name with one of them, or give --format",
                out.display()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// Which refunds an export holds.
pub use crate::journal::reports::ExportFilter as Filter;

/// What the export's title says besides the merchants: the period as the
/// operator asked for it, and the zone its times are in.
#[derive(Clone, Debug)]
pub struct Heading {
    pub period: String,
    pub zone: Zone,
}

impl Heading {
    fn title(&self, merchants: &[String], generated_at: &str) -> String {
        let merchants = match merchants {
            [] => "no refunds".to_owned(),
            [one] => format!("merchant {one}"),
            many => format!("merchants {}", many.join(", ")),
        };
        format!(
            "bulkrefund export · {merchants} · {} · time zone {} · generated {generated_at}",
            self.period,
            self.zone.name()
        )
    }
}

/// The money of an export: intents per status (each chain counted once, by
/// its last link), the links retried under a new id (no money of their own),
/// and refunded per gateway day ([`days`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportTotals {
    pub intents: IntentMoney,
    pub retried: u64,
    /// Refunded per gateway day (`2026-11-30`, Beijing time).
    pub by_day: BTreeMap<String, Sum>,
    /// Of each day's refunded, how many bulkrefund's clock placed (no
    /// gateway time); days without any are absent.
    pub by_our_clock: BTreeMap<String, u64>,
}

/// The day a refund counts for, as the export writes it.
fn day_of(row: &ExportRow) -> String {
    row.counted
        .day()
        .map_or_else(|| "unknown".to_owned(), |d| d.to_string())
}

impl ExportTotals {
    fn add(&mut self, row: &ExportRow) {
        if row.retried_as.is_some() {
            self.retried += 1;
            return;
        }
        self.intents.add(row.status, 1, row.fen);
        if row.status == Status::Succeeded {
            let day = day_of(row);
            if row.counted.basis == DayBasis::Bulkrefund {
                *self.by_our_clock.entry(day.clone()).or_default() += 1;
            }
            self.by_day.entry(day).or_default().add(1, row.fen);
        }
    }

    /// How many of the refunded a day holds that bulkrefund's clock placed.
    pub fn placed_by_our_clock(&self, day: &str) -> u64 {
        self.by_our_clock.get(day).copied().unwrap_or(0)
    }

    /// What the "by day" figures say of their days ([`days::note`]).
    pub fn days_note(&self) -> String {
        days::note(self.by_our_clock.values().sum())
    }

    /// (figure, count, amount) in reading order: the intents' figures, then
    /// the retried links (a count, no amount).
    pub fn lines(&self) -> Vec<(String, u64, Option<Fen>)> {
        let mut lines: Vec<(String, u64, Option<Fen>)> = self
            .intents
            .lines()
            .into_iter()
            .map(|(label, sum)| (label.trim().to_owned(), sum.count, Some(sum.fen)))
            .collect();
        if self.retried > 0 {
            lines.push(("retried under a new id".into(), self.retried, None));
        }
        lines
    }

    /// The summary for the terminal.
    pub fn table(&self) -> String {
        let mut text = super::summary::table(self.intents.lines());
        if self.retried > 0 {
            text.push_str(&format!(
                "  {:<34} {:>7}  (their retries are counted above)\n",
                "retried under a new id", self.retried
            ));
        }
        text
    }
}

/// A status `--status` may name: one a refund can have.
pub fn refund_status(text: &str) -> Result<Status, UsageError> {
    Status::parse(text)
        .filter(|status| status.states().next().is_some())
        .ok_or_else(|| {
            UsageError(format!(
                "--status {text:?}: a refund's status is one of succeeded, failed, abnormal, review, processing, unknown, pending"
            ))
        })
}

/// The export's cells for one refund, in [`COLUMNS`] order.
fn cells(row: &ExportRow, zone: &Zone) -> [String; 22] {
    let (order_id, gateway_order_id) = row.gateway.spec().order_ids(&row.fields);
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let time = |value: &Option<String>| value.as_deref().map(|t| zone.show(t)).unwrap_or_default();
    let status = match row.retried_as {
        Some(_) => RETRIED,
        None => row.status.as_str(),
    };
    [
        row.profile.clone(),
        row.merchant_id.clone(),
        row.refund_id.clone(),
        text(&row.retry_of),
        text(&row.retried_as),
        order_id.to_owned(),
        gateway_order_id.to_owned(),
        row.fen.0.to_string(),
        row.fen.to_string(),
        status.to_owned(),
        text(&row.gateway_refund_id),
        text(&row.error_code),
        text(&row.error_message),
        row.attempts.to_string(),
        time(&row.first_sent_at),
        time(&row.finished_at),
        row.batch_id.to_string(),
        row.source_file.clone(),
        row.line.to_string(),
        time(&row.gateway_success_at),
        day_of(row),
        row.counted.basis.as_str().to_owned(),
    ]
}

/// Every exported refund as its cells, its amount and its local times,
/// counted into `totals` as it passes.
fn rows(
    journal: &Journal,
    filter: &Filter,
    zone: &Zone,
    totals: &mut ExportTotals,
    mut each: impl FnMut(&[String], Fen) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    journal.export_rows(filter, |row| {
        totals.add(&row);
        each(&cells(&row, zone), row.fen)
    })
}

/// Writes the export to a file, whole or not at all; returns the totals it wrote.
pub fn export(
    journal: &Journal,
    filter: &Filter,
    heading: &Heading,
    out: &Path,
    format: ExportFormat,
    excel_bom: bool,
) -> Result<ExportTotals, ReportError> {
    super::write_whole(out, "the export", |file| match format {
        ExportFormat::Csv => export_csv(journal, filter, &heading.zone, file, excel_bom),
        ExportFormat::Xlsx => export_xlsx(journal, filter, heading, file),
    })
}

/// Writes the export as CSV to any writer (a file, or standard output for `--out -`).
/// After the rows: `#totals` lines (the money), `#by_day` lines (refunded
/// per gateway day, with how many bulkrefund's clock placed) and a
/// `#by_day_note` line saying whose days they are, each marked in its first cell.
pub fn export_csv(
    journal: &Journal,
    filter: &Filter,
    zone: &Zone,
    out: impl Write,
    excel_bom: bool,
) -> Result<ExportTotals, ReportError> {
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, out);
    if excel_bom {
        buffered.write_all("\u{feff}".as_bytes())?;
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(buffered);
    writer.write_record(COLUMNS)?;
    let mut totals = ExportTotals::default();
    rows(journal, filter, zone, &mut totals, |cells, _| {
        writer.write_record(cells.iter().map(|c| formula_safe(c).into_owned()))?;
        Ok(())
    })?;
    writer.write_record(["#totals", "figure", "count", "amount_fen", "amount_yuan"])?;
    for (figure, count, fen) in totals.lines() {
        writer.write_record([
            "#totals".to_owned(),
            figure,
            count.to_string(),
            fen.map(|f| f.0.to_string()).unwrap_or_default(),
            fen.map(|f| f.to_string()).unwrap_or_default(),
        ])?;
    }
    writer.write_record([
        "#by_day",
        "day",
        "refunded_count",
        "amount_fen",
        "amount_yuan",
        "placed_by_bulkrefund_clock",
    ])?;
    for (day, sum) in &totals.by_day {
        writer.write_record([
            "#by_day",
            day,
            &sum.count.to_string(),
            &sum.fen.0.to_string(),
            &sum.fen.to_string(),
            &totals.placed_by_our_clock(day).to_string(),
        ])?;
    }
    writer.write_record(["#by_day_note", &totals.days_note()])?;
    writer.flush()?;
    Ok(totals)
}

fn export_xlsx(
    journal: &Journal,
    filter: &Filter,
    heading: &Heading,
    out: std::fs::File,
) -> Result<ExportTotals, ReportError> {
    let title = heading.title(&journal.export_merchants(filter)?, &heading.zone.now());
    let mut workbook = Workbook::new();
    let formats = Formats::default();
    // The summary comes first in the workbook, filled in once the rows are counted.
    workbook.add_worksheet().set_name("summary")?;
    let mut totals = ExportTotals::default();
    {
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name("refunds")?;
        sheet.write_string_with_format(0, 0, &title, &formats.title)?;
        for (col, name) in COLUMNS.iter().enumerate() {
            sheet.write_string_with_format(1, xlsx::position(col), *name, &formats.header)?;
        }
        let mut widths = xlsx::Widths::new(&COLUMNS);
        let mut row_index = 2u32;
        rows(journal, filter, &heading.zone, &mut totals, |cells, fen| {
            write_row(sheet, row_index, cells, fen, &formats, &heading.zone)?;
            for (col, cell) in cells.iter().enumerate() {
                match col {
                    AMOUNT_YUAN => widths.see(col, &fen.grouped()),
                    // Shown as `2026-11-30 23:30:00`.
                    FIRST_SENT | FINISHED | GATEWAY_SUCCESS if !cell.is_empty() => {
                        widths.see(col, cell.get(..19).unwrap_or(cell))
                    }
                    _ => widths.see(col, cell),
                }
            }
            row_index += 1;
            Ok(())
        })?;
        xlsx::lay_out_refunds(sheet, &widths)?;
    }
    let summary = workbook.worksheet_from_name("summary")?;
    let header = ["figure", "count", "amount_fen", "amount_yuan"];
    write_figures(summary, &title, header, totals.lines(), &formats)?;
    let by_day = workbook.add_worksheet();
    by_day.set_name("by day")?;
    let header = ["day", "refunded_count", "amount_fen", "amount_yuan"];
    let days = totals
        .by_day
        .iter()
        .map(|(day, sum)| (day.clone(), sum.count, Some(sum.fen)));
    write_figures(by_day, &title, header, days, &formats)?;
    // Whose clock placed each day's refunds, and the note saying so.
    by_day.write_string_with_format(1, 4, "placed by bulkrefund's clock", &formats.header)?;
    by_day.set_column_width(4, 28.0)?;
    for (i, day) in totals.by_day.keys().enumerate() {
        by_day.write_number(i as u32 + 2, 4, totals.placed_by_our_clock(day) as f64)?;
    }
    let below = totals.by_day.len() as u32 + 3;
    by_day.write_string(below, 0, totals.days_note())?;
    xlsx::save(&mut workbook, out)?;
    Ok(totals)
}

/// One refund's cells, each at its column's place in print order.
fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[String],
    fen: Fen,
    formats: &Formats,
    zone: &Zone,
) -> Result<(), ReportError> {
    for (col, cell) in cells.iter().enumerate() {
        let c = xlsx::position(col);
        match col {
            AMOUNT_FEN => sheet.write_number(row, c, fen.0 as f64)?,
            AMOUNT_YUAN => {
                sheet.write_number_with_format(row, c, yuan_number(fen), &formats.money)?
            }
            ATTEMPTS | BATCH | LINE => {
                sheet.write_number(row, c, cell.parse::<f64>().unwrap_or_default())?
            }
            // Excel has no zones: the local wall-clock time, the zone being in the title.
            FIRST_SENT | FINISHED | GATEWAY_SUCCESS if !cell.is_empty() => {
                match zone.wall_clock(cell) {
                    Some(local) => {
                        let datetime = ExcelDateTime::parse_from_str(&local)?;
                        sheet.write_datetime_with_format(row, c, datetime, &formats.time)?
                    }
                    None => sheet.write_string(row, c, cell)?,
                }
            }
            // A long message wraps in its row, made tall enough.
            MESSAGE if xlsx::message_lines(cell) > 1 => {
                xlsx::fit_message(sheet, row, xlsx::message_lines(cell))?;
                sheet.write_string_with_format(row, c, cell, &formats.wrapped)?
            }
            // A typed string cell is never run as a formula: no `'` is needed here.
            _ => sheet.write_string(row, c, cell)?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::State;
    // The sheet's layout as it meets this file's columns.
    use crate::report::xlsx::{
        display_width, message_lines, position, Widths, MESSAGE, MESSAGE_MAX, PRINT_ORDER,
        READER_COLUMNS,
    };

    #[test]
    fn statuses_and_formats() {
        let pending = refund_status("pending").unwrap();
        assert!(pending.states().any(|s| s == State::RetryWait));
        assert!(
            refund_status("invalid").is_err(),
            "a row's verdict, not a refund's"
        );
        let format = |out: &str, given| ExportFormat::for_output(Path::new(out), given);
        assert_eq!(format("nov.xlsx", None).unwrap(), ExportFormat::Xlsx);
        assert_eq!(format("NOV.CSV", None).unwrap(), ExportFormat::Csv);
        assert_eq!(format("-", None).unwrap(), ExportFormat::Csv);
        assert_eq!(
            format("nov.txt", Some(ExportFormat::Csv)).unwrap(),
            ExportFormat::Csv
        );
        let unknown = format("nov.ods", None).unwrap_err().0;
        assert!(
            unknown.contains(".csv") && unknown.contains(".xlsx"),
            "{unknown}"
        );
        let clash = format("nov.xlsx", Some(ExportFormat::Csv)).unwrap_err().0;
        assert!(clash.contains("make them agree"), "{clash}");
    }

    #[test]
    fn an_abnormal_refund_is_a_figure_of_its_own() {
        let abnormal = refund_status("abnormal").unwrap();
        assert_eq!(abnormal.states().collect::<Vec<_>>(), [State::Abnormal]);
        let mut totals = ExportTotals::default();
        totals.intents.add(Status::Succeeded, 1, Fen(100));
        totals.intents.add(Status::Failed, 1, Fen(13));
        let without: Vec<String> = totals.lines().into_iter().map(|l| l.0).collect();
        assert_eq!(
            without,
            ["requested", "refunded", "failed", "in review", "unresolved"]
        );
        totals.intents.add(Status::Abnormal, 1, Fen(17));
        totals.retried = 1;
        assert_eq!(
            totals.lines(),
            [
                ("requested".to_owned(), 3, Some(Fen(130))),
                ("refunded".to_owned(), 1, Some(Fen(100))),
                ("failed".to_owned(), 1, Some(Fen(13))),
                ("in review".to_owned(), 0, Some(Fen(0))),
                ("abnormal".to_owned(), 1, Some(Fen(17))),
                ("unresolved".to_owned(), 0, Some(Fen(0))),
                ("retried under a new id".to_owned(), 1, None),
            ]
        );
        assert_eq!(
            totals.table(),
            [
                "  requested                                3            1.30 yuan",
                "  refunded                                 1            1.00 yuan",
                "  failed                                   1            0.13 yuan",
                "  in review                                0            0.00 yuan",
                "  abnormal                                 1            0.17 yuan",
                "  unresolved                               0            0.00 yuan",
                "  retried under a new id                   1  (their retries are counted above)",
                "",
            ]
            .join("\n")
        );
    }

    #[test]
    fn print_order_holds_every_column_once() {
        let mut seen = PRINT_ORDER.to_vec();
        seen.sort_unstable();
        assert_eq!(seen, (0..COLUMNS.len()).collect::<Vec<_>>());
        let first: Vec<&str> = PRINT_ORDER[..READER_COLUMNS]
            .iter()
            .map(|&c| COLUMNS[c])
            .collect();
        assert_eq!(
            first,
            [
                "refund_id",
                "order_id",
                "amount_yuan",
                "status",
                "finished_at",
                "retried_as",
                "error_code",
                "error_message"
            ]
        );
        assert_eq!(COLUMNS[MESSAGE], "error_message");
        assert_eq!(position(2), 0, "the refund id comes first");
    }

    #[test]
    fn a_retry_id_fits_its_column() {
        let mut widths = Widths::new(&COLUMNS);
        let (refund_id, retried_as) = (2, 4);
        widths.see(refund_id, "RF202611300029R2");
        widths.see(retried_as, "RF202611300029R2");
        widths.see(refund_id, "RF202611300029");
        let all = widths.widths();
        // 13 digits, 3 capitals a little wider, and a margin.
        assert_eq!(all[refund_id], 19.0);
        assert_eq!(all[retried_as], 19.0);
        // A header longer than its values sets the width.
        assert_eq!(all[16], "batch_id".len() as f64 + 2.0);
        assert_eq!(widths.scale(), 100, "short columns print at full size");
    }

    #[test]
    fn wide_characters_long_messages_and_the_scale() {
        assert_eq!(display_width("退款金额(元)"), 12.0);
        assert_eq!(display_width("abc"), 3.0);
        let mut widths = Widths::new(&COLUMNS);
        widths.see(17, &"批次".repeat(30));
        widths.see(MESSAGE, &"x".repeat(300));
        let all = widths.widths();
        assert_eq!(all[17], 122.0, "the source file is never cut");
        assert_eq!(all[MESSAGE], MESSAGE_MAX);
        assert_eq!(message_lines(&"x".repeat(300)), 6);
        assert_eq!(message_lines("refundable balance too low"), 1);
        // The reader's columns no longer fit at full size: shrunk, to 8 pt at least.
        widths.see(5, &"9".repeat(40));
        assert_eq!(widths.scale(), 73);
    }
}
