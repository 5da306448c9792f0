//! Recording a batch on PostgreSQL, as SQLite records one (`sqlite/import.rs`;
//! docs/specs/batch-files.md, "Dedupe"): every row or none, in one
//! transaction, after a trace committed first that the transaction deletes
//! as it commits (imports.rs). The rows are decided and written a chunk at a
//! time ([`super::import_chunk`]), so that a million rows take a few hundred
//! round trips and hold one chunk in memory; `interrupted` is asked before
//! every chunk. The verdicts read the ids of one gateway and merchant and
//! the import then adds to them: the transaction holds a lock on that id
//! space (an advisory lock, also taken by a retry that adds an id), so that
//! two processes importing the same file at once decide one after the
//! other, the second finding the first's refunds, as under SQLite's lock.

use postgres::Transaction;

use super::clock::server_ms;
use super::fenced::{journal_time, pg_error};
use super::import_chunk::{self, Target};
use super::imports::{abandon_trace, begin_trace, end_trace, unlock_trace};
use super::PgJournal;
use crate::batch::{CheckedRow, FileError};
use crate::journal::approval::Hold;
use crate::journal::batch_meta::BatchMeta;
use crate::journal::dedupe::note_waiting;
use crate::journal::import_rows::{ImportError, Refusal, Tally};
use crate::journal::money_rules::MAY_LEAVE;
use crate::journal::state::sql_list;
use crate::journal::JournalError;
use crate::money::Fen;

/// Rows decided and written together, and between two looks at whether the
/// operator interrupted the import.
pub const CHUNK: usize = 5_000;

/// Locks the id spaces (`leshua:0000000018`) named, until the transaction
/// ends: the ids they hold change only under this lock. In one order, so
/// that two transactions locking several cannot wait on each other.
pub(super) fn lock_id_spaces(
    tx: &mut Transaction<'_>,
    spaces: &[String],
) -> Result<(), JournalError> {
    let mut spaces: Vec<&String> = spaces.iter().collect();
    spaces.sort();
    spaces.dedup();
    for space in spaces {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('bulkrefund ids ' || $1::text, 0))",
            &[space],
        )
        .map_err(pg_error("locking the ids of a merchant"))?;
    }
    Ok(())
}

impl PgJournal {
    /// Records a batch and its rows, every row or none ([`crate::journal::JournalStore::import_deciding`]).
    pub fn import_deciding(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
    ) -> Result<Tally, ImportError> {
        // Committed before the transaction: a kill in the middle leaves this trace.
        let trace = begin_trace(&mut self.client, meta)?;
        let result = self.import_in_transaction(meta, rows, interrupted, on_problem, check, trace);
        // Ended cleanly, and said so: nothing was recorded, no trace is left.
        match &result {
            Ok(_) => {}
            // The operator decided about the file: the earlier traces of it go too.
            Err(ImportError::Refused(Refusal { decided: true, .. })) => {
                let _ = end_trace(&mut self.client, trace, meta);
            }
            Err(_) => {
                let _ = abandon_trace(&mut self.client, trace);
            }
        }
        // Best effort: the lock goes with the session anyway.
        let _ = unlock_trace(&mut self.client, trace);
        result
    }

