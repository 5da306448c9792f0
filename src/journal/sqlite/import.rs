//! Recording a batch (docs/specs/batch-files.md, "Dedupe"). The refund id, scoped to the
//! profile's gateway and merchant, is the idempotency key:
//! - same id twice in one file, same content: the later row is `duplicate`;
//! - same id already in the journal, same content: not sent again, the row
//!   reports the journal's refund (and an unresolved one is resolved by this run);
//! - same id, different content, in the file or the journal: `conflict`.
//!
//! [`import`] records a batch in one transaction: every row or none, so that a
//! batch is never sent while rows of it are unrecorded (a kill, an interrupt or
//! a full disk in the middle leaves the journal as it was). `preview.rs`
//! decides the same verdicts without writing the journal (for `validate`).

use rusqlite::{params, Connection, OptionalExtension};

use super::dedupe::{against_journal, lookup, Dedupe};
use super::{now_text, JournalError, RowStatus, SqliteJournal, State};
pub use crate::batch::CheckedRow;
use crate::batch::{FileError, RefundRow};
use crate::journal::approval::Hold;
pub(super) use crate::journal::dedupe::tally;
pub use crate::journal::import_rows::{ImportError, Refusal, Tally, CODE_CONFLICT, CODE_INVALID};
use crate::money::Fen;

/// Rows between two looks at whether the operator interrupted the import
/// (and, in `preview`, rows per transaction of its scratch table).
pub const CHUNK: usize = 10_000;

pub use super::batch_meta::BatchMeta;

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> ImportError {
        ImportError::Journal(e.into())
    }
}

