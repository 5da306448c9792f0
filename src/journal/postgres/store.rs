//! The PostgreSQL store: the journal's named operations on a PostgreSQL
//! connection, for teams that share one journal across processes and
//! machines. Built in steps: the claims, the approvals and the shared rate
//! first (each proven against a real server), then the rest of
//! [`crate::journal::JournalStore`]; until every operation is here, no
//! command opens a PostgreSQL journal.

use super::{ConfiguredSecret, Passfile, PgError};

/// One connection to a PostgreSQL journal, with who it is logged in as.
pub struct PgJournal {
    pub(crate) client: postgres::Client,
    /// `current_user`: the person, as PostgreSQL authenticated them.
    pub(crate) role: String,
}

impl PgJournal {
    /// Connects, brings the schema to the current version and checks the
    /// role's privileges ([`super::open`]).
    pub fn open(
        url: &str,
        secret: Option<ConfiguredSecret<'_>>,
        passfile: &Passfile,
    ) -> Result<PgJournal, PgError> {
        let opened = super::open(url, secret, passfile)?;
        Ok(PgJournal {
            client: opened.client,
            role: opened.person,
        })
    }

    /// The role logged in (`current_user`).
    pub fn role(&self) -> &str {
        &self.role
    }
}
