//! The dedupe verdict on a row (docs/specs/batch-files.md, "Dedupe"), as the
//! import (import.rs) and its preview for `validate` (preview.rs) both decide
//! it: one decision, so that `validate` and `run` never disagree.

use rusqlite::{params, Connection, OptionalExtension};

use crate::batch::RefundRow;

pub(super) enum Dedupe {
    New,
    Known { refund: i64 },
    Duplicate { refund: Option<i64>, of_line: u64 },
    Conflict { message: String },
}

pub(super) struct Existing {
    pub(super) id: i64,
    pub(super) fingerprint: String,
    batch_id: i64,
    line: u64,
}

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

pub(super) fn conflict_with_journal(
    refund_id: &str,
    existing: &Existing,
    this_batch: Option<i64>,
) -> Dedupe {
    let message = if Some(existing.batch_id) == this_batch {
        format!(
            "refund id {refund_id} is used at line {} for a different refund; never sent",
            existing.line
        )
    } else {
        format!(
            "refund id {refund_id} was already used for a different refund (batch {}, line {}); never sent",
            existing.batch_id, existing.line
        )
    };
    Dedupe::Conflict { message }
}

/// The verdict on a row naming a refund the journal holds (`existing`), for
/// the import and its preview alike: a conflict when the content differs;
/// otherwise the refund is reported by its chain's head (a retry under a new
/// id), and the row repeats an earlier row of the batch that reached the same
/// head (`first_row_with(head)`: that row's line), so that a file naming both
/// `R1` and its retry `R1R2` sends the chain once.
pub(super) fn against_journal(
    conn: &Connection,
    refund: &RefundRow,
    existing: &Existing,
    this_batch: Option<i64>,
    first_row_with: impl FnOnce(i64) -> rusqlite::Result<Option<u64>>,
) -> rusqlite::Result<Dedupe> {
    if existing.fingerprint != refund.fingerprint {
        return Ok(conflict_with_journal(
            &refund.refund_id,
            existing,
            this_batch,
        ));
    }
    let head = super::chain::head(conn, existing.id)?;
    Ok(match first_row_with(head)? {
        Some(of_line) => Dedupe::Duplicate {
            refund: Some(head),
            of_line,
        },
        None => Dedupe::Known { refund: head },
    })
}
