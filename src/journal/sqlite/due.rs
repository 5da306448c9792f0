//! The scheduler's reads: the refunds due to be sent or queried now (abnormal
//! ones included, when their hourly query is due), in id order; the polls due
//! now, oldest first; and when the next one falls due (never an abnormal
//! refund: nothing waits for one). On a read-only connection of their own, so the scheduler
//! reads while the writer commits (WAL lets it see each commit). "Due" is
//! defined here, once.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::approvals::HELD_FROM_SENDING;
use super::refunds::{read_record, RECORD_COLUMNS, RECORD_COLUMN_COUNT};
use super::state::{sql_list, State, FINAL};
use super::{now_ms, JournalError, Scope, SqliteJournal, DENIED_AFTER_AN_ANSWER, PARKED};
pub use crate::journal::records::DueRefund;

/// In the run's scope. Written as a probe of the scope table's key: SQLite
/// reads `f.id IN temp.scope_ids` by copying the whole table into a fresh
/// index at every execution, which made each page of 512 cost as much as
/// the scope is large (a fifth of a run's CPU at 100,000 refunds).
const IN_SCOPE: &str = "EXISTS (SELECT 1 FROM temp.scope_ids s WHERE s.id = f.id)";

/// Due to be sent, or queried: about an unknown outcome, or (hourly, as its
/// `next_attempt_at` says) about an abnormal refund, which is only ever
/// queried. Abnormal refunds are not [`DUE`]: none keeps a run waiting.
const TO_SEND: &str = "f.state IN ('pending', 'retry_wait', 'unknown', 'abnormal')";

/// Held back by a waiting batch (`temp.held_ids`) in a state it would be
/// sent from: a query that finds an unknown one never created makes it so.
fn held() -> String {
    format!(
        "(f.state IN {HELD_FROM_SENDING}
         AND EXISTS (SELECT 1 FROM temp.held_ids h WHERE h.id = f.id))"
    )
}

/// Due: still to be sent or queried, or (while polling lasts) to be polled.
const DUE: &str =
    "(f.state IN ('pending', 'retry_wait', 'unknown') OR (f.state = 'processing' AND ?1))";

/// A refund still to be sent while an earlier refund of its order (in input
/// order: ids grow with it) is unfinished: it waits, so that refunds of one
/// order reach the gateway one at a time, in the order they were asked for.
fn waits_for_its_order() -> String {
    format!(
        "(f.state IN ('pending', 'retry_wait') AND f.order_key <> '' AND EXISTS (
            SELECT 1 FROM refunds e WHERE e.scope = f.scope AND e.order_key = f.order_key
            AND e.id < f.id AND e.state NOT IN {}))",
        sql_list(&FINAL)
    )
}

/// When the refund before this one of its order finished (for `same_order_gap`).
const PREVIOUS_OF_ORDER_FINISHED: &str = "(SELECT MAX(e.finished_at) FROM refunds e
    WHERE f.order_key <> '' AND e.scope = f.scope AND e.order_key = f.order_key AND e.id < f.id)";

/// Reads what is due within one scope.
pub struct DueReader {
    conn: Connection,
    /// Whether any profile keeps a pause between refunds of one order.
    gaps: bool,
}

impl SqliteJournal {
    /// A reader of what is due in `scope`, on a connection of its own.
    pub fn due_reader(&self, scope: &Scope, gaps: bool) -> Result<DueReader, JournalError> {
        let open_error = |e: rusqlite::Error| JournalError::open(&self.path, e);
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // The scope, materialized once: a key lookup per row instead of a subquery per page.
        conn.execute_batch(
            "PRAGMA temp_store = FILE; CREATE TEMP TABLE scope_ids (id INTEGER PRIMARY KEY);",
        )?;
        conn.execute(
            &format!("INSERT OR IGNORE INTO temp.scope_ids {}", scope.ids_sql()),
            [],
        )?;
        // A batch is sent only once all its rows are recorded: never-sent refunds
        // of an import an older bulkrefund left unfinished wait for it to finish.
        conn.execute(
            "DELETE FROM temp.scope_ids WHERE id IN (
                SELECT f.id FROM refunds f JOIN batches b ON b.id = f.batch_id
                WHERE b.imported_at IS NULL AND f.state = 'pending' AND f.first_sent_at IS NULL)",
            [],
        )?;
        // Nor is anything sent that a batch waiting for a second person's
        // approval holds back (it is still queried and polled: no money moves).
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE held_ids (id INTEGER PRIMARY KEY);
             INSERT OR IGNORE INTO temp.held_ids {};
             DELETE FROM temp.scope_ids WHERE id IN (SELECT f.id FROM refunds f
                 WHERE f.id IN temp.held_ids AND f.state IN {HELD_FROM_SENDING});",
            super::approvals::held_refunds_sql()
        ))?;
        Ok(DueReader { conn, gaps })
    }
}

