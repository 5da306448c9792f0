//! Every change of a refund: a transition (checked by [`state::check`] and
//! appended to the audit trail), a reschedule (same state, later), or an
//! attempt noted. The engine's writer hands groups of them to
//! [`SqliteJournal::commit_group`], which commits a group in one transaction; a
//! refused change (a stale state, an illegal transition) is refused before it
//! writes anything, so it fails alone. What an answer taught of the refund
//! (the gateway's id, its own success and creation times) is kept beside the
//! state: a later answer that does not repeat it erases nothing.

use rusqlite::{params, Connection, OptionalExtension};

use super::claim::Claim;
use super::fence::refusal;
use super::state::{self, State};
use super::{now_text, JournalError, SqliteJournal};
pub use crate::journal::change::{AttemptKind, AttemptRecord, Change, GatewayTimes, Op, Update};
use crate::journal::fence::{self, frees_the_claim};

impl GatewayTimes {
    /// (success, creation) as the journal writes them.
    fn texts(&self) -> (Option<String>, Option<String>) {
        (
            self.success_at.map(crate::zone::journal_time),
            self.created_at.map(crate::zone::journal_time),
        )
    }
}

impl SqliteJournal {
    /// A state change with no attempt behind it (checked, with its event).
    pub fn apply(&self, refund: i64, expected: State, change: &Change) -> Result<(), JournalError> {
        apply(&self.conn, refund, expected, change)
    }

    /// A state change, recording the attempt whose answer caused it.
    pub fn settle(
        &self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        settle(&self.conn, refund, expected, change, attempt)
    }

    /// An attempt that changed nothing about its refund.
    pub fn note_attempt(&self, refund: i64, attempt: &AttemptRecord) -> Result<(), JournalError> {
        note_attempt(&self.conn, refund, attempt)
    }

    /// Commits a group of changes in one transaction: one result each. A
    /// refused change fails alone; any other error fails the whole group.
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
        let tx = match self.conn.transaction() {
            Ok(tx) => tx,
            Err(e) => return fail_all(e.into()),
        };
        let mut results = Vec::with_capacity(count);
        for op in ops {
            match commit_one(&tx, op) {
                // A refused change (stale state, illegal transition, a claim
                // another process took over) is checked before anything is
                // written: it fails alone.
                Err(
                    e @ (JournalError::Stale { .. }
                    | JournalError::Illegal { .. }
                    | JournalError::Fenced { .. }
                    | JournalError::Missing(_)),
                ) => results.push(Err(e)),
                // Anything else may have written half a change: the group is rolled back.
                Err(e) => return fail_all(e),
                Ok(()) => results.push(Ok(())),
            }
        }
        match tx.commit() {
            Ok(()) => results,
            Err(e) => fail_all(e.into()),
        }
    }
}

fn commit_one(conn: &Connection, op: &Op) -> Result<(), JournalError> {
    match op {
        Op::Settle {
            refund,
            attempt,
            update,
            claim,
        } => match update {
            Update::Transition { from, change } => {
                transition(conn, *refund, *from, change, Some(attempt), Some(claim))
            }
            Update::Reschedule {
                next_attempt_at,
                note,
                gateway_refund_id,
                gateway_times,
            } => reschedule_under(
                conn,
                *refund,
                Rescheduled {
                    next_attempt_at: *next_attempt_at,
                    note: note.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
                    gateway_refund_id: gateway_refund_id.as_deref(),
                    gateway_times,
                },
                attempt,
                Some(claim),
            ),
        },
        Op::Transition {
            refund,
            from,
            change,
            claim,
        } => transition(conn, *refund, *from, change, None, Some(claim)),
    }
}

/// Changes a refund's state: checks that it is in `expected` and that the
/// transition is legal, updates it and appends the event. Within the caller's
/// transaction; a refused change writes nothing.
pub(super) fn apply(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
) -> Result<(), JournalError> {
    transition(conn, refund, expected, change, None, None)
}

