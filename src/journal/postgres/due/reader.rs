//! The scheduler's reads on PostgreSQL ([`PgDueReader`]), meaning row for
//! row what the SQLite store's `DueReader` means (`sqlite/due.rs`): the
//! refunds due to be sent or queried now (abnormal ones included, when
//! their hourly query is due), in id order; the polls due now, the longest
//! due first; when the next one falls due (never an abnormal refund:
//! nothing waits for one); the denials of a refund and how many refunds the
//! scope holds. On a connection of its own, opened with the writer's login,
//! so that the scheduler reads while the writer commits (each statement
//! sees every commit before it, as SQLite's WAL lets its reader).
//!
//! "Now" is the server's clock ([`NOW_MS`]), the journal's clock on
//! PostgreSQL, as SQLite's reader takes its machine's: read once per
//! statement (an uncorrelated subquery), not per row.
//!
//! A refund another process holds under a live claim is due here as on
//! SQLite: the reader does not look at claims; the engine's claim skips it.

use std::cell::RefCell;

use postgres::{Client, Statement};

use super::super::clock::NOW_MS;
use super::super::fenced::pg_error;
use super::super::outside_async;
use super::scope::{ids_sql, read_record, RECORD_COLUMNS, RECORD_COLUMN_COUNT};
use crate::journal::records::{DueRefund, Scope, PARKED};
use crate::journal::state::{sql_list, State, FINAL};
use crate::journal::store::DueReads;
use crate::journal::{JournalError, DENIED_AFTER_AN_ANSWER};

/// A page of due refunds, as SQLite's reader pages them.
const PAGE: i64 = 512;

/// In the run's scope, as the reader fixed it when it opened (`scope_ids`, a
/// temporary table of this connection).
const IN_SCOPE: &str = "EXISTS (SELECT 1 FROM pg_temp.scope_ids s WHERE s.id = f.id)";

/// [`IN_SCOPE`] for a page after the cursor `$1`: the bound is said of the
/// scope's ids too, since the planner does not carry an inequality across
/// `s.id = f.id`. Without it, each page of a million-refund run merged the
/// scope from its first id, and the last pages took 120 ms each.
const IN_SCOPE_AFTER_CURSOR: &str =
    "EXISTS (SELECT 1 FROM pg_temp.scope_ids s WHERE s.id = f.id AND s.id > $1)";

/// Due to be sent, or queried: about an unknown outcome, or (hourly, as its
/// `next_attempt_at` says) about an abnormal refund, which is only ever
/// queried. Abnormal refunds are not [`due`]: none keeps a run waiting.
const TO_SEND: [State; 4] = [
    State::Pending,
    State::RetryWait,
    State::Unknown,
    State::Abnormal,
];

/// Still to be sent or queried: due when their time comes (polls aside).
const OPEN: [State; 3] = [State::Pending, State::RetryWait, State::Unknown];

/// The states a held refund is not sent from: the ones a step would submit
/// in (`sqlite/approvals.rs` `HELD_FROM_SENDING`). Queries and polls move no
/// money, and go on.
const HELD_FROM_SENDING: [State; 2] = [State::Pending, State::RetryWait];

/// The states in which a refund waits for an earlier one of its order.
const SENDS: [State; 2] = [State::Pending, State::RetryWait];

/// Due: still to be sent or queried, or (while polling lasts, `$1`) to be polled.
fn due() -> String {
    format!(
        "(f.state IN {} OR (f.state = 'processing' AND $1))",
        sql_list(&OPEN)
    )
}

/// Held back by a waiting batch (`held_ids`, fixed when the reader opened)
/// in a state it would be sent from: a query that finds an unknown one
/// never created makes it so.
fn held() -> String {
    format!(
        "(f.state IN {}
         AND EXISTS (SELECT 1 FROM pg_temp.held_ids h WHERE h.id = f.id))",
        sql_list(&HELD_FROM_SENDING)
    )
}

/// A refund still to be sent while an earlier refund of its order (in input
/// order: ids grow with it) is unfinished: it waits, so that refunds of one
/// order reach the gateway one at a time, in the order they were asked for.
fn waits_for_its_order() -> String {
    format!(
        "(f.state IN {} AND f.order_key <> '' AND EXISTS (
            SELECT 1 FROM refunds e WHERE e.scope = f.scope AND e.order_key = f.order_key
            AND e.id < f.id AND e.state NOT IN {}))",
        sql_list(&SENDS),
        sql_list(&FINAL)
    )
}

