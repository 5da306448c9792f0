//! The traces of imports and a batch as a whole on PostgreSQL, as SQLite
//! keeps them (`sqlite/imports.rs`, `batches.rs`): an import's trace is
//! committed before its transaction and deleted by it (import.rs), so that a
//! killed import is told to the operator; whether a batch exists, where its
//! input and results files are, whether its import or its run is finished.
//! Times are the server's clock.

use std::path::{Path, PathBuf};

use postgres::GenericClient;

use super::clock::server_ms;
use super::fenced::{journal_time, pg_error};
use super::PgJournal;
use crate::journal::batch_meta::BatchMeta;
use crate::journal::import_rows::{InterruptedImport, UnfinishedImport};
use crate::journal::JournalError;

const TRACE: &str = "SELECT id, file_name, profile, started_at FROM imports";

/// The advisory lock an importing session holds on its trace, from the
/// moment the trace is visible until the import ends or the session does
/// (a killed process's connection closes, and the server frees it): SQL
/// arguments of `pg_advisory_lock(int4, int4)`, of the trace `id`. The first
/// key says "an import's trace of this schema's journal" (several journals
/// may share one server, even one database); the second is the trace.
const TRACE_LOCK: &str = "hashtext(current_schema() || '.bulkrefund import traces'),
    CAST(id % 2147483647 AS int4)";

/// A trace `i` whose import is still going on in another session of this
/// database: that session holds the trace's lock ([`TRACE_LOCK`]; `pg_locks`
/// shows a lock of two int4 keys as `classid`, `objid` (unsigned) and
/// `objsubid` 2).
const LIVE_ELSEWHERE: &str = "EXISTS (SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND CAST(l.classid AS int8) =
        (CAST(hashtext(current_schema() || '.bulkrefund import traces') AS int8) & 4294967295)
    AND CAST(l.objid AS int8) = (CAST(CAST(i.id % 2147483647 AS int4) AS int8) & 4294967295)
    AND l.pid <> pg_backend_pid())";

fn read_trace(row: &postgres::Row) -> InterruptedImport {
    InterruptedImport {
        id: row.get(0),
        file_name: row.get(1),
        profile: row.get(2),
        started_at: row.get(3),
    }
}

/// Commits the trace of an import about to begin, its lock held by this
/// session (in the same statement: no one sees the trace unlocked); returns
/// its id.
pub(super) fn begin_trace(
    client: &mut impl GenericClient,
    meta: &BatchMeta,
) -> Result<i64, JournalError> {
    let now = journal_time(server_ms(client)?)?;
    let sql = format!(
        "WITH trace AS (
             INSERT INTO imports (file_name, file_hash, input_path, profile, started_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id)
         SELECT id, pg_try_advisory_lock({TRACE_LOCK}) FROM trace"
    );
    Ok(client
        .query_one(
            &sql,
            &[
                &meta.file_name,
                &meta.file_hash,
                &meta.input_path,
                &meta.profile,
                &now,
            ],
        )
        .map_err(pg_error("recording that an import begins"))?
        .get(0))
}

/// Deletes the trace `id`, and those an earlier, killed import of the same
/// file (the same bytes or the same path) with the same profile left.
pub(super) fn end_trace(
    client: &mut impl GenericClient,
    id: i64,
    meta: &BatchMeta,
) -> Result<(), JournalError> {
    client
        .execute(
            "DELETE FROM imports WHERE id = $1
                OR (profile = $2 AND (file_hash = $3
                    OR (input_path IS NOT NULL AND input_path = $4)))",
            &[&id, &meta.profile, &meta.file_hash, &meta.input_path],
        )
        .map_err(pg_error("ending an import's trace"))?;
    Ok(())
}

/// Frees the lock of the trace `id` ([`TRACE_LOCK`]) once its import ended:
/// a process that imports many batches does not hold one per batch.
pub(super) fn unlock_trace(client: &mut impl GenericClient, id: i64) -> Result<(), JournalError> {
    client
        .execute(
            &format!("SELECT pg_advisory_unlock({TRACE_LOCK}) FROM (SELECT $1::bigint AS id) i"),
            &[&id],
        )
        .map_err(pg_error("ending an import's trace"))?;
    Ok(())
}

/// Deletes the trace of an import that ended without recording anything and said so.
pub(super) fn abandon_trace(client: &mut impl GenericClient, id: i64) -> Result<(), JournalError> {
    client
        .execute("DELETE FROM imports WHERE id = $1", &[&id])
        .map_err(pg_error("ending an import's trace"))?;
    Ok(())
}

impl PgJournal {
    /// Commits the trace of an import about to begin, as an import does first.
    pub fn begin_import(&mut self, meta: &BatchMeta) -> Result<i64, JournalError> {
        begin_trace(&mut self.client, meta)
    }