/// [`apply`], recording the attempt whose answer caused the change.
pub(super) fn settle(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    transition(conn, refund, expected, change, Some(attempt), None)
}

/// (attempts, submits, first_sent_at) that an attempt adds to its refund.
fn counted(attempt: Option<&AttemptRecord>) -> (i64, i64, Option<&str>) {
    match attempt {
        None => (0, 0, None),
        Some(a) if a.kind == AttemptKind::Submit => (1, 1, Some(a.at.as_str())),
        Some(_) => (1, 0, None),
    }
}

fn transition(
    conn: &Connection,
    refund: i64,
    expected: State,
    change: &Change,
    attempt: Option<&AttemptRecord>,
    claim: Option<&Claim>,
) -> Result<(), JournalError> {
    // Every check comes before the first write. The state and the claim are
    // checked by the UPDATE itself (`AND state = expected`, the fence); they
    // are read only to explain a refusal.
    state::check(expected, change.to).map_err(|source| JournalError::Illegal { refund, source })?;
    let now = now_text();
    let (code, message) = match &change.error {
        Some((code, message)) => (Some(code.as_str()), Some(message.as_str())),
        None => (None, None),
    };
    let finished = change.to.is_final().then_some(now.as_str());
    let (attempts, submits, sent_at) = counted(attempt);
    let (success_at, created_at) = change.gateway_times.texts();
    let frees = frees_the_claim(change.to, change.next_attempt_at);
    let (owner, generation) = fence::params(claim);
    // An intent (the step before a request leaves) also needs the claim's
    // lease still running: a process that stalled past it may find its
    // refund taken over and queried by another at any moment, so it sends
    // nothing more under it.
    let lease_now =
        (claim.is_some() && change.to == State::InFlight).then(super::clock::journal_now);
    let changed = conn
        .prepare_cached(
            "UPDATE refunds SET state = ?2, error_code = ?3, error_message = ?4,
             gateway_refund_id = COALESCE(?5, gateway_refund_id),
             next_attempt_at = COALESCE(?6, 0), finished_at = ?7,
             ever_created = ever_created OR ?8,
             attempts = attempts + ?9, submits = submits + ?10,
             first_sent_at = COALESCE(first_sent_at, ?11),
             gateway_success_at = COALESCE(?13, gateway_success_at),
             gateway_created_at = COALESCE(?14, gateway_created_at),
             claim_owner = CASE WHEN ?15 THEN NULL ELSE claim_owner END,
             lease_until_ms = CASE WHEN ?15 THEN NULL ELSE lease_until_ms END
         WHERE id = ?1 AND state = ?12
         AND (?16 IS NULL OR (claim_owner = ?16 AND claim_generation = ?17))
         AND (?18 IS NULL OR lease_until_ms >= ?18)",
        )?
        .execute(params![
            refund,
            change.to.as_str(),
            code,
            message,
            change.gateway_refund_id,
            change.next_attempt_at,
            finished,
            change.created,
            attempts,
            submits,
            sent_at,
            expected.as_str(),
            success_at,
            created_at,
            frees,
            owner,
            generation,
            lease_now
        ])?;
    if changed == 0 {
        return Err(refusal(conn, refund, Some(expected), claim, lease_now));
    }
    if let Some(attempt) = attempt {
        insert_attempt(conn, refund, attempt)?;
    }
    event(conn, refund, &now, expected, change.to, &change.why)
}

/// Appends a refund's move from `from` to `to` to the audit trail.
pub(super) fn event(
    conn: &Connection,
    refund: i64,
    at: &str,
    from: State,
    to: State,
    why: &str,
) -> Result<(), JournalError> {
    conn.prepare_cached(
        "INSERT INTO events (refund, at, from_state, to_state, why) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![refund, at, from.as_str(), to.as_str(), why])?;
    Ok(())
}

/// What a reschedule writes: when next, the note to show, and what the
/// answer taught of the refund.
pub(super) struct Rescheduled<'a> {
    pub next_attempt_at: i64,
    pub note: Option<(&'a str, &'a str)>,
    pub gateway_refund_id: Option<&'a str>,
    pub gateway_times: &'a GatewayTimes,
}