impl DueReader {
    /// Refunds due to be sent or queried after `cursor`, in id order (polls
    /// aside; an abnormal refund whose hourly query is due among them).
    pub fn page(&self, cursor: i64) -> Result<Vec<DueRefund>, JournalError> {
        let previous = if self.gaps {
            PREVIOUS_OF_ORDER_FINISHED
        } else {
            "NULL"
        };
        let sql = format!(
            // Pages walk the table in id order; an index scan would have to sort.
            "SELECT {RECORD_COLUMNS}, {previous} FROM refunds AS f NOT INDEXED
             WHERE f.id > ?1 AND f.next_attempt_at <= ?2 AND {TO_SEND} AND {IN_SCOPE}
             AND NOT {waits} AND NOT {held} ORDER BY f.id LIMIT 512",
            waits = waits_for_its_order(),
            held = held()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![cursor, now_ms()], |row| {
            Ok(DueRefund {
                record: read_record(row)?,
                previous_finished: row.get(RECORD_COLUMN_COUNT)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Up to `limit` refunds still processing whose next poll is due, the
    /// longest due first.
    pub fn polls(&self, limit: usize) -> Result<Vec<DueRefund>, JournalError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS}, NULL FROM refunds AS f INDEXED BY refunds_polling
             WHERE f.state = 'processing' AND f.next_attempt_at <= ?1
             AND {IN_SCOPE} ORDER BY f.next_attempt_at LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![now_ms(), limit as i64], |row| {
            Ok(DueRefund {
                record: read_record(row)?,
                previous_finished: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// When the next refund in scope falls due, if any still can. A refund
    /// in flight counts from its lease's end: if the process sending it
    /// dies, it is recovered then (to be queried), so a run does not end
    /// while one is in flight (another process's, on a shared journal).
    pub fn next_due(&self, poll_open: bool) -> Result<Option<i64>, JournalError> {
        let sql = format!(
            "SELECT MIN(t) FROM (
                 SELECT MIN(f.next_attempt_at) AS t FROM refunds AS f
                 WHERE {DUE} AND f.next_attempt_at < ?2 AND {IN_SCOPE} AND NOT {waits} AND NOT {held}
                 UNION ALL
                 SELECT MIN(f.lease_until_ms) FROM refunds AS f
                 WHERE f.state IN {in_flight} AND {IN_SCOPE})",
            waits = waits_for_its_order(),
            held = held(),
            in_flight = sql_list(&[State::InFlight]),
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params![poll_open, PARKED], |row| row.get(0))?)
    }

    /// How many times a query found no refund with this one's id right
    /// after the gateway had answered a send of it: its moves from unknown
    /// back to pending marked [`DENIED_AFTER_AN_ANSWER`], over every run.
    pub fn denials(&self, refund: i64) -> Result<u32, JournalError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM events WHERE refund = ?1 AND from_state = ?2 AND to_state = ?3
                 AND substr(why, 1, length(?4)) = ?4",
            )?
            .query_row(
                rusqlite::params![
                    refund,
                    State::Unknown.as_str(),
                    State::Pending.as_str(),
                    DENIED_AFTER_AN_ANSWER
                ],
                |row| row.get(0),
            )?)
    }

    /// Refunds in scope (only the final ones, with `finals_only`).
    pub fn count(&self, finals_only: bool) -> Result<u64, JournalError> {
        let filter = if finals_only {
            format!("WHERE f.state IN {}", sql_list(&FINAL))
        } else {
            String::new()
        };
        Ok(self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM temp.scope_ids s CROSS JOIN refunds f ON f.id = s.id {filter}"
            ),
            [],
            |row| row.get(0),
        )?)
    }
}
