//! The reconciliation export (`bulkrefund export`): one row per refund across
//! runs, with its retry chain, order ids, amounts, final state, gateway id,
//! times, attempts and source, then totals per status. CSV (formula-safe, an
//! optional BOM) or XLSX (a frozen header, amounts as numbers with two decimals,
//! times as dates, totals on a second sheet). Rows stream from the journal to
//! the file: the export never holds them all.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

use super::results::formula_safe;
use super::summary::{StatusCounts, STATUSES};
use crate::exit::UsageError;
use crate::journal::State;
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

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub batch: Option<i64>,
    /// RFC 3339 UTC bounds on when a refund was first sent (or recorded, if never sent).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Statuses as the results file names them; empty for all.
    pub statuses: Vec<String>,
}

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

/// The journal states a status stands for.
fn states_of(status: &str) -> Result<Vec<&'static str>, UsageError> {
    let states: Vec<&'static str> = crate::journal::state::ALL
        .into_iter()
        .filter(|s| s.status() == status)
        .map(State::as_str)
        .collect();
    if states.is_empty() {
        return Err(UsageError(format!(
            "--status {status:?}: a refund's status is one of succeeded, failed, review, processing, unknown, pending"
        )));
    }
    Ok(states)
}

fn order_ids(fields: &std::collections::BTreeMap<String, String>) -> (String, String) {
    let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
    if fields.contains_key("out_trade_id") {
        (get("out_trade_id"), get("original_wk_trade_id"))
    } else {
        (get("third_order_id"), get("leshua_order_id"))
    }
}

/// One export row, as text (the CSV's cells).
fn rows(
    conn: &Connection,
    filter: &Filter,
    mut each: impl FnMut(&[String], &str, Fen) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut states = Vec::new();
    for status in &filter.statuses {
        states.extend(states_of(status)?);
    }
    let state_list = if states.is_empty() {
        "1".to_owned()
    } else {
        format!(
            "f.state IN ({})",
            states
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let sql = format!(
        "SELECT f.profile, f.scope, f.refund_id, p.refund_id, f.fields, f.amount_fen, f.state, f.gateway_refund_id,
                f.error_code, f.error_message, f.attempts, f.first_sent_at, f.finished_at, f.batch_id, b.file_name, f.line
         FROM refunds f LEFT JOIN refunds p ON p.id = f.retry_of JOIN batches b ON b.id = f.batch_id
         WHERE (?1 IS NULL OR f.batch_id = ?1)
           AND (?2 IS NULL OR COALESCE(f.first_sent_at, f.created_at) >= ?2)
           AND (?3 IS NULL OR COALESCE(f.first_sent_at, f.created_at) < ?3)
           AND {state_list}
         ORDER BY f.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut query = stmt.query(rusqlite::params![filter.batch, filter.since, filter.until])?;
    while let Some(row) = query.next()? {
        let text = |i: usize| -> rusqlite::Result<String> {
            Ok(row.get::<_, Option<String>>(i)?.unwrap_or_default())
        };
        let scope = text(1)?;
        let fields: std::collections::BTreeMap<String, String> = serde_json::from_str(&text(4)?)?;
        let (order_id, gateway_order_id) = order_ids(&fields);
        let fen = Fen(row.get::<_, i64>(5)? as u64);
        let state = text(6)?;
        let status = State::parse(&state).map_or("unknown", State::status);
        let cells = [
            text(0)?,
            scope
                .split_once(':')
                .map(|(_, m)| m.to_owned())
                .unwrap_or(scope.clone()),
            text(2)?,
            text(3)?,
            order_id,
            gateway_order_id,
            fen.0.to_string(),
            fen.to_string(),
            status.to_owned(),
            text(7)?,
            text(8)?,
            text(9)?,
            row.get::<_, i64>(10)?.to_string(),
            text(11)?,
            text(12)?,
            row.get::<_, i64>(13)?.to_string(),
            text(14)?,
            row.get::<_, i64>(15)?.to_string(),
        ];
        each(&cells, status, fen)?;
    }
    Ok(())
}

/// Writes the export to a file; returns the totals it wrote.
pub fn export(
    conn: &Connection,
    filter: &Filter,
    out: &Path,
    format: ExportFormat,
    excel_bom: bool,
) -> anyhow::Result<StatusCounts> {
    match format {
        ExportFormat::Csv => {
            let file = std::fs::File::create(out)
                .with_context(|| format!("cannot write '{}'", out.display()))?;
            export_csv(conn, filter, file, excel_bom)
        }
        ExportFormat::Xlsx => export_xlsx(conn, filter, out),
    }
}

/// Writes the export as CSV to any writer (a file, or standard output for `--out -`).
pub fn export_csv(
    conn: &Connection,
    filter: &Filter,
    out: impl Write,
    excel_bom: bool,
) -> anyhow::Result<StatusCounts> {
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, out);
    if excel_bom {
        buffered.write_all("\u{feff}".as_bytes())?;
    }
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(buffered);
    writer.write_record(COLUMNS)?;
    let mut totals = StatusCounts::default();
    rows(conn, filter, |cells, status, fen| {
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
    let mut rows: Vec<(&'static str, u64, Fen)> = STATUSES
        .into_iter()
        .map(|s| (s, totals.get(s).0, totals.get(s).1))
        .filter(|(_, count, _)| *count > 0)
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

fn export_xlsx(conn: &Connection, filter: &Filter, out: &Path) -> anyhow::Result<StatusCounts> {
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
        rows(conn, filter, |cells, status, fen| {
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
    workbook
        .save(out)
        .with_context(|| format!("cannot write '{}'", out.display()))?;
    Ok(totals)
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[String],
    fen: Fen,
    money: &Format,
    time: &Format,
) -> anyhow::Result<()> {
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
        assert!(states_of("pending").unwrap().contains(&"retry_wait"));
        assert!(states_of("invalid").is_err());
    }
}
