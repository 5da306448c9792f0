//! Streaming CSV input as finance exports it: text from [`decode`](super::decode)
//! (strict UTF-8 or GB18030, line ends noted, quoting followed), any one-byte
//! delimiter. Rows are yielded one at a time with their line number and as
//! many cells as the line has; nothing holds the whole file in memory.

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use encoding_rs::Encoding;

use super::decode::{self, Chosen, EncodingError, NotUtf8, StrictDecoder};
use super::error::FileError;
use super::lines::{Scan, TooLong};

/// One data row: its line number in the file (header = line 1) and trimmed cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    pub line: u64,
    pub cells: Vec<String>,
}

pub struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<StrictDecoder>,
    scan: Rc<RefCell<Scan>>,
    /// Header names as written (trimmed); lookups use lower case.
    pub header: Vec<String>,
    pub encoding: &'static Encoding,
    delimiter: u8,
    record: csv::StringRecord,
}

impl CsvInput {
    pub fn open(path: &Path, encoding: Option<&str>, delimiter: u8) -> Result<CsvInput, FileError> {
        let chosen = decode::choose(encoding, path)?;
        CsvInput::read(path, decode::open_file(path)?, chosen, delimiter)
    }

    /// Reads `file` (open on `path`, at its start) with an encoding already chosen.
    pub fn read(
        path: &Path,
        file: File,
        chosen: Chosen,
        delimiter: u8,
    ) -> Result<CsvInput, FileError> {
        CsvInput::with_decoder(path, file, chosen, delimiter, |decoder| decoder)
    }

