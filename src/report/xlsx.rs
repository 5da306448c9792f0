//! How the XLSX export reads on a screen and on paper: the refunds sheet's
//! column order (what a reader needs first, the rest after), column widths
//! sized to the text written (the sheet streams in constant memory, so they are
//! counted as cells pass, not measured afterwards), the print setup (landscape
//! A4 at full size, the header row and the refund id on every page), the cell
//! formats, and saving the workbook so that a failed write is one clean error.
//! What goes in the cells is [`super::export`]'s.

use std::io::Write;

use rust_xlsxwriter::{Format, Workbook, Worksheet};

use super::ReportError;
use crate::money::Fen;

/// The refunds sheet's columns in print order, as indexes into
/// [`super::export::COLUMNS`]: first what a reader needs to know of a refund
/// (which, for which order, how much, where it stands, when, its retry, why
/// not), then the rest (gateway ids, merchant, profile, attempts, source).
pub const PRINT_ORDER: [usize; 22] = [
    2, 5, 8, 9, 15, 4, 11, 12, // refund_id … error_message
    3, 10, 6, 1, 0, 13, 14, 16, 17, 18, 7, // retry_of … amount_fen
    19, 20, 21, // gateway_success_at, day, day_basis
];
/// How many of [`PRINT_ORDER`] a reader needs: they fill the first pages
/// across; the rest print on the pages after them.
pub const READER_COLUMNS: usize = 8;
/// The error message's column: the one whose text may be long.
pub(super) const MESSAGE: usize = 12;
/// The widest the error message's column is made (in Excel's units, a
/// digit's width); a longer message wraps onto more lines of its row.
pub(super) const MESSAGE_MAX: f64 = 60.0;
/// What an A4 page across holds in landscape at full size between the
/// margins below, in Excel's units with each column's padding (as
/// LibreOffice prints it; Excel holds a little more).
const PAGE_UNITS: f64 = 120.0;
/// The smallest print scale: 11 pt text printed at 73 % is 8 pt.
const MIN_SCALE: f64 = 73.0;
/// A row's height per line of text, in points (Excel's default for 11 pt).
const LINE_HEIGHT: f64 = 15.0;

/// Where column `col` (of [`super::export::COLUMNS`]) is on the sheet.
pub fn position(col: usize) -> u16 {
    PRINT_ORDER
        .iter()
        .position(|&c| c == col)
        .expect("every column has a place") as u16
}

/// The width a text takes in a cell, in digit widths: East Asian wide
/// characters (Chinese file names, messages) take two, capitals and a few
/// broad letters a little more than one.
pub fn display_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x20000..=0x3FFFD => 2.0,
            _ if c.is_ascii_uppercase() || "mw@%&".contains(c) => 1.2,
            _ => 1.0,
        })
        .sum()
}

/// The widest text written in each column, as the rows pass.
#[derive(Clone, Debug)]
pub struct Widths {
    widest: Vec<f64>,
}

impl Widths {
    /// Starts from the header's names.
    pub fn new(header: &[&str]) -> Widths {
        Widths {
            widest: header.iter().map(|name| display_width(name)).collect(),
        }
    }

    /// Column `col` shows `text` in some row.
    pub fn see(&mut self, col: usize, text: &str) {
        let width = display_width(text);
        if width > self.widest[col] {
            self.widest[col] = width;
        }
    }

    /// Every column's width in Excel's units: its longest text and a
    /// margin; the error message's at most [`MESSAGE_MAX`].
    pub fn widths(&self) -> Vec<f64> {
        let mut widths: Vec<f64> = self.widest.iter().map(|w| w.ceil() + 2.0).collect();
        widths[MESSAGE] = widths[MESSAGE].min(MESSAGE_MAX);
        widths
    }

    /// The print scale that puts the reader's columns on one page across,
    /// never below [`MIN_SCALE`] (8 pt).
    pub fn scale(&self) -> u16 {
        let widths = self.widths();
        let reader: f64 = PRINT_ORDER[..READER_COLUMNS]
            .iter()
            .map(|&c| widths[c])
            .sum();
        (100.0 * PAGE_UNITS / reader)
            .floor()
            .clamp(MIN_SCALE, 100.0) as u16
    }
}

/// How many lines an error message takes in its column (wrapped past
/// [`MESSAGE_MAX`]): 1 for most. Its row is made that many lines high.
pub fn message_lines(message: &str) -> u32 {
    let per_line = MESSAGE_MAX - 2.0;
    (display_width(message) / per_line).ceil().max(1.0) as u32
}

/// Makes row `row` tall enough for a message of `lines` lines, which wraps.
pub fn fit_message(sheet: &mut Worksheet, row: u32, lines: u32) -> Result<(), ReportError> {
    sheet.set_row_height(row, LINE_HEIGHT * f64::from(lines))?;
    Ok(())
}

