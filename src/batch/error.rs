//! What stops a batch file as a whole (docs/specs/batch-files.md): nothing of
//! it is recorded or sent, exit 2. The decoder, the reader and the header
//! checks all end in these; the row rules' problems are [`super::rows::RowProblem`].

use std::io;
use std::path::PathBuf;

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
    Columns {
        path: PathBuf,
        message: String,
        /// The header as read, for a hint at the profile it fits.
        header: Vec<String>,
    },
    #[error("unknown encoding {0:?}: use utf-8 or gbk (gb18030)")]
    UnknownEncoding(String),
    /// A file read as UTF-8 because nothing said otherwise is not UTF-8 from
    /// this line on: its encoding is chosen again and the file read again.
    #[error("'{path}', line {line}: has bytes that are not valid UTF-8")]
    NotUtf8 { path: PathBuf, line: u64 },
    /// The second read of a run did not read the bytes the first one checked
    /// and hashed (a file still being written, or replaced in between).
    #[error("'{0}' changed while it was being read (is it still being written?): nothing of it was recorded or sent; run again once the file is complete")]
    Changed(PathBuf),
}
