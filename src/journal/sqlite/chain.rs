//! Retry chains: a refund the gateway refused may be retried under a new id
//! derived from the first one (`R123` → `R123R2` → `R123R3`). A chain belongs
//! to the refund, not to a batch row:
//! - each refund has at most one retry (a trigger of the schema refuses a
//!   second, whatever batch asks for it);
//! - every batch row that lists any link of a chain points at its head, the
//!   one link that may still be unfinished;
//! - only the head of a chain is ever retried.

use rusqlite::{params, Connection, OptionalExtension};

use super::refunds::{read_record, RECORD_COLUMNS, RECORD_COLUMN_COUNT};
use super::{changes, now_text, Change, JournalError, RefundRecord, SqliteJournal, State};
use crate::gateway::GatewayKind;
pub use crate::journal::records::RetryStart;

/// The retry of `id`, if it has one.
fn retry_of(conn: &Connection, id: i64) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM refunds WHERE retry_of = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()
}

/// The last link of the chain `id` belongs to (`id` itself when never retried).
pub(super) fn head(conn: &Connection, mut id: i64) -> rusqlite::Result<i64> {
    while let Some(next) = retry_of(conn, id)? {
        id = next;
    }
    Ok(id)
}

/// `id` and every link before it, newest first (the root, the id the operator
/// asked for, comes last).
fn links(conn: &Connection, id: i64) -> rusqlite::Result<Vec<RefundRecord>> {
    let mut links = Vec::new();
    let mut next = Some(id);
    while let Some(id) = next {
        let (record, parent) = conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS}, retry_of FROM refunds WHERE id = ?1"
            ))?
            .query_row([id], |row| {
                Ok((read_record(row)?, row.get(RECORD_COLUMN_COUNT)?))
            })?;
        links.push(record);
        next = parent;
    }
    Ok(links)
}

/// True when the journal holds `refund_id` for this gateway and merchant
/// (used, so never derived again).
fn id_taken(
    conn: &Connection,
    gateway: GatewayKind,
    merchant_id: &str,
    refund_id: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT COUNT(*) > 0 FROM refunds WHERE scope = ?1 AND refund_id = ?2")?
        .query_row(
            params![super::id_space(gateway, merchant_id), refund_id],
            |row| row.get(0),
        )
}

/// Starts the retry of `old` (the failed head of its chain) as a new pending
/// refund `new_refund_id`, and points every batch row that listed `old` at it.
/// The new refund belongs to `batch`, the batch whose retry made it (at the line
/// of that batch that lists the chain): a gateway refund is paid by exactly one
/// batch, which is what lets each batch's "paid by this batch" add up to the
/// gateway's ledger. Refused by the journal when `old` already has a retry.
fn start_retry(
    conn: &Connection,
    batch: i64,
    old: i64,
    new_refund_id: &str,
    why: &str,
) -> Result<i64, JournalError> {
    let state = super::changes::state_of(conn, old)?;
    if state != State::Failed {
        return Err(JournalError::Stale {
            refund: old,
            expected: State::Failed,
            actual: state,
        });
    }
    let now = now_text();
    conn.prepare_cached(
        "INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line, amount_fen,
                              fields, state, retry_of, created_at, order_key, gateway, merchant_id)
         SELECT old.scope, ?2, old.fingerprint, old.profile,
                CASE WHEN listed.line IS NULL THEN old.batch_id ELSE ?5 END,
                COALESCE(listed.line, old.line), old.amount_fen,
                old.fields, ?3, old.id, ?4, old.order_key, old.gateway, old.merchant_id
         FROM refunds old,
              (SELECT MIN(line) AS line FROM batch_rows WHERE batch_id = ?5 AND refund = ?1) listed
         WHERE old.id = ?1",
    )?
    .execute(params![
        old,
        new_refund_id,
        State::Pending.as_str(),
        now,
        batch
    ])?;
    let new = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO events (refund, at, from_state, to_state, why) VALUES (?1, ?2, NULL, ?3, ?4)",
    )?
    .execute(params![new, now, State::Pending.as_str(), why])?;
    conn.prepare_cached("UPDATE batch_rows SET refund = ?1 WHERE refund = ?2")?
        .execute(params![new, old])?;
    Ok(new)
}

impl SqliteJournal {
    /// The last link of the chain `id` belongs to (`id` itself when never retried).
    pub fn chain_head(&self, id: i64) -> Result<i64, JournalError> {
        Ok(head(&self.conn, id)?)
    }

    /// `id` and every link before it, newest first (the root, the id the
    /// operator asked for, comes last).
    pub fn chain_links(&self, id: i64) -> Result<Vec<RefundRecord>, JournalError> {
        Ok(links(&self.conn, id)?)
    }

    /// True when the journal holds `refund_id` for this gateway and merchant
    /// (used, so never derived again).
    pub fn id_taken(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError> {
        Ok(id_taken(&self.conn, gateway, merchant_id, refund_id)?)
    }

    /// Carries out a retry in one transaction: same-id refunds go back to
    /// pending; new ids start retries of their chains' heads. Returns the
    /// refunds to send, in order.
    /// The refunds `batch`'s retry makes belong to that batch.
    pub fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError> {
        let tx = self.conn.transaction()?;
        let mut refunds = Vec::with_capacity(starts.len());
        for start in starts {
            match &start.new_id {
                None => {
                    let change = Change::to(State::Pending, start.why.clone());
                    changes::apply(&tx, start.refund, State::Failed, &change)?;
                    refunds.push(start.refund);
                }
                Some(new_id) => {
                    refunds.push(start_retry(&tx, batch, start.refund, new_id, &start.why)?)
                }
            }
        }
        tx.commit()?;
        Ok(refunds)
    }
}
