//! Where lines end and how the CSV quoting stands, in text as it is decoded.
//! The csv crate's own line count skips blank lines and miscounts CRLF, and a
//! cell with an unterminated quote would swallow the rest of the file; this
//! scan gives every row its real line and turns an unterminated quote into a
//! file-level error with the line it opened on.
//!
//! It also bounds what one row may hold ([`MAX_CELL`], [`MAX_ROW`]): the text
//! is counted as it streams through, so a 2 GiB line is refused once its first
//! mebibyte has gone by, never held in memory first.

use std::collections::VecDeque;

/// The most text one cell may hold (64 KiB): far more than any value a
/// gateway takes, and far short of what would strain memory.
pub const MAX_CELL: u64 = 64 * 1024;
/// The most text one row may hold (1 MiB), the line ends inside its quoted
/// cells included (the one that ends it is not).
pub const MAX_ROW: u64 = 1024 * 1024;

/// A row past [`MAX_CELL`] or [`MAX_ROW`]: the file is refused at once.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct TooLong {
    /// The line the row starts on.
    pub line: u64,
    pub message: String,
}

/// Where the CSV quoting stands at the current byte (mirrors the csv crate:
/// a quote opens a quoted cell only as the cell's first character).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    CellStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: its end, or the first of a doubled quote.
    QuoteInQuoted,
    /// Spaces after a closing quote (trimmed, as every cell is).
    AfterQuote,
}

/// What the decoded text has shown so far: where lines end, how the quoting
/// stands, and the first problem with it.
#[derive(Debug)]
pub struct Scan {
    delimiter: u8,
    /// Bytes of text so far.
    offset: u64,
    /// Offsets of newlines not yet consumed by [`Scan::line_at`].
    newlines: VecDeque<u64>,
    newlines_consumed: u64,
    /// Newlines seen so far, in all.
    newlines_seen: u64,
    quoting: Quoting,
    quote_opened_on: u64,
    /// (line, message): the first problem with the file's text.
    pub problem: Option<(u64, String)>,
    /// Bytes of the row being read, and the line it starts on.
    row_bytes: u64,
    row_line: u64,
    /// Bytes of the cell being read.
    cell_bytes: u64,
    /// A row past the bounds: reading stops here.
    pub too_long: Option<TooLong>,
}

impl Scan {
    pub fn new(delimiter: u8) -> Scan {
        Scan {
            delimiter,
            offset: 0,
            newlines: VecDeque::new(),
            newlines_consumed: 0,
            newlines_seen: 0,
            quoting: Quoting::CellStart,
            quote_opened_on: 0,
            problem: None,
            row_bytes: 0,
            row_line: 1,
            cell_bytes: 0,
            too_long: None,
        }
    }

    /// The line of the byte being read now.
    pub(super) fn line_now(&self) -> u64 {
        self.newlines_seen + 1
    }

    fn note_problem(&mut self, line: u64, message: &str) {
        self.problem.get_or_insert((line, message.to_owned()));
    }

    pub(super) fn feed(&mut self, text: &[u8]) {
        for (i, &b) in text.iter().enumerate() {
            let ends_cell = b == self.delimiter || b == b'\n' || b == b'\r';
            self.quoting = match (self.quoting, b) {
                (Quoting::CellStart, b'"') => {
                    self.quote_opened_on = self.line_now();
                    Quoting::Quoted
                }
                (Quoting::CellStart | Quoting::Unquoted, _) if ends_cell => Quoting::CellStart,
                (Quoting::CellStart | Quoting::Unquoted, _) => Quoting::Unquoted,
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::Quoted, _) => Quoting::Quoted,
                (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                (Quoting::QuoteInQuoted | Quoting::AfterQuote, _) if ends_cell => {
                    Quoting::CellStart
                }
                (Quoting::QuoteInQuoted | Quoting::AfterQuote, b' ' | b'\t') => Quoting::AfterQuote,
                (Quoting::QuoteInQuoted | Quoting::AfterQuote, _) => {
                    let line = self.line_now();
                    self.note_problem(
                        line,
                        "text follows a closing quote: a quote inside a quoted cell must be doubled (\"\"), \
                         or a quote opened earlier was never closed",
                    );
                    Quoting::Unquoted
                }
            };
            if b == b'\n' {
                self.newlines.push_back(self.offset + i as u64);
                self.newlines_seen += 1;
            }
            self.count(b);
        }
        self.offset += text.len() as u64;
    }

