//! Batch input: the streaming CSV reader ([`reader`]), the header
//! ([`columns`]) and the row rules ([`rows`], written by each gateway), put
//! together as a stream of checked rows.

pub mod columns;
pub mod decode;
pub mod reader;
pub mod rows;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use columns::Header;
pub use reader::{CsvInput, FileError, RawRow};
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
    input: CsvInput,
    rules: Box<dyn RowRules>,
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
        let columns = |message| FileError::Columns {
            path: path.to_owned(),
            message,
        };
        let header = Header::new(&input.header).map_err(columns)?;
        let rules = format.columns(&header, defaults).map_err(columns)?;
        Ok(CheckedBatch {
            header: input.header.clone(),
            input,
            rules,
        })
    }
}

impl CheckedBatch {
    /// The encoding the file is read with (given, or detected), as `--encoding` accepts it.
    pub fn encoding_name(&self) -> &'static str {
        self.input.encoding.name()
    }
}

impl Iterator for CheckedBatch {
    type Item = Result<CheckedRow, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.input.next()? {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
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
                message: problem.describe(row.line),
                cells: row.cells,
            },
        }))
    }
}

/// The SHA-256 of a file, read in chunks.
pub fn file_sha256(path: &Path) -> Result<String, FileError> {
    let unreadable = |source| FileError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
