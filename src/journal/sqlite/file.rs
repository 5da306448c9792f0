//! Is this file a journal, and is it whole? A journal is a SQLite file marked
//! with bulkrefund's `application_id` (or, from before the mark, one that holds
//! bulkrefund's tables). Anything else at the journal's path, an empty file
//! included, is refused before SQLite writes to it: taking an empty file for a
//! new journal once sent 1,500 refunds a second time. A new journal is built
//! beside its path and linked into place whole, so a crash never leaves an
//! empty file where the journal should be. Before anything is sent, `PRAGMA
//! quick_check` reads every page, so a damaged journal is noticed.
//!
//! A journal is one file only at rest: while it is open, SQLite's write-ahead
//! log (`-wal`) holds the latest commits. A journal that closes cleanly
//! checkpoints the log into the file and truncates it (the `Drop` of
//! [`SqliteJournal`]); a copy of a journal that may be open, or was killed, is
//! made by [`backup`] (`bulkrefund journal backup`), never by copying the file.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{configure, schema, JournalError, OpenError, SqliteJournal};
pub use crate::journal::error::BackupError;
use crate::paths::with_suffix;

/// The start of every SQLite file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn not_a_journal(path: &Path, why: &str) -> JournalError {
    JournalError::NotAJournal {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

/// Refuses, from its first bytes, a file that cannot be a journal.
pub fn inspect(path: &Path) -> Result<(), JournalError> {
    let open_error = |e: std::io::Error| JournalError::open(path, e);
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(path)
        .map_err(open_error)?
        .take(100)
        .read_to_end(&mut header)
        .map_err(open_error)?;
    if header.is_empty() {
        // A journal created by an older bulkrefund may live in its -wal until checkpointed.
        let wal = std::fs::metadata(with_suffix(path, "-wal")).map_or(0, |m| m.len());
        if wal > 0 {
            return Ok(());
        }
        return Err(not_a_journal(path, "it is an empty file"));
    }
    if header.len() < 100 || !header.starts_with(SQLITE_MAGIC) {
        return Err(not_a_journal(path, "it is not a SQLite database"));
    }
    let application_id = i32::from_be_bytes(header[68..72].try_into().expect("4 bytes"));
    if application_id != 0 && application_id != schema::APPLICATION_ID {
        return Err(not_a_journal(
            path,
            "it is another program's SQLite database (its application_id is not bulkrefund's)",
        ));
    }
    Ok(())
}

/// Refuses, once open, a SQLite file that holds something else than a journal.
pub fn check_ours(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let damaged = |e: rusqlite::Error| JournalError::Damaged {
        path: path.to_owned(),
        report: e.to_string(),
    };
    if schema::application_id(conn).map_err(damaged)? == schema::APPLICATION_ID {
        return Ok(());
    }
    // From before the mark: bulkrefund's tables at a version it knows.
    let version = schema::version(conn).map_err(damaged)?;
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('batches', 'refunds', 'batch_rows', 'attempts', 'events')",
            [],
            |row| row.get(0),
        )
        .map_err(damaged)?;
    if version >= 1 && tables == 5 {
        return Ok(());
    }
    Err(not_a_journal(
        path,
        "it is a SQLite database, but not a bulkrefund journal",
    ))
}

/// Every page read and checked: the journal must be whole before anything is sent.
pub fn quick_check(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let damaged = |report: String| JournalError::Damaged {
        path: path.to_owned(),
        report,
    };
    let mut stmt = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| damaged(e.to_string()))?;
    let report: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if report != ["ok"] {
        return Err(damaged(report.join("; ")));
    }
    Ok(())
}

/// Creates a new, empty journal at `path`: built under a temporary name in the
/// same directory, then linked into place. If another process made one first,
/// theirs is kept.
pub fn create(path: &Path) -> Result<(), JournalError> {
    let open_error = |e: OpenError| JournalError::open(path, e);
    let dir = crate::paths::directory_of(path);
    let temporary = tempfile::Builder::new()
        .prefix(".bulkrefund-new-journal-")
        .tempfile_in(dir)
        .map_err(|source| {
            open_error(OpenError::Create {
                dir: dir.to_owned(),
                source,
            })
        })?
        .into_temp_path();
    {
        let mut conn = Connection::open_with_flags(
            &temporary,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        schema::migrate(&mut conn).map_err(|e| open_error(e.into()))?;
        // Closing checkpoints the WAL into the file, which is then whole.
        conn.close().map_err(|(_, e)| JournalError::Sql(e))?;
    }
    match std::fs::hard_link(&temporary, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A filesystem without hard links: a rename, unless a journal appeared meanwhile.
        Err(_) if !path.exists() => temporary
            .persist(path)
            .map_err(|e| open_error(e.error.into())),
        Err(_) => Ok(()),
    }
}

impl SqliteJournal {
    /// Copies the write-ahead log into the journal file and empties it, so
    /// that the file alone holds every refund. `false` when a reader's
    /// snapshot kept part of the log out (SQLite reports that as a busy row,
    /// not an error).
    fn fold_log(&self) -> rusqlite::Result<bool> {
        // A reader mid-transaction must not hold the exit for long.
        self.conn.busy_timeout(std::time::Duration::from_secs(2))?;
        let (busy, log, folded): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
        Ok(busy == 0 && folded >= log)
    }
}

impl Drop for SqliteJournal {
    /// At every clean end the log is folded into the journal file. SQLite
    /// does this itself only when the last connection closes, and another
    /// process reading the journal (`status` in another terminal) keeps it
    /// from happening; a reader in the middle of a long read keeps even this
    /// from finishing, and the operator is told, since a copy of the file
    /// alone would then miss refunds.
    fn drop(&mut self) {
        if self._lock.is_none() {
            return; // Read-only, or in memory: nothing of ours is in the log.
        }
        match self.fold_log() {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "another program is reading the journal, so its latest changes are still in '{}-wal': \
                 copy it with `bulkrefund journal backup FILE`, not by copying the file alone",
                self.path.display()
            ),
            Err(e) => tracing::warn!("the journal's closing checkpoint failed: {e}"),
        }
    }
}

