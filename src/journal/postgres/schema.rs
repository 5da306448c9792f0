//! The PostgreSQL journal's schema and its version. The version is the
//! SQLite journal's ([`crate::journal::schema::VERSION`]), kept in a
//! one-row table `bulkrefund_schema(version)`: an empty database is brought
//! straight to version 11 ([`super::schema_sql`]), and each later migration
//! is a step like SQLite's. Migrating runs in one transaction under a
//! transaction-scoped advisory lock, so two processes starting at once cannot
//! race: the second waits, then finds the work done. A journal at a newer
//! version is refused, as SQLite's `MigrateError::Newer` refuses it.

use postgres::{Client, GenericClient};

use super::error::PgError;
use super::schema_sql;

/// The version this bulkrefund writes: the SQLite journal's.
pub const VERSION: i64 = crate::journal::schema::VERSION;

/// The key of the advisory lock migrations take ("BRJL", the SQLite
/// journal's application id).
pub const MIGRATION_LOCK: i64 = crate::journal::schema::APPLICATION_ID as i64;

/// The steps after creation: (the version a step brings the schema to, its
/// SQL). Creation brings an empty database to [`CREATED_AT`]; a later
/// migration appends its step here.
const STEPS: &[(i64, &str)] = &[(
    12,
    "CREATE INDEX refunds_in_flight ON refunds(lease_until_ms) WHERE state = 'in_flight';",
)];

/// The version [`schema_sql::VERSION_11`] creates.
const CREATED_AT: i64 = 11;

/// The schema's version, or `None` when the database has no bulkrefund
/// schema yet.
pub fn version(client: &mut impl GenericClient) -> Result<Option<i64>, PgError> {
    let doing = "reading the schema version";
    if !exists(client)? {
        return Ok(None);
    }
    let rows = client
        .query("SELECT version FROM bulkrefund_schema", &[])
        .map_err(|e| PgError::query(doing, &e))?;
    match rows.as_slice() {
        [row] => row
            .try_get(0)
            .map(Some)
            .map_err(|e| PgError::query(doing, &e)),
        _ => Err(PgError::NotAJournal(format!(
            "bulkrefund_schema holds {} rows, not one",
            rows.len()
        ))),
    }
}

/// Whether the database has a bulkrefund schema (its version table, in the
/// current schema, where the journal's tables are). Read from the catalog with the statement's
/// own snapshot: `to_regclass` would answer from the session's catalog
/// cache, which inside a transaction does not see a table another session
/// committed meanwhile (the migration that waited on the lock would create
/// the schema a second time).
pub fn exists(client: &mut impl GenericClient) -> Result<bool, PgError> {
    client
        .query_one(
            "SELECT EXISTS (
                 SELECT 1 FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = 'bulkrefund_schema'
                    AND n.nspname = current_schema())",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| PgError::query("looking for the schema", &e))
}

/// Brings the schema to [`VERSION`]; refuses one that is newer. A schema
/// already current is only read (no lock, no write), so a role without
/// the right to create tables can open it.
pub fn migrate(client: &mut Client) -> Result<(), PgError> {
    if let Some(found) = version(client)? {
        if found == VERSION {
            return Ok(());
        }
        check_not_newer(found)?;
    }
    let doing = "migrating the schema";
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::query(doing, &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| PgError::query("waiting for another process's migration", &e))?;
    // Read again under the lock: another process may have migrated while
    // this one waited.
    let found = version(&mut tx)?;
    if let Some(found) = found {
        check_not_newer(found)?;
    }
    let at = match found {
        Some(version) => version,
        None => {
            tx.batch_execute(schema_sql::VERSION_11)
                .and_then(|()| {
                    tx.batch_execute(
                        "CREATE TABLE bulkrefund_schema (
                             version BIGINT NOT NULL,
                             one_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one_row)
                         );",
                    )
                })
                .and_then(|()| {
                    tx.execute(
                        "INSERT INTO bulkrefund_schema (version) VALUES ($1)",
                        &[&CREATED_AT],
                    )
                })
                .map_err(|e| {
                    PgError::query(
                        "creating the schema (the journal's owner creates it, by opening it \
                         first: docs/postgres.md)",
                        &e,
                    )
                })?;
            CREATED_AT
        }
    };
    if at < CREATED_AT {
        return Err(PgError::NotAJournal(format!(
            "its schema version {at} is older than any a PostgreSQL journal was made at \
             ({CREATED_AT})"
        )));
    }
    for (to, sql) in STEPS.iter().filter(|(to, _)| *to > at) {
        tx.batch_execute(sql)
            .and_then(|()| tx.execute("UPDATE bulkrefund_schema SET version = $1", &[to]))
            .map_err(|e| PgError::query(format!("migration {to}"), &e))?;
    }
    tx.commit().map_err(|e| PgError::query(doing, &e))
}

fn check_not_newer(found: i64) -> Result<(), PgError> {
    if found > VERSION {
        return Err(PgError::Newer {
            found,
            known: VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A migration added to the SQLite journal needs its PostgreSQL step
    /// here: without one, a PostgreSQL journal would stay a version behind
    /// (and be migrated again at every open).
    #[test]
    fn every_sqlite_version_has_its_postgresql_step() {
        let latest = super::STEPS.last().map_or(super::CREATED_AT, |(to, _)| *to);
        assert_eq!(latest, super::VERSION);
    }
}
