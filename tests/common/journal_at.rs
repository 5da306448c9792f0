//! Where a harness's journal lives and how the harness reads it: a SQLite
//! file or a PostgreSQL journal ([`PgJournalAt`]). The chaos harnesses give
//! the binary its `--journal` (and, for PostgreSQL, its password file) and
//! read what the journal holds through [`JournalAt::rows`], the one seam
//! between them and either store: every column read as text (write
//! `CAST(x AS TEXT)`, which both databases understand).

use std::path::{Path, PathBuf};

/// A PostgreSQL journal for the world's commands (tests/pg/twin.rs makes one).
pub struct PgJournalAt {
    /// `postgres://role@/db?host=…`, as `--journal` takes it.
    pub url: String,
    /// The role's password file (PGPASSFILE, mode 0600).
    pub passfile: PathBuf,
    /// How the test itself reads what the journal holds.
    pub reader: postgres::Config,
}

/// A harness's journal: a SQLite file, or a PostgreSQL journal.
pub enum JournalAt {
    Sqlite(PathBuf),
    Postgres(Box<PgJournalAt>),
}

impl JournalAt {
    /// Gives `command` this journal: `--journal`, and PGPASSFILE for PostgreSQL.
    pub fn give_to(&self, command: &mut tokio::process::Command) {
        match self {
            JournalAt::Sqlite(path) => {
                command.arg("--journal").arg(path);
            }
            JournalAt::Postgres(pg) => {
                command
                    .arg("--journal")
                    .arg(&pg.url)
                    .env("PGPASSFILE", &pg.passfile);
            }
        }
    }

    /// The SQLite file, when the journal is one.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            JournalAt::Sqlite(path) => Some(path),
            JournalAt::Postgres(_) => None,
        }
    }

    /// The rows `sql` selects, every column as text; none when the journal
    /// cannot be read (not created yet, or its schema not yet in place).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            JournalAt::Sqlite(path) => sqlite_rows(path, sql).unwrap_or_default(),
            JournalAt::Postgres(pg) => bulkrefund::journal::postgres::outside_async(|| {
                pg_rows(&pg.reader, sql).unwrap_or_default()
            }),
        }
    }

    /// The first column of the first row `sql` selects, as a number (0 when none).
    pub fn number(&self, sql: &str) -> i64 {
        self.rows(sql)
            .first()
            .and_then(|row| row.first().cloned().flatten())
            .and_then(|text| text.parse().ok())
            .unwrap_or(0)
    }
}

fn sqlite_rows(journal: &Path, sql: &str) -> Option<Vec<Vec<Option<String>>>> {
    let conn =
        rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    let mut select = conn.prepare(sql).ok()?;
    let width = select.column_count();
    let rows = select
        .query_map([], |r| (0..width).map(|i| r.get(i)).collect())
        .ok()?;
    rows.collect::<Result<_, _>>().ok()
}

fn pg_rows(reader: &postgres::Config, sql: &str) -> Option<Vec<Vec<Option<String>>>> {
    let mut client = reader.connect(postgres::NoTls).ok()?;
    let rows = client.query(sql, &[]).ok()?;
    Some(
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
            .collect(),
    )
}
