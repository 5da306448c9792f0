//! Where lines end and how the CSV quoting stands, in text as it is decoded.
//! The csv crate's own line count skips blank lines and miscounts CRLF, and a
//! cell with an unterminated quote would swallow the rest of the file; this
//! scan gives every row its real line and turns an unterminated quote into a
//! file-level error with the line it opened on.

use std::collections::VecDeque;

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
        }
        self.offset += text.len() as u64;
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
}
