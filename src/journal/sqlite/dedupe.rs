//! The dedupe verdict on a row, as the SQLite import (import.rs) and its
//! preview for `validate` (preview.rs) find what it reads: the decision
//! itself is [`crate::journal::dedupe`], one for every store.

use rusqlite::{params, Connection, OptionalExtension};

use crate::batch::RefundRow;
pub(super) use crate::journal::dedupe::{Dedupe, Existing};

pub(super) fn lookup(
    conn: &Connection,
    id_space: &str,
    refund_id: &str,
) -> rusqlite::Result<Option<Existing>> {
    conn.prepare_cached(
        "SELECT id, fingerprint, batch_id, line FROM refunds WHERE scope = ?1 AND refund_id = ?2",
    )?
    .query_row(params![id_space, refund_id], |row| {
        Ok(Existing {
            id: row.get(0)?,
            fingerprint: row.get(1)?,
            batch_id: row.get(2)?,
            line: row.get(3)?,
        })
    })
    .optional()
}

/// [`crate::journal::dedupe::against_journal`], the chain's head read from this journal.
pub(super) fn against_journal(
    conn: &Connection,
    refund: &RefundRow,
    existing: &Existing,
    this_batch: Option<i64>,
    first_row_with: impl FnOnce(i64) -> rusqlite::Result<Option<u64>>,
) -> rusqlite::Result<Dedupe> {
    crate::journal::dedupe::against_journal(
        refund,
        existing,
        this_batch,
        |id| super::chain::head(conn, id),
        first_row_with,
    )
}
