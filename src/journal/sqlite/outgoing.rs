//! What a command is about to send besides new refunds: the refunds already in
//! the journal that may still leave for the gateway (never sent, waiting to be
//! sent again, or with an outcome to learn, which a "never created" answer
//! sends again), summed by the batch that holds each. The plans shown before
//! sending and the caps (`max_refund_yuan`, `max_batch_yuan`) read it, so that
//! they count exactly what leaves: a run of a file that names refunds an
//! earlier, killed run never sent sends those too.

use rusqlite::{params, Connection, OptionalExtension};

use super::state::sql_list;
use super::{JournalError, Scope, SqliteJournal};
use crate::journal::dedupe::note_waiting;
pub use crate::journal::records::Waiting;
use crate::money::Fen;

/// States from which a refund may still be submitted: decided in `money_rules`.
pub use crate::journal::money_rules::MAY_LEAVE;

/// Adds `refund` (a refund the journal held before this batch, which a row of
/// it names) to `into` when it may still leave.
pub(super) fn note(
    conn: &Connection,
    refund: i64,
    into: &mut Vec<Waiting>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "SELECT refund_id, profile, batch_id, amount_fen FROM refunds WHERE id = ?1 AND state IN {}",
        sql_list(&MAY_LEAVE)
    );
    let found: Option<(String, String, i64, i64)> = conn
        .prepare_cached(&sql)?
        .query_row(params![refund], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let Some((refund_id, profile, batch, fen)) = found else {
        return Ok(());
    };
    note_waiting(into, batch, profile, Fen(fen as u64), refund_id);
    Ok(())
}

impl SqliteJournal {
    /// The refunds in `scope` that may still leave, by batch and profile, in
    /// batch order.
    pub fn waiting(&self, scope: &Scope) -> Result<Vec<Waiting>, JournalError> {
        // SQLite takes a bare column beside MAX() from the row that holds the maximum.
        let sql = format!(
            "SELECT batch_id, profile, COUNT(*), SUM(amount_fen), MAX(amount_fen), refund_id
             FROM refunds WHERE state IN {} AND id IN ({})
             GROUP BY batch_id, profile ORDER BY batch_id, profile",
            sql_list(&MAY_LEAVE),
            scope.ids_sql()
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |row| {
            Ok(Waiting {
                batch: row.get(0)?,
                profile: row.get(1)?,
                count: row.get(2)?,
                fen: Fen(row.get::<_, i64>(3)? as u64),
                largest: (Fen(row.get::<_, i64>(4)? as u64), row.get(5)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