    /// Imports that began and never ended (killed), oldest first: not one
    /// another process is still doing (its session holds the trace's lock).
    pub fn interrupted_imports(&mut self) -> Result<Vec<InterruptedImport>, JournalError> {
        let rows = self
            .client
            .query(
                &format!("{TRACE} i WHERE NOT {LIVE_ELSEWHERE} ORDER BY id"),
                &[],
            )
            .map_err(pg_error("reading the traces of imports"))?;
        Ok(rows.iter().map(read_trace).collect())
    }

    /// Deletes the trace `id`: returns what it was, `None` when there is no
    /// such trace. Refused while another process is still doing that import
    /// (no journal lock says so here, as SQLite's does).
    pub fn forget_import(&mut self, id: i64) -> Result<Option<InterruptedImport>, JournalError> {
        let doing = pg_error("forgetting an import's trace");
        let mut tx = self.client.transaction().map_err(&doing)?;
        let found = tx
            .query_opt(
                &format!(
                    "SELECT id, file_name, profile, started_at, {LIVE_ELSEWHERE}
                     FROM imports i WHERE id = $1"
                ),
                &[&id],
            )
            .map_err(&doing)?;
        if found.as_ref().is_some_and(|row| row.get::<_, bool>(4)) {
            return Err(JournalError::Store(format!(
                "import {id} is still going on in another process: it is not interrupted, \
                 so it cannot be forgotten (`bulkrefund status` lists the interrupted ones)"
            )));
        }
        let trace = found.map(|row| read_trace(&row));
        abandon_trace(&mut tx, id)?;
        tx.commit().map_err(&doing)?;
        Ok(trace)
    }

    /// Unfinished imports (left by an older bulkrefund), among `only` when given.
    pub fn unfinished_imports(
        &mut self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError> {
        let rows = self
            .client
            .query(
                "SELECT b.id, b.file_name, b.profile,
                        (SELECT COUNT(*) FROM batch_rows r WHERE r.batch_id = b.id)
                 FROM batches b WHERE b.imported_at IS NULL ORDER BY b.id",
                &[],
            )
            .map_err(pg_error("reading unfinished imports"))?;
        Ok(rows
            .iter()
            .map(|row| UnfinishedImport {
                batch: row.get(0),
                file_name: row.get(1),
                profile: row.get(2),
                rows_recorded: row.get::<_, i64>(3) as u64,
            })
            .filter(|u| only.is_none_or(|ids| ids.contains(&u.batch)))
            .collect())
    }

    /// Whether the journal holds this batch.
    pub fn batch_exists(&mut self, batch: i64) -> Result<bool, JournalError> {
        Ok(self
            .client
            .query_one("SELECT COUNT(*) > 0 FROM batches WHERE id = $1", &[&batch])
            .map_err(pg_error("looking a batch up"))?
            .get(0))
    }

    /// Every batch's input file (its canonical path when recorded, else its name as given).
    pub fn batch_inputs(&mut self) -> Result<Vec<PathBuf>, JournalError> {
        let rows = self
            .client
            .query(
                "SELECT COALESCE(input_path, file_name) FROM batches ORDER BY id",
                &[],
            )
            .map_err(pg_error("reading the batches' input files"))?;
        Ok(rows
            .iter()
            .map(|row| PathBuf::from(row.get::<_, String>(0)))
            .collect())
    }

    /// Where the batch's results file was last written, if it was.
    pub fn results_path(&mut self, batch: i64) -> Result<Option<PathBuf>, JournalError> {
        Ok(self
            .client
            .query_opt("SELECT results_path FROM batches WHERE id = $1", &[&batch])
            .map_err(pg_error("reading a batch's results file"))?
            .and_then(|row| row.get::<_, Option<String>>(0))
            .map(PathBuf::from))
    }

    /// Whether the batch's results file starts with a BOM.
    pub fn results_bom(&mut self, batch: i64) -> Result<bool, JournalError> {
        let bom: i64 = self
            .client
            .query_one("SELECT results_bom FROM batches WHERE id = $1", &[&batch])
            .map_err(pg_error("reading a batch's results file"))?
            .get(0);
        Ok(bom != 0)
    }

    /// Records where the batch's results file is written.
    pub fn set_results_path(&mut self, batch: i64, path: &Path) -> Result<(), JournalError> {
        self.client
            .execute(
                "UPDATE batches SET results_path = $2 WHERE id = $1",
                &[&batch, &path.display().to_string()],
            )
            .map_err(pg_error("recording a batch's results file"))?;
        Ok(())
    }

    /// Records whether a batch, whose results were just written, is finished.
    pub fn set_finished(&mut self, batch: i64, finished: bool) -> Result<(), JournalError> {
        let now = journal_time(server_ms(&mut self.client)?)?;
        self.client
            .execute(
                "UPDATE batches SET finished_at = CASE WHEN $2 THEN COALESCE(finished_at, $3) END
                 WHERE id = $1",
                &[&batch, &finished, &now],
            )
            .map_err(pg_error("recording whether a batch is finished"))?;
        Ok(())
    }
}
