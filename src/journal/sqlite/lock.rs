//! One process per journal. The lock is an OS file lock (flock) on the journal
//! file itself, so every name of the file (a symlink, a hard link, `..` in the
//! path) meets the same lock, and the kernel releases it when the holder dies:
//! a killed process never leaves a lock that blocks. A sidecar file beside the
//! journal's canonical path names the holder (pid, host, since) for the
//! refusal message; it is a note, not the lock.
//!
//! The lock's descriptor must outlive the journal's SQLite connection: closing
//! any descriptor of a file releases the process's POSIX locks on it, which
//! SQLite uses ([`super::SqliteJournal`] drops its connection first).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("The journal '{journal}' is in use by another bulkrefund process ({holder}); wait for it to finish, or stop it")]
    Held { journal: PathBuf, holder: String },
    #[error("cannot lock the journal '{journal}': {source}")]
    Io {
        journal: PathBuf,
        source: std::io::Error,
    },
}

/// Held for as long as the process works on the journal.
#[derive(Debug)]
pub struct JournalLock {
    _file: File,
}

/// The holder's note: beside the journal's canonical path, whatever name it was opened by.
pub fn holder_note_path(journal: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(journal).unwrap_or_else(|_| journal.to_owned());
    crate::paths::with_suffix(&canonical, ".lock")
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

impl JournalLock {
    /// Locks the journal file (which must exist).
    pub fn acquire(journal: &Path) -> Result<JournalLock, LockError> {
        let io = |source| LockError::Io {
            journal: journal.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(journal)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The note is anyone's to plant (a FIFO, /dev/zero): read
                // only a small regular file, never waiting on it.
                let holder = crate::small_files::read(&holder_note_path(journal), 4096, "4 KiB")
                    .map(|(text, _)| text)
                    .unwrap_or_default();
                let holder = holder.trim();
                return Err(LockError::Held {
                    journal: journal.to_owned(),
                    holder: if holder.is_empty() {
                        "holder unknown".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let holder = format!(
            "pid {} on host {}, since {}",
            std::process::id(),
            host_name(),
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        // The note is for people; a journal whose directory refuses it is still
        // locked. Written through a fresh file, never through a link planted at its name.
        let _ = crate::paths::write_replacing(&holder_note_path(journal), |mut note| {
            note.write_all(holder.as_bytes())
        });
        Ok(JournalLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_file(dir: &Path) -> PathBuf {
        let journal = dir.join("j.db");
        std::fs::write(&journal, b"").unwrap();
        journal
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_file(dir.path());
        let first = JournalLock::acquire(&journal).unwrap();
        let error = JournalLock::acquire(&journal).unwrap_err().to_string();
        assert!(
            error.contains(&format!("pid {} on host ", std::process::id())),
            "{error}"
        );
        drop(first);
        assert!(JournalLock::acquire(&journal).is_ok());
    }

    #[test]
    fn every_name_of_the_journal_meets_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_file(dir.path());
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&journal, &link).unwrap();
        let hard = dir.path().join("hard.db");
        std::fs::hard_link(&journal, &hard).unwrap();
        let _first = JournalLock::acquire(&link).unwrap();
        // Names that resolve to the same path also find the holder's note.
        for other in [&journal, &dir.path().join("./j.db")] {
            let error = JournalLock::acquire(other).unwrap_err().to_string();
            assert!(
                error.contains("in use by another bulkrefund process (pid"),
                "{error}"
            );
        }
        let error = JournalLock::acquire(&hard).unwrap_err().to_string();
        assert!(
            error.contains("in use by another bulkrefund process"),
            "{error}"
        );
    }

    #[test]
    fn a_stale_note_does_not_block() {
        // A killed process leaves its note behind but no OS lock.
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_file(dir.path());
        std::fs::write(
            holder_note_path(&journal),
            "pid 999999 on host gone, since 2020-01-01T00:00:00Z",
        )
        .unwrap();
        let _lock = JournalLock::acquire(&journal).unwrap();
        let text = std::fs::read_to_string(holder_note_path(&journal)).unwrap();
        assert!(
            text.starts_with(&format!("pid {} ", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn the_note_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_file(dir.path());
        let config = dir.path().join("bulkrefund.toml");
        std::fs::write(&config, "journal = \"j.db\"\n").unwrap();
        std::os::unix::fs::symlink(&config, holder_note_path(&journal)).unwrap();
        let _lock = JournalLock::acquire(&journal).unwrap();
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            "journal = \"j.db\"\n"
        );
        let note = std::fs::symlink_metadata(holder_note_path(&journal)).unwrap();
        assert!(note.is_file(), "the link itself was replaced by the note");
    }

    #[test]
    fn a_planted_note_that_is_no_file_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_file(dir.path());
        let _first = JournalLock::acquire(&journal).unwrap();
        let note = holder_note_path(&journal);
        std::fs::remove_file(&note).unwrap();
        let fifo = std::ffi::CString::new(note.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let error = JournalLock::acquire(&journal).unwrap_err().to_string();
        assert!(error.contains("holder unknown"), "{error}");
    }
}