/// When the refund before this one of its order finished (for
/// `same_order_gap`): the latest time, in byte order as SQLite's MAX.
const PREVIOUS_OF_ORDER_FINISHED: &str = r#"(SELECT MAX(e.finished_at COLLATE "C") FROM refunds e
    WHERE f.order_key <> '' AND e.scope = f.scope AND e.order_key = f.order_key AND e.id < f.id)"#;

/// A batch `b` that waits: held when recorded, and no approval since
/// (`postgres/approvals.rs`, `sqlite/approvals.rs`).
const WAITS: &str = "b.approval_over_fen IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM approvals a WHERE a.batch_id = b.id AND a.verdict = 'approved')";

/// The ids of the refunds held back by a waiting batch: every refund a row
/// of it names (`sqlite/approvals.rs` `held_refunds_sql`).
fn held_refunds_sql() -> String {
    format!(
        "SELECT r.refund FROM batch_rows r JOIN batches b ON b.id = r.batch_id
         WHERE r.refund IS NOT NULL AND {WAITS}"
    )
}

/// Fixes the reader's scope in its own temporary tables, in one snapshot:
/// the scope's refunds, less the never-sent refunds of a batch whose import
/// is unfinished and those a waiting batch holds back in a state they would
/// be sent from; and what a waiting batch holds back, for refunds that come
/// back to such a state later.
fn fix_scope(client: &mut Client, scope: &Scope) -> Result<(), JournalError> {
    let sql = format!(
        "BEGIN;
         CREATE TEMP TABLE scope_ids (id BIGINT PRIMARY KEY);
         INSERT INTO pg_temp.scope_ids {scope} ON CONFLICT DO NOTHING;
         DELETE FROM pg_temp.scope_ids WHERE id IN (
             SELECT f.id FROM refunds f JOIN batches b ON b.id = f.batch_id
             WHERE b.imported_at IS NULL AND f.state = 'pending' AND f.first_sent_at IS NULL);
         CREATE TEMP TABLE held_ids (id BIGINT PRIMARY KEY);
         INSERT INTO pg_temp.held_ids {held} ON CONFLICT DO NOTHING;
         DELETE FROM pg_temp.scope_ids WHERE id IN (SELECT f.id FROM refunds f
             WHERE f.id IN (SELECT h.id FROM pg_temp.held_ids h) AND f.state IN {held_states});
         ANALYZE pg_temp.scope_ids;
         ANALYZE pg_temp.held_ids;
         COMMIT;",
        scope = ids_sql(scope),
        held = held_refunds_sql(),
        held_states = sql_list(&HELD_FROM_SENDING),
    );
    client
        .batch_execute(&sql)
        .map_err(pg_error("fixing the scheduler's scope"))
}

/// The statements of a reader, prepared once on its connection.
struct Statements {
    page: Statement,
    polls: Statement,
    next_due: Statement,
    denials: Statement,
    count_all: Statement,
    count_finals: Statement,
}

impl Statements {
    fn prepare(client: &mut Client, gaps: bool) -> Result<Statements, postgres::Error> {
        let previous = if gaps {
            PREVIOUS_OF_ORDER_FINISHED
        } else {
            "NULL::text"
        };
        let (waits, held) = (waits_for_its_order(), held());
        let page = format!(
            "SELECT {RECORD_COLUMNS}, {previous} FROM refunds f
             WHERE f.id > $1 AND f.next_attempt_at <= (SELECT {NOW_MS})
             AND f.state IN {to_send} AND {IN_SCOPE_AFTER_CURSOR}
             AND NOT {waits} AND NOT {held} ORDER BY f.id LIMIT {PAGE}",
            to_send = sql_list(&TO_SEND),
        );
        // Ties in time go by id, as SQLite's index on the time orders them.
        let polls = format!(
            "SELECT {RECORD_COLUMNS} FROM refunds f
             WHERE f.state = 'processing' AND f.next_attempt_at <= (SELECT {NOW_MS})
             AND {IN_SCOPE} ORDER BY f.next_attempt_at, f.id LIMIT $1"
        );
        // A refund in flight counts from its lease's end, as on SQLite.
        let next_due = format!(
            "SELECT MIN(t) FROM (
                 SELECT MIN(f.next_attempt_at) AS t FROM refunds f
                 WHERE {due} AND f.next_attempt_at < $2
                 AND {IN_SCOPE} AND NOT {waits} AND NOT {held}
                 UNION ALL
                 SELECT MIN(f.lease_until_ms) FROM refunds f
                 WHERE f.state IN {in_flight} AND {IN_SCOPE}) AS due",
            due = due(),
            in_flight = sql_list(&[State::InFlight]),
        );
        let count = "SELECT COUNT(*) FROM pg_temp.scope_ids s JOIN refunds f ON f.id = s.id";
        Ok(Statements {
            page: client.prepare(&page)?,
            polls: client.prepare(&polls)?,
            next_due: client.prepare(&next_due)?,
            denials: client.prepare(
                "SELECT COUNT(*) FROM events WHERE refund = $1 AND from_state = $2
                 AND to_state = $3 AND starts_with(why, $4)",
            )?,
            count_all: client.prepare(count)?,
            count_finals: client
                .prepare(&format!("{count} WHERE f.state IN {}", sql_list(&FINAL)))?,
        })
    }
}

