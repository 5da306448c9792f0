//! One process per journal. The lock is an OS file lock (flock) on
//! `JOURNAL.lock`, which the kernel releases when the holder dies, so a killed
//! process never leaves a lock that blocks; the file's text names the holder
//! (pid, host, since) for the refusal message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
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

pub fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
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
    pub fn acquire(journal: &Path) -> Result<JournalLock, LockError> {
        let io = |source| LockError::Io {
            journal: journal.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(journal))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
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
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        Ok(JournalLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.db");
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
    fn a_stale_lock_file_does_not_block() {
        // A killed process leaves its text behind but no OS lock.
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.db");
        std::fs::write(
            lock_path(&journal),
            "pid 999999 on host gone, since 2020-01-01T00:00:00Z",
        )
        .unwrap();
        let _lock = JournalLock::acquire(&journal).unwrap();
        let text = std::fs::read_to_string(lock_path(&journal)).unwrap();
        assert!(
            text.starts_with(&format!("pid {} ", std::process::id())),
            "{text}"
        );
    }
}