    fn import_in_transaction(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
        trace: i64,
    ) -> Result<Tally, ImportError> {
        let doing = pg_error("recording a batch");
        let id_space = meta.id_space();
        let recorder = self.role.clone();
        let mut tx = self.client.transaction().map_err(&doing)?;
        lock_id_spaces(&mut tx, std::slice::from_ref(&id_space))?;
        let now = journal_time(server_ms(&mut tx)?)?;
        let (batch_id, recorded_up_to) = open_batch(&mut tx, meta, &now)?;
        let mut result = Tally {
            batch_id: Some(batch_id),
            ..Tally::default()
        };
        if recorded_up_to > 0 {
            note_recorded_rows(&mut tx, batch_id, &mut result.earlier)?;
        }
        let target = Target {
            id: batch_id,
            id_space: &id_space,
            meta,
        };
        loop {
            let (read, chunk, read_all, failed) = next_chunk(rows, recorded_up_to);
            // Asked before the rows are written, as SQLite asks before its
            // first row and every CHUNK rows after.
            if read > 0 && interrupted() {
                return Err(ImportError::Interrupted);
            }
            if !chunk.is_empty() {
                let now = journal_time(server_ms(&mut tx)?)?;
                import_chunk::write(&mut tx, &target, chunk, &now, &mut result, on_problem)?;
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
            if read_all {
                break;
            }
        }
        if let Some(hold) = check(&result).map_err(ImportError::Refused)? {
            hold_batch(&mut tx, batch_id, &hold, &recorder)?;
        }
        end_trace(&mut tx, trace, meta)?;
        let now = journal_time(server_ms(&mut tx)?)?;
        tx.execute(
            "UPDATE batches SET imported_at = $2 WHERE id = $1",
            &[&batch_id, &now],
        )
        .map_err(&doing)?;
        tx.commit().map_err(&doing)?;
        Ok(result)
    }
}

/// The next [`CHUNK`] rows read: how many were read (those an unfinished
/// import recorded, skipped, included), the rows, whether the file ended,
/// and the error that stopped the reading, if one did (the rows before it
/// are still decided, as SQLite decides them before it meets the error).
fn next_chunk(
    rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
    recorded_up_to: u64,
) -> (usize, Vec<CheckedRow>, bool, Option<FileError>) {
    let mut chunk = Vec::new();
    for read in 0..CHUNK {
        match rows.next() {
            None => return (read, chunk, true, None),
            Some(Err(e)) => return (read + 1, chunk, true, Some(e)),
            Some(Ok(row)) if row.line() <= recorded_up_to => {}
            Some(Ok(row)) => chunk.push(row),
        }
    }
    (CHUNK, chunk, false, None)
}

/// The batch the rows go to: an unfinished import an older bulkrefund left
/// of the same file is finished (from the row after the last it recorded),
/// else a new batch. Returns its id and the last line already recorded.
fn open_batch(
    tx: &mut Transaction<'_>,
    meta: &BatchMeta,
    now: &str,
) -> Result<(i64, u64), JournalError> {
    let doing = pg_error("recording a batch");
    let results_bom = i64::from(meta.results_bom);
    let unfinished = tx
        .query_opt(
            "SELECT b.id, COALESCE((SELECT MAX(line) FROM batch_rows WHERE batch_id = b.id), 0)
             FROM batches b WHERE b.file_hash = $1 AND b.profile = $2 AND b.imported_at IS NULL
             ORDER BY b.id DESC LIMIT 1",
            &[&meta.file_hash, &meta.profile],
        )
        .map_err(&doing)?;
    if let Some(row) = unfinished {
        let (batch_id, recorded_up_to): (i64, i64) = (row.get(0), row.get(1));
        tx.execute(
            "UPDATE batches SET results_path = COALESCE($2, results_path),
             input_path = COALESCE($3, input_path), results_bom = $4 WHERE id = $1",
            &[
                &batch_id,
                &meta.results_path,
                &meta.input_path,
                &results_bom,
            ],
        )
        .map_err(&doing)?;
        return Ok((batch_id, recorded_up_to as u64));
    }
    let header = serde_json::to_string(&meta.header).expect("strings serialize");
    let batch_id: i64 = tx
        .query_one(
            "INSERT INTO batches (file_name, file_hash, profile, gateway, merchant_id, header,
                                  started_at, input_path, results_path, results_bom)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &meta.file_name,
                &meta.file_hash,
                &meta.profile,
                &meta.gateway.as_str(),
                &meta.merchant_id,
                &header,
                &now,
                &meta.input_path,
                &meta.results_path,
                &results_bom,
            ],
        )
        .map_err(&doing)?
        .get(0);
    Ok((batch_id, 0))
}

/// The refunds the rows an unfinished import recorded name, each once, noted
/// as earlier refunds that may still leave (SQLite's `note_recorded_rows`).
fn note_recorded_rows(
    tx: &mut Transaction<'_>,
    batch_id: i64,
    into: &mut Vec<crate::journal::records::Waiting>,
) -> Result<(), JournalError> {
    let sql = format!(
        "SELECT f.refund_id, f.profile, f.batch_id, f.amount_fen FROM refunds f
         WHERE f.id IN (SELECT refund FROM batch_rows WHERE batch_id = $1 AND refund IS NOT NULL)
         AND f.state IN {} ORDER BY f.id",
        sql_list(&MAY_LEAVE)
    );
    for row in tx
        .query(&sql, &[&batch_id])
        .map_err(pg_error("reading an unfinished import's refunds"))?
    {
        let fen: i64 = row.get(3);
        note_waiting(into, row.get(2), row.get(1), Fen(fen as u64), row.get(0));
    }
    Ok(())
}

/// Marks a batch, inside the import's transaction, as waiting for approval.
/// Its recorder is the role PostgreSQL authenticated (`session_user`, the
/// person this connection is: see approvals.rs), the one role that may not
/// approve it.
fn hold_batch(
    tx: &mut Transaction<'_>,
    batch_id: i64,
    hold: &Hold,
    recorder: &str,
) -> Result<(), JournalError> {
    tx.execute(
        "UPDATE batches SET approval_over_fen = $2, recorded_by = $3, recorded_by_name = $3
         WHERE id = $1",
        &[&batch_id, &(hold.over_fen.0 as i64), &recorder],
    )
    .map_err(pg_error("holding a batch for approval"))?;
    Ok(())
}
