//! The changes with no claim step of their own, as SQLite makes them
//! (`sqlite/changes.rs`, `chain.rs`, `refunds.rs`, `batches.rs`): a state
//! change with or without its attempt, an attempt alone, taking parked
//! refunds up again, reopening a listing batch, and starting retries. A
//! state change goes through the very transition the fenced writes use
//! ([`fenced::transition`], checked by [`crate::journal::state::check`]),
//! under no claim, in a transaction of its own: a refused change writes
//! nothing. Times are the server's clock, as every PostgreSQL write's.

use postgres::Transaction;

use super::clock::server_ms;
use super::fenced::{self, insert_attempt, journal_time, pg_error, state_of};
use super::import::lock_id_spaces;
use super::refund_rows::scope_ids_sql;
use super::PgJournal;
use crate::journal::change::{AttemptRecord, Change};
use crate::journal::records::{RetryStart, Scope, PARKED};
use crate::journal::state::State;
use crate::journal::JournalError;

/// Why a second retry of one refund is refused (SQLite's trigger's words).
const ONE_RETRY: &str = "this refund already has a retry: a retry chain has one head";

impl PgJournal {
    /// A state change with no attempt behind it (checked, with its event).
    pub fn apply(
        &mut self,
        refund: i64,
        expected: State,
        change: &Change,
    ) -> Result<(), JournalError> {
        self.unfenced(refund, expected, change, None)
    }

    /// A state change, recording the attempt whose answer caused it.
    pub fn settle(
        &mut self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        self.unfenced(refund, expected, change, Some(attempt))
    }

    /// [`Self::apply`] and [`Self::settle`]: the fenced writes' transition
    /// under no claim, in one transaction.
    fn unfenced(
        &mut self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: Option<&AttemptRecord>,
    ) -> Result<(), JournalError> {
        let sql = self.fenced_statements()?;
        let mut tx = self
            .client
            .transaction()
            .map_err(pg_error("changing a refund's state"))?;
        let now = fenced::now_ms(&mut tx, &sql)?;
        fenced::transition(
            &mut tx,
            &sql,
            refund,
            (expected, change),
            attempt,
            None,
            now,
        )?;
        tx.commit().map_err(pg_error("changing a refund's state"))
    }

    /// An attempt that changed nothing about its refund.
    pub fn note_attempt(
        &mut self,
        refund: i64,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        let doing = "recording an attempt";
        let mut tx = self.client.transaction().map_err(pg_error(doing))?;
        insert_attempt(&mut tx, refund, attempt)?;
        tx.execute(
            "UPDATE refunds SET attempts = attempts + 1 WHERE id = $1",
            &[&refund],
        )
        .map_err(pg_error(doing))?;
        tx.commit().map_err(pg_error(doing))
    }

    /// Test-only: the refund's next request falls due now.
    #[cfg(test)]
    pub fn make_due(&mut self, refund: i64) -> Result<(), JournalError> {
        self.client
            .execute(
                "UPDATE refunds SET next_attempt_at = 0 WHERE id = $1",
                &[&refund],
            )
            .map_err(pg_error("making a refund due"))?;
        Ok(())
    }

    /// Refunds in `scope` an earlier run gave up on (still unknown) are taken up again.
    pub fn unpark(&mut self, scope: &Scope) -> Result<(), JournalError> {
        let sql = format!(
            "UPDATE refunds SET next_attempt_at = 0 WHERE next_attempt_at >= $1 AND id IN ({})",
            scope_ids_sql(scope)
        );
        self.client
            .execute(&sql, &[&PARKED])
            .map_err(pg_error("taking parked refunds up again"))?;
        Ok(())
    }

    /// Marks unfinished every batch whose rows list `refund`.
    pub fn reopen_listing(&mut self, refund: i64) -> Result<(), JournalError> {
        self.client
            .execute(
                "UPDATE batches SET finished_at = NULL
                 WHERE id IN (SELECT batch_id FROM batch_rows WHERE refund = $1)",
                &[&refund],
            )
            .map_err(pg_error("reopening the batches that list a refund"))?;
        Ok(())
    }

