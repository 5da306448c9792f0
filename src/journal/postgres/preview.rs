//! What `validate` shows on a PostgreSQL journal: the verdict an import
//! would give every row, decided by [`crate::journal::dedupe`] as SQLite's
//! preview decides it (`sqlite/preview.rs`), writing nothing to the journal.
//! The file's earlier rows are kept in two temporary tables of this session
//! (`seen` by refund id, `heads` by the chain head a row reached), dropped
//! with the transaction, which is rolled back: memory stays one chunk's,
//! whatever the file's size. Rows are decided a chunk at a time, as the
//! import decides them (import_chunk.rs), the chunk's earlier rows standing
//! in for what the tables do not hold yet.

use std::collections::HashMap;

use postgres::Transaction;

use super::fenced::pg_error;
use super::held_ids::{self, note_leaving, Leaving};
use super::import::CHUNK;
use super::PgJournal;
use crate::batch::{CheckedRow, FileError, RefundRow};
use crate::gateway::GatewayKind;
use crate::journal::dedupe::{against_earlier_row, against_journal, tally, Dedupe, Existing};
use crate::journal::import_rows::{ImportError, Tally};
use crate::journal::JournalError;

/// What the verdicts on a chunk read: the file's earlier rows and the journal.
#[derive(Default)]
struct Before {
    /// Earlier rows' ids: (fingerprint, line).
    seen: HashMap<String, (String, u64)>,
    /// The journal's refunds holding the chunk's ids.
    holders: HashMap<String, Existing>,
    /// Each holder's chain's head.
    heads: HashMap<i64, i64>,
    /// The line of the earlier row that reached each head.
    head_lines: HashMap<i64, u64>,
    /// Heads that may still leave: (refund id, profile, batch, fen).
    leaving: Leaving,
}

