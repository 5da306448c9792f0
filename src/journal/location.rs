//! Where the journal is, as the command line or the configuration names it:
//! a SQLite file (the default, embedded), or a PostgreSQL database named by
//! a `postgres://` URL, with where its password comes from (the
//! configuration's `journal_password`, else the password file). Opening
//! one gives the same [`Journal`] either way.

use std::fmt;
use std::path::{Path, PathBuf};

use super::postgres::{self as pg, ConfiguredSecret, Passfile, PgError, PgJournal, PgStore};
use super::{Journal, JournalError};
use crate::paths::Protected;
use crate::secret::SecretRef;

/// The journal when neither `--journal` nor the configuration names one.
pub const DEFAULT_JOURNAL: &str = "bulkrefund.db";

/// A journal's place.
#[derive(Clone, Debug)]
pub enum JournalLocation {
    /// A SQLite journal file.
    File(PathBuf),
    /// A PostgreSQL journal.
    Postgres(PgPlace),
}

/// A PostgreSQL journal's URL (a password in it is refused when it is
/// opened, and neither `Debug` nor `Display` shows the URL as given) and the
/// password's secret, if configured.
#[derive(Clone)]
pub struct PgPlace {
    pub url: String,
    /// `journal_password`, and the directory a `file` secret is relative to.
    pub password: Option<(SecretRef, PathBuf)>,
}

/// Whether `text` names a PostgreSQL journal rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl JournalLocation {
    /// A SQLite journal file.
    pub fn file(path: impl AsRef<Path>) -> JournalLocation {
        JournalLocation::File(path.as_ref().to_owned())
    }

    /// The journal `text` names: a PostgreSQL URL, else a file, relative to
    /// `dir` when given (the configuration's directory).
    pub fn named(
        text: &Path,
        dir: Option<&Path>,
        password: Option<(SecretRef, PathBuf)>,
    ) -> JournalLocation {
        match text.to_str().filter(|t| is_postgres_url(t)) {
            Some(url) => JournalLocation::Postgres(PgPlace {
                url: url.to_owned(),
                password,
            }),
            None => JournalLocation::File(match dir {
                Some(dir) => dir.join(text),
                None => text.to_owned(),
            }),
        }
    }

    /// The journal: `explicit` (`--journal`), else `configured` (the
    /// configuration's `journal`: a file relative to its directory `dir`, or
    /// a `postgres://` URL), else `./bulkrefund.db`. A PostgreSQL journal's
    /// password is `password` (the configuration's `journal_password`).
    pub fn chosen(
        explicit: Option<&Path>,
        configured: Option<&Path>,
        dir: &Path,
        password: Option<(SecretRef, PathBuf)>,
    ) -> JournalLocation {
        match (explicit, configured) {
            (Some(named), _) => JournalLocation::named(named, None, password),
            (None, Some(named)) => JournalLocation::named(named, Some(dir), password),
            (None, None) => JournalLocation::file(DEFAULT_JOURNAL),
        }
    }

    /// The SQLite file, when the journal is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            JournalLocation::File(path) => Some(path),
            JournalLocation::Postgres(_) => None,
        }
    }

    /// The journal as messages name it (its path, or where the PostgreSQL
    /// server is): `Display`, spelled as a path's is.
    pub fn display(&self) -> &JournalLocation {
        self
    }

    /// Adds the journal's files to those an output must never be (a
    /// PostgreSQL journal has none here).
    pub fn protect<'a>(&self, protected: &'a mut Protected) -> &'a mut Protected {
        match self.path() {
            Some(path) => protected.journal(path),
            None => protected,
        }
    }

    /// Whether the journal may hold something: a file that exists; a
    /// PostgreSQL journal always may (opening it says when it cannot be reached).
    pub fn exists(&self) -> bool {
        match self {
            JournalLocation::File(path) => path.exists(),
            JournalLocation::Postgres(_) => true,
        }
    }

    /// Opens the journal for writing: a SQLite file is created when missing
    /// and its lock held; a PostgreSQL journal is connected to, its schema
    /// brought to the current version and the role's grants checked.
    pub fn open(&self) -> Result<Journal, JournalError> {
        match self {
            JournalLocation::File(path) => Journal::open(path),
            JournalLocation::Postgres(place) => Ok(Journal::from_store(Box::new(PgStore::new(
                place.connect().map_err(pg_journal_error)?,
            )))),
        }
    }

    /// Opens the journal to read: a SQLite file without its lock (`None`
    /// when there is none); a PostgreSQL journal as [`Self::open`] does.
    pub fn open_read_only(&self) -> Result<Option<Journal>, JournalError> {
        match self {
            JournalLocation::File(path) => Journal::open_read_only(path),
            JournalLocation::Postgres(_) => self.open().map(Some),
        }
    }
}

impl PgPlace {
    /// A connection of its own to the journal (the journal's, or the shared
    /// rate's). The driver runs a runtime of its own, which cannot start on a
    /// thread that drives async tasks: there, it connects outside them.
    pub fn connect(&self) -> Result<PgJournal, PgError> {
        let secret = self
            .password
            .as_ref()
            .map(|(reference, dir)| ConfiguredSecret { reference, dir });
        pg::outside_async(|| PgJournal::open(&self.url, secret, &Passfile::from_env()))
    }
}

/// A PostgreSQL journal that cannot be opened, as the journal's error.
fn pg_journal_error(error: PgError) -> JournalError {
    JournalError::Store(error.to_string())
}

impl fmt::Debug for PgPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = JournalLocation::Postgres(self.clone());
        write!(f, "PgPlace({place})")
    }
}

impl fmt::Display for JournalLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalLocation::File(path) => write!(f, "{}", path.display()),
            // Never the URL as given: it may carry a password (refused when
            // the journal is opened, but not to be echoed before).
            JournalLocation::Postgres(place) => match pg::Target::parse(&place.url) {
                Ok(target) => write!(
                    f,
                    "the PostgreSQL journal at {} (role '{}')",
                    target.at(),
                    target.role
                ),
                Err(_) => write!(f, "the PostgreSQL journal (its URL cannot be read)"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A URL typed with a password in it is refused when opened; before
    /// that, no message or debug print of the location shows it.
    #[test]
    fn a_password_typed_in_the_url_is_never_shown() {
        for url in [
            "postgres://alice:hunter2@db/journal",
            "postgres://alice:2024/hunter2@db/journal",
        ] {
            let place = JournalLocation::named(Path::new(url), None, None);
            for shown in [place.to_string(), format!("{place:?}")] {
                assert!(!shown.contains("hunter2"), "{shown}");
            }
        }
        let place = JournalLocation::named(Path::new("postgres://alice@db/journal"), None, None);
        assert_eq!(
            place.to_string(),
            "the PostgreSQL journal at db:5432, database 'journal' (role 'alice')"
        );
    }
}
