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
use super::writer::{WriteError, Writer};
use crate::gateway::{Attempt, Outcome, Receipt, RefundOrder};
use crate::journal::{
    now_ms, now_text, AttemptKind, AttemptRecord, Change, RefundRecord, State, Status, Update,
    PARKED,
};

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
    pub fatal: Option<WriteError>,
    /// The gateway refused the request itself: why, naming the profile.
    pub stop: Option<String>,
}

fn code_of(attempt: &Attempt) -> String {
    match (&attempt.outcome, attempt.http_status) {
        (Outcome::Failed { code, .. } | Outcome::Rejected { code, .. }, _) => code.clone(),
        (Outcome::Mismatch { .. }, _) => CODE_MISMATCH.to_owned(),
        (_, Some(status)) if status != 200 => format!("HTTP {status}"),
        _ => String::new(),
    }
}

/// The error code of a refund sent to `review`.
pub const CODE_MISMATCH: &str = "BR_MISMATCH";

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

/// What an answer does: the journal update, how long to pause the whole
/// profile if the gateway asked for it, and why the run must stop sending if
/// the gateway refuses every request of the profile.
#[derive(Debug)]
pub struct Verdict {
    pub update: Update,
    pub pause: Option<Duration>,
    pub stop: Option<String>,
}

impl Verdict {
    fn transition(from: State, change: Change) -> Verdict {
        Verdict {
            update: Update::Transition { from, change },
            pause: None,
            stop: None,
        }
    }
}

/// A verified answer about another refund: never believed (DESIGN.md, "review").
fn to_review(from: State, what: &str) -> Verdict {
    Verdict::transition(
        from,
        Change {
            error: Some((CODE_MISMATCH.into(), what.to_owned())),
            ..Change::to(State::Review, what.to_owned())
        },
    )
}

/// What a submit's answer does to a refund now `in_flight`.
pub fn after_submit(attempt: &Attempt, submits: u32, max_attempts: u32) -> Verdict {
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
        Outcome::Mismatch { what } => return to_review(from, what),
        // The request itself was refused: nothing was created, and the refund
        // waits, never sent, for the profile to be fixed.
        Outcome::Rejected { code, why } => {
            let change = Change {
                error: Some((code.clone(), format!("{why}; not sent"))),
                ..Change::to(
                    State::Pending,
                    format!("the gateway refused the request itself ({code}): nothing was created"),
                )
            };
            return Verdict {
                stop: Some(format!("{code}: {why}")),
                ..Verdict::transition(from, change)
            };
        }
        Outcome::Retry { after, why } => {
            let wait = backoff(submits).max(after.unwrap_or_default());
            let change = if submits >= max_attempts {
                Change {
                    error: Some((
                        code_of(attempt),
                        format!("{why}; gave up after {submits} attempts, never created"),
                    )),
                    ..Change::to(
                        State::Failed,
                        format!("not created after {submits} attempts: {why}"),
                    )
                }
            } else {
                Change {
                    error: Some((code_of(attempt), why.clone())),
                    next_attempt_at: Some(at_ms(wait)),
                    ..Change::to(
                        State::RetryWait,
                        format!("not created ({why}); same id later"),
                    )
                }
            };
            return Verdict {
                pause: Some(wait),
                ..Verdict::transition(from, change)
            };
        }
    };
    Verdict::transition(from, change)
}

