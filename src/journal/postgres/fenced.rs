//! Fenced writes on PostgreSQL: the engine's changes ([`Op`]) committed the
//! way the SQLite store commits them (`journal/sqlite/changes.rs`: the
//! state checked by [`state::check`], the event appended, the attempt
//! recorded, a reschedule), each written only while the refund's claim is
//! still the one it was made under (owner and generation). A write from a
//! process that lost its claim changes nothing and is refused with
//! [`JournalError::Fenced`]. Event and finish times are the server's clock,
//! as the leases are ([`super::clock`]).

use postgres::types::ToSql;
use postgres::Transaction;

use super::error::describe;
use super::fenced_sql::FencedStatements;
use super::PgJournal;
use crate::journal::change::{AttemptKind, AttemptRecord, Change, GatewayTimes, Op, Update};
use crate::journal::claim::Claim;
use crate::journal::fence::{self, frees_the_claim};
use crate::journal::state::{self, State};
use crate::journal::JournalError;

/// A driver error as a journal error, `doing` what the caller was doing:
/// the server's message and SQLSTATE, never a connection string.
pub(super) fn pg_error(doing: &'static str) -> impl Fn(postgres::Error) -> JournalError {
    move |e| JournalError::Store(format!("the PostgreSQL journal, {doing}: {}", describe(&e)))
}

/// A journal time (RFC 3339 UTC, milliseconds) of `ms` on the server's clock.
pub(super) fn journal_time(ms: i64) -> Result<String, JournalError> {
    jiff::Timestamp::from_millisecond(ms)
        .map(crate::zone::journal_time)
        .map_err(|e| JournalError::Inconsistent(format!("the server's clock reads {ms}: {e}")))
}

/// (attempts, submits, first_sent_at) that an attempt adds to its refund.
fn counted(attempt: Option<&AttemptRecord>) -> (i64, i64, Option<&str>) {
    match attempt {
        None => (0, 0, None),
        Some(a) if a.kind == AttemptKind::Submit => (1, 1, Some(a.at.as_str())),
        Some(_) => (1, 0, None),
    }
}

/// (success, creation) as the journal writes them.
fn gateway_texts(times: &GatewayTimes) -> (Option<String>, Option<String>) {
    (
        times.success_at.map(crate::zone::journal_time),
        times.created_at.map(crate::zone::journal_time),
    )
}

impl PgJournal {
    /// The fenced writes' statements on this connection, prepared once;
    /// call it before a transaction begins.
    pub(crate) fn fenced_statements(&mut self) -> Result<FencedStatements, JournalError> {
        let prepared = match self.fenced.take() {
            Some(prepared) => prepared,
            None => FencedStatements::prepare(&mut self.client)
                .map_err(pg_error("preparing the journal's statements"))?,
        };
        self.fenced = Some(prepared.clone());
        Ok(prepared)
    }

    /// Commits one change under its claim, in one transaction: written only
    /// while the refund's claim is still that one; otherwise nothing is
    /// written and the refusal says why ([`JournalError::Fenced`] when
    /// another process took the refund over).
    pub fn commit_fenced(&mut self, op: &Op) -> Result<(), JournalError> {
        self.commit_group(std::iter::once(op))
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Commits a group of changes in one transaction: one result each. A
    /// refused change (stale, illegal, fenced, missing) is refused before it
    /// writes anything, so it fails alone; any other error fails the whole
    /// group, none of which is written.
    pub fn commit_group<'a>(
        &mut self,
        ops: impl ExactSizeIterator<Item = &'a Op>,
    ) -> Vec<Result<(), JournalError>> {
        let count = ops.len();
        let fail_all = |e: JournalError| {
            let cause = std::sync::Arc::new(e);
            (0..count)
                .map(|_| Err(JournalError::Group(cause.clone())))
                .collect()
        };
        let doing = "committing changes";
        let sql = match self.fenced_statements() {
            Ok(sql) => sql,
            Err(e) => return fail_all(e),
        };
        let mut tx = match self.client.transaction() {
            Ok(tx) => tx,
            Err(e) => return fail_all(pg_error(doing)(e)),
        };
        let now = match now_ms(&mut tx, &sql) {
            Ok(now) => now,
            Err(e) => return fail_all(e),
        };
        let mut results = Vec::with_capacity(count);
        for op in ops {
            match commit_one(&mut tx, &sql, op, now) {
                Err(
                    e @ (JournalError::Stale { .. }
                    | JournalError::Illegal { .. }
                    | JournalError::Fenced { .. }
                    | JournalError::Missing(_)),
                ) => results.push(Err(e)),
                Err(e) => return fail_all(e),
                Ok(()) => results.push(Ok(())),
            }
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => fail_all(pg_error(doing)(e)),
        }
    }
}

