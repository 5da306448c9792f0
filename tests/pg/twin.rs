//! Two journals side by side for store tests: a SQLite journal in a
//! temporary file and a PostgreSQL journal on a real server (the team's
//! roles: an owner, the operator group, and alice and bob in it), both
//! held as the program holds a journal ([`Journal`], the trait behind a
//! box). A test does the same through both and compares what each answers,
//! or fills the SQLite one (through the simulator, or by hand) and copies it
//! into PostgreSQL as `journal copy` does, then asks both the same.
// Not every test file uses every helper.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bulkrefund::journal::postgres::{
    copy, grants, schema, ConfiguredSecret, Passfile, PgJournal, PgStore,
};
use bulkrefund::journal::sqlite::SqliteJournal;
use bulkrefund::journal::Journal;
use bulkrefund::secret::SecretRef;

use super::common::PgJournalAt;
use super::server::PgServer;
use super::tables::{pg_rows, sqlite_columns, sqlite_rows, TABLES};

pub const DB: &str = "journal";
pub const OWNER: &str = "bulkrefund_owner";
pub const OWNER_PASSWORD: &str = "owner-pw-tw1n";
/// The team's people, each with a password (`<name>-pw`).
pub const PEOPLE: [&str; 2] = ["alice", "bob"];

/// A server with an empty PostgreSQL journal, and a directory for the
/// SQLite one.
pub struct Twin {
    pub server: PgServer,
    pub dir: tempfile::TempDir,
}

impl Twin {
    /// Starts a server for `test` (or `None`: skipped, said so).
    pub fn start(test: &str) -> Option<Twin> {
        let server = PgServer::start(test)?;
        let mut roles = format!(
            "CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}';
             CREATE ROLE {} NOLOGIN;",
            grants::OPERATOR_ROLE
        );
        for person in PEOPLE {
            roles.push_str(&format!(
                "CREATE ROLE {person} LOGIN PASSWORD '{person}-pw';
                 GRANT {} TO {person};",
                grants::OPERATOR_ROLE
            ));
        }
        server.exec("postgres", &roles);
        server.exec("postgres", &format!("CREATE DATABASE {DB} OWNER {OWNER}"));
        let mut owner = server.client(OWNER, OWNER_PASSWORD, DB);
        schema::migrate(&mut owner).unwrap();
        owner.batch_execute(&grants::operator_grants()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for person in PEOPLE {
            let path = dir.path().join(format!("{person}.pw"));
            std::fs::write(&path, format!("{person}-pw")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Some(Twin { server, dir })
    }

    /// The SQLite journal's file.
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("journal.db")
    }

    /// The SQLite journal, opened for writing (created when missing).
    pub fn sqlite(&self) -> Journal {
        Journal::open(&self.sqlite_path()).unwrap()
    }

    /// The PostgreSQL journal's URL for `person`.
    pub fn url(&self, person: &str) -> String {
        self.server.url(person, DB)
    }

    /// A new connection to the PostgreSQL journal, as alice.
    pub fn pg(&self) -> Journal {
        self.pg_as("alice")
    }

    /// A new connection to the PostgreSQL journal, as `person`.
    pub fn pg_as(&self, person: &str) -> Journal {
        Journal::from_store(Box::new(PgStore::new(self.pg_connection(person))))
    }

    /// The connection itself (its inherent operations), as `person`.
    pub fn pg_connection(&self, person: &str) -> PgJournal {
        let file = SecretRef::File {
            file: format!("{person}.pw").into(),
        };
        let secret = ConfiguredSecret {
            reference: &file,
            dir: self.dir.path(),
        };
        PgJournal::open(&self.url(person), Some(secret), &Passfile::Nowhere)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Copies the SQLite journal at `source` into the (empty) PostgreSQL
    /// journal, proven as `journal copy` proves it.
    pub fn copy_into_pg(&self, source: &Path) {
        let sqlite = SqliteJournal::open_read_only(source)
            .unwrap()
            .expect("the SQLite journal exists");
        let mut owner = self.server.client(OWNER, OWNER_PASSWORD, DB);
        copy::copy(&mut owner, &sqlite).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The PostgreSQL journal for a [`World`]'s commands, as `person`: its
    /// URL, a password file for it, and a superuser's reader.
    pub fn for_world(&self, person: &str) -> PgJournalAt {
        let passfile = self.dir.path().join(format!("{person}.pgpass"));
        std::fs::write(
            &passfile,
            format!(
                "{}:5432:{DB}:{person}:{person}-pw\n",
                self.server.socket_dir().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        PgJournalAt {
            url: self.url(person),
            passfile,
            reader: self.server.superuser_config(DB),
        }
    }

    /// A connection as the superuser, to look at what PostgreSQL holds.
    pub fn superuser(&self) -> postgres::Client {
        self.server.superuser(DB)
    }

    /// Every table of both journals, row for row, column for column, except
    /// the columns `skip` names (times each store takes from its own clock,
    /// a claim's owner): the differences, one line each, empty when none.
    pub fn differences(&self, sqlite: &Path, skip: &[&str]) -> Vec<String> {
        let conn = rusqlite::Connection::open(sqlite).unwrap();
        let mut client = self.superuser();
        let mut found = Vec::new();
        for (table, order) in TABLES {
            let columns = sqlite_columns(&conn, table);
            let ours = sqlite_rows(sqlite, table, order);
            let theirs = pg_rows(&mut client, table, &columns, order);
            if ours.len() != theirs.len() {
                found.push(format!(
                    "{table}: {} rows in SQLite, {} in PostgreSQL",
                    ours.len(),
                    theirs.len()
                ));
                continue;
            }
            for (row, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                for (i, column) in columns.iter().enumerate() {
                    if !skip.contains(&column.as_str()) && a[i] != b[i] {
                        found.push(format!(
                            "{table} row {row} {column}: SQLite {:?}, PostgreSQL {:?}",
                            a[i], b[i]
                        ));
                    }
                }
            }
        }
        found
    }
}
