//! What can go wrong with a PostgreSQL journal, in words bulkrefund chooses.
//! The driver's own errors are never shown as they are: a connection error
//! could echo connection parameters, so each is reduced here to what is safe
//! to say (the server's SQLSTATE and message, or the kind of an I/O error).
//! No variant holds a password, and none holds the URL as given (it may carry
//! one).

use crate::setting::SettingError;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL is malformed or asks for something unsupported. `why` names
    /// the part, never the URL itself.
    #[error("the PostgreSQL journal's URL: {why}")]
    Url { why: String },
    #[error(
        "the PostgreSQL journal's URL carries a password, which is refused: it would sit in \
         shell history and in the list of processes. Remove it from the URL and give it as \
         journal_password = {{ env = \"VAR\" }} or {{ file = \"path\" }}, or in a password \
         file (PGPASSFILE, else ~/.pgpass)"
    )]
    PasswordInUrl,
    #[error("the PostgreSQL journal's password: {0}")]
    Secret(#[from] SettingError),
    #[error("cannot connect to PostgreSQL at {at} as role '{role}': {why}")]
    Connect {
        role: String,
        at: String,
        why: String,
    },
    /// A statement failed after connecting: what was being done, and why.
    #[error("the PostgreSQL journal, {doing}: {why}")]
    Query { doing: String, why: String },
    #[error(
        "the PostgreSQL journal has schema version {found}, newer than this bulkrefund knows \
         ({known}): upgrade bulkrefund"
    )]
    Newer { found: i64, known: i64 },
    #[error("the PostgreSQL journal is not one bulkrefund can use: {0}")]
    NotAJournal(String),
    #[error(
        "role '{role}' lacks what the PostgreSQL journal needs ({missing}). Ask the journal's \
         administrator to run: {grant}"
    )]
    Grants {
        role: String,
        missing: String,
        grant: String,
    },
}

impl PgError {
    /// A failed statement, `doing` what the caller was doing ("reading the
    /// schema version").
    pub fn query(doing: impl Into<String>, error: &postgres::Error) -> PgError {
        PgError::Query {
            doing: doing.into(),
            why: describe(error),
        }
    }
}

/// A driver error as bulkrefund says it: the server's SQLSTATE and message
/// (the server never echoes a password), an I/O error's own text (the
/// operating system's: "No such file or directory"), or the kind of failure
/// the driver reports, without its details.
pub fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    if let Some(io) = io_cause(error) {
        return match io.kind() {
            std::io::ErrorKind::NotFound => {
                "no server is listening there (no such socket)".to_owned()
            }
            std::io::ErrorKind::ConnectionRefused => {
                "no server is listening there (connection refused)".to_owned()
            }
            std::io::ErrorKind::TimedOut => "the server did not answer in time".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied on the socket".to_owned(),
            kind => format!("input/output error ({kind})"),
        };
    }
    if error.is_closed() {
        return "the connection was closed".to_owned();
    }
    "the server's answer could not be used (a protocol or authentication error)".to_owned()
}

/// The I/O error somewhere under a driver error.
fn io_cause(error: &postgres::Error) -> Option<&std::io::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = current.source();
    }
    None
}
