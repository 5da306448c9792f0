//! One step for one refund: submit it (pending, retry_wait), query it
//! (unknown), or poll it (processing), and record what the answer proved. The
//! mapping from a gateway [`Outcome`] to a journal [`Update`] lives in
//! [`after_submit`] and [`after_query`]: the one place the one rule is applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::pacing::{backoff, poll_interval, Pace};
use super::writer::{Update, Writer};
use crate::gateway::{Attempt, Outcome, Receipt, RefundOrder};
use crate::journal::{now_ms, now_text, AttemptKind, AttemptRecord, Change, RefundRecord, State};

/// `next_attempt_at` of a refund this run gave up on (unknown after every query
/// allowed). The next run or `resume` takes it up again.
pub const PARKED: i64 = i64::MAX / 4;

/// What the engine remembers about a refund during one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub submits: u32,
    pub queries: u32,
    pub polls: u32,
}

pub struct Job {
    pub record: RefundRecord,
    pub counters: Counters,
}

/// A finished step, reported to the scheduler after its changes are committed.
#[derive(Debug)]
pub struct Done {
    pub id: i64,
    pub counters: Counters,
    /// The state the journal now holds (unchanged when nothing was sent).
    pub state: State,
    /// The journal refused a change: the run cannot go on.
    pub fatal: Option<String>,
}

fn code_of(attempt: &Attempt) -> String {
    match (&attempt.outcome, attempt.http_status) {
        (Outcome::Failed { code, .. }, _) => code.clone(),
        (_, Some(status)) if status != 200 => format!("HTTP {status}"),
        _ => String::new(),
    }
}

fn at_ms(wait: Duration) -> i64 {
    now_ms().saturating_add(wait.as_millis() as i64)
}

fn known(change: Change, receipt: &Receipt) -> Change {
    Change {
        gateway_refund_id: receipt.gateway_refund_id.clone(),
        created: true,
        ..change
    }
}

/// What a submit's answer does to a refund now `in_flight`; and how long to
/// pause the whole profile, if the gateway asked for it.
pub fn after_submit(
    attempt: &Attempt,
    submits: u32,
    max_attempts: u32,
) -> (Update, Option<Duration>) {
    let from = State::InFlight;
    let change = match &attempt.outcome {
        Outcome::Succeeded(receipt) => known(
            Change::to(State::Succeeded, "the gateway says it succeeded"),
            receipt,
        ),
        Outcome::Processing(receipt) => Change {
            next_attempt_at: Some(at_ms(poll_interval(0))),
            ..known(
                Change::to(State::Processing, "accepted; refunding"),
                receipt,
            )
        },
        Outcome::Failed {
            code,
            message,
            receipt,
        } => Change {
            error: Some((code.clone(), message.clone())),
            gateway_refund_id: receipt.gateway_refund_id.clone(),
            // A refund the gateway refused was never created; one it created and then failed was.
            created: receipt.gateway_refund_id.is_some(),
            ..Change::to(State::Failed, format!("the gateway refused it: {code}"))
        },
        Outcome::Unknown { why } => Change {
            error: Some((code_of(attempt), why.clone())),
            next_attempt_at: Some(at_ms(backoff(0))),
            ..Change::to(
                State::Unknown,
                format!("outcome unknown ({why}); it will be queried"),
            )
        },
        // A submit cannot prove absence: only a query can.
        Outcome::NotFound => Change {
            next_attempt_at: Some(at_ms(backoff(0))),
            ..Change::to(
                State::Unknown,
                "unexpected answer to a submit; it will be queried",
            )
        },
        Outcome::Retry { after, why } => {
            let wait = backoff(submits).max(after.unwrap_or_default());
            if submits >= max_attempts {
                let change = Change {
                    error: Some((
                        code_of(attempt),
                        format!("{why}; gave up after {submits} attempts, never created"),
                    )),
                    ..Change::to(
                        State::Failed,
                        format!("not created after {submits} attempts: {why}"),
                    )
                };
                return (Update::Transition { from, change }, Some(wait));
            }
            let change = Change {
                error: Some((code_of(attempt), why.clone())),
                next_attempt_at: Some(at_ms(wait)),
                ..Change::to(
                    State::RetryWait,
                    format!("not created ({why}); same id later"),
                )
            };
            return (Update::Transition { from, change }, Some(wait));
        }
    };
    (Update::Transition { from, change }, None)
}

