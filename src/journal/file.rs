//! Is this file a journal, and is it whole? A journal is a SQLite file marked
//! with bulkrefund's `application_id` (or, from before the mark, one that holds
//! bulkrefund's tables). Anything else at the journal's path, an empty file
//! included, is refused before SQLite writes to it: taking an empty file for a
//! new journal once sent 1,500 refunds a second time. A new journal is built
//! beside its path and linked into place whole, so a crash never leaves an
//! empty file where the journal should be. Before anything is sent, `PRAGMA
//! quick_check` reads every page, so a damaged journal is noticed.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{configure, schema, JournalError, OpenError};
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

#[cfg(test)]
mod tests {
    use super::*;

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
