//! What an import and a preview read of a chunk's refund ids from the
//! journal, shared by both (import_chunk.rs, preview.rs): the refunds holding
//! them, each one's chain's head, and which heads may still leave. Each is
//! one statement over the whole chunk, one index probe an id.

use std::collections::HashMap;

use postgres::Transaction;

use super::fenced::pg_error;
use crate::journal::dedupe::{note_waiting, Existing};
use crate::journal::money_rules::MAY_LEAVE;
use crate::journal::records::Waiting;
use crate::journal::state::sql_list;
use crate::journal::JournalError;
use crate::money::Fen;

/// Refunds that may still leave, by id: (refund id, profile, batch, fen).
pub(super) type Leaving = HashMap<i64, (String, String, i64, i64)>;

/// Notes `head`, a refund recorded before the batch that a row names, among
/// those that may still leave (`into`), if it may.
pub(super) fn note_leaving(leaving: &Leaving, head: i64, into: &mut Vec<Waiting>) {
    if let Some((refund_id, profile, batch, fen)) = leaving.get(&head) {
        let fen = Fen(*fen as u64);
        note_waiting(into, *batch, profile.clone(), fen, refund_id.clone());
    }
}

/// The journal's refunds holding a chunk's ids, and their chains' heads.
pub(super) struct Held {
    /// The refund holding each id.
    pub holders: HashMap<String, Existing>,
    /// Each holder's chain's head.
    pub heads: HashMap<i64, i64>,
}

/// The refunds of `id_space` holding `ids`, and their chains' heads.
pub(super) fn holders_of(
    tx: &mut Transaction<'_>,
    id_space: &str,
    ids: &[&str],
) -> Result<Held, JournalError> {
    let doing = pg_error("reading what the journal holds of a batch's ids");
    let (mut holders, mut heads) = (HashMap::new(), HashMap::new());
    for row in tx
        .query(
            // One index probe an id (LATERAL ... LIMIT 1: never a join the
            // planner could make a scan of the table; within an import's
            // transaction its statistics are those of a far smaller table).
            "SELECT r.refund_id, r.id, r.fingerprint, r.batch_id, r.line
             FROM unnest($2::text[]) AS u (refund_id)
             CROSS JOIN LATERAL (SELECT * FROM refunds r
                 WHERE r.scope = $1 AND r.refund_id = u.refund_id LIMIT 1) r",
            &[&id_space, &ids],
        )
        .map_err(&doing)?
    {
        let line: i64 = row.get(4);
        let holder = Existing {
            id: row.get(1),
            fingerprint: row.get(2),
            batch_id: row.get(3),
            line: line as u64,
        };
        holders.insert(row.get(0), holder);
    }
    let ids_held: Vec<i64> = holders.values().map(|h| h.id).collect();
    // Each holder walked to the last link of its chain (a refund has at most one retry).
    for row in tx
        .query(
            "WITH RECURSIVE walk (start, id, depth) AS (
                 SELECT s, s, 0 FROM unnest($1::bigint[]) AS s
                 UNION ALL
                 SELECT w.start, r.id, w.depth + 1 FROM walk w
                 CROSS JOIN LATERAL (SELECT r.id FROM refunds r
                     WHERE r.retry_of = w.id LIMIT 1) r)
             SELECT DISTINCT ON (start) start, id FROM walk ORDER BY start, depth DESC",
            &[&ids_held],
        )
        .map_err(&doing)?
    {
        heads.insert(row.get(0), row.get(1));
    }
    Ok(Held { holders, heads })
}

/// Which of `heads` may still leave: (refund id, profile, batch, fen) by id.
pub(super) fn leaving_of(tx: &mut Transaction<'_>, heads: &[i64]) -> Result<Leaving, JournalError> {
    let sql = format!(
        "SELECT r.id, r.refund_id, r.profile, r.batch_id, r.amount_fen
         FROM unnest($1::bigint[]) AS u (id)
         CROSS JOIN LATERAL (SELECT * FROM refunds r WHERE r.id = u.id LIMIT 1) r
         WHERE r.state IN {}",
        sql_list(&MAY_LEAVE)
    );
    let rows = tx
        .query(&sql, &[&heads])
        .map_err(pg_error("reading which refunds may still leave"))?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3), row.get(4))))
        .collect())
}