/// What a query's answer does to a refund that is `unknown` or `processing`.
pub fn after_query(
    from: State,
    attempt: &Attempt,
    counters: &Counters,
    max_attempts: u32,
) -> (Update, Option<Duration>) {
    let transition = |change| (Update::Transition { from, change }, None);
    let later = |wait: Duration, code: String, why: String| Update::Reschedule {
        next_attempt_at: at_ms(wait),
        note: Some((code, why)),
        gateway_refund_id: None,
    };
    match &attempt.outcome {
        Outcome::Succeeded(receipt) => transition(known(
            Change::to(State::Succeeded, "the gateway says it succeeded"),
            receipt,
        )),
        Outcome::Failed {
            code,
            message,
            receipt,
        } => transition(Change {
            error: Some((code.clone(), message.clone())),
            ..known(
                Change::to(State::Failed, format!("the gateway says it failed: {code}")),
                receipt,
            )
        }),
        Outcome::Processing(receipt) if from == State::Processing => (
            Update::Reschedule {
                next_attempt_at: at_ms(poll_interval(counters.polls)),
                note: None,
                gateway_refund_id: receipt.gateway_refund_id.clone(),
            },
            None,
        ),
        Outcome::Processing(receipt) => transition(Change {
            next_attempt_at: Some(at_ms(poll_interval(counters.polls))),
            ..known(
                Change::to(State::Processing, "the gateway holds it; refunding"),
                receipt,
            )
        }),
        Outcome::NotFound if from == State::Unknown => transition(Change::to(
            State::Pending,
            "the gateway has no refund with this id: it was never created, so it may be sent",
        )),
        Outcome::NotFound => (
            later(
                poll_interval(counters.polls),
                "NOT_FOUND".into(),
                "the gateway accepted this refund but now reports no such refund; still polling"
                    .into(),
            ),
            None,
        ),
        Outcome::Unknown { why } | Outcome::Retry { why, .. } => {
            let after = match &attempt.outcome {
                Outcome::Retry { after, .. } => {
                    Some(backoff(counters.queries).max(after.unwrap_or_default()))
                }
                _ => None,
            };
            let wait = after.unwrap_or_else(|| backoff(counters.queries));
            let mut update = later(wait, code_of(attempt), why.clone());
            if from == State::Unknown && counters.queries >= max_attempts {
                if let Update::Reschedule {
                    next_attempt_at,
                    note,
                    ..
                } = &mut update
                {
                    *next_attempt_at = PARKED;
                    *note = Some((
                        code_of(attempt),
                        format!(
                            "{why}; still unknown after {} queries: `bulkrefund resume` asks again",
                            counters.queries
                        ),
                    ));
                }
            }
            (update, after)
        }
    }
}

fn attempt_record(
    kind: AttemptKind,
    at: String,
    started: Instant,
    attempt: &Attempt,
) -> AttemptRecord {
    let outcome = match &attempt.outcome {
        Outcome::Succeeded(_) => "succeeded".to_owned(),
        Outcome::Failed { code, .. } => format!("failed {code}"),
        Outcome::Processing(_) => "processing".to_owned(),
        Outcome::Unknown { why } => format!("unknown: {why}"),
        Outcome::Retry { why, .. } => format!("retry: {why}"),
        Outcome::NotFound => "not found".to_owned(),
    };
    AttemptRecord {
        kind,
        at,
        http_status: attempt.http_status,
        gateway_codes: attempt.gateway_codes.clone(),
        outcome,
        latency_ms: started.elapsed().as_millis() as u64,
    }
}

/// Runs one step and reports it on `done` once its changes are committed.
pub async fn work(
    job: Job,
    pace: Arc<Pace>,
    permit: OwnedSemaphorePermit,
    writer: Writer,
    cancel: CancellationToken,
    requests: Arc<AtomicU64>,
    done: mpsc::UnboundedSender<Done>,
) {
    let report = step(job, &pace, permit, &writer, &cancel, &requests).await;
    let _ = done.send(report);
}