/// Now on the server's clock ([`super::clock`]), by the prepared statement.
pub(super) fn now_ms(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
) -> Result<i64, JournalError> {
    tx.query_one(&sql.now, &[])
        .and_then(|row| row.try_get(0))
        .map_err(pg_error("reading the server's clock"))
}

fn commit_one(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
    op: &Op,
    now: i64,
) -> Result<(), JournalError> {
    match op {
        Op::Settle {
            refund,
            attempt,
            update,
            claim,
        } => match update {
            Update::Transition { from, change } => transition(
                tx,
                sql,
                *refund,
                (*from, change),
                Some(attempt),
                Some(claim),
                now,
            ),
            Update::Reschedule {
                next_attempt_at,
                note,
                gateway_refund_id,
                gateway_times,
            } => reschedule(
                tx,
                sql,
                *refund,
                Rescheduled {
                    next_attempt_at: *next_attempt_at,
                    note: note.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
                    gateway_refund_id: gateway_refund_id.as_deref(),
                    gateway_times,
                },
                attempt,
                claim,
            ),
        },
        Op::Transition {
            refund,
            from,
            change,
            claim,
        } => transition(tx, sql, *refund, (*from, change), None, Some(claim), now),
    }
}

/// Changes a refund's state, `from` the expected one: checks that the
/// transition is legal, updates the refund only while it is in the expected
/// state and (under a claim) still held by `claim`, records `attempt` and
/// appends the event, in one statement ([`FencedStatements::transition`]).
/// Within `tx`; a refused change writes nothing. `now_ms` is the server's
/// clock.
pub(super) fn transition(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
    refund: i64,
    (expected, change): (State, &Change),
    attempt: Option<&AttemptRecord>,
    claim: Option<&Claim>,
    now_ms: i64,
) -> Result<(), JournalError> {
    // Every check comes before the write. The state and the claim are
    // checked by the UPDATE itself; they are read only to explain a refusal.
    state::check(expected, change.to).map_err(|source| JournalError::Illegal { refund, source })?;
    let now = journal_time(now_ms)?;
    let (code, message) = change.error.clone().unzip();
    let finished = change.to.is_final().then_some(now.as_str());
    let (attempts, submits, sent_at) = counted(attempt);
    let (success_at, created_at) = gateway_texts(&change.gateway_times);
    let frees = frees_the_claim(change.to, change.next_attempt_at);
    let (owner, generation) = fence::params(claim);
    // An intent (the step before a request leaves) also needs the claim's
    // lease still running on the server's clock, as on SQLite.
    let lease_now = (claim.is_some() && change.to == State::InFlight).then_some(now_ms);
    let recorded = AttemptParams::of(attempt);
    let row = tx
        .query_one(
            &sql.transition,
            &[
                &refund as &(dyn ToSql + Sync),
                &change.to.as_str(),
                &code,
                &message,
                &change.gateway_refund_id,
                &change.next_attempt_at,
                &finished,
                &change.created,
                &attempts,
                &submits,
                &sent_at,
                &expected.as_str(),
                &success_at,
                &created_at,
                &frees,
                &owner,
                &generation,
                &lease_now,
                &now,
                &change.why,
            ]
            .into_iter()
            .chain(recorded.binds())
            .collect::<Vec<_>>(),
        )
        .map_err(pg_error("changing a refund's state"))?;
    if changed(&row)? == 0 {
        return Err(refusal(tx, refund, Some(expected), claim, lease_now));
    }
    Ok(())
}

/// How many refunds a fenced statement changed (its one column).
fn changed(row: &postgres::Row) -> Result<i64, JournalError> {
    row.try_get(0)
        .map_err(pg_error("reading what a change of a refund wrote"))
}

/// An attempt as the fenced statements bind it: every column NULL when
/// there is none (and then none is written).
struct AttemptParams<'a> {
    kind: Option<&'static str>,
    at: Option<&'a str>,
    http_status: Option<i64>,
    gateway_codes: Option<&'a str>,
    outcome: Option<&'a str>,
    latency_ms: Option<i64>,
}

impl<'a> AttemptParams<'a> {
    /// Its binds, in the statements' order (the attempt's parameters come
    /// last in both).
    fn binds(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.kind,
            &self.at,
            &self.http_status,
            &self.gateway_codes,
            &self.outcome,
            &self.latency_ms,
        ]
    }

    fn of(attempt: Option<&'a AttemptRecord>) -> AttemptParams<'a> {
        AttemptParams {
            kind: attempt.map(|a| kind_text(a.kind)),
            at: attempt.map(|a| a.at.as_str()),
            http_status: attempt.and_then(|a| a.http_status.map(i64::from)),
            gateway_codes: attempt.and_then(|a| a.gateway_codes.as_deref()),
            outcome: attempt.map(|a| a.outcome.as_str()),
            latency_ms: attempt.map(|a| a.latency_ms as i64),
        }
    }
}