/// [`reschedule_under`] under no claim, as tests write.
#[cfg(test)]
pub(super) fn reschedule(
    conn: &Connection,
    refund: i64,
    update: Rescheduled,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    reschedule_under(conn, refund, update, attempt, None)
}

/// Updates a refund that stays in its state (a poll that found it still
/// processing, a query that could not learn anything): no event, since
/// nothing changed; the attempt is recorded. Under a claim, written only
/// while the refund's claim is still that one.
fn reschedule_under(
    conn: &Connection,
    refund: i64,
    update: Rescheduled,
    attempt: &AttemptRecord,
    claim: Option<&Claim>,
) -> Result<(), JournalError> {
    let (code, message) = update.note.unzip();
    let (attempts, submits, sent_at) = counted(Some(attempt));
    let (success_at, created_at) = update.gateway_times.texts();
    // The refund's state is unchanged, and final only if it was (an abnormal
    // refund asked about again): a parked or final one needs no claim.
    let frees = frees_the_claim(state_of(conn, refund)?, Some(update.next_attempt_at));
    let (owner, generation) = fence::params(claim);
    let changed = conn
        .prepare_cached(
            "UPDATE refunds SET next_attempt_at = ?2, error_code = ?3, error_message = ?4,
             gateway_refund_id = COALESCE(?5, gateway_refund_id),
             attempts = attempts + ?6, submits = submits + ?7,
             first_sent_at = COALESCE(first_sent_at, ?8),
             gateway_success_at = COALESCE(?9, gateway_success_at),
             gateway_created_at = COALESCE(?10, gateway_created_at),
             claim_owner = CASE WHEN ?11 THEN NULL ELSE claim_owner END,
             lease_until_ms = CASE WHEN ?11 THEN NULL ELSE lease_until_ms END
         WHERE id = ?1 AND (?12 IS NULL OR (claim_owner = ?12 AND claim_generation = ?13))",
        )?
        .execute(params![
            refund,
            update.next_attempt_at,
            code,
            message,
            update.gateway_refund_id,
            attempts,
            submits,
            sent_at,
            success_at,
            created_at,
            frees,
            owner,
            generation
        ])?;
    if changed == 0 {
        return Err(refusal(conn, refund, None, claim, None));
    }
    insert_attempt(conn, refund, attempt)?;
    Ok(())
}

/// Records an attempt that changed nothing about its refund (a query that
/// confirmed what the journal holds).
pub(super) fn note_attempt(
    conn: &Connection,
    refund: i64,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    insert_attempt(conn, refund, attempt)?;
    conn.prepare_cached("UPDATE refunds SET attempts = attempts + 1 WHERE id = ?1")?
        .execute([refund])?;
    Ok(())
}

fn insert_attempt(
    conn: &Connection,
    refund: i64,
    attempt: &AttemptRecord,
) -> Result<(), JournalError> {
    let kind = match attempt.kind {
        AttemptKind::Submit => "submit",
        AttemptKind::Query => "query",
    };
    conn.prepare_cached(
        "INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        refund,
        kind,
        attempt.at,
        attempt.http_status,
        attempt.gateway_codes,
        attempt.outcome,
        attempt.latency_ms as i64
    ])?;
    Ok(())
}

/// A refund's state now: [`JournalError::Missing`] when there is no such refund.
pub(super) fn state_of(conn: &Connection, refund: i64) -> Result<State, JournalError> {
    let text: String = conn
        .prepare_cached("SELECT state FROM refunds WHERE id = ?1")?
        .query_row([refund], |row| row.get(0))
        .optional()?
        .ok_or(JournalError::Missing(refund))?;
    State::parse(&text).ok_or_else(|| {
        JournalError::Inconsistent(format!("refund #{refund} has the unknown state {text:?}"))
    })
}