/// An import an older bulkrefund left unfinished (it committed in chunks):
/// running the same file again finishes it, from the row after the last one recorded.
fn unfinished_import(conn: &Connection, meta: &BatchMeta) -> rusqlite::Result<Option<(i64, u64)>> {
    conn.query_row(
        "SELECT b.id, COALESCE((SELECT MAX(line) FROM batch_rows WHERE batch_id = b.id), 0)
         FROM batches b WHERE b.file_hash = ?1 AND b.profile = ?2 AND b.imported_at IS NULL
         ORDER BY b.id DESC LIMIT 1",
        params![meta.file_hash, meta.profile],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// The refunds the rows an unfinished import recorded name, each once, noted
/// as earlier refunds that may still leave: finishing the import releases
/// them, so the plan and the caps count them with the rows imported now.
fn note_recorded_rows(
    conn: &Connection,
    batch_id: i64,
    into: &mut Vec<super::outgoing::Waiting>,
) -> rusqlite::Result<()> {
    let refunds: Vec<i64> = conn
        .prepare(
            "SELECT DISTINCT refund FROM batch_rows WHERE batch_id = ?1 AND refund IS NOT NULL ORDER BY refund",
        )?
        .query_map([batch_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for refund in refunds {
        super::outgoing::note(conn, refund, into)?;
    }
    Ok(())
}

/// Records a batch and its rows, all in one transaction. Returns the tally
/// with the batch's id. `interrupted` is asked every [`CHUNK`] rows: when it
/// says yes, nothing is recorded. The store's own tests call it; the program
/// goes through [`crate::journal::import::import`].
#[cfg(test)]
pub fn import(
    journal: &mut SqliteJournal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    on_problem: impl FnMut(&str),
) -> Result<Tally, ImportError> {
    import_checked(journal, meta, rows, interrupted, on_problem, |_| Ok(()))
}

/// [`import`], with a last look before the transaction commits: `check` sees
/// the tally (what the batch would send) and may refuse, with the reason, in
/// which case nothing of the batch is recorded (so nothing can be sent later).
/// The store's own tests call it, as [`import`].
#[cfg(test)]
pub fn import_checked(
    journal: &mut SqliteJournal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<(), Refusal>,
) -> Result<Tally, ImportError> {
    let check = |tally: &Tally| check(tally).map(|()| None);
    import_deciding(journal, meta, rows, interrupted, on_problem, check)
}

/// [`import_checked`], whose look may also hold the batch for a second
/// person's approval ([`crate::journal::approval`]): the hold is written in
/// the same transaction as the rows, so the batch is never recorded without it.
pub fn import_deciding(
    journal: &mut SqliteJournal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<Option<Hold>, Refusal>,
) -> Result<Tally, ImportError> {
    // Committed before the transaction: a kill in the middle leaves this trace.
    let trace = super::imports::begin(&journal.conn, meta)?;
    let result = import_in_transaction(journal, meta, rows, interrupted, on_problem, check, trace);
    // Ended cleanly, and said so: nothing was recorded, no trace is left.
    // (Should this fail too, the trace says the import never finished: true.)
    match &result {
        Ok(_) => {}
        // The operator decided about the file: the earlier traces of it go too.
        Err(ImportError::Refused(Refusal { decided: true, .. })) => {
            let _ = super::imports::end(&journal.conn, trace, meta);
        }
        Err(_) => {
            let _ = super::imports::abandon(&journal.conn, trace);
        }
    }
    result
}

fn import_in_transaction(
    journal: &mut SqliteJournal,
    meta: &BatchMeta,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    interrupted: impl Fn() -> bool,
    mut on_problem: impl FnMut(&str),
    check: impl FnOnce(&Tally) -> Result<Option<Hold>, Refusal>,
    trace: i64,
) -> Result<Tally, ImportError> {
    let id_space = meta.id_space();
    let tx = journal.conn.transaction()?;
    let (batch_id, recorded_up_to) = match unfinished_import(&tx, meta)? {
        Some((batch_id, recorded_up_to)) => {
            tx.execute(
                "UPDATE batches SET results_path = COALESCE(?2, results_path), input_path = COALESCE(?3, input_path), results_bom = ?4 WHERE id = ?1",
                params![batch_id, meta.results_path, meta.input_path, meta.results_bom],
            )?;
            (batch_id, recorded_up_to)
        }
        None => {
            let header = serde_json::to_string(&meta.header).expect("strings serialize");
            tx.execute(
                "INSERT INTO batches (file_name, file_hash, profile, gateway, merchant_id, header, started_at, input_path, results_path, results_bom)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![meta.file_name, meta.file_hash, meta.profile, meta.gateway.as_str(), meta.merchant_id, header, now_text(), meta.input_path, meta.results_path, meta.results_bom],
            )?;
            (tx.last_insert_rowid(), 0)
        }
    };
    let mut result = Tally {
        batch_id: Some(batch_id),
        ..Tally::default()
    };
    if recorded_up_to > 0 {
        note_recorded_rows(&tx, batch_id, &mut result.earlier)?;
    }
    for (i, row) in rows.enumerate() {
        if i % CHUNK == 0 && interrupted() {
            return Err(ImportError::Interrupted);
        }
        let row = row?;
        if row.line() <= recorded_up_to {
            continue;
        }
        import_row(
            &tx,
            batch_id,
            &id_space,
            meta,
            row,
            &mut result,
            &mut on_problem,
        )?;
    }
    if let Some(hold) = check(&result).map_err(ImportError::Refused)? {
        super::approvals::hold(&tx, batch_id, &hold)?;
    }
    super::imports::end(&tx, trace, meta)?;
    tx.execute(
        "UPDATE batches SET imported_at = ?2 WHERE id = ?1",
        params![batch_id, now_text()],
    )?;
    tx.commit()?;
    Ok(result)
}

/// One line of `batch_rows`: the input row as read and what became of it.
struct BatchRow<'a> {
    line: u64,
    cells: &'a [String],
    refund: Option<i64>,
    status: Option<RowStatus>,
    fen: Option<Fen>,
    error: (Option<&'a str>, Option<&'a str>),
}

fn insert_batch_row(tx: &Connection, batch_id: i64, row: BatchRow) -> rusqlite::Result<()> {
    let (code, message) = row.error;
    tx.prepare_cached(
        "INSERT INTO batch_rows (batch_id, line, cells, refund, row_status, fen, error_code, error_message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        batch_id,
        row.line,
        serde_json::to_string(row.cells).expect("strings serialize"),
        row.refund,
        row.status.map(RowStatus::as_str),
        row.fen.map(|f| f.0 as i64),
        code,
        message
    ])?;
    Ok(())
}

fn import_row(
    tx: &Connection,
    batch_id: i64,
    id_space: &str,
    meta: &BatchMeta,
    row: CheckedRow,
    result: &mut Tally,
    on_problem: &mut impl FnMut(&str),
) -> Result<(), ImportError> {
    let (line, cells, refund) = match row {
        CheckedRow::Invalid {
            line,
            cells,
            fen,
            message,
        } => {
            result.rows += 1;
            result.invalid += 1;
            on_problem(&message);
            let row = BatchRow {
                line,
                cells: &cells,
                refund: None,
                status: Some(RowStatus::Invalid),
                fen,
                error: (Some(CODE_INVALID), Some(&message)),
            };
            return Ok(insert_batch_row(tx, batch_id, row)?);
        }
        CheckedRow::Valid {
            line,
            cells,
            refund,
        } => (line, cells, refund),
    };
    // Most rows are new: try to insert first, and look the id up only when it is taken.
    let new_refund = insert_refund(tx, batch_id, id_space, meta, line, &refund)?;
    let verdict = match new_refund {
        Some(_) => Dedupe::New,
        None => taken_id(tx, batch_id, id_space, &refund)?,
    };
    tally(result, &verdict, refund.amount, line);
    if let Dedupe::Known { refund } = &verdict {
        super::outgoing::note(tx, *refund, &mut result.earlier)?;
    }
    let row = BatchRow {
        line,
        cells: &cells,
        refund: new_refund,
        status: None,
        fen: Some(refund.amount),
        error: (None, None),
    };
    record_row(tx, batch_id, row, verdict, on_problem)
}

/// Inserts the row's refund as `pending` unless its id is taken; returns the
/// new refund's id.
fn insert_refund(
    tx: &Connection,
    batch_id: i64,
    id_space: &str,
    meta: &BatchMeta,
    line: u64,
    refund: &RefundRow,
) -> rusqlite::Result<Option<i64>> {
    let now = now_text();
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line, amount_fen, fields, state, created_at, order_key, gateway, merchant_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            id_space,
            refund.refund_id,
            refund.fingerprint,
            meta.profile,
            batch_id,
            line,
            refund.amount.0 as i64,
            serde_json::to_string(&refund.fields).expect("strings serialize"),
            State::Pending.as_str(),
            now,
            refund.order_key,
            meta.gateway.as_str(),
            meta.merchant_id
        ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO events (refund, at, from_state, to_state, why) VALUES (?1, ?2, NULL, ?3, ?4)",
    )?
    .execute(params![
        id,
        now_text(),
        State::Pending.as_str(),
        format!("imported from batch {batch_id}, line {line}")
    ])?;
    Ok(Some(id))
}

/// The verdict on a row whose refund id the journal already holds.
fn taken_id(
    tx: &Connection,
    batch_id: i64,
    id_space: &str,
    refund: &RefundRow,
) -> Result<Dedupe, ImportError> {
    let existing = lookup(tx, id_space, &refund.refund_id)?.ok_or_else(|| {
        JournalError::Inconsistent(format!(
            "refund id {} was neither inserted nor found",
            refund.refund_id
        ))
    })?;
    let first_here = |head: i64| {
        tx.prepare_cached("SELECT MIN(line) FROM batch_rows WHERE refund = ?1 AND batch_id = ?2")?
            .query_row(params![head, batch_id], |row| row.get(0))
    };
    Ok(against_journal(
        tx,
        refund,
        &existing,
        Some(batch_id),
        first_here,
    )?)
}

/// Records the batch row of a valid input row (`row` holds the new refund's
/// id when there is one), as its verdict says.
fn record_row(
    tx: &Connection,
    batch_id: i64,
    row: BatchRow,
    verdict: Dedupe,
    on_problem: &mut impl FnMut(&str),
) -> Result<(), ImportError> {
    let message;
    let row = match verdict {
        Dedupe::New => row,
        Dedupe::Known { refund } => BatchRow {
            refund: Some(refund),
            ..row
        },
        Dedupe::Duplicate { refund, of_line } => {
            message = format!("repeats line {of_line}; not sent again");
            BatchRow {
                refund,
                status: Some(RowStatus::Duplicate),
                error: (None, Some(&message)),
                ..row
            }
        }
        Dedupe::Conflict { message: why } => {
            message = format!("line {}, {why}", row.line);
            on_problem(&message);
            BatchRow {
                refund: None,
                status: Some(RowStatus::Conflict),
                error: (Some(CODE_CONFLICT), Some(&message)),
                ..row
            }
        }
    };
    Ok(insert_batch_row(tx, batch_id, row)?)
}