/// Copies the journal, whole and consistent, into `target`, a file that
/// must not exist yet; returns how many refunds the copy holds. `VACUUM INTO`
/// reads one snapshot (the last commit, log included) through a read-only
/// connection, so it is safe while a run holds the journal's lock and
/// writes. The copy is made under a temporary name beside `target`, synced,
/// checked, then linked into place only if nothing is there (never an overwrite).
pub fn backup(journal: &SqliteJournal, target: &Path) -> Result<i64, BackupError> {
    let exists = || BackupError::Exists(target.to_owned());
    if std::fs::symlink_metadata(target).is_ok() {
        return Err(exists());
    }
    let write = |source| BackupError::Write {
        path: target.to_owned(),
        source,
    };
    let copy = |source| BackupError::Copy {
        path: target.to_owned(),
        source,
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(target.file_name().unwrap_or_default());
    prefix.push(".");
    let temporary = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".partial")
        .tempfile_in(crate::paths::directory_of(target))
        .map_err(write)?;
    let name = temporary.path().to_str().ok_or_else(|| {
        write(std::io::Error::other(
            "its directory's path is not UTF-8, which SQLite needs",
        ))
    })?;
    journal
        .conn
        .execute("VACUUM INTO ?1", [name])
        .map_err(copy)?;
    // VACUUM INTO does not sync what it wrote.
    temporary.as_file().sync_all().map_err(write)?;
    let refunds = {
        let conn = Connection::open_with_flags(temporary.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(copy)?;
        check_ours(&conn, target)?;
        quick_check(&conn, target)?;
        conn.query_row("SELECT COUNT(*) FROM refunds", [], |row| row.get(0))
            .map_err(copy)?
    };
    temporary
        .persist_noclobber(target)
        .map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => exists(),
            _ => write(e.error),
        })?;
    Ok(refunds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_folded_in_unless_a_reader_holds_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let journal = SqliteJournal::open(&path).unwrap();
        journal.conn.execute_batch("PRAGMA user_version").unwrap();
        assert!(journal.fold_log().unwrap(), "nobody reads it");
        // A reader in the middle of a read transaction, then a write after it.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM refunds", [], |row| row.get(0))
            .unwrap();
        journal
            .conn
            .execute_batch("CREATE TABLE scratch (x); INSERT INTO scratch VALUES (1);")
            .unwrap();
        assert!(!journal.fold_log().unwrap(), "the snapshot keeps the log");
        reader.execute_batch("COMMIT").unwrap();
        assert!(journal.fold_log().unwrap());
        assert_eq!(
            std::fs::metadata(dir.path().join("j.db-wal"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn only_a_journal_is_taken_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        assert!(inspect(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty file"));
        let text = dir.path().join("text.db");
        std::fs::write(&text, "merchant_refund_id,third_order_id\n".repeat(10)).unwrap();
        assert!(inspect(&text)
            .unwrap_err()
            .to_string()
            .contains("not a SQLite"));
        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);")
            .unwrap();
        assert!(
            inspect(&other).is_ok(),
            "no application_id: looked at once open"
        );
        assert!(check_ours(&conn, &other)
            .unwrap_err()
            .to_string()
            .contains("not a bulkrefund journal"));
        conn.pragma_update(None, "application_id", 7).unwrap();
        drop(conn);
        assert!(inspect(&other)
            .unwrap_err()
            .to_string()
            .contains("another program's"));
        let journal = dir.path().join("journal.db");
        create(&journal).unwrap();
        inspect(&journal).unwrap();
        let conn = Connection::open(&journal).unwrap();
        check_ours(&conn, &journal).unwrap();
        quick_check(&conn, &journal).unwrap();
    }
}
