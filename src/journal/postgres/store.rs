//! The PostgreSQL store: the journal's named operations on a PostgreSQL
//! connection, for teams that share one journal across processes and
//! machines: one connection ([`PgJournal`]), whose named operations live in
//! the modules beside this one, one module per kind of operation as in
//! `journal/sqlite/`; [`super::store_impl::PgStore`] makes it a
//! [`crate::journal::JournalStore`].

use super::fenced_sql::FencedStatements;
use super::{ConfiguredSecret, Login, Passfile, PgError};

/// One connection to a PostgreSQL journal, with who it is logged in as.
pub struct PgJournal {
    pub(crate) client: postgres::Client,
    /// `session_user`: the person, as PostgreSQL authenticated them.
    pub(crate) role: String,
    /// How it logged in: the scheduler's reads open a second connection
    /// with it ([`crate::journal::store::DueReads`]).
    pub(crate) login: Login,
    /// The fenced writes' statements, prepared at the first write.
    pub(crate) fenced: Option<FencedStatements>,
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
            login: opened.login,
            fenced: None,
        })
    }

    /// The role logged in (`current_user`).
    pub fn role(&self) -> &str {
        &self.role
    }
}
