//! Where bulkrefund may write (README, "Output paths"). An output (`--out`, a
//! results file) is never the journal or one of its companions (`-wal`,
//! `-shm`, `.lock`), an input batch or the configuration: the paths are
//! compared as files (device and inode, through symlinks and `..`), not as
//! strings. And an output is checked writable before anything is sent, so that
//! a results file that cannot be written is found before the money goes out.
//! Every file bulkrefund writes is written whole through a fresh temporary
//! file beside it ([`write_replacing`]), never through a fixed name that a
//! link planted beforehand could point at another file.

use std::path::{Path, PathBuf};

/// An output refused: nothing was done (a usage error, exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The files an output must never be.
#[derive(Debug, Default)]
pub struct Protected {
    files: Vec<(PathBuf, String)>,
}

/// A file's identity where the file exists: (device, inode).
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// The directory a file is in (`.` for a bare file name).
pub fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Where a path points, for a file that may not exist yet: its directory,
/// resolved, and its name (a dangling symlink is followed to its target).
fn location(path: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
    let path = match std::fs::read_link(path) {
        Ok(target) => directory_of(path).join(target),
        Err(_) => path.to_owned(),
    };
    let name = path.file_name()?.to_owned();
    Some((std::fs::canonicalize(directory_of(&path)).ok()?, name))
}

/// True when `a` and `b` are the same file, or would be once created.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(a), Some(b)) = (identity(a), identity(b)) {
        return a == b;
    }
    match (location(a), location(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `path` with `suffix` appended to its file name (`j.db` → `j.db-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl Protected {
    pub fn new() -> Protected {
        Protected::default()
    }

    pub fn add(&mut self, path: &Path, what: impl Into<String>) -> &mut Protected {
        self.files.push((path.to_owned(), what.into()));
        self
    }

    /// The journal and the files SQLite and the lock keep beside it.
    pub fn journal(&mut self, journal: &Path) -> &mut Protected {
        self.add(journal, "the journal");
        for suffix in ["-wal", "-shm", "-journal", ".lock"] {
            self.add(
                &with_suffix(journal, suffix),
                format!("the journal's {suffix} file"),
            );
        }
        self
    }

    /// Refuses `out` when it is one of the protected files.
    pub fn check(&self, out: &Path, flag: &str) -> Result<(), Refused> {
        for (file, what) in &self.files {
            if same_file(out, file) {
                return Err(Refused(format!(
                    "{flag} '{}' is {what} ('{}'): it would be overwritten; choose another file",
                    out.display(),
                    file.display()
                )));
            }
        }
        Ok(())
    }
}

/// Checks that `out` can be written: not a directory, in a directory where a
/// file can be created (bulkrefund writes beside it, then renames).
pub fn check_writable(out: &Path, flag: &str) -> Result<(), Refused> {
    let refuse = |why: String| Refused(format!("{flag} '{}' {why}", out.display()));
    if out.as_os_str() == "-" {
        return Err(refuse(
            "is not a file: the results file is rewritten by resume, so it must be a file".into(),
        ));
    }
    if out.is_dir() {
        return Err(refuse("is a directory".into()));
    }
    tempfile::Builder::new()
        .prefix(".bulkrefund-write-check-")
        .tempfile_in(directory_of(out))
        .map(drop)
        .map_err(|e| refuse(format!("cannot be written: {e}")))
}

/// Writes `path` whole or not at all: `write` fills a new file created
/// beside it under a random name (`.NAME.XXXXXX.partial`), exclusively and
/// without following links (`O_CREAT | O_EXCL`), which is then synced and
/// renamed over `path`. A symlink or a hard link planted at any name
/// bulkrefund might write through is never written into: the rename replaces
/// the directory entry `path`, not what it pointed at. On any error the
/// temporary file is removed and `path` keeps what it held.
pub fn write_replacing<T, E: From<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(std::fs::File) -> Result<T, E>,
) -> Result<T, E> {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    // As `File::create` would: the umask decides (tempfile's own is 0600).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temporary = builder.tempfile_in(directory_of(path))?;
    let value = write(temporary.as_file().try_clone()?)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| E::from(e.error))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.db");
        std::fs::write(&journal, b"x").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&journal, &link).unwrap();
        let hard = dir.path().join("hard.db");
        std::fs::hard_link(&journal, &hard).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let dotted = dir.path().join("sub/../j.db");
        for other in [&link, &hard, &dotted] {
            assert!(same_file(other, &journal), "{other:?}");
        }
        assert!(!same_file(&dir.path().join("other.db"), &journal));
        // A file not created yet is compared by where it would be.
        let new = dir.path().join("new.db");
        assert!(same_file(&dir.path().join("sub/../new.db"), &new));
        let dangling = dir.path().join("dangling.db");
        std::os::unix::fs::symlink(&new, &dangling).unwrap();
        assert!(same_file(&dangling, &new));
    }

    #[test]
    fn the_journal_and_its_companions_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.db");
        let mut protected = Protected::new();
        protected.journal(&journal);
        for name in ["j.db", "j.db-wal", "j.db-shm", "j.db.lock"] {
            let error = protected
                .check(&dir.path().join(name), "--out")
                .unwrap_err()
                .to_string();
            assert!(error.contains("the journal"), "{error}");
        }
        assert!(protected
            .check(&dir.path().join("j.results.csv"), "--out")
            .is_ok());
    }

    #[test]
    fn an_unwritable_output_is_found_first() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(&dir.path().join("r.csv"), "--out").is_ok());
        assert!(check_writable(dir.path(), "--out")
            .unwrap_err()
            .to_string()
            .contains("is a directory"));
        assert!(check_writable(&dir.path().join("missing/r.csv"), "--out").is_err());
        assert!(check_writable(Path::new("-"), "--out")
            .unwrap_err()
            .to_string()
            .contains("must be a file"));
    }
}