impl PgJournal {
    /// The verdict an import would give every row, writing nothing.
    pub fn preview(
        &mut self,
        gateway: GatewayKind,
        merchant_id: &str,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        on_problem: &mut dyn FnMut(&str),
    ) -> Result<Tally, ImportError> {
        let id_space = crate::journal::id_space(gateway, merchant_id);
        let doing = pg_error("deciding a file's rows");
        let mut tx = self.client.transaction().map_err(&doing)?;
        tx.batch_execute(
            "CREATE TEMP TABLE seen (refund_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
                                     line BIGINT NOT NULL) ON COMMIT DROP;
             CREATE TEMP TABLE heads (refund BIGINT PRIMARY KEY, line BIGINT NOT NULL)
                 ON COMMIT DROP;",
        )
        .map_err(&doing)?;
        let mut result = Tally::default();
        loop {
            let mut chunk = Vec::new();
            let mut failed = None;
            for row in (&mut *rows).take(CHUNK) {
                match row {
                    Ok(row) => chunk.push(row),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let ended = chunk.len() < CHUNK;
            decide_chunk(&mut tx, &id_space, chunk, &mut result, on_problem)?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            if ended {
                break;
            }
        }
        // Nothing of it stays: the scratch tables go with the transaction.
        tx.rollback().map_err(&doing)?;
        Ok(result)
    }
}

/// Decides a chunk's rows in order, then keeps what later rows read.
fn decide_chunk(
    tx: &mut Transaction<'_>,
    id_space: &str,
    chunk: Vec<CheckedRow>,
    result: &mut Tally,
    on_problem: &mut dyn FnMut(&str),
) -> Result<(), JournalError> {
    let ids: Vec<&str> = chunk
        .iter()
        .filter_map(|row| match row {
            CheckedRow::Valid { refund, .. } => Some(refund.refund_id.as_str()),
            CheckedRow::Invalid { .. } => None,
        })
        .collect();
    let before = read_before(tx, id_space, &ids)?;
    let mut seen_here: HashMap<String, (String, u64)> = HashMap::new();
    let mut heads_here: HashMap<i64, u64> = HashMap::new();
    for row in chunk {
        let (line, refund) = match row {
            CheckedRow::Invalid { message, .. } => {
                result.rows += 1;
                result.invalid += 1;
                on_problem(&message);
                continue;
            }
            CheckedRow::Valid { line, refund, .. } => (line, refund),
        };
        let verdict = verdict(&before, &seen_here, &heads_here, &refund)?;
        if matches!(verdict, Dedupe::New | Dedupe::Known { .. }) {
            seen_here.insert(refund.refund_id.clone(), (refund.fingerprint.clone(), line));
        }
        if let Dedupe::Conflict { message } = &verdict {
            on_problem(&format!("line {line}, {message}"));
        }
        tally(result, &verdict, refund.amount, line);
        if let Dedupe::Known { refund: head } = verdict {
            heads_here.insert(head, line);
            note_leaving(&before.leaving, head, &mut result.earlier);
        }
    }
    keep(tx, seen_here, heads_here)
}

/// The verdict the import would give a valid row, from the file's earlier
/// rows (before the chunk, then in it) and the journal's refunds.
fn verdict(
    before: &Before,
    seen_here: &HashMap<String, (String, u64)>,
    heads_here: &HashMap<i64, u64>,
    refund: &RefundRow,
) -> Result<Dedupe, JournalError> {
    let seen = before
        .seen
        .get(&refund.refund_id)
        .or_else(|| seen_here.get(&refund.refund_id));
    if let Some((fingerprint, of_line)) = seen {
        return Ok(against_earlier_row(refund, fingerprint, *of_line));
    }
    let Some(holder) = before.holders.get(&refund.refund_id) else {
        return Ok(Dedupe::New);
    };
    against_journal(
        refund,
        holder,
        None,
        |id| {
            before.heads.get(&id).copied().ok_or_else(|| {
                JournalError::Inconsistent(format!("refund #{id}'s chain was not read"))
            })
        },
        |head| {
            Ok(before
                .head_lines
                .get(&head)
                .or_else(|| heads_here.get(&head))
                .copied())
        },
    )
}

/// What the verdicts on `ids` read: the file's rows before the chunk and the journal.
fn read_before(
    tx: &mut Transaction<'_>,
    id_space: &str,
    ids: &[&str],
) -> Result<Before, JournalError> {
    let doing = pg_error("deciding a file's rows");
    let mut before = Before {
        seen: read_seen(tx, ids)?,
        ..Before::default()
    };
    let held = held_ids::holders_of(tx, id_space, ids)?;
    let heads: Vec<i64> = held.heads.values().copied().collect();
    before.holders = held.holders;
    before.heads = held.heads;
    for row in tx
        .query(
            "SELECT h.refund, h.line FROM unnest($1::bigint[]) AS u (refund)
             CROSS JOIN LATERAL (SELECT * FROM pg_temp.heads h
                 WHERE h.refund = u.refund LIMIT 1) h",
            &[&heads],
        )
        .map_err(&doing)?
    {
        let line: i64 = row.get(1);
        before.head_lines.insert(row.get(0), line as u64);
    }
    before.leaving = held_ids::leaving_of(tx, &heads)?;
    Ok(before)
}

/// The file's rows before the chunk that used the chunk's ids: (fingerprint, line).
fn read_seen(
    tx: &mut Transaction<'_>,
    ids: &[&str],
) -> Result<HashMap<String, (String, u64)>, JournalError> {
    let doing = pg_error("deciding a file's rows");
    let mut seen = HashMap::new();
    for row in tx
        .query(
            "SELECT s.refund_id, s.fingerprint, s.line FROM unnest($1::text[]) AS u (refund_id)
             CROSS JOIN LATERAL (SELECT * FROM pg_temp.seen s
                 WHERE s.refund_id = u.refund_id LIMIT 1) s",
            &[&ids],
        )
        .map_err(&doing)?
    {
        let line: i64 = row.get(2);
        seen.insert(row.get(0), (row.get(1), line as u64));
    }
    Ok(seen)
}

/// Keeps the chunk's rows for the later chunks' verdicts.
fn keep(
    tx: &mut Transaction<'_>,
    seen: HashMap<String, (String, u64)>,
    heads: HashMap<i64, u64>,
) -> Result<(), JournalError> {
    let doing = pg_error("deciding a file's rows");
    let mut ids = Vec::with_capacity(seen.len());
    let mut fingerprints = Vec::with_capacity(seen.len());
    let mut lines = Vec::with_capacity(seen.len());
    for (id, (fingerprint, line)) in seen {
        ids.push(id);
        fingerprints.push(fingerprint);
        lines.push(line as i64);
    }
    tx.execute(
        "INSERT INTO pg_temp.seen (refund_id, fingerprint, line)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])",
        &[&ids, &fingerprints, &lines],
    )
    .map_err(&doing)?;
    let (refunds, lines): (Vec<i64>, Vec<i64>) =
        heads.into_iter().map(|(h, line)| (h, line as i64)).unzip();
    tx.execute(
        "INSERT INTO pg_temp.heads (refund, line) SELECT * FROM unnest($1::bigint[], $2::bigint[])",
        &[&refunds, &lines],
    )
    .map_err(&doing)?;
    Ok(())
}
