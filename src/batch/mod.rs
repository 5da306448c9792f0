//! Batch input: the streaming CSV reader ([`reader`]), the header
//! ([`columns`]) and the row rules ([`rows`], written by each gateway), put
//! together as a stream of checked rows.

pub mod amount;
pub mod columns;
pub mod decode;
mod error;
mod lines;
pub mod reader;
pub mod rows;

use std::collections::BTreeMap;
use std::path::Path;

pub use columns::Header;
pub use error::FileError;
pub use reader::{CsvInput, RawRow};
pub use rows::{BatchFormat, RefundRow, RowProblem, RowRules};

use crate::money::Fen;

/// A row after the row rules.
#[derive(Clone, Debug)]
pub enum CheckedRow {
    Valid {
        line: u64,
        cells: Vec<String>,
        refund: RefundRow,
    },
    Invalid {
        line: u64,
        cells: Vec<String>,
        fen: Option<Fen>,
        message: String,
    },
}

impl CheckedRow {
    pub fn line(&self) -> u64 {
        match self {
            CheckedRow::Valid { line, .. } | CheckedRow::Invalid { line, .. } => *line,
        }
    }
}

/// How to read a batch file (`--encoding`, `--delimiter`).
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub encoding: Option<String>,
    pub delimiter: u8,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            encoding: None,
            delimiter: b',',
        }
    }
}

/// An opened batch: its header and its rows, each checked against the row rules.
pub struct CheckedBatch {
    pub header: Vec<String>,
    /// The header's columns, to name a row problem's column as the file does.
    columns: Header,
    input: CsvInput,
    rules: Box<dyn RowRules>,
    /// The SHA-256 [`scan`] read: the rows end with an error if these bytes differ.
    expected_sha256: Option<String>,
}

impl CheckedBatch {
    /// Opens the file and checks its header; file-level problems are errors here.
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        format: &dyn BatchFormat,
        defaults: &BTreeMap<String, String>,
    ) -> Result<CheckedBatch, FileError> {
        let input = CsvInput::open(path, options.encoding.as_deref(), options.delimiter)?;
        CheckedBatch::with_rules(path, input, format, defaults)
    }

    /// Opens a file [`scan`] has read, with the encoding it settled: the
    /// second of a run's two reads.
    pub fn open_scanned(
        path: &Path,
        scanned: &Scanned,
        format: &dyn BatchFormat,
        defaults: &BTreeMap<String, String>,
    ) -> Result<CheckedBatch, FileError> {
        let file = decode::open_file(path)?;
        let input = CsvInput::read_hashing(path, file, Some(scanned.chosen), scanned.delimiter)?;
        Ok(CheckedBatch {
            expected_sha256: Some(scanned.sha256.clone()),
            ..CheckedBatch::with_rules(path, input, format, defaults)?
        })
    }

    fn with_rules(
        path: &Path,
        input: CsvInput,
        format: &dyn BatchFormat,
        defaults: &BTreeMap<String, String>,
    ) -> Result<CheckedBatch, FileError> {
        let (columns, rules) = check_header(path, &input, format, defaults)?;
        Ok(CheckedBatch {
            header: input.header.clone(),
            columns,
            input,
            rules,
            expected_sha256: None,
        })
    }
}

/// The header's columns and the gateway's rules for its rows; a header that
/// lacks what the gateway needs is refused, saying what was read and how.
fn check_header(
    path: &Path,
    input: &CsvInput,
    format: &dyn BatchFormat,
    defaults: &BTreeMap<String, String>,
) -> Result<(Header, Box<dyn RowRules>), FileError> {
    let refused = |message| FileError::Columns {
        path: path.to_owned(),
        message,
        header: input.header.clone(),
    };
    let header = Header::with_aliases(&input.header, format.aliases()).map_err(refused)?;
    let rules = format.columns(&header, defaults).map_err(|message| {
        refused(format!(
            "{message}; {}",
            columns::found(&input.header, input.delimiter())
        ))
    })?;
    Ok((header, rules))
}

impl CheckedBatch {
    /// At the end of the rows: whether the bytes read differ from those the
    /// scan hashed (said once).
    fn changed_since_scan(&mut self) -> Option<FileError> {
        let expected = self.expected_sha256.take()?;
        (self.input.sha256().as_deref() != Some(expected.as_str()))
            .then(|| FileError::Changed(self.input.path().to_owned()))
    }

    /// The encoding the file is read with (given, or detected), as `--encoding` accepts it.
    pub fn encoding_name(&self) -> &'static str {
        self.input.encoding.name()
    }
}