fn kind_text(kind: AttemptKind) -> &'static str {
    match kind {
        AttemptKind::Submit => "submit",
        AttemptKind::Query => "query",
    }
}

/// What a reschedule writes: when next, the note to show, and what the
/// answer taught of the refund.
struct Rescheduled<'a> {
    next_attempt_at: i64,
    note: Option<(&'a str, &'a str)>,
    gateway_refund_id: Option<&'a str>,
    gateway_times: &'a GatewayTimes,
}

/// Updates a refund that stays in its state (a poll that found it still
/// processing, a query that could not learn anything): no event, since
/// nothing changed; the attempt is recorded. Written only while the
/// refund's claim is still `claim`.
fn reschedule(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
    refund: i64,
    update: Rescheduled,
    attempt: &AttemptRecord,
    claim: &Claim,
) -> Result<(), JournalError> {
    let (code, message) = update.note.unzip();
    let (attempts, submits, sent_at) = counted(Some(attempt));
    let (success_at, created_at) = gateway_texts(update.gateway_times);
    // The refund's state is unchanged, and final only if it was (an abnormal
    // refund asked about again): a parked or final one needs no claim. Read
    // under the row's lock, so that it cannot change before the UPDATE.
    let frees = frees_the_claim(locked_state(tx, sql, refund)?, Some(update.next_attempt_at));
    let recorded = AttemptParams::of(Some(attempt));
    let row = tx
        .query_one(
            &sql.reschedule,
            &[
                &refund as &(dyn ToSql + Sync),
                &update.next_attempt_at,
                &code,
                &message,
                &update.gateway_refund_id,
                &attempts,
                &submits,
                &sent_at,
                &success_at,
                &created_at,
                &frees,
                &claim.owner.as_str(),
                &claim.generation,
            ]
            .into_iter()
            .chain(recorded.binds())
            .collect::<Vec<_>>(),
        )
        .map_err(pg_error("rescheduling a refund"))?;
    if changed(&row)? == 0 {
        return Err(refusal(tx, refund, None, Some(claim), None));
    }
    Ok(())
}

pub(super) fn insert_attempt(
    tx: &mut Transaction<'_>,
    refund: i64,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    let kind = kind_text(attempt.kind);
    tx.execute(
        "INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &refund,
            &kind,
            &attempt.at,
            &attempt.http_status.map(i64::from),
            &attempt.gateway_codes,
            &attempt.outcome,
            &(attempt.latency_ms as i64),
        ],
    )
    .map_err(pg_error("recording an attempt"))?;
    Ok(())
}

/// A refund's state now, its row locked: [`JournalError::Missing`] when
/// there is no such refund.
pub(super) fn state_of(tx: &mut Transaction<'_>, refund: i64) -> Result<State, JournalError> {
    let row = tx
        .query_opt(
            "SELECT state FROM refunds WHERE id = $1 FOR UPDATE",
            &[&refund],
        )
        .map_err(pg_error("reading a refund's state"))?;
    parse_state(refund, row)
}

/// [`state_of`] by the prepared statement.
fn locked_state(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
    refund: i64,
) -> Result<State, JournalError> {
    let row = tx
        .query_opt(&sql.state_of, &[&refund])
        .map_err(pg_error("reading a refund's state"))?;
    parse_state(refund, row)
}

fn parse_state(refund: i64, row: Option<postgres::Row>) -> Result<State, JournalError> {
    let text: String = row.ok_or(JournalError::Missing(refund))?.get(0);
    State::parse(&text).ok_or_else(|| {
        JournalError::Inconsistent(format!("refund #{refund} has the unknown state {text:?}"))
    })
}

/// Why a fenced write changed no row ([`fence::refusal`], the same words as
/// SQLite's), from the refund as it is now.
fn refusal(
    tx: &mut Transaction<'_>,
    refund: i64,
    expected: Option<State>,
    claim: Option<&Claim>,
    lease_now: Option<i64>,
) -> JournalError {
    let held = tx.query_opt(
        "SELECT claim_owner, claim_generation, state, lease_until_ms FROM refunds WHERE id = $1",
        &[&refund],
    );
    let held = match held {
        Ok(row) => row.map(|row| fence::Held {
            owner: row.get(0),
            generation: row.get(1),
            state: row.get(2),
            lease_until: row.get(3),
        }),
        Err(e) => return pg_error("reading why a write was refused")(e),
    };
    fence::refusal(refund, expected, claim, lease_now, held)
}