/// Sets the refunds sheet's widths and print setup once its rows are written:
/// landscape A4, the reader's columns on the first pages across (shrunk to
/// fit them, never below 8 pt) and the rest after, the header row and the
/// refund id repeated on every page, page numbers at the foot.
pub fn lay_out_refunds(sheet: &mut Worksheet, widths: &Widths) -> Result<(), ReportError> {
    for (col, width) in widths.widths().into_iter().enumerate() {
        sheet.set_column_width(position(col), width)?;
    }
    sheet.set_freeze_panes(2, 1)?;
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    sheet.set_print_scale(widths.scale());
    sheet.set_vertical_page_breaks(&[READER_COLUMNS as u32])?;
    sheet.set_repeat_rows(1, 1)?;
    sheet.set_repeat_columns(0, 0)?;
    sheet.set_print_gridlines(true);
    sheet.set_footer("&L&A&RPage &P of &N");
    Ok(())
}

pub struct Formats {
    pub title: Format,
    pub header: Format,
    pub money: Format,
    pub time: Format,
    pub wrapped: Format,
}

impl Default for Formats {
    fn default() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(12),
            header: Format::new().set_bold(),
            money: Format::new().set_num_format("#,##0.00"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            wrapped: Format::new().set_text_wrap(),
        }
    }
}

/// Excel stores every number as a binary double. Amounts are exact in fen
/// (integers far below 2^53); the yuan column is for reading, and is the only
/// place an amount becomes a float: at the spreadsheet's edge.
pub fn yuan_number(fen: Fen) -> f64 {
    fen.0 as f64 / 100.0
}

/// A sheet of a title row, a header row, then (label, count, amount) rows:
/// the summary and the "by day" sheets, four columns one page across.
pub fn write_figures(
    sheet: &mut Worksheet,
    title: &str,
    header: [&str; 4],
    figures: impl IntoIterator<Item = (String, u64, Option<Fen>)>,
    formats: &Formats,
) -> Result<(), ReportError> {
    sheet.write_string_with_format(0, 0, title, &formats.title)?;
    for (col, name) in header.iter().enumerate() {
        sheet.write_string_with_format(1, col as u16, *name, &formats.header)?;
        sheet.set_column_width(col as u16, if col == 0 { 30.0 } else { 16.0 })?;
    }
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(1, 1)?;
    for (i, (label, count, fen)) in figures.into_iter().enumerate() {
        let row = i as u32 + 2;
        sheet.write_string(row, 0, &label)?;
        sheet.write_number(row, 1, count as f64)?;
        if let Some(fen) = fen {
            sheet.write_number(row, 2, fen.0 as f64)?;
            sheet.write_number_with_format(row, 3, yuan_number(fen), &formats.money)?;
        }
    }
    Ok(())
}

/// Saves the workbook to `file`. The first failed write (a full disk) is
/// kept and every later one is let through unwritten, so that the zip
/// library finishes its archive quietly (else it prints its own debug text
/// to stderr as it is dropped) and the failure is returned once, as itself.
pub fn save(workbook: &mut Workbook, file: std::fs::File) -> Result<(), ReportError> {
    let mut latch = Latch {
        inner: std::io::BufWriter::with_capacity(1 << 16, file),
        failed: None,
    };
    workbook.save_to_writer(&mut latch)?;
    let _ = latch.flush();
    match latch.failed {
        Some(error) => Err(ReportError::Io(error)),
        None => Ok(()),
    }
}

/// A writer that keeps its first error and accepts (and drops) what follows.
struct Latch<W: Write> {
    inner: W,
    failed: Option<std::io::Error>,
}

impl<W: Write> Write for Latch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed.is_none() {
            if let Err(e) = self.inner.write_all(buf) {
                self.failed = Some(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed.is_none() {
            if let Err(e) = self.inner.flush() {
                self.failed = Some(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_one_clean_error() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        for row in 0..100 {
            sheet.write_string(row, 0, "x".repeat(1000)).unwrap();
        }
        let stderr = Stderr::capture();
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let error = save(&mut workbook, full).unwrap_err();
        let printed = stderr.release();
        assert_eq!(error.to_string(), "No space left on device (os error 28)");
        assert!(!printed.contains("ZipWriter"), "{printed}");
    }

    /// File descriptor 2 sent to a file for a while: the zip library writes
    /// to it directly, past the test harness's capture.
    struct Stderr {
        saved: i32,
        file: std::fs::File,
    }

    impl Stderr {
        fn capture() -> Stderr {
            use std::os::fd::AsRawFd;
            let file = tempfile::tempfile().unwrap();
            // SAFETY: duplicates descriptor 2 and points 2 at a file we own.
            let saved = unsafe { libc::dup(2) };
            assert!(saved >= 0);
            assert!(unsafe { libc::dup2(file.as_raw_fd(), 2) } >= 0);
            Stderr { saved, file }
        }

        fn release(mut self) -> String {
            use std::io::{Read, Seek};
            // SAFETY: puts back the descriptor saved by `capture`.
            unsafe {
                libc::dup2(self.saved, 2);
                libc::close(self.saved);
            }
            let mut text = String::new();
            self.file.rewind().unwrap();
            self.file.read_to_string(&mut text).unwrap();
            text
        }
    }
}