impl Iterator for CheckedBatch {
    type Item = Result<CheckedRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.input.next() {
            Some(Ok(row)) => row,
            Some(Err(e)) => return Some(Err(e)),
            None => return self.changed_since_scan().map(Err),
        };
        if row.cells.len() != self.header.len() {
            // Cells would shift into other columns: the row is not read at all.
            return Some(Ok(CheckedRow::Invalid {
                line: row.line,
                fen: None,
                message: format!(
                    "line {}: {} cells, the header has {}",
                    row.line,
                    row.cells.len(),
                    self.header.len()
                ),
                cells: row.cells,
            }));
        }
        Some(Ok(match self.rules.check(&row) {
            Ok(refund) => CheckedRow::Valid {
                line: row.line,
                cells: row.cells,
                refund,
            },
            Err(problem) => CheckedRow::Invalid {
                line: row.line,
                fen: self.rules.amount(&row).ok(),
                message: problem.describe_in(&self.columns, row.line),
                cells: row.cells,
            },
        }))
    }
}

/// What the first of a run's two reads of a batch found: the header, the
/// encoding (settled, for the second read), and the file's SHA-256.
#[derive(Clone, Debug)]
pub struct Scanned {
    pub header: Vec<String>,
    /// How the second read reads the file: the encoding the scan settled, and
    /// the length of the BOM it found.
    pub chosen: decode::Chosen,
    pub delimiter: u8,
    pub sha256: String,
}

impl Scanned {
    /// Whether the results file starts with a BOM by default: Excel shows the
    /// Chinese of a UTF-8 file only with one. A GBK batch (read, the results
    /// are UTF-8) and a batch that has one (Excel's "CSV UTF-8") get one.
    pub fn results_want_bom(&self) -> bool {
        self.chosen.encoding != encoding_rs::UTF_8 || self.chosen.bom_len > 0
    }
}

/// The first of a run's two reads of a batch, before anything is recorded:
/// the encoding settled, the text and quoting of every line and the header
/// checked (every file-level problem is found here), and the SHA-256 of the
/// same bytes. No row rule is applied: rows are checked once, by the import's read.
///
/// A file with neither `--encoding` nor a BOM is read as UTF-8 until a byte
/// proves otherwise; only then is its encoding chosen again (which reads it to
/// tell GBK from damaged UTF-8) and the scan started over.
pub fn scan(
    path: &Path,
    options: &ReadOptions,
    format: &dyn BatchFormat,
    defaults: &BTreeMap<String, String>,
) -> Result<Scanned, FileError> {
    let (file, chosen) = decode::choose_at_start(options.encoding.as_deref(), path)?;
    match scan_as(path, file, chosen, options.delimiter, format, defaults) {
        Err(FileError::NotUtf8 { line, .. }) => {
            let chosen = decode::choose_after_invalid(path, line)?;
            let file = decode::open_file(path)?;
            scan_as(
                path,
                file,
                Some(chosen),
                options.delimiter,
                format,
                defaults,
            )
        }
        scanned => scanned,
    }
}

