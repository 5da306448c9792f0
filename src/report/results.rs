//! The results CSV (docs/specs/batch-files.md, "Output"): one row per input data row, in
//! input order, every input column first, then what happened. Read back from
//! the journal, so `resume` can rewrite it at any time. Written to a temporary
//! file and renamed, so a crash never leaves half a results file.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use super::ReportError;
use crate::journal::reports::ResultsRow;
use crate::journal::{Journal, RowStatus, Status};
use crate::zone::Zone;

pub const ADDED_COLUMNS: [&str; 11] = [
    "line",
    "status",
    "refund_fen",
    "gateway_refund_id",
    "error_code",
    "error_message",
    "attempts",
    "first_sent_at",
    "finished_at",
    "batch_id",
    "paid_by_batch",
];

/// The results file's header: the input's columns, then ours. An input column
/// named like one of ours (compared trimmed and case-insensitively) is written
/// as `input_NAME` (`input_input_NAME` if that is taken too), so that a reader
/// looking for `status` always finds bulkrefund's.
pub fn header(input: &[String]) -> Vec<String> {
    let taken = |name: &str, names: &[String]| {
        let name = name.trim().to_ascii_lowercase();
        ADDED_COLUMNS.contains(&name.as_str())
            || names.iter().any(|n| n.trim().to_ascii_lowercase() == name)
    };
    let mut names: Vec<String> = Vec::with_capacity(input.len() + ADDED_COLUMNS.len());
    for (i, name) in input.iter().enumerate() {
        let mut written = name.clone();
        let ours = ADDED_COLUMNS.contains(&name.trim().to_ascii_lowercase().as_str());
        while ours && (taken(&written, &names) || taken(&written, &input[i + 1..])) {
            written = format!("input_{}", written.trim());
        }
        names.push(written);
    }
    names.extend(ADDED_COLUMNS.iter().map(|c| c.to_string()));
    names
}

/// A text cell a spreadsheet would run as a formula gets a leading `'`.
pub fn formula_safe(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A record's cells made formula-safe: for every CSV a spreadsheet may open.
pub fn formula_safe_record<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> Vec<String> {
    cells
        .into_iter()
        .map(|cell| formula_safe(cell.as_ref()).into_owned())
        .collect()
}

/// Writes the results of `batch` to `path`; returns the number of rows.
pub fn write(
    journal: &Journal,
    batch: i64,
    path: &Path,
    excel: bool,
    zone: &Zone,
) -> Result<u64, ReportError> {
    let header = journal.batch_header(batch)?;
    super::write_whole(path, "the results file", |file| {
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, file);
        if excel {
            buffered.write_all("\u{feff}".as_bytes())?;
        }
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(buffered);
        let names: Vec<String> = self::header(&header)
            .iter()
            .map(|h| formula_safe(h).into_owned())
            .collect();
        out.write_record(&names)?;
        let mut count = 0;
        journal.results_rows(batch, |row| -> Result<(), ReportError> {
            out.write_record(record(row, header.len(), batch, zone))?;
            count += 1;
            Ok(())
        })?;
        out.into_inner()
            .map_err(|e| ReportError::Io(e.into_error()))?
            .flush()?;
        Ok(count)
    })
}

/// One results line: the row's cells (exactly as many as the header: a row
/// with more, which is invalid and says so, never pushes them into
/// bulkrefund's own columns), then what happened.
fn record(row: ResultsRow, columns: usize, batch: i64, zone: &Zone) -> Vec<String> {
    let status = row.status();
    let message = match row.row_status {
        // A duplicate reports the row it repeats.
        Some(RowStatus::Duplicate) => Some(format!(
            "{}; that row is {}",
            row.error_message.clone().unwrap_or_default(),
            row.refund_status.map_or("not sent", Status::as_str)
        )),
        _ => row.error_message.clone(),
    };
    let code = match row.row_status {
        Some(RowStatus::Duplicate) => None,
        _ => row.error_code.clone(),
    };
    let text = |value: Option<String>| value.unwrap_or_default();
    let mut cells = row.cells;
    cells.resize(columns, String::new());
    let mut record: Vec<String> = cells.iter().map(|c| formula_safe(c).into_owned()).collect();
    record.push(row.line.to_string());
    record.push(status.as_str().to_owned());
    record.push(row.fen.map(|f| f.0.to_string()).unwrap_or_default());
    record.push(formula_safe(&text(row.gateway_refund_id)).into_owned());
    record.push(formula_safe(&text(code)).into_owned());
    record.push(formula_safe(&text(message)).into_owned());
    record.push(row.attempts.to_string());
    record.push(row.first_sent_at.map(|t| zone.show(&t)).unwrap_or_default());
    record.push(row.finished_at.map(|t| zone.show(&t)).unwrap_or_default());
    record.push(batch.to_string());
    // Which batch's gateway refund paid it: this one, or the earlier batch a
    // row repeating a paid refund was already paid by (README, "The money").
    record.push(match (row.row_status, status) {
        (None, Status::Succeeded) => row.owner_batch.map(|b| b.to_string()).unwrap_or_default(),
        _ => String::new(),
    });
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_columns_named_like_ours_are_renamed() {
        let input: Vec<String> = ["merchant_refund_id", "Status", "line", "input_line", "memo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let header = header(&input);
        assert_eq!(
            &header[..5],
            [
                "merchant_refund_id",
                "input_Status",
                "input_input_line",
                "input_line",
                "memo"
            ]
        );
        assert_eq!(&header[5..], ADDED_COLUMNS);
        let mut lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
        lower.sort();
        lower.dedup();
        assert_eq!(lower.len(), header.len(), "no two columns share a name");
    }

    #[test]
    fn formula_cells_are_escaped() {
        for cell in ["=SUM(A1)", "+1", "-1", "@cmd", "\tx", "\rx"] {
            assert_eq!(formula_safe(cell), format!("'{cell}"));
        }
        for cell in ["R1", "12.50", "", "退款", "a=b"] {
            assert_eq!(formula_safe(cell), cell);
        }
        assert_eq!(
            formula_safe_record(["=HYPERLINK(\"x\")", "R1"]),
            ["'=HYPERLINK(\"x\")", "R1"]
        );
    }
}