    /// Carries out a retry in one transaction: same-id refunds go back to
    /// pending; new ids start retries of their chains' heads. Returns the
    /// refunds to send, in order. The refunds `batch`'s retry makes belong
    /// to that batch.
    pub fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError> {
        let doing = "starting retries";
        let sql = self.fenced_statements()?;
        let mut tx = self.client.transaction().map_err(pg_error(doing))?;
        // A new id joins its gateway and merchant's ids: an import deciding
        // against them waits until this commits (import.rs).
        let renamed: Vec<i64> = starts
            .iter()
            .filter(|s| s.new_id.is_some())
            .map(|s| s.refund)
            .collect();
        let spaces: Vec<String> = tx
            .query(
                "SELECT DISTINCT scope FROM refunds WHERE id = ANY($1)",
                &[&renamed],
            )
            .map_err(pg_error(doing))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        lock_id_spaces(&mut tx, &spaces)?;
        let now = server_ms(&mut tx)?;
        let mut refunds = Vec::with_capacity(starts.len());
        for start in starts {
            match &start.new_id {
                None => {
                    // Locked, and refused once retried under a new id: two
                    // operators' retries of one refund, one with a new id and
                    // one without, would otherwise send both.
                    lock_failed_head(&mut tx, start.refund)?;
                    let change = Change::to(State::Pending, start.why.clone());
                    fenced::transition(
                        &mut tx,
                        &sql,
                        start.refund,
                        (State::Failed, &change),
                        None,
                        None,
                        now,
                    )?;
                    refunds.push(start.refund);
                }
                Some(new_id) => refunds.push(start_retry(
                    &mut tx,
                    batch,
                    start.refund,
                    new_id,
                    &start.why,
                    now,
                )?),
            }
        }
        tx.commit().map_err(pg_error(doing))?;
        Ok(refunds)
    }
}

/// Locks `refund` (until the transaction ends), which must still be failed
/// and the head of its chain: another process's retry of it, under the same
/// id or a new one, commits first or waits for this one and is refused.
fn lock_failed_head(tx: &mut Transaction<'_>, refund: i64) -> Result<(), JournalError> {
    let state = state_of(tx, refund)?;
    if state != State::Failed {
        return Err(JournalError::Stale {
            refund,
            expected: State::Failed,
            actual: state,
        });
    }
    // SQLite's trigger says so; here the unique index would refuse a second
    // new id too, in the server's words: the journal's own are clearer.
    let retried: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM refunds WHERE retry_of = $1)",
            &[&refund],
        )
        .map_err(pg_error("checking a refund's retries"))?
        .get(0);
    if retried {
        return Err(JournalError::Store(format!(
            "refund #{refund}: {ONE_RETRY}"
        )));
    }
    Ok(())
}

/// Starts the retry of `old` (the failed head of its chain) as a new
/// pending refund `new_refund_id`, and points every batch row that listed
/// `old` at it (SQLite's `chain::start_retry`: the new refund belongs to
/// `batch`, at the line of that batch that lists the chain). Refused by the
/// journal's unique index when `old` already has a retry.
fn start_retry(
    tx: &mut Transaction<'_>,
    batch: i64,
    old: i64,
    new_refund_id: &str,
    why: &str,
    now_ms: i64,
) -> Result<i64, JournalError> {
    let doing = pg_error("starting a retry under a new id");
    lock_failed_head(tx, old)?;
    let now = journal_time(now_ms)?;
    let new: i64 = tx
        .query_one(
            "INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line,
                                  amount_fen, fields, state, retry_of, created_at, order_key,
                                  gateway, merchant_id)
             SELECT old.scope, $2, old.fingerprint, old.profile,
                    CASE WHEN listed.line IS NULL THEN old.batch_id ELSE $5 END,
                    COALESCE(listed.line, old.line), old.amount_fen,
                    old.fields, $3, old.id, $4, old.order_key, old.gateway, old.merchant_id
             FROM refunds old,
                  (SELECT MIN(line) AS line FROM batch_rows
                   WHERE batch_id = $5 AND refund = $1) listed
             WHERE old.id = $1
             RETURNING id",
            &[&old, &new_refund_id, &State::Pending.as_str(), &now, &batch],
        )
        .map_err(&doing)?
        .get(0);
    tx.execute(
        "INSERT INTO events (refund, at, from_state, to_state, why) VALUES ($1, $2, NULL, $3, $4)",
        &[&new, &now, &State::Pending.as_str(), &why],
    )
    .map_err(&doing)?;
    tx.execute(
        "UPDATE batch_rows SET refund = $1 WHERE refund = $2",
        &[&new, &old],
    )
    .map_err(&doing)?;
    Ok(new)
}