/// Reads what is due within one scope, on a connection of its own.
pub struct PgDueReader {
    /// Always `Some` until dropped (see `Drop`).
    client: RefCell<Option<Client>>,
    statements: Statements,
}

impl PgDueReader {
    /// The reader of `scope` on `client` (a connection of its own); `gaps`
    /// when some profile keeps a pause between refunds of one order.
    pub(in super::super) fn open(
        mut client: Client,
        scope: &Scope,
        gaps: bool,
    ) -> Result<PgDueReader, JournalError> {
        fix_scope(&mut client, scope)?;
        let statements = Statements::prepare(&mut client, gaps)
            .map_err(pg_error("preparing the scheduler's reads"))?;
        Ok(PgDueReader {
            client: RefCell::new(Some(client)),
            statements,
        })
    }

    fn query(
        &self,
        statement: &Statement,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        doing: &'static str,
    ) -> Result<Vec<postgres::Row>, JournalError> {
        // The scheduler reads from async code: the driver blocks outside it.
        outside_async(|| {
            self.client
                .borrow_mut()
                .as_mut()
                .expect("the connection is held until dropped")
                .query(statement, params)
                .map_err(pg_error(doing))
        })
    }
}

impl Drop for PgDueReader {
    /// Closing the connection blocks on the driver's runtime, as a query does.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            outside_async(|| drop(client));
        }
    }
}

/// A COUNT(*) (BIGINT) as a count.
fn counted(rows: &[postgres::Row]) -> Result<u64, JournalError> {
    let value: i64 = rows.first().map_or(0, |row| row.get(0));
    u64::try_from(value).map_err(|_| JournalError::Inconsistent(format!("a count of {value}")))
}

impl DueReads for PgDueReader {
    fn page(&self, cursor: i64) -> Result<Vec<DueRefund>, JournalError> {
        let rows = self.query(&self.statements.page, &[&cursor], "reading due refunds")?;
        rows.iter()
            .map(|row| {
                Ok(DueRefund {
                    record: read_record(row)?,
                    previous_finished: row.get(RECORD_COLUMN_COUNT),
                })
            })
            .collect()
    }

    fn polls(&self, limit: usize) -> Result<Vec<DueRefund>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(&self.statements.polls, &[&limit], "reading due polls")?;
        rows.iter()
            .map(|row| {
                Ok(DueRefund {
                    record: read_record(row)?,
                    previous_finished: None,
                })
            })
            .collect()
    }

    fn next_due(&self, poll_open: bool) -> Result<Option<i64>, JournalError> {
        let rows = self.query(
            &self.statements.next_due,
            &[&poll_open, &PARKED],
            "reading when the next refund falls due",
        )?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }

    fn denials(&self, refund: i64) -> Result<u32, JournalError> {
        let rows = self.query(
            &self.statements.denials,
            &[
                &refund,
                &State::Unknown.as_str(),
                &State::Pending.as_str(),
                &DENIED_AFTER_AN_ANSWER,
            ],
            "counting a refund's denials",
        )?;
        let count = counted(&rows)?;
        u32::try_from(count).map_err(|_| JournalError::Inconsistent(format!("{count} denials")))
    }

    fn count(&self, finals_only: bool) -> Result<u64, JournalError> {
        let statement = if finals_only {
            &self.statements.count_finals
        } else {
            &self.statements.count_all
        };
        counted(&self.query(statement, &[], "counting the refunds in scope")?)
    }
}