/// What a query's answer does to a refund that is `unknown` or `processing`.
pub fn after_query(
    from: State,
    attempt: &Attempt,
    counters: &Counters,
    max_attempts: u32,
) -> Verdict {
    let later = |wait: Duration, code: String, why: String| Update::Reschedule {
        next_attempt_at: at_ms(wait),
        note: Some((code, why)),
        gateway_refund_id: None,
    };
    let stay = |update| Verdict {
        update,
        pause: None,
        stop: None,
    };
    match &attempt.outcome {
        Outcome::Succeeded(receipt) => Verdict::transition(
            from,
            known(
                Change::to(State::Succeeded, "the gateway says it succeeded"),
                receipt,
            ),
        ),
        Outcome::Failed {
            code,
            message,
            receipt,
        } => Verdict::transition(
            from,
            Change {
                error: Some((code.clone(), message.clone())),
                ..known(
                    Change::to(State::Failed, format!("the gateway says it failed: {code}")),
                    receipt,
                )
            },
        ),
        Outcome::Processing(receipt) if from == State::Processing => stay(Update::Reschedule {
            next_attempt_at: at_ms(poll_interval(counters.polls)),
            note: None,
            gateway_refund_id: receipt.gateway_refund_id.clone(),
        }),
        Outcome::Processing(receipt) => Verdict::transition(
            from,
            Change {
                next_attempt_at: Some(at_ms(poll_interval(counters.polls))),
                ..known(
                    Change::to(State::Processing, "the gateway holds it; refunding"),
                    receipt,
                )
            },
        ),
        Outcome::NotFound if from == State::Unknown => Verdict::transition(
            from,
            Change::to(
                State::Pending,
                "the gateway has no refund with this id: it was never created, so it may be sent",
            ),
        ),
        Outcome::NotFound => stay(later(
            poll_interval(counters.polls),
            "NOT_FOUND".into(),
            "the gateway accepted this refund but now reports no such refund; still polling".into(),
        )),
        Outcome::Mismatch { what } => to_review(from, what),
        // The query itself was refused: it says nothing about the refund.
        Outcome::Rejected { code, why } => Verdict {
            stop: Some(format!("{code}: {why}")),
            ..stay(later(backoff(counters.queries), code.clone(), why.clone()))
        },
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
            Verdict {
                pause: after,
                ..stay(update)
            }
        }
    }
}

