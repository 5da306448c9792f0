//! Streaming CSV input as finance exports it: UTF-8 with or without a BOM, or
//! GB18030/GBK (detected when the bytes are not valid UTF-8, or forced), LF or
//! CRLF, any one-byte delimiter. Rows are yielded one at a time with their line
//! number; nothing holds the whole file in memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use encoding_rs::{Encoding, GB18030, UTF_8};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

/// A problem with the file as a whole: nothing is sent (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("The file '{path}' cannot be read: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("'{0}' has no header row: the first line must name the columns")]
    NoHeader(PathBuf),
    #[error("'{path}', line {line}: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("'{path}': {message}")]
    Columns { path: PathBuf, message: String },
    #[error("unknown encoding {0:?}: use utf-8 or gbk (gb18030)")]
    UnknownEncoding(String),
}

/// The encoding to read with, from `--encoding` or detected.
pub fn encoding_for(label: Option<&str>, path: &Path) -> Result<&'static Encoding, FileError> {
    match label {
        Some(label) => match label.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(UTF_8),
            // GB18030 is a superset of GBK and GB2312: it reads all three.
            "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(GB18030),
            other => Err(FileError::UnknownEncoding(other.to_owned())),
        },
        None => {
            let unreadable = |source| FileError::Unreadable {
                path: path.to_owned(),
                source,
            };
            let file = File::open(path).map_err(unreadable)?;
            Ok(if is_utf8(file).map_err(unreadable)? {
                UTF_8
            } else {
                GB18030
            })
        }
    }
}

/// True when the whole stream is valid UTF-8 (read in 64 KiB chunks).
fn is_utf8(mut input: impl Read) -> io::Result<bool> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut carried = 0;
    loop {
        let read = input.read(&mut buffer[carried..])?;
        let filled = carried + read;
        if read == 0 {
            return Ok(carried == 0);
        }
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => carried = 0,
            // An incomplete character at the end of the chunk: carry it over.
            Err(e) if e.error_len().is_none() && filled - e.valid_up_to() < 4 => {
                let valid = e.valid_up_to();
                buffer.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// One data row: its line number in the file (header = line 1) and trimmed cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRow {
    pub line: u64,
    pub cells: Vec<String>,
}

/// Records the byte offset of every `\n` that passes through, so that a record's
/// line can be told from its start byte. (The csv crate's own line count skips
/// blank lines and miscounts CRLF.)
struct NewlineTap<R> {
    inner: R,
    offset: u64,
    newlines: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for NewlineTap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut newlines = self.newlines.borrow_mut();
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, &b)| b == b'\n') {
            newlines.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

type Decoded = DecodeReaderBytes<BufReader<File>, Vec<u8>>;

pub struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<NewlineTap<Decoded>>,
    newlines: Rc<RefCell<VecDeque<u64>>>,
    lines_before: u64,
    /// Header names as written (trimmed); lookups use lower case.
    pub header: Vec<String>,
    pub encoding: &'static Encoding,
    record: csv::StringRecord,
}

impl CsvInput {
    pub fn open(path: &Path, encoding: Option<&str>, delimiter: u8) -> Result<CsvInput, FileError> {
        let encoding = encoding_for(encoding, path)?;
        let file = File::open(path).map_err(|source| FileError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        // A BOM always wins (and is stripped); otherwise decode as chosen.
        let decoded = DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_sniffing(true)
            .build(BufReader::with_capacity(256 * 1024, file));
        let newlines = Rc::new(RefCell::new(VecDeque::new()));
        let tapped = NewlineTap {
            inner: decoded,
            offset: 0,
            newlines: newlines.clone(),
        };
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::None)
            .from_reader(tapped);
        let mut input = CsvInput {
            path: path.to_owned(),
            reader,
            newlines,
            lines_before: 0,
            header: Vec::new(),
            encoding,
            record: csv::StringRecord::new(),
        };
        match input.next_row()? {
            Some(row) => input.header = row.cells,
            None => return Err(FileError::NoHeader(path.to_owned())),
        }
        Ok(input)
    }

    /// The next non-blank row, or None at the end.
    pub fn next_row(&mut self) -> Result<Option<RawRow>, FileError> {
        loop {
            let more = match self.reader.read_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => return Err(self.malformed(e)),
            };
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
            let line = self.line_at(end.saturating_sub(1)) - inner_newlines as u64;
            let cells = self.record.iter().map(|c| c.trim().to_owned()).collect();
            return Ok(Some(RawRow { line, cells }));
        }
    }

    /// The line (1-based) of the byte at `offset`; offsets only grow.
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|&n| n < offset) {
            newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }

    fn malformed(&mut self, e: csv::Error) -> FileError {
        let line = self.line_at(e.position().map_or(0, |p| p.byte()));
        let message = match e.kind() {
            csv::ErrorKind::Io(io) => format!("cannot be read: {io}"),
            csv::ErrorKind::Utf8 { .. } => {
                "is not valid UTF-8 (pass --encoding gbk for a GBK/GB18030 file)".to_owned()
            }
            _ => e.to_string(),
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
    use proptest::prelude::*;
    use std::io::Write;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn read_all(
        file: &tempfile::NamedTempFile,
        encoding: Option<&str>,
    ) -> (Vec<String>, Vec<RawRow>) {
        let mut input = CsvInput::open(file.path(), encoding, b',').unwrap();
        let rows = input.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
        (input.header.clone(), rows)
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
        assert_eq!(encoding_for(None, file.path()).unwrap(), GB18030);
        let (header, rows) = read_all(&file, None);
        assert_eq!(header, ["退款单号", "备注"]);
        assert_eq!(rows[0].cells, ["R1", "月末退款"]);
        // Forced encoding gives the same.
        assert_eq!(read_all(&file, Some("gbk")).1, rows);
    }

    #[test]
    fn utf8_detection_across_chunk_boundaries() {
        let mut text = "a".repeat(64 * 1024 - 1);
        text.push('退');
        assert!(is_utf8(text.as_bytes()).unwrap());
        let mut bytes = text.into_bytes();
        bytes.push(0xff);
        assert!(!is_utf8(bytes.as_slice()).unwrap());
        assert!(!is_utf8(&[0xe9][..]).unwrap());
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
            assert_eq!(
                encoding_for(Some(encoding.name()), Path::new("unused")).unwrap(),
                encoding
            );
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
    }
}
