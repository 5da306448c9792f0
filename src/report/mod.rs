//! What bulkrefund tells people: the results file ([`results`]), the
//! reconciliation export ([`export`], its XLSX layout [`xlsx`]), status
//! summaries ([`summary`]) and batches' approvals ([`approvals`]).

pub mod approvals;
pub mod export;
pub mod html;
pub mod results;
pub mod summary;
pub mod xlsx;

use std::path::{Path, PathBuf};

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

/// Writes a report whole or not at all, through a fresh temporary file beside
/// `path` ([`crate::paths::write_replacing`]: never through a name a link
/// could have been planted at). When anything fails (a full disk, say), the
/// temporary file is removed, the error names `path`, and whatever file
/// `path` held before is left as it was: a reader never finds half a report.
pub fn write_whole<T>(
    path: &Path,
    what: &'static str,
    write: impl FnOnce(std::fs::File) -> Result<T, ReportError>,
) -> Result<T, ReportError> {
    let written = crate::paths::write_replacing(path, write);
    written.map_err(|e| {
        let source = match e {
            ReportError::Io(source) => source,
            ReportError::Csv(e) if e.is_io_error() => match e.into_kind() {
                csv::ErrorKind::Io(source) => source,
                kind => std::io::Error::other(format!("{kind:?}")),
            },
            ReportError::Xlsx(rust_xlsxwriter::XlsxError::IoError(source)) => source,
            other => return other,
        };
        ReportError::Create {
            what,
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_report_that_fails_halfway_leaves_the_old_file_and_no_partial_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("november.csv");
        std::fs::write(&out, "the export of last week\n").unwrap();
        let error = write_whole(&out, "the export", |mut file| {
            file.write_all(b"half a rep")?;
            Err::<(), _>(ReportError::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            )))
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot write the export '{}': No space left on device",
                out.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "the export of last week\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left");
        write_whole(&out, "the export", |mut file| {
            Ok(file.write_all(b"this week\n")?)
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "this week\n");
    }
}
