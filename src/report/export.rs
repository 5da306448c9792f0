//! The reconciliation export (`bulkrefund export`): one row per refund across
//! runs, with its retry chain, order ids, amounts, final state, gateway id,
//! times, attempts and source, then totals per status. CSV (formula-safe, an
//! optional BOM) or XLSX (a frozen header, amounts as numbers with two decimals,
//! times as dates, totals on a second sheet). Rows stream from the journal to
//! the file: the export never holds them all.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

use super::results::formula_safe;
use super::summary::StatusCounts;
use super::ReportError;
use crate::exit::UsageError;
use crate::journal::reports::ExportRow;
use crate::journal::{Journal, Status};
use crate::money::Fen;

pub const COLUMNS: [&str; 18] = [
    "profile",
    "merchant_id",
    "refund_id",
    "retry_of",
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
];

/// Columns that hold numbers or times rather than text, by index in [`COLUMNS`].
const AMOUNT_FEN: usize = 6;
const AMOUNT_YUAN: usize = 7;
const ATTEMPTS: usize = 12;
const FIRST_SENT: usize = 13;
const FINISHED: usize = 14;
const BATCH: usize = 15;
const LINE: usize = 17;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

/// Which refunds an export holds.
pub use crate::journal::reports::ExportFilter as Filter;

