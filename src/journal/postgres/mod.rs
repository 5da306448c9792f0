//! The PostgreSQL journal, for a team that shares one: where it is and how
//! to log in ([`connect`], [`passfile`]), its schema and version
//! ([`schema`], [`schema_sql`]), whether the role may use it ([`grants`]),
//! errors in bulkrefund's own words ([`error`]), and its store: the
//! connection ([`store::PgJournal`]) whose named operations live one module
//! per kind, as SQLite's do — claims and fenced writes ([`claims`],
//! [`fenced`], on the server's [`clock`]), changes ([`changes`]), imports
//! ([`imports`]), refunds and their history ([`refunds`]), the scheduler's
//! reads and the money ([`due`]), reports ([`reports`]), reconciliation
//! ([`reconcile`]), approvals ([`approvals`]) and the shared rate ([`rate`])
//! — made a `JournalStore` by [`store_impl::PgStore`]. The driver is the
//! synchronous `postgres` crate (docs/postgres.md, "Driver"); it must not
//! block a thread that runs async tasks, hence [`outside_async`].

pub mod approvals;
pub mod changes;
pub mod claims;
pub mod clock;
pub mod connect;
pub mod copy;
mod days;
pub mod due;
pub mod error;
pub mod fenced;
mod fenced_sql;
pub mod grants;
mod held_ids;
mod history;
mod import;
mod import_chunk;
pub mod imports;
pub mod passfile;
mod preview;
pub mod rate;
pub mod reconcile;
mod reconciled;
mod refund_rows;
pub mod refunds;
pub mod reports;
pub mod schema;
pub mod schema_sql;
pub mod store;
pub mod store_impl;

pub use connect::{ConfiguredSecret, Host, Login, PasswordOrigin, Target};
pub use error::PgError;
pub use passfile::Passfile;
pub use store::PgJournal;
pub use store_impl::PgStore;

/// Opens a PostgreSQL journal: connects, brings the schema to the current
/// version and checks the role's privileges. Returns the connection and who
/// is logged in.
pub fn open(
    url: &str,
    secret: Option<ConfiguredSecret<'_>>,
    passfile: &Passfile,
) -> Result<Opened, PgError> {
    let (mut client, login) = connect::connect(url, secret, passfile)?;
    // From here on, this process dates and schedules by the server's clock
    // (`journal::clock`).
    clock::follow_server(&mut client)
        .map_err(|e| PgError::query("reading the server's clock", &e))?;
    grants::check(&mut client)?;
    schema::migrate(&mut client)?;
    grants::check(&mut client)?;
    let person = grants::current_user(&mut client)?;
    Ok(Opened {
        client,
        login,
        person,
    })
}

/// An open PostgreSQL journal's connection.
pub struct Opened {
    pub client: postgres::Client,
    pub login: Login,
    /// `current_user`: the person, as PostgreSQL authenticated them.
    pub person: String,
}

/// Runs `f`, which uses the driver, where the driver may block: the
/// `postgres` client drives its connection on a runtime of its own, which
/// tokio refuses to start on a thread that drives async tasks, so there it
/// runs under `block_in_place` (the program's runtime is multi-threaded:
/// the other tasks go on). Everywhere else (the journal's writer thread, a
/// blocking task, a plain thread) it simply runs.
pub fn outside_async<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