pub(crate) fn attempt_record(
    kind: AttemptKind,
    at: String,
    started: Instant,
    attempt: &Attempt,
) -> AttemptRecord {
    // What the attempt proved, in the words of the status it points to.
    let outcome = match &attempt.outcome {
        Outcome::Succeeded(_) => Status::Succeeded.to_string(),
        Outcome::Failed { code, .. } => format!("{} {code}", Status::Failed),
        Outcome::Processing(_) => Status::Processing.to_string(),
        Outcome::Unknown { why } => format!("{}: {why}", Status::Unknown),
        Outcome::Retry { why, .. } => format!("retry: {why}"),
        Outcome::NotFound => "not found".to_owned(),
        Outcome::Mismatch { what } => format!("{}: {what}", Status::Review),
        Outcome::Rejected { code, why } => format!("rejected {code}: {why}"),
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

/// What every step shares with the scheduler.
#[derive(Clone)]
pub struct Shared {
    pub writer: Writer,
    /// Cancelled by an interrupt, or when the gateway refuses every request of
    /// a profile: no new request leaves, the ones in flight finish.
    pub stop_sending: CancellationToken,
    pub requests: Arc<AtomicU64>,
    pub done: mpsc::UnboundedSender<Done>,
}

/// Runs one step and reports it on `done` once its changes are committed.
pub async fn work(job: Job, pace: Arc<Pace>, permit: OwnedSemaphorePermit, shared: Shared) {
    let report = step(job, &pace, permit, &shared).await;
    let _ = shared.done.send(report);
}

async fn step(job: Job, pace: &Pace, permit: OwnedSemaphorePermit, shared: &Shared) -> Done {
    let Job {
        record,
        mut counters,
    } = job;
    let (id, from) = (record.id, record.state);
    let (writer, stop_sending) = (&shared.writer, &shared.stop_sending);
    let unchanged = |counters, fatal| Done {
        id,
        counters,
        state: from,
        fatal,
        stop: None,
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
    let (kind, verdict) = if matches!(from, State::Pending | State::RetryWait) {
        if let Err(e) = writer.intent(id, from).await {
            return unchanged(counters, Some(e));
        }
        // The limiter gates the send itself, after the intent's commit (whose
        // latency varies), so that the gateway sees the rate we promised.
        if !pace.ready(stop_sending).await {
            let withdraw = Change::to(
                State::Pending,
                "stopped before the request left; nothing was sent",
            );
            let fatal = writer.transition(id, State::InFlight, withdraw).await.err();
            return Done {
                state: State::Pending,
                ..unchanged(counters, fatal)
            };
        }
        let (at, started) = (now_text(), Instant::now());
        let attempt = pace.gateway.submit(&order).await;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        counters.submits += 1;
        let verdict = after_submit(&attempt, counters.submits, pace.max_attempts);
        (
            attempt_record(AttemptKind::Submit, at, started, &attempt),
            verdict,
        )
    } else {
        if !pace.ready(stop_sending).await {
            return unchanged(counters, None);
        }
        let (at, started) = (now_text(), Instant::now());
        let attempt = pace.gateway.query(&order).await;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        if from == State::Processing {
            counters.polls += 1;
        } else {
            counters.queries += 1;
        }
        let verdict = after_query(from, &attempt, &counters, pace.max_attempts);
        (
            attempt_record(AttemptKind::Query, at, started, &attempt),
            verdict,
        )
    };
    drop(permit);
    let Verdict {
        update,
        pause,
        stop,
    } = verdict;
    let stop = stop.map(|why| {
        format!(
            "profile '{}': the gateway refused the request itself ({why})",
            record.profile
        )
    });
    if let Some(wait) = pause {
        pace.pause(wait);
    }
    if stop.is_some() {
        // Every other request of the profile would be refused alike.
        stop_sending.cancel();
    }
    let state = match &update {
        Update::Transition { change, .. } => change.to,
        Update::Reschedule { .. } => from,
    };
    match writer.settle(id, kind, update).await {
        Ok(()) => Done {
            state,
            stop,
            ..unchanged(counters, None)
        },
        Err(e) => Done {
            state: State::InFlight,
            stop,
            ..unchanged(counters, Some(e))
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
            (
                Outcome::Mismatch {
                    what: "merchant_refund_id is \"R2\", not \"R1\"".into(),
                },
                State::Review,
            ),
            (Outcome::rejected("-20006", "wrong key"), State::Pending),
        ];
        for (outcome, expected) in cases {
            let verdict = after_submit(&attempt(outcome.clone(), Some(200)), 1, 8);
            assert_eq!(to_state(&verdict.update), Some(expected), "{outcome:?}");
            assert_eq!(
                verdict.stop.is_some(),
                matches!(outcome, Outcome::Rejected { .. }),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn a_mismatch_is_recorded_with_what_did_not_match() {
        let what = "refund_amount is \"200\", not \"100\"";
        for verdict in [
            after_submit(
                &attempt(Outcome::Mismatch { what: what.into() }, Some(200)),
                1,
                8,
            ),
            after_query(
                State::Processing,
                &attempt(Outcome::Mismatch { what: what.into() }, Some(200)),
                &Counters::default(),
                8,
            ),
        ] {
            let Update::Transition { change, .. } = verdict.update else {
                panic!()
            };
            assert_eq!(change.to, State::Review);
            assert_eq!(change.error, Some((CODE_MISMATCH.into(), what.into())));
            assert!(!change.created, "nothing proves the gateway holds it");
        }
    }

    #[test]
    fn a_rejected_query_stops_sending_and_changes_nothing() {
        let verdict = after_query(
            State::Unknown,
            &attempt(Outcome::rejected("SignError", "wrong key"), Some(200)),
            &Counters::default(),
            8,
        );
        assert_eq!(to_state(&verdict.update), None);
        assert_eq!(verdict.stop.as_deref(), Some("SignError: wrong key"));
    }

    #[test]
    fn retries_run_out_into_failed_never_created() {
        let busy = attempt(
            Outcome::retry(Some(Duration::from_secs(3)), "HTTP 503: gateway overloaded"),
            Some(503),
        );
        let verdict = after_submit(&busy, 7, 8);
        assert_eq!(to_state(&verdict.update), Some(State::RetryWait));
        assert!(
            verdict.pause.unwrap() >= Duration::from_secs(3),
            "Retry-After is honoured"
        );
        let Update::Transition { change, .. } = after_submit(&busy, 8, 8).update else {
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
        let q = |outcome| {
            after_query(State::Unknown, &attempt(outcome, Some(200)), &counters, 8).update
        };
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
        let verdict = after_query(
            State::Processing,
            &attempt(Outcome::NotFound, Some(200)),
            &counters,
            8,
        );
        assert_eq!(to_state(&verdict.update), None);
    }

    #[test]
    fn unknown_is_parked_after_the_last_query() {
        let counters = Counters {
            queries: 8,
            ..Default::default()
        };
        let verdict = after_query(
            State::Unknown,
            &attempt(Outcome::unknown("HTTP 500"), Some(500)),
            &counters,
            8,
        );
        let Update::Reschedule {
            next_attempt_at, ..
        } = verdict.update
        else {
            panic!()
        };
        assert_eq!(next_attempt_at, PARKED);
        let verdict = after_query(
            State::Processing,
            &attempt(Outcome::unknown("x"), None),
            &counters,
            8,
        );
        let Update::Reschedule {
            next_attempt_at, ..
        } = verdict.update
        else {
            panic!()
        };
        assert!(
            next_attempt_at < PARKED,
            "polls are bounded by --poll-for, not parked"
        );
    }
}