fn scan_as(
    path: &Path,
    file: std::fs::File,
    chosen: Option<decode::Chosen>,
    delimiter: u8,
    format: &dyn BatchFormat,
    defaults: &BTreeMap<String, String>,
) -> Result<Scanned, FileError> {
    let mut input = CsvInput::read_hashing(path, file, chosen, delimiter)?;
    check_header(path, &input, format, defaults)?;
    for row in input.by_ref() {
        row?;
    }
    let sha256 = input.sha256().expect("the whole file was read");
    Ok(Scanned {
        header: input.header.clone(),
        chosen: chosen.unwrap_or_else(decode::Chosen::utf8),
        delimiter,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use encoding_rs::GB18030;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::batch::amount::AmountColumn;

    /// A batch format of the scan's own, so that these tests need no gateway:
    /// the columns of a Leshua batch, with `third_order_id` as the order.
    struct Orders;

    struct OrderRows {
        header: Header,
        amount: AmountColumn,
    }

    impl BatchFormat for Orders {
        fn columns(
            &self,
            header: &Header,
            _: &BTreeMap<String, String>,
        ) -> Result<Box<dyn RowRules>, String> {
            header.require("merchant_refund_id", "test")?;
            header.require("third_order_id", "test")?;
            let amount = AmountColumn::find(header, "refund_amount", "refund_amount_yuan")?;
            Ok(Box::new(OrderRows {
                header: header.clone(),
                amount,
            }))
        }
    }

    impl RowRules for OrderRows {
        fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
            self.amount.read(&self.header, row)
        }

        fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
            let order = self.header.cell(row, "third_order_id").to_owned();
            Ok(RefundRow {
                refund_id: self.header.cell(row, "merchant_refund_id").to_owned(),
                amount: self.amount(row)?,
                fields: BTreeMap::new(),
                fingerprint: order.clone(),
                order_key: order,
            })
        }
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    fn scan_orders(file: &tempfile::NamedTempFile) -> Result<Scanned, FileError> {
        scan(
            file.path(),
            &ReadOptions::default(),
            &Orders,
            &BTreeMap::new(),
        )
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    const HEADER: &str = "merchant_refund_id,third_order_id,refund_amount\n";

    #[test]
    fn one_read_settles_the_encoding_checks_the_text_and_hashes_the_bytes() {
        // A bad amount is a row rule: not the scan's business.
        let bytes = format!("\u{feff}{HEADER}R1,T1,100\nR2,T2,twelve\n").into_bytes();
        let scanned = scan_orders(&write(&bytes)).unwrap();
        assert_eq!(scanned.sha256, sha256(&bytes));
        assert_eq!(scanned.chosen.encoding, encoding_rs::UTF_8);
        assert_eq!(
            scanned.header,
            ["merchant_refund_id", "third_order_id", "refund_amount"]
        );
        let bytes = format!("{HEADER}R1,T1,100\nR2,\"T2,100\n").into_bytes();
        let error = scan_orders(&write(&bytes)).unwrap_err().to_string();
        assert!(
            error.contains("line 3: a quote opened on this line is never closed"),
            "{error}"
        );
        let error = scan_orders(&write(b"merchant_refund_id,refund_amount\nR1,1\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the required column 'third_order_id' is missing"),
            "{error}"
        );
    }

    #[test]
    fn a_gbk_file_is_scanned_again_as_gbk_and_hashed_whole() {
        let text = "merchant_refund_id,third_order_id,refund_amount,备注\n\
                    R1,订单1,100,月末退款\nR2,订单2,100,客户退货退款\n";
        let (bytes, _, _) = GB18030.encode(text);
        let scanned = scan_orders(&write(&bytes)).unwrap();
        assert_eq!(scanned.chosen.encoding, encoding_rs::GB18030);
        assert_eq!(scanned.sha256, sha256(&bytes));
        // The import's read, with what the scan settled, reads the Chinese text.
        let file = write(&bytes);
        let rows: Vec<CheckedRow> =
            CheckedBatch::open_scanned(file.path(), &scanned, &Orders, &BTreeMap::new())
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        match &rows[0] {
            CheckedRow::Valid { refund, .. } => assert_eq!(refund.order_key, "订单1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_that_changes_after_the_scan_ends_its_rows_with_an_error() {
        let file = write(format!("{HEADER}R1,T1,100\n").as_bytes());
        let scanned = scan_orders(&file).unwrap();
        // Still being written: a row more by the time the import reads it.
        std::fs::write(file.path(), format!("{HEADER}R1,T1,100\nR2,T2,200\n")).unwrap();
        let rows: Vec<Result<CheckedRow, FileError>> =
            CheckedBatch::open_scanned(file.path(), &scanned, &Orders, &BTreeMap::new())
                .unwrap()
                .collect();
        assert_eq!(rows.len(), 3, "two rows, then the error");
        assert!(
            matches!(rows.last(), Some(Err(FileError::Changed(_)))),
            "{rows:?}"
        );
        // The same file unchanged reads to its end without one.
        let scanned = scan_orders(&file).unwrap();
        let rows: Result<Vec<CheckedRow>, FileError> =
            CheckedBatch::open_scanned(file.path(), &scanned, &Orders, &BTreeMap::new())
                .unwrap()
                .collect();
        assert_eq!(rows.unwrap().len(), 2);
    }

    #[test]
    fn damaged_utf8_is_refused_by_the_scan_as_before() {
        let mut text = String::from(HEADER);
        for i in 1..=200 {
            text.push_str(&format!("R{i},订单{i:04},100\n"));
        }
        let mut bytes = text.into_bytes();
        let at = bytes.windows(4).position(|w| w == b"R150").unwrap() + 4;
        bytes.insert(at, 0xFF);
        match scan_orders(&write(&bytes)) {
            Err(FileError::Malformed { line, message, .. }) => {
                assert_eq!(line, 151);
                assert!(
                    message.contains("though the file is UTF-8 elsewhere"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
