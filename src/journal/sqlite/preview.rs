//! What `validate` shows: the verdict [`super::import::import_deciding`] would give
//! every row, decided without writing the journal.

use rusqlite::{params, Connection, OptionalExtension};

use super::dedupe::{against_journal, lookup, Dedupe};
use super::import::{tally, ImportError, Tally, CHUNK};
use super::SqliteJournal;
use crate::batch::{CheckedRow, FileError, RefundRow};
use crate::gateway::GatewayKind;
use crate::journal::dedupe::against_earlier_row;

/// Decides every row's verdict as [`import`] would, writing nothing to the
/// journal (in-file repeats are tracked in a TEMP table, on disk, so memory
/// stays bounded for any batch size).
pub fn preview(
    journal: Option<&SqliteJournal>,
    gateway: GatewayKind,
    merchant_id: &str,
    rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    mut on_problem: impl FnMut(&str),
) -> Result<Tally, ImportError> {
    let id_space = &super::id_space(gateway, merchant_id);
    let scratch;
    let conn = match journal {
        Some(journal) => &journal.conn,
        None => {
            scratch = Connection::open_in_memory()?;
            &scratch
        }
    };
    conn.execute_batch(
        "PRAGMA temp_store = FILE;
         DROP TABLE IF EXISTS temp.seen;
         CREATE TEMP TABLE seen (refund_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, line INTEGER NOT NULL) WITHOUT ROWID;
         DROP TABLE IF EXISTS temp.heads;
         CREATE TEMP TABLE heads (refund INTEGER PRIMARY KEY, line INTEGER NOT NULL);",
    )?;
    let journal_has_refunds = journal.is_some();
    let mut result = Tally::default();
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        // Chunked like import, so the temp table's writes are batched too.
        conn.execute_batch("BEGIN")?;
        for row in rows.by_ref().take(CHUNK) {
            let (line, refund) = match row? {
                CheckedRow::Invalid { message, .. } => {
                    result.rows += 1;
                    result.invalid += 1;
                    on_problem(&message);
                    continue;
                }
                CheckedRow::Valid { line, refund, .. } => (line, refund),
            };
            let verdict = preview_verdict(conn, id_space, journal_has_refunds, &refund)?;
            if matches!(verdict, Dedupe::New | Dedupe::Known { .. }) {
                conn.prepare_cached(
                    "INSERT INTO temp.seen (refund_id, fingerprint, line) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![refund.refund_id, refund.fingerprint, line])?;
            }
            if let Dedupe::Conflict { message } = &verdict {
                on_problem(&format!("line {line}, {message}"));
            }
            tally(&mut result, &verdict, refund.amount, line);
            if let Dedupe::Known { refund } = &verdict {
                // The chain's head, as the import's batch row records it.
                conn.prepare_cached("INSERT INTO temp.heads (refund, line) VALUES (?1, ?2)")?
                    .execute(params![refund, line])?;
                super::outgoing::note(conn, *refund, &mut result.earlier)?;
            }
        }
        conn.execute_batch("COMMIT")?;
    }
    conn.execute_batch("DROP TABLE temp.seen; DROP TABLE temp.heads;")?;
    Ok(result)
}

/// The verdict [`import`] would give a valid row, from the rows seen so far
/// (`temp.seen` by refund id, `temp.heads` by the chain head a row reached)
/// and the journal's refunds.
fn preview_verdict(
    conn: &Connection,
    id_space: &str,
    journal_has_refunds: bool,
    refund: &RefundRow,
) -> rusqlite::Result<Dedupe> {
    let seen: Option<(String, u64)> = conn
        .prepare_cached("SELECT fingerprint, line FROM temp.seen WHERE refund_id = ?1")?
        .query_row([&refund.refund_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match seen {
        Some((fingerprint, of_line)) => against_earlier_row(refund, &fingerprint, of_line),
        None => match journal_has_refunds
            .then(|| lookup(conn, id_space, &refund.refund_id))
            .transpose()?
            .flatten()
        {
            // As the import decides it, the rows seen so far standing for its batch rows.
            Some(existing) => against_journal(conn, refund, &existing, None, |head| {
                conn.prepare_cached("SELECT line FROM temp.heads WHERE refund = ?1")?
                    .query_row([head], |row| row.get(0))
                    .optional()
            })?,
            None => Dedupe::New,
        },
    })
}