/// Turns `--since`/`--until` text (a date, or an RFC 3339 time) into the
/// journal's time format. A date as `until` includes that whole day.
pub fn parse_bound(text: &str, is_until: bool) -> Result<String, UsageError> {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    let bound = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if is_until {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
    } else {
        DateTime::parse_from_rfc3339(text)
            .map_err(|_| UsageError(format!("{text:?} is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T08:00:00Z)")))?
            .with_timezone(&Utc)
    };
    Ok(bound.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A status `--status` may name: one a refund can have.
pub fn refund_status(text: &str) -> Result<Status, UsageError> {
    Status::parse(text)
        .filter(|status| status.states().next().is_some())
        .ok_or_else(|| {
            UsageError(format!(
                "--status {text:?}: a refund's status is one of succeeded, failed, review, processing, unknown, pending"
            ))
        })
}

/// The export's cells for one refund, in [`COLUMNS`] order.
fn cells(row: ExportRow) -> [String; 18] {
    let (order_id, gateway_order_id) = row.gateway.spec().order_ids(&row.fields);
    let (order_id, gateway_order_id) = (order_id.to_owned(), gateway_order_id.to_owned());
    let text = |value: Option<String>| value.unwrap_or_default();
    [
        row.profile,
        row.merchant_id,
        row.refund_id,
        text(row.retry_of),
        order_id,
        gateway_order_id,
        row.fen.0.to_string(),
        row.fen.to_string(),
        row.status.as_str().to_owned(),
        text(row.gateway_refund_id),
        text(row.error_code),
        text(row.error_message),
        row.attempts.to_string(),
        text(row.first_sent_at),
        text(row.finished_at),
        row.batch_id.to_string(),
        row.source_file,
        row.line.to_string(),
    ]
}

/// Every exported refund as its cells, with its status and amount for the totals.
fn rows(
    journal: &Journal,
    filter: &Filter,
    mut each: impl FnMut(&[String], Status, Fen) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    journal.export_rows(filter, |row| {
        let (status, fen) = (row.status, row.fen);
        each(&cells(row), status, fen)
    })
}

/// Writes the export to a file; returns the totals it wrote.
pub fn export(
    journal: &Journal,
    filter: &Filter,
    out: &Path,
    format: ExportFormat,
    excel_bom: bool,
) -> Result<StatusCounts, ReportError> {
    match format {
        ExportFormat::Csv => {
            let file = std::fs::File::create(out).map_err(|source| ReportError::Create {
                what: "the export",
                path: out.to_owned(),
                source,
            })?;
            export_csv(journal, filter, file, excel_bom)
        }
        ExportFormat::Xlsx => export_xlsx(journal, filter, out),
    }
}

/// Writes the export as CSV to any writer (a file, or standard output for `--out -`).
pub fn export_csv(
    journal: &Journal,
    filter: &Filter,
    out: impl Write,
    excel_bom: bool,
) -> Result<StatusCounts, ReportError> {
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, out);
    if excel_bom {
        buffered.write_all("\u{feff}".as_bytes())?;
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(buffered);
    writer.write_record(COLUMNS)?;
    let mut totals = StatusCounts::default();
    rows(journal, filter, |cells, status, fen| {
        totals.add(status, 1, fen);
        writer.write_record(cells.iter().map(|c| formula_safe(c).into_owned()))?;
        Ok(())
    })?;
    // The totals follow the rows, each marked in its first cell.
    writer.write_record(["#totals", "status", "count", "amount_fen", "amount_yuan"])?;
    for (status, count, fen) in total_rows(&totals) {
        writer.write_record([
            "#totals",
            status,
            &count.to_string(),
            &fen.0.to_string(),
            &fen.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(totals)
}

/// (status, count, amount) per status with rows, then `all`.
pub fn total_rows(totals: &StatusCounts) -> Vec<(&'static str, u64, Fen)> {
    let mut rows: Vec<(&'static str, u64, Fen)> = totals
        .rows()
        .map(|(status, count, fen)| (status.as_str(), count, fen))
        .collect();
    let (count, fen) = totals.total();
    rows.push(("all", count, fen));
    rows
}

/// Excel stores every number as a binary double. Amounts are exact in fen
/// (integers far below 2^53); the yuan column is for reading, and is the only
/// place an amount becomes a float: at the spreadsheet's edge.
fn yuan_number(fen: Fen) -> f64 {
    fen.0 as f64 / 100.0
}

fn export_xlsx(
    journal: &Journal,
    filter: &Filter,
    out: &Path,
) -> Result<StatusCounts, ReportError> {
    let mut workbook = Workbook::new();
    let header = Format::new().set_bold();
    let money = Format::new().set_num_format("0.00");
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let mut totals = StatusCounts::default();
    {
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name("refunds")?;
        for (col, name) in COLUMNS.iter().enumerate() {
            let width = match col {
                FIRST_SENT | FINISHED => 20.0,
                11 | 16 => 40.0,
                _ => (name.len() as f64 + 4.0).max(12.0),
            };
            sheet.set_column_width(col as u16, width)?;
            sheet.write_string_with_format(0, col as u16, *name, &header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        let mut row_index = 1u32;
        rows(journal, filter, |cells, status, fen| {
            totals.add(status, 1, fen);
            write_row(sheet, row_index, cells, fen, &money, &time)?;
            row_index += 1;
            Ok(())
        })?;
    }
    let sheet = workbook.add_worksheet();
    sheet.set_name("totals")?;
    for (col, name) in ["status", "count", "amount_fen", "amount_yuan"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(0, col as u16, *name, &header)?;
        sheet.set_column_width(col as u16, 14.0)?;
    }
    for (i, (status, count, fen)) in total_rows(&totals).into_iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, status)?;
        sheet.write_number(row, 1, count as f64)?;
        sheet.write_number(row, 2, fen.0 as f64)?;
        sheet.write_number_with_format(row, 3, yuan_number(fen), &money)?;
    }
    workbook.save(out)?;
    Ok(totals)
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[String],
    fen: Fen,
    money: &Format,
    time: &Format,
) -> Result<(), ReportError> {
    for (col, cell) in cells.iter().enumerate() {
        let c = col as u16;
        match col {
            AMOUNT_FEN => sheet.write_number(row, c, fen.0 as f64)?,
            AMOUNT_YUAN => sheet.write_number_with_format(row, c, yuan_number(fen), money)?,
            ATTEMPTS | BATCH | LINE => {
                sheet.write_number(row, c, cell.parse::<f64>().unwrap_or_default())?
            }
            FIRST_SENT | FINISHED if !cell.is_empty() => {
                let datetime = ExcelDateTime::parse_from_str(cell)?;
                sheet.write_datetime_with_format(row, c, datetime, time)?
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

    #[test]
    fn bounds_from_dates_and_times() {
        assert_eq!(
            parse_bound("2026-11-01", false).unwrap(),
            "2026-11-01T00:00:00.000Z"
        );
        assert_eq!(
            parse_bound("2026-11-30", true).unwrap(),
            "2026-12-01T00:00:00.000Z"
        );
        assert_eq!(
            parse_bound("2026-11-01T08:00:00+08:00", false).unwrap(),
            "2026-11-01T00:00:00.000Z"
        );
        assert!(parse_bound("yesterday", false).is_err());
        let pending = refund_status("pending").unwrap();
        assert!(pending.states().any(|s| s == State::RetryWait));
        assert!(
            refund_status("invalid").is_err(),
            "a row's verdict, not a refund's"
        );
    }
}
