//! `bulkrefund status`: the batches in the journal with counts and yuan per
//! status, or one batch in detail with every row that did not succeed.

use std::io::Write;

use rusqlite::OptionalExtension;

use crate::exit::{self, UsageError};
use crate::journal::Journal;
use crate::report::summary::StatusCounts;

pub fn run(journal_path: &std::path::Path, batch: Option<i64>) -> anyhow::Result<u8> {
    let Some(journal) = Journal::open_read_only(journal_path)? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing has been run",
            journal_path.display()
        ))
        .into());
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match batch {
        None => list(&journal, &mut out)?,
        Some(id) => detail(&journal, id, &mut out)?,
    }
    Ok(exit::SUCCESS)
}

fn list(journal: &Journal, out: &mut dyn Write) -> anyhow::Result<()> {
    let conn = journal.conn();
    let mut stmt = conn.prepare(
        "SELECT id, file_name, profile, started_at, imported_at IS NOT NULL, finished_at FROM batches ORDER BY id",
    )?;
    let batches = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if batches.is_empty() {
        writeln!(out, "no batches yet")?;
    }
    for (id, file, profile, started, imported, finished) in batches {
        let counts = StatusCounts::for_batch(conn, id)?;
        let state = match (imported, finished) {
            (false, _) => "import unfinished".to_owned(),
            (true, Some(at)) => format!("finished {at}"),
            (true, None) => "not finished".to_owned(),
        };
        writeln!(
            out,
            "batch {id}  {file}  profile {profile}  started {started}  {state}"
        )?;
        writeln!(out, "  {}", counts.one_line())?;
    }
    for unfinished in crate::journal::batches::unfinished_imports(conn, None)? {
        writeln!(out, "{}", unfinished.describe())?;
    }
    Ok(())
}

fn detail(journal: &Journal, id: i64, out: &mut dyn Write) -> anyhow::Result<()> {
    let conn = journal.conn();
    let batch: Option<(String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT file_name, profile, started_at, results_path FROM batches WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((file, profile, started, results)) = batch else {
        return Err(UsageError(format!(
            "There is no batch {id} in the journal; `bulkrefund status` lists them"
        ))
        .into());
    };
    writeln!(out, "batch {id}: {file}")?;
    writeln!(out, "  profile {profile}, started {started}")?;
    if let Some(results) = results {
        writeln!(out, "  results: {results}")?;
    }
    writeln!(out, "{}", StatusCounts::for_batch(conn, id)?.table())?;
    retry_chains(conn, id, out)?;
    let mut stmt = conn.prepare(
        "SELECT r.line, COALESCE(f.refund_id, ''), COALESCE(r.row_status, f.state),
                COALESCE(r.error_code, f.error_code, ''), COALESCE(r.error_message, f.error_message, '')
         FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
         WHERE r.batch_id = ?1 AND COALESCE(r.row_status, f.state) <> 'succeeded' ORDER BY r.line",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut header_written = false;
    for row in rows {
        let (line, refund_id, state, code, message) = row?;
        if !header_written {
            writeln!(out, "rows that did not succeed:")?;
            header_written = true;
        }
        let status = crate::journal::State::parse(&state).map_or(state.as_str(), |s| s.status());
        writeln!(
            out,
            "  line {line:<7} {refund_id:<24} {status:<11} {code} {message}"
        )?;
    }
    Ok(())
}

/// Each refund of the batch that retries another, with the one it retries.
fn retry_chains(
    conn: &rusqlite::Connection,
    batch: i64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT f.line, p.refund_id, p.state, f.refund_id, f.state FROM refunds f JOIN refunds p ON p.id = f.retry_of
         WHERE f.batch_id = ?1 ORDER BY f.line, f.id",
    )?;
    let chains = stmt
        .query_map([batch], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if chains.is_empty() {
        return Ok(());
    }
    writeln!(out, "retried with new ids:")?;
    let status = |state: &str| {
        crate::journal::State::parse(state)
            .map_or("unknown", |s| s.status())
            .to_owned()
    };
    for (line, old, old_state, new, new_state) in chains {
        writeln!(
            out,
            "  line {line:<7} {old} ({}) -> {new} ({})",
            status(&old_state),
            status(&new_state)
        )?;
    }
    Ok(())
}
