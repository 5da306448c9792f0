//! What bulkrefund tells people: the results file ([`results`]), the
//! reconciliation export ([`export`]) and status summaries ([`summary`]).

pub mod export;
pub mod results;
pub mod summary;

use std::path::PathBuf;

use crate::journal::JournalError;

/// Why a results file or an export could not be written. Each cause stays the
/// error's source (a closed pipe is told apart by its `io::Error`).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("cannot write {what} '{path}': {source}")]
    Create {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}