    /// Counts the byte just scanned into its row and its cell, and notes a
    /// row past the bounds.
    fn count(&mut self, b: u8) {
        if self.quoting == Quoting::CellStart {
            // The byte ended a cell (or a row), and is counted in neither.
            self.cell_bytes = 0;
            if b == b'\n' || b == b'\r' {
                self.row_bytes = 0;
                self.row_line = self.line_now();
            } else {
                self.row_bytes += 1;
            }
        } else {
            self.cell_bytes += 1;
            self.row_bytes += 1;
        }
        if self.too_long.is_some() {
            return;
        }
        let over = if self.cell_bytes > MAX_CELL {
            "a cell is longer than 64 KiB (65,536 bytes), the most one cell may hold"
        } else if self.row_bytes > MAX_ROW {
            "the row is longer than 1 MiB (1,048,576 bytes), the most one row may hold"
        } else {
            return;
        };
        self.too_long = Some(TooLong {
            line: self.row_line,
            message: format!("{over}; the file is refused without being read further"),
        });
    }

    /// The end of the text: a quoted cell still open is never closed.
    pub(super) fn finish(&mut self) {
        if self.quoting == Quoting::Quoted {
            let line = self.quote_opened_on;
            self.note_problem(
                line,
                "a quote opened on this line is never closed (unterminated quote)",
            );
        }
    }

    /// The line (1-based) of the text byte at `offset`; offsets only grow.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        while self.newlines.front().is_some_and(|&n| n < offset) {
            self.newlines.pop_front();
            self.newlines_consumed += 1;
        }
        self.newlines_consumed + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Option<(u64, String)> {
        let mut scan = Scan::new(b',');
        scan.feed(text.as_bytes());
        scan.finish();
        scan.problem
    }

    #[test]
    fn quoting_is_followed_as_the_csv_reader_reads_it() {
        assert_eq!(scan("a,b\n\"x,\"\"y\"\"\",1\n\"multi\nline\",2\n"), None);
        assert_eq!(
            scan("a,b\nab\"c,1\n"),
            None,
            "a quote inside a bare cell is text"
        );
        assert_eq!(
            scan("a,b\n\"x\"  ,1\r\n"),
            None,
            "spaces after a closing quote"
        );
        let (line, message) = scan("a,b\nR1,\"T1\nR2,T2\nR3,T3\n").unwrap();
        assert_eq!(line, 2);
        assert!(message.contains("never closed"), "{message}");
        // A stray quote in the middle pairs with a later one: the text after it is the sign.
        let (line, message) = scan("a,b,c\nR1,\"T1,1\nR2,T2,2\nR3,\"T3\",3\n").unwrap();
        assert_eq!(line, 4);
        assert!(message.contains("closing quote"), "{message}");
        assert!(
            scan("a\tb\n\"x\"\ty\n").is_some(),
            "the delimiter is a comma here"
        );
        let mut tabs = Scan::new(b'\t');
        tabs.feed(b"a\tb\n\"x\"\ty\n");
        tabs.finish();
        assert_eq!(tabs.problem, None);
    }

    #[test]
    fn a_cell_or_a_row_past_the_bounds_is_noted_with_the_line_it_starts_on() {
        let fits = format!(
            "a,b\n{},1\r\n\"{}\",2\n",
            "x".repeat(65_536),
            "y\n".repeat(32_767)
        );
        let mut scan = Scan::new(b',');
        scan.feed(fits.as_bytes());
        assert!(
            scan.too_long.is_none(),
            "64 KiB is allowed, a quoted cell's quotes included"
        );
        let mut scan = Scan::new(b',');
        scan.feed(format!("a,b\nR1,1\nR2,{}\n", "x".repeat(65_537)).as_bytes());
        let over = scan.too_long.unwrap();
        assert_eq!(over.line, 3);
        assert!(
            over.message.starts_with("a cell is longer than 64 KiB"),
            "{}",
            over.message
        );
        // Many cells, each within the bound; a quoted cell's newlines do not end the row.
        let cells = "\"1\n2\",".repeat(200_000);
        let mut scan = Scan::new(b',');
        scan.feed(format!("a,b\nR1,1\n{cells}\n").as_bytes());
        let over = scan.too_long.unwrap();
        assert_eq!(over.line, 3);
        assert!(
            over.message.starts_with("the row is longer than 1 MiB"),
            "{}",
            over.message
        );
    }
}