    /// Opens the file hashing every byte read ([`CsvInput::sha256`] at the
    /// end). Without `chosen`, the file is read as UTF-8 until a byte proves
    /// otherwise ([`FileError::NotUtf8`]), with no read ahead to find out.
    pub fn read_hashing(
        path: &Path,
        file: File,
        chosen: Option<Chosen>,
        delimiter: u8,
    ) -> Result<CsvInput, FileError> {
        match chosen {
            Some(chosen) => {
                CsvInput::with_decoder(path, file, chosen, delimiter, StrictDecoder::hashing)
            }
            None => CsvInput::with_decoder(path, file, Chosen::utf8(), delimiter, |decoder| {
                decoder.hashing().assuming_utf8()
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The delimiter the file is read with.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The SHA-256 of the file, once every row has been read.
    pub fn sha256(&mut self) -> Option<String> {
        self.reader.get_mut().sha256()
    }

    fn with_decoder(
        path: &Path,
        file: File,
        chosen: Chosen,
        delimiter: u8,
        adjust: impl FnOnce(StrictDecoder) -> StrictDecoder,
    ) -> Result<CsvInput, FileError> {
        let scan = Rc::new(RefCell::new(Scan::new(delimiter)));
        let decoded = adjust(StrictDecoder::new(file, path, chosen, scan.clone())?);
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::None)
            .buffer_capacity(256 * 1024)
            .from_reader(decoded);
        let mut input = CsvInput {
            path: path.to_owned(),
            reader,
            scan,
            header: Vec::new(),
            encoding: chosen.encoding,
            delimiter,
            record: csv::StringRecord::new(),
        };
        match input.next_row()? {
            Some(row) => input.header = row.cells,
            None => return Err(FileError::NoHeader(path.to_owned())),
        }
        Ok(input)
    }

    /// The first problem the decoder found with the quoting, as a file-level error.
    fn quoting_problem(&self) -> Result<(), FileError> {
        match &self.scan.borrow().problem {
            Some((line, message)) => Err(FileError::Malformed {
                path: self.path.clone(),
                line: *line,
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The next non-blank row, or None at the end.
    pub fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            let more = match self.reader.read_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => return Err(self.malformed(e)),
            };
            // The decoder reads ahead: a quoting problem it saw stops the file
            // before a row it may have misread is handed out.
            self.quoting_problem()?;
            if !more {
                return Ok(None);
            }
            if self.record.iter().all(|cell| cell.trim().is_empty()) {
                continue;
            }
            // The reader's position is just past the record's terminator; its
            // first line is the terminator's line less the newlines in its cells.
            let end = self.reader.position().byte();
            let inner_newlines: usize = self.record.iter().map(|c| c.matches('\n').count()).sum();
            let line =
                self.scan.borrow_mut().line_at(end.saturating_sub(1)) - inner_newlines as u64;
            let cells = self.record.iter().map(|c| c.trim().to_owned()).collect();
            return Ok(Some(RawRow { line, cells }));
        }
    }

    fn malformed(&mut self, e: csv::Error) -> FileError {
        let line = self
            .scan
            .borrow_mut()
            .line_at(e.position().map_or(0, |p| p.byte()));
        let (line, message) = match e.kind() {
            csv::ErrorKind::Io(io) => {
                let inner = io.get_ref();
                if let Some(NotUtf8 { line }) = inner.and_then(|e| e.downcast_ref::<NotUtf8>()) {
                    return FileError::NotUtf8 {
                        path: self.path.clone(),
                        line: *line,
                    };
                }
                if let Some(too_long) = inner.and_then(|e| e.downcast_ref::<TooLong>()) {
                    (too_long.line, too_long.message.clone())
                } else if let Some(encoding) = inner.and_then(|e| e.downcast_ref::<EncodingError>())
                {
                    (encoding.line, encoding.to_string())
                } else {
                    (line, format!("cannot be read: {io}"))
                }
            }
            _ => (line, e.to_string()),
        };
        FileError::Malformed {
            path: self.path.clone(),
            line,
            message,
        }
    }
}

impl Iterator for CsvInput {
    type Item = Result<RawRow, FileError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{GB18030, UTF_8};
    use proptest::prelude::*;
    use std::io::Write;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn read(
        file: &tempfile::NamedTempFile,
        encoding: Option<&str>,
    ) -> Result<(Vec<String>, Vec<RawRow>), FileError> {
        let mut input = CsvInput::open(file.path(), encoding, b',')?;
        let rows = input.by_ref().collect::<Result<Vec<_>, _>>()?;
        Ok((input.header.clone(), rows))
    }

    fn read_all(
        file: &tempfile::NamedTempFile,
        encoding: Option<&str>,
    ) -> (Vec<String>, Vec<RawRow>) {
        read(file, encoding).unwrap()
    }

    /// (line, message) of a file-level error.
    fn file_error(file: &tempfile::NamedTempFile, encoding: Option<&str>) -> (u64, String) {
        match read(file, encoding) {
            Err(FileError::Malformed { line, message, .. }) => (line, message),
            other => panic!("expected a file-level error, got {other:?}"),
        }
    }

    #[test]
    fn bom_crlf_blank_lines_and_trimming() {
        let file = write("\u{feff} ID ,Amount\r\nR1 , 12.50 \r\n\r\n,\r\nR2,1\r\n".as_bytes());
        let (header, rows) = read_all(&file, None);
        assert_eq!(header, ["ID", "Amount"]);
        assert_eq!(
            rows,
            [
                RawRow {
                    line: 2,
                    cells: vec!["R1".into(), "12.50".into()]
                },
                RawRow {
                    line: 5,
                    cells: vec!["R2".into(), "1".into()]
                },
            ]
        );
    }

    #[test]
    fn gbk_is_detected_and_decoded() {
        let (bytes, _, _) = GB18030.encode("退款单号,备注\nR1,月末退款\n");
        let file = write(&bytes);
        assert_eq!(decode::choose(None, file.path()).unwrap().encoding, GB18030);
        let (header, rows) = read_all(&file, None);
        assert_eq!(header, ["退款单号", "备注"]);
        assert_eq!(rows[0].cells, ["R1", "月末退款"]);
        // Forced encoding gives the same.
        assert_eq!(read_all(&file, Some("gbk")).1, rows);
    }

    #[test]
    fn utf8_damaged_by_a_stray_byte_is_an_error_not_gbk() {
        let mut text = String::from("merchant_refund_id,third_order_id,refund_amount\n");
        for i in 1..=200 {
            text.push_str(&format!("R{i},订单{i:04},100\n"));
        }
        let mut bytes = text.into_bytes();
        // A stray byte on line 151 (the header is line 1).
        let at = bytes
            .windows(4)
            .position(|w| w == b"R150")
            .map(|p| p + 4)
            .unwrap();
        bytes.insert(at, 0xFF);
        let file = write(&bytes);
        let (line, message) = file_error(&file, None);
        assert_eq!(line, 151);
        assert!(
            message.contains("not valid UTF-8") && message.contains("--encoding gbk"),
            "{message}"
        );
        // Forced to UTF-8, the decoder stops on the same line.
        let (line, message) = file_error(&file, Some("utf-8"));
        assert_eq!(line, 151);
        assert!(message.contains("not valid UTF-8"), "{message}");
    }

    #[test]
    fn a_bom_before_gbk_text_is_an_encoding_error() {
        let (gbk, _, _) = GB18030.encode("merchant_refund_id,备注\nR1,月末退款\n");
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(&gbk);
        let file = write(&bytes);
        let (line, message) = file_error(&file, None);
        assert_eq!(line, 1);
        assert!(
            message.contains("byte-order mark") && message.contains("--encoding gbk"),
            "{message}"
        );
    }

    #[test]
    fn bytes_invalid_in_gb18030_stop_the_file_with_their_line() {
        let mut bytes = GB18030
            .encode("退款单号,备注\nR1,月末退款\nR2,月末退款\n")
            .0
            .into_owned();
        // 0x80 alone is not GB18030, nor a 0xFF lead byte.
        let at = bytes.len() - 3;
        bytes.insert(at, 0xFF);
        let file = write(&bytes);
        let (line, message) = file_error(&file, Some("gbk"));
        assert_eq!(line, 3);
        assert!(message.contains("GBK/GB18030"), "{message}");
    }

    #[test]
    fn no_replacement_character_is_ever_produced() {
        for bytes in [
            &b"a,b\n\xC3\x28,1\n"[..],
            b"a,b\n\xED\xA0\x80,1\n",
            b"a,b\nx,\xE9",
        ] {
            let file = write(bytes);
            for encoding in [None, Some("utf-8")] {
                assert!(read(&file, encoding).is_err(), "{bytes:?} {encoding:?}");
            }
        }
    }

    #[test]
    fn utf16_is_refused() {
        let file = write(b"\xFF\xFEa\x00,\x00b\x00");
        let (line, message) = file_error(&file, None);
        assert_eq!(line, 1);
        assert!(message.contains("UTF-16"), "{message}");
    }

    #[test]
    fn utf8_detection_across_chunk_boundaries() {
        let mut text = "a,b\n".to_owned();
        text.push_str(&"a".repeat(64 * 1024 - 5));
        text.push_str("退,1\n");
        let file = write(text.as_bytes());
        assert_eq!(decode::choose(None, file.path()).unwrap().encoding, UTF_8);
        let mut bytes = text.into_bytes();
        bytes.push(0xe9);
        let file = write(&bytes);
        assert!(read(&file, None).is_err());
    }

    #[test]
    fn an_unterminated_quote_is_a_file_level_error_with_its_line() {
        let at_end = write(
            b"merchant_refund_id,third_order_id,refund_amount\nR1,T1,1\nR2,\"T2,2\nR3,T3,3\n",
        );
        let (line, message) = file_error(&at_end, None);
        assert_eq!(line, 3);
        assert!(message.contains("never closed"), "{message}");
        let mut text = String::from("merchant_refund_id,third_order_id,refund_amount\n");
        for i in 1..=50 {
            if i == 7 {
                text.push_str(&format!("R{i},\"T{i},{i}\n"));
            } else if i == 30 {
                text.push_str(&format!("R{i},\"T{i}\",{i}\n"));
            } else {
                text.push_str(&format!("R{i},T{i},{i}\n"));
            }
        }
        let (line, message) = file_error(&write(text.as_bytes()), None);
        assert_eq!(line, 31, "where the stray quote's pair shows");
        assert!(message.contains("closing quote"), "{message}");
    }

    #[test]
    fn line_numbers_count_blank_lines_and_quoted_newlines() {
        let file = write(b"a,b\n\n\"x\ny\",1\n\nR2,2\n");
        let (_, rows) = read_all(&file, None);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 6]);
        assert_eq!(rows[0].cells[0], "x\ny");
    }

    #[test]
    fn an_encodings_own_name_selects_it_again() {
        // `run` hands the encoding its scan detected to the import by name.
        for encoding in [UTF_8, GB18030] {
            assert_eq!(decode::named(encoding.name()).unwrap(), encoding);
        }
    }

    #[test]
    fn empty_file_has_no_header() {
        let file = write(b"\n\n");
        assert!(matches!(
            CsvInput::open(file.path(), None, b','),
            Err(FileError::NoHeader(_))
        ));
    }

    #[test]
    fn other_delimiter() {
        let file = write(b"a;b\n1;2\n");
        let mut input = CsvInput::open(file.path(), None, b';').unwrap();
        assert_eq!(input.next_row().unwrap().unwrap().cells, ["1", "2"]);
    }

    proptest! {
        #[test]
        fn cells_round_trip_through_write_and_read(
            rows in proptest::collection::vec(proptest::collection::vec("[a-z0-9,\"\n 退款¥]{0,12}", 3), 1..20)
        ) {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["a", "b", "c"]).unwrap();
            for row in &rows {
                writer.write_record(row).unwrap();
            }
            let file = write(&writer.into_inner().unwrap());
            let (_, read) = read_all(&file, None);
            let expected: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(|c| c.trim().to_owned()).collect())
                .filter(|r: &Vec<String>| !r.iter().all(String::is_empty))
                .collect();
            let got: Vec<Vec<String>> = read.into_iter().map(|r| r.cells).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn any_bytes_read_or_fail_without_panic_or_replacement(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let file = write(&bytes);
            if let Ok(mut input) = CsvInput::open(file.path(), None, b',') {
                for row in input.by_ref() {
                    match row {
                        Ok(row) => {
                            // A replacement character may only come from the file itself.
                            let replaced = row.cells.iter().any(|c| c.contains(char::REPLACEMENT_CHARACTER));
                            let in_file = String::from_utf8_lossy(&bytes).contains(char::REPLACEMENT_CHARACTER)
                                && std::str::from_utf8(&bytes).is_ok();
                            prop_assert!(!replaced || in_file);
                        }
                        Err(_) => break,
                    }
                }
            }
        }
    }
}
