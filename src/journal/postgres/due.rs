//! The scheduler's side on PostgreSQL: what may still leave
//! ([`PgJournal::waiting`]) and the due reader on a connection of its own
//! ([`PgJournal::due_reader`], [`reader::PgDueReader`]); and the money of a
//! batch and of the journal ([`money`]). Each means what the SQLite store's
//! operation of the same name means (`sqlite/outgoing.rs`, `sqlite/due.rs`,
//! `sqlite/money.rs`, `sqlite/reports.rs`), row for row and in the same
//! order; which states count as what money comes from `money_rules`.

mod money;
pub mod reader;
mod scope;

use super::fenced::pg_error;
use super::PgJournal;
use crate::journal::money_rules::MAY_LEAVE;
use crate::journal::records::{Scope, Waiting};
use crate::journal::state::sql_list;
use crate::journal::store::DueReads;
use crate::journal::JournalError;
use crate::money::Fen;
use scope::unsigned;

/// The refunds in `scope` that may still leave, by batch and profile, in
/// batch order then profile (in byte order, as SQLite's), each group with
/// its largest refund: of those with the largest amount, the first by id
/// (SQLite takes the bare column from the first row that reached the
/// maximum, in id order).
fn waiting_sql(scope: &Scope) -> String {
    format!(
        r#"WITH g AS (
             SELECT batch_id, profile, COUNT(*) AS n, SUM(amount_fen)::bigint AS fen,
                    MIN(ARRAY[-amount_fen, id]) AS largest
             FROM refunds WHERE state IN {} AND id IN ({})
             GROUP BY batch_id, profile)
           SELECT g.batch_id, g.profile, g.n, g.fen, -g.largest[1], f.refund_id
           FROM g JOIN refunds f ON f.id = g.largest[2]
           ORDER BY g.batch_id, g.profile COLLATE "C""#,
        sql_list(&MAY_LEAVE),
        scope::ids_sql(scope)
    )
}

impl PgJournal {
    /// The refunds in `scope` that may still leave, by batch and profile, in
    /// batch order.
    pub fn waiting(&mut self, scope: &Scope) -> Result<Vec<Waiting>, JournalError> {
        let rows = self
            .client
            .query(&waiting_sql(scope), &[])
            .map_err(pg_error("reading what may still leave"))?;
        rows.iter()
            .map(|row| {
                Ok(Waiting {
                    batch: row.get(0),
                    profile: row.get(1),
                    count: unsigned(row.get(2), "a count")?,
                    fen: Fen(unsigned(row.get(3), "an amount")?),
                    largest: (Fen(unsigned(row.get(4), "an amount")?), row.get(5)),
                })
            })
            .collect()
    }

    /// A reader of what is due in `scope`, on a connection of its own logged
    /// in as this one is; `gaps` when some profile keeps a pause between
    /// refunds of one order.
    pub fn due_reader(
        &mut self,
        scope: &Scope,
        gaps: bool,
    ) -> Result<Box<dyn DueReads>, JournalError> {
        let client = self
            .login
            .connect()
            .map_err(|e| JournalError::Store(e.to_string()))?;
        Ok(Box::new(reader::PgDueReader::open(client, scope, gaps)?))
    }
}