async fn step(
    job: Job,
    pace: &Pace,
    permit: OwnedSemaphorePermit,
    writer: &Writer,
    cancel: &CancellationToken,
    requests: &AtomicU64,
) -> Done {
    let Job {
        record,
        mut counters,
    } = job;
    let (id, from) = (record.id, record.state);
    let unchanged = |counters, fatal| Done {
        id,
        counters,
        state: from,
        fatal,
    };
    if !matches!(
        from,
        State::Pending | State::RetryWait | State::Unknown | State::Processing
    ) {
        return unchanged(counters, None);
    }
    let order = RefundOrder {
        refund_id: record.refund_id,
        amount: record.amount,
        fields: record.fields,
        gateway_refund_id: record.gateway_refund_id,
    };
    let (kind, update, pause) = if matches!(from, State::Pending | State::RetryWait) {
        if let Err(e) = writer.intent(id, from).await {
            return unchanged(counters, Some(e));
        }
        // The limiter gates the send itself, after the intent's commit (whose
        // latency varies), so that the gateway sees the rate we promised.
        if !pace.ready(cancel).await {
            let withdraw = Change::to(
                State::Pending,
                "interrupted before the request left; nothing was sent",
            );
            let fatal = writer.transition(id, State::InFlight, withdraw).await.err();
            return Done {
                id,
                counters,
                state: State::Pending,
                fatal,
            };
        }
        let (at, started) = (now_text(), Instant::now());
        let attempt = pace.gateway.submit(&order).await;
        requests.fetch_add(1, Ordering::Relaxed);
        counters.submits += 1;
        let (update, pause) = after_submit(&attempt, counters.submits, pace.max_attempts);
        (
            attempt_record(AttemptKind::Submit, at, started, &attempt),
            update,
            pause,
        )
    } else {
        if !pace.ready(cancel).await {
            return unchanged(counters, None);
        }
        let (at, started) = (now_text(), Instant::now());
        let attempt = pace.gateway.query(&order).await;
        requests.fetch_add(1, Ordering::Relaxed);
        if from == State::Processing {
            counters.polls += 1;
        } else {
            counters.queries += 1;
        }
        let (update, pause) = after_query(from, &attempt, &counters, pace.max_attempts);
        (
            attempt_record(AttemptKind::Query, at, started, &attempt),
            update,
            pause,
        )
    };
    drop(permit);
    if let Some(wait) = pause {
        pace.pause(wait);
    }
    let state = match &update {
        Update::Transition { change, .. } => change.to,
        Update::Reschedule { .. } => from,
    };
    match writer.settle(id, kind, update).await {
        Ok(()) => Done {
            id,
            counters,
            state,
            fatal: None,
        },
        Err(e) => Done {
            id,
            counters,
            state: State::InFlight,
            fatal: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: Outcome, status: Option<u16>) -> Attempt {
        Attempt {
            outcome,
            http_status: status,
            gateway_codes: None,
        }
    }

    fn to_state(update: &Update) -> Option<State> {
        match update {
            Update::Transition { change, .. } => Some(change.to),
            Update::Reschedule { .. } => None,
        }
    }

    #[test]
    fn submit_outcomes_map_to_states() {
        let receipt = Receipt {
            gateway_refund_id: Some("G1".into()),
            refund_fen: None,
        };
        let cases = [
            (Outcome::Succeeded(receipt.clone()), State::Succeeded),
            (Outcome::Processing(receipt.clone()), State::Processing),
            (
                Outcome::failed("-20023", "balance", Receipt::default()),
                State::Failed,
            ),
            (Outcome::unknown("HTTP 500"), State::Unknown),
            (Outcome::NotFound, State::Unknown),
            (Outcome::retry(None, "busy"), State::RetryWait),
        ];
        for (outcome, expected) in cases {
            let (update, _) = after_submit(&attempt(outcome.clone(), Some(200)), 1, 8);
            assert_eq!(to_state(&update), Some(expected), "{outcome:?}");
        }
    }

    #[test]
    fn retries_run_out_into_failed_never_created() {
        let busy = attempt(
            Outcome::retry(Some(Duration::from_secs(3)), "HTTP 503: gateway overloaded"),
            Some(503),
        );
        let (update, pause) = after_submit(&busy, 7, 8);
        assert_eq!(to_state(&update), Some(State::RetryWait));
        assert!(
            pause.unwrap() >= Duration::from_secs(3),
            "Retry-After is honoured"
        );
        let (update, _) = after_submit(&busy, 8, 8);
        let Update::Transition { change, .. } = update else {
            panic!()
        };
        assert_eq!(change.to, State::Failed);
        assert!(!change.created);
        assert_eq!(change.error.unwrap().0, "HTTP 503");
    }

    #[test]
    fn queries_settle_unknown_and_only_not_found_reopens() {
        let counters = Counters {
            queries: 1,
            ..Default::default()
        };
        let q = |outcome| after_query(State::Unknown, &attempt(outcome, Some(200)), &counters, 8).0;
        assert_eq!(to_state(&q(Outcome::NotFound)), Some(State::Pending));
        assert_eq!(
            to_state(&q(Outcome::Succeeded(Receipt::default()))),
            Some(State::Succeeded)
        );
        assert_eq!(
            to_state(&q(Outcome::Processing(Receipt::default()))),
            Some(State::Processing)
        );
        assert_eq!(to_state(&q(Outcome::unknown("still no idea"))), None);
        // A processing refund the gateway "forgot" is never reopened for sending.
        let (update, _) = after_query(
            State::Processing,
            &attempt(Outcome::NotFound, Some(200)),
            &counters,
            8,
        );
        assert_eq!(to_state(&update), None);
    }

    #[test]
    fn unknown_is_parked_after_the_last_query() {
        let counters = Counters {
            queries: 8,
            ..Default::default()
        };
        let (update, _) = after_query(
            State::Unknown,
            &attempt(Outcome::unknown("HTTP 500"), Some(500)),
            &counters,
            8,
        );
        let Update::Reschedule {
            next_attempt_at, ..
        } = update
        else {
            panic!()
        };
        assert_eq!(next_attempt_at, PARKED);
        let (update, _) = after_query(
            State::Processing,
            &attempt(Outcome::unknown("x"), None),
            &counters,
            8,
        );
        let Update::Reschedule {
            next_attempt_at, ..
        } = update
        else {
            panic!()
        };
        assert!(
            next_attempt_at < PARKED,
            "polls are bounded by --poll-for, not parked"
        );
    }
}
