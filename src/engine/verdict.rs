//! What a gateway's answer proves about a refund: the mapping from an
//! [`Outcome`] to a journal [`Update`], in [`after_submit`] and
//! [`after_query`] for the engine's own requests, and to a [`Change`] in
//! [`correction`] for the one-off queries of `retry` and `resume --review`
//! (engine/ask.rs sends those and records what this decides). This is the one
//! place the one rule is applied. The functions do no I/O: they read the
//! clock and draw the backoff's jitter to schedule the next attempt, and
//! nothing else, so every case is tested without a gateway.

use std::time::Duration;

use super::gateway_times::gateway_times;
use super::policy::{backoff, Counters, Patience, ABNORMAL_RECHECK, MAX_DENIALS};
use crate::gateway::{Attempt, IdUse, Outcome, Receipt};
use crate::journal::{now_ms, Change, GatewayTimes, State, Update, DENIED_AFTER_AN_ANSWER, PARKED};

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
/// The error code of a refund sent to `review` because the gateway said it
/// holds the refund and that it does not ([`MAX_DENIALS`]).
pub const CODE_CONTRADICTION: &str = "BR_CONTRADICTION";
/// The error code of an abnormal refund, as the gateway names the status.
pub const CODE_ABNORMAL: &str = "ABNORMAL";

fn at_ms(wait: Duration) -> i64 {
    now_ms().saturating_add(wait.as_millis() as i64)
}

fn known(change: Change, receipt: &Receipt) -> Change {
    Change {
        gateway_refund_id: receipt.gateway_refund_id.clone(),
        gateway_times: gateway_times(receipt),
        created: true,
        ..change
    }
}

/// What an answer does: the journal update, how long to pause the whole
/// profile if the gateway asked for it, and why the run must stop sending if
/// every request of the profile would be answered alike.
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

/// A verified answer about another refund: never believed (docs/DESIGN.md, "review").
fn to_review(from: State, what: &str) -> Verdict {
    Verdict::transition(
        from,
        Change {
            error: Some((CODE_MISMATCH.into(), what.to_owned())),
            ..Change::to(State::Review, what.to_owned())
        },
    )
}

/// The gateway accepted the refund but its money reached nobody: a person
/// acts at the gateway; bulkrefund asks again in an hour.
fn abnormal(receipt: &Receipt) -> Change {
    Change {
        error: Some(abnormal_error()),
        next_attempt_at: Some(at_ms(ABNORMAL_RECHECK)),
        ..known(
            Change::to(
                State::Abnormal,
                "the gateway says it is abnormal: the money reached nobody",
            ),
            receipt,
        )
    }
}

/// The error an abnormal refund shows for as long as it is abnormal.
fn abnormal_error() -> (String, String) {
    (
        CODE_ABNORMAL.into(),
        "accepted, but the refund reached nobody (the payer's card may be cancelled or frozen): \
         act in the gateway's merchant platform; bulkrefund asks again hourly"
            .into(),
    )
}

/// A query about an abnormal refund that did not settle it: the gateway
/// says it is still abnormal, or the answer taught nothing (unknown, busy,
/// no such refund, the query refused). It stays abnormal with its error,
/// asked about again in an hour and never sent again; a busy gateway's wait
/// still pauses the profile, a refused query still stops it. `None` when
/// the answer settles it (succeeded, closed, processing again, a mismatch).
fn still_abnormal(attempt: &Attempt) -> Option<Verdict> {
    let (pause, stop) = match &attempt.outcome {
        Outcome::Abnormal(_) | Outcome::NotFound | Outcome::Unknown { .. } => (None, None),
        Outcome::Retry { after, .. } => (*after, None),
        Outcome::Rejected { code, why } => (None, Some(refused_itself(code, why))),
        _ => return None,
    };
    let (gateway_refund_id, gateway_times) = match &attempt.outcome {
        Outcome::Abnormal(receipt) => (receipt.gateway_refund_id.clone(), gateway_times(receipt)),
        _ => (None, GatewayTimes::default()),
    };
    Some(Verdict {
        update: Update::Reschedule {
            next_attempt_at: at_ms(ABNORMAL_RECHECK),
            note: Some(abnormal_error()),
            gateway_refund_id,
            gateway_times,
        },
        pause,
        stop,
    })
}

/// What a submit's answer does to a refund now `in_flight`.
pub fn after_submit(attempt: &Attempt, submits: u32, patience: &Patience) -> Verdict {
    let from = State::InFlight;
    let change = match &attempt.outcome {
        Outcome::Succeeded(receipt) => known(
            Change::to(State::Succeeded, "the gateway says it succeeded"),
            receipt,
        ),
        Outcome::Processing(receipt) => Change {
            next_attempt_at: Some(at_ms(patience.poll_wait(0))),
            ..known(
                Change::to(State::Processing, "accepted; refunding"),
                receipt,
            )
        },
        Outcome::Failed {
            code,
            message,
            receipt,
            id,
        } => Change {
            error: Some((code.clone(), message.clone())),
            gateway_refund_id: receipt.gateway_refund_id.clone(),
            gateway_times: gateway_times(receipt),
            // The gateway says whether it created the refund: `retry --failed`
            // sends one it never created again under its own id.
            created: *id == IdUse::Spent,
            ..Change::to(State::Failed, format!("the gateway refused it: {code}"))
        },
        Outcome::Abnormal(receipt) => abnormal(receipt),
        Outcome::Unknown { why } => Change {
            error: Some((code_of(attempt), why.clone())),
            next_attempt_at: Some(at_ms(patience.first_query_after + backoff(0))),
            ..Change::to(
                State::Unknown,
                format!("outcome unknown ({why}); it will be queried"),
            )
        },
        // A submit cannot prove absence: only a query can.
        Outcome::NotFound => Change {
            next_attempt_at: Some(at_ms(patience.first_query_after + backoff(0))),
            ..Change::to(
                State::Unknown,
                "unexpected answer to a submit; it will be queried",
            )
        },
        Outcome::Mismatch { what } => return to_review(from, what),
        // The request itself was refused: nothing was created, and the refund
        // waits, never sent, for the profile to be fixed.
        Outcome::Rejected { code, why } => return refused_submit(code, why),
        Outcome::Retry { after, why } => {
            return submit_later(attempt, *after, why, submits, patience)
        }
    };
    Verdict::transition(from, change)
}

/// The request itself was refused: nothing was created, and the refund
/// waits, never sent, for the profile to be fixed.
fn refused_submit(code: &str, why: &str) -> Verdict {
    let change = Change {
        error: Some((code.to_owned(), format!("{why}; not sent"))),
        ..Change::to(
            State::Pending,
            format!("the gateway refused the request itself ({code}): nothing was created"),
        )
    };
    Verdict {
        stop: Some(refused_itself(code, why)),
        ..Verdict::transition(State::InFlight, change)
    }
}

/// Why sending stops when the gateway refuses a request itself.
fn refused_itself(code: &str, why: &str) -> String {
    format!("the gateway refused the request itself ({code}: {why})")
}

/// The gateway proved the refund was not created but asked to be asked again
/// (busy, rate limited): the same id later, until the attempts run out.
fn submit_later(
    attempt: &Attempt,
    after: Option<Duration>,
    why: &str,
    submits: u32,
    patience: &Patience,
) -> Verdict {
    let wait = backoff(submits).max(after.unwrap_or_default());
    let change = if submits >= patience.max_attempts {
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
            error: Some((code_of(attempt), why.to_owned())),
            next_attempt_at: Some(at_ms(wait)),
            ..Change::to(
                State::RetryWait,
                format!("not created ({why}); same id later"),
            )
        }
    };
    Verdict {
        pause: Some(wait),
        ..Verdict::transition(State::InFlight, change)
    }
}

/// What a query's answer does to a refund that is `unknown`, `processing`
/// or `abnormal`.
pub fn after_query(
    from: State,
    attempt: &Attempt,
    counters: &Counters,
    patience: &Patience,
) -> Verdict {
    if from == State::Abnormal {
        if let Some(verdict) = still_abnormal(attempt) {
            return verdict;
        }
    }
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
            id,
        } => Verdict::transition(
            from,
            Change {
                error: Some((code.clone(), message.clone())),
                created: *id == IdUse::Spent,
                ..known(
                    Change::to(State::Failed, format!("the gateway says it failed: {code}")),
                    receipt,
                )
            },
        ),
        Outcome::Abnormal(receipt) => Verdict::transition(from, abnormal(receipt)),
        Outcome::Processing(receipt) if from == State::Processing => stay(Update::Reschedule {
            next_attempt_at: at_ms(patience.poll_wait(counters.polls)),
            note: None,
            gateway_refund_id: receipt.gateway_refund_id.clone(),
            gateway_times: gateway_times(receipt),
        }),
        Outcome::Processing(receipt) => Verdict::transition(
            from,
            Change {
                next_attempt_at: Some(at_ms(patience.poll_wait(counters.polls))),
                ..known(
                    Change::to(State::Processing, "the gateway holds it; refunding"),
                    receipt,
                )
            },
        ),
        Outcome::NotFound if from == State::Unknown => denied(counters, patience),
        Outcome::NotFound => stay(later(
            patience.poll_wait(counters.polls),
            "NOT_FOUND".into(),
            "the gateway accepted this refund but now reports no such refund; still polling".into(),
        )),
        Outcome::Mismatch { what } => to_review(from, what),
        // The query itself was refused: it says nothing about the refund.
        Outcome::Rejected { code, why } => Verdict {
            stop: Some(refused_itself(code, why)),
            ..stay(later(backoff(counters.queries), code.clone(), why.clone()))
        },
        Outcome::Unknown { why } => query_later(from, attempt, None, why, counters, patience),
        Outcome::Retry { after, why } => {
            let wait = backoff(counters.queries).max(after.unwrap_or_default());
            query_later(from, attempt, Some(wait), why, counters, patience)
        }
    }
}

/// A query says the gateway has no refund with this id, about a refund that
/// was sent (`counters.denials` counts this answer too when the gateway had
/// answered the send). It may be sent again, the same id, which the gateway's
/// idempotency keeps safe, unless:
/// - the gateway has denied it, right after answering a send of it, more
///   than [`MAX_DENIALS`] times: it contradicts itself, and the refund goes
///   to review, the contradiction recorded;
/// - this run has sent it `max_attempts` times: it waits, parked, for `resume`.
fn denied(counters: &Counters, patience: &Patience) -> Verdict {
    let from = State::Unknown;
    if counters.denials > MAX_DENIALS {
        let what = format!(
            "the gateway says it exists and that it does not: {} queries found no refund \
             with this id, each right after the gateway answered a send of it without the \
             refund (\"already exists\")",
            counters.denials
        );
        return Verdict::transition(
            from,
            Change {
                error: Some((CODE_CONTRADICTION.into(), what.clone())),
                ..Change::to(State::Review, what)
            },
        );
    }
    // A denial that counts is marked, so that the next run finds it again.
    let never_created = if counters.answered {
        format!("{DENIED_AFTER_AN_ANSWER}: it may be sent again, the same id")
    } else {
        "the gateway has no refund with this id: it was never created, so it may be sent".to_owned()
    };
    if counters.submits >= patience.max_attempts {
        return Verdict::transition(
            from,
            Change {
                next_attempt_at: Some(PARKED),
                ..Change::to(
                    State::Pending,
                    format!(
                        "{never_created}; sent {} times in this run already: \
                         `bulkrefund resume` sends it",
                        counters.submits
                    ),
                )
            },
        );
    }
    Verdict::transition(from, Change::to(State::Pending, never_created))
}

/// The refund stays as it is, to be asked about again after `wait`.
fn later(wait: Duration, code: String, why: String) -> Update {
    Update::Reschedule {
        next_attempt_at: at_ms(wait),
        note: Some((code, why)),
        gateway_refund_id: None,
        gateway_times: GatewayTimes::default(),
    }
}

fn stay(update: Update) -> Verdict {
    Verdict {
        update,
        pause: None,
        stop: None,
    }
}

/// A query that learned nothing: ask again after a backoff (or after `pause`,
/// which the gateway asked for and which pauses the whole profile). A refund
/// still unknown after the last query is parked for `resume`.
fn query_later(
    from: State,
    attempt: &Attempt,
    pause: Option<Duration>,
    why: &str,
    counters: &Counters,
    patience: &Patience,
) -> Verdict {
    let wait = pause.unwrap_or_else(|| backoff(counters.queries));
    let update = if from == State::Unknown && counters.queries >= patience.max_attempts {
        Update::Reschedule {
            next_attempt_at: PARKED,
            note: Some((
                code_of(attempt),
                format!(
                    "{why}; still unknown after {} queries: `bulkrefund resume` asks again",
                    counters.queries
                ),
            )),
            gateway_refund_id: None,
            gateway_times: GatewayTimes::default(),
        }
    } else {
        later(wait, code_of(attempt), why.to_owned())
    };
    Verdict {
        pause,
        ..stay(update)
    }
}

/// The change a query's answer makes to a refund that is `failed` or in
/// `review`; `None` when it leaves the refund as it is. `ever_created`: the
/// gateway once showed it holds the refund, so a "no such refund" now
/// contradicts it and sends nothing again (a refund WeChat accepted and then
/// could not pay, sent to review by a hostile answer, must never go back to
/// pending on a forged or lagging 404).
pub fn correction(from: State, ever_created: bool, outcome: &Outcome) -> Option<Change> {
    let asked = match from {
        State::Failed => "a query before a retry",
        _ => "a query an operator asked for",
    };
    match outcome {
        Outcome::Succeeded(receipt) => Some(known(
            Change::to(
                State::Succeeded,
                format!("{asked}: the gateway says it succeeded"),
            ),
            receipt,
        )),
        Outcome::Processing(receipt) => Some(Change {
            next_attempt_at: Some(now_ms()),
            ..known(
                Change::to(
                    State::Processing,
                    format!("{asked}: the gateway is still refunding it"),
                ),
                receipt,
            )
        }),
        Outcome::Failed { .. } | Outcome::NotFound if from == State::Failed => None,
        Outcome::NotFound if ever_created => None,
        Outcome::Abnormal(_) if from == State::Abnormal => None,
        Outcome::Abnormal(receipt) => Some(abnormal(receipt)),
        Outcome::Failed {
            code,
            message,
            receipt,
            id,
        } => Some(Change {
            error: Some((code.clone(), message.clone())),
            created: *id == IdUse::Spent,
            ..known(
                Change::to(
                    State::Failed,
                    format!("{asked}: the gateway says it failed: {code}"),
                ),
                receipt,
            )
        }),
        Outcome::NotFound => Some(Change::to(
            State::Pending,
            format!("{asked}: the gateway has no refund with this id: it was never created, so it may be sent"),
        )),
        Outcome::Mismatch { .. } if from == State::Review => None,
        Outcome::Mismatch { what } => Some(Change {
            error: Some((CODE_MISMATCH.into(), what.clone())),
            ..Change::to(State::Review, what.clone())
        }),
        Outcome::Unknown { .. } | Outcome::Retry { .. } | Outcome::Rejected { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patience() -> Patience {
        Patience {
            max_attempts: 8,
            poll_waits: vec![Duration::from_secs(2), Duration::from_secs(5)],
            first_query_after: Duration::ZERO,
        }
    }

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

    /// Alipay advises a query no sooner than 10 s after a refund whose
    /// answer proved nothing (`fund_change` `N`): the first query of an
    /// unknown send waits the gateway's `first_query_after`.
    #[test]
    fn an_unknown_send_is_first_queried_after_the_gateways_wait() {
        let patient = Patience {
            first_query_after: Duration::from_secs(10),
            ..patience()
        };
        for outcome in [Outcome::unknown("fund_change N"), Outcome::NotFound] {
            let before = now_ms();
            let verdict = after_submit(&attempt(outcome, Some(200)), 1, &patient);
            let Update::Transition { change, .. } = verdict.update else {
                panic!("a transition");
            };
            let at = change.next_attempt_at.expect("a query is scheduled");
            assert!(at >= before + 10_000, "{} ms", at - before);
            assert!(
                at <= now_ms() + 10_000 + super::super::policy::BACKOFF_BASE.as_millis() as i64
            );
        }
    }

    #[test]
    fn a_gateway_time_in_2099_or_1970_is_not_kept_and_the_outcome_stands() {
        for (success_at, kept) in [
            ("2099-11-30T15:59:59Z", false),
            ("1970-01-01T00:00:00Z", false),
            ("2026-11-30T15:59:59Z", true),
        ] {
            let success_at: jiff::Timestamp = success_at.parse().unwrap();
            let receipt = Receipt {
                gateway_refund_id: Some("G1".into()),
                refund_fen: None,
                success_at: Some(success_at),
                created_at: Some(success_at),
            };
            let submitted = after_submit(
                &attempt(Outcome::Succeeded(receipt.clone()), Some(200)),
                1,
                &patience(),
            );
            let queried = after_query(
                State::Unknown,
                &attempt(Outcome::Succeeded(receipt.clone()), Some(200)),
                &Counters::default(),
                &patience(),
            );
            let corrected = correction(State::Review, true, &Outcome::Succeeded(receipt));
            let corrected = Update::Transition {
                from: State::Review,
                change: corrected.unwrap(),
            };
            for update in [&submitted.update, &queried.update, &corrected] {
                assert_eq!(to_state(update), Some(State::Succeeded), "{success_at}");
                let Update::Transition { change, .. } = update else {
                    panic!("{update:?}")
                };
                let expected = kept.then_some(success_at);
                assert_eq!(change.gateway_times.success_at, expected, "{success_at}");
                assert_eq!(change.gateway_times.created_at, expected, "{success_at}");
                assert_eq!(change.gateway_refund_id.as_deref(), Some("G1"));
            }
        }
    }

    #[test]
    fn submit_outcomes_map_to_states() {
        let receipt = Receipt {
            gateway_refund_id: Some("G1".into()),
            refund_fen: None,
            success_at: Some("2026-11-30T15:59:59Z".parse().unwrap()),
            created_at: Some("2026-11-30T15:59:50Z".parse().unwrap()),
        };
        let cases = [
            (Outcome::Succeeded(receipt.clone()), State::Succeeded),
            (Outcome::Processing(receipt.clone()), State::Processing),
            (
                Outcome::failed("-20023", "balance", Receipt::default(), IdUse::Free),
                State::Failed,
            ),
            (Outcome::Abnormal(receipt.clone()), State::Abnormal),
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
            let verdict = after_submit(&attempt(outcome.clone(), Some(200)), 1, &patience());
            assert_eq!(to_state(&verdict.update), Some(expected), "{outcome:?}");
            // The gateway's own times go to the journal with its id.
            if let Update::Transition { change, .. } = &verdict.update {
                let told = matches!(
                    outcome,
                    Outcome::Succeeded(_) | Outcome::Processing(_) | Outcome::Abnormal(_)
                );
                assert_eq!(
                    change.gateway_times.success_at,
                    told.then_some(receipt.success_at).flatten(),
                    "{outcome:?}"
                );
                assert_eq!(
                    change.gateway_times.created_at,
                    told.then_some(receipt.created_at).flatten(),
                    "{outcome:?}"
                );
            }
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
                &patience(),
            ),
            after_query(
                State::Processing,
                &attempt(Outcome::Mismatch { what: what.into() }, Some(200)),
                &Counters::default(),
                &patience(),
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
            &patience(),
        );
        assert_eq!(to_state(&verdict.update), None);
        assert_eq!(
            verdict.stop.as_deref(),
            Some("the gateway refused the request itself (SignError: wrong key)")
        );
    }

    #[test]
    fn retries_run_out_into_failed_never_created() {
        let busy = attempt(
            Outcome::retry(Some(Duration::from_secs(3)), "HTTP 503: gateway overloaded"),
            Some(503),
        );
        let verdict = after_submit(&busy, 7, &patience());
        assert_eq!(to_state(&verdict.update), Some(State::RetryWait));
        assert!(
            verdict.pause.unwrap() >= Duration::from_secs(3),
            "Retry-After is honoured"
        );
        let Update::Transition { change, .. } = after_submit(&busy, 8, &patience()).update else {
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
            after_query(
                State::Unknown,
                &attempt(outcome, Some(200)),
                &counters,
                &patience(),
            )
            .update
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
            &patience(),
        );
        assert_eq!(to_state(&verdict.update), None);
    }

    #[test]
    fn a_refund_denied_past_the_bound_goes_to_review_with_the_contradiction() {
        let denied = |denials, submits| {
            let counters = Counters {
                submits,
                queries: submits,
                denials,
                ..Default::default()
            };
            let verdict = after_query(
                State::Unknown,
                &attempt(Outcome::NotFound, Some(200)),
                &counters,
                &patience(),
            );
            let Update::Transition { change, .. } = verdict.update else {
                panic!("a denial always moves the refund")
            };
            change
        };
        // Denied, it may be sent again, the same id, up to the bound.
        for denials in 1..=MAX_DENIALS {
            let change = denied(denials, denials);
            assert_eq!((change.to, change.next_attempt_at), (State::Pending, None));
        }
        let change = denied(MAX_DENIALS + 1, MAX_DENIALS + 1);
        assert_eq!(change.to, State::Review);
        let (code, what) = change.error.unwrap();
        assert_eq!(code, CODE_CONTRADICTION);
        assert!(
            what.starts_with("the gateway says it exists and that it does not: 3 queries"),
            "{what}"
        );
        assert!(!change.created, "nothing proves the gateway holds it");
        // This run's submits spent: pending, parked for `resume`, never sent again now.
        let change = denied(1, 8);
        assert_eq!(
            (change.to, change.next_attempt_at),
            (State::Pending, Some(PARKED))
        );
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
            &patience(),
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
            &patience(),
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

    #[test]
    fn what_one_answer_does_to_a_failed_refund_and_to_one_in_review() {
        let receipt = Receipt::default();
        let failed = Outcome::failed("12", "failed", Receipt::default(), IdUse::Spent);
        let mismatch = Outcome::Mismatch {
            what: "merchant_refund_id differs".into(),
        };
        let to = |from, outcome: &Outcome| correction(from, false, outcome).map(|c| c.to);
        // Failed, asked before a retry: only what contradicts the journal changes it.
        assert_eq!(to(State::Failed, &failed), None);
        assert_eq!(to(State::Failed, &Outcome::NotFound), None);
        assert_eq!(
            to(State::Failed, &Outcome::Succeeded(receipt.clone())),
            Some(State::Succeeded)
        );
        assert_eq!(
            to(State::Failed, &Outcome::Processing(receipt.clone())),
            Some(State::Processing)
        );
        assert_eq!(to(State::Failed, &mismatch), Some(State::Review));
        // In review: a verified answer about this refund settles it.
        assert_eq!(to(State::Review, &failed), Some(State::Failed));
        assert_eq!(to(State::Review, &Outcome::NotFound), Some(State::Pending));
        // ... unless the gateway once showed it holds the refund: a "no such
        // refund" then contradicts it, and nothing is sent again.
        assert_eq!(correction(State::Review, true, &Outcome::NotFound), None);
        assert_eq!(
            to(State::Review, &Outcome::Succeeded(receipt)),
            Some(State::Succeeded)
        );
        assert_eq!(to(State::Review, &mismatch), None);
        // Abnormal: the gateway's word moves a failed or reviewed refund there.
        let abnormal = Outcome::Abnormal(Receipt::default());
        assert_eq!(to(State::Failed, &abnormal), Some(State::Abnormal));
        assert_eq!(to(State::Review, &abnormal), Some(State::Abnormal));
        assert_eq!(to(State::Abnormal, &abnormal), None);
        for from in [State::Failed, State::Review] {
            for outcome in [
                Outcome::unknown("timeout"),
                Outcome::retry(None, "busy"),
                Outcome::rejected("-20006", "wrong key"),
            ] {
                assert_eq!(to(from, &outcome), None, "{from} {outcome:?}");
            }
        }
    }

    #[test]
    fn the_gateway_says_whether_a_failed_refund_used_its_id() {
        let created =
            |outcome: Outcome| match after_submit(&attempt(outcome, Some(403)), 1, &patience())
                .update
            {
                Update::Transition { change, .. } => change.created,
                Update::Reschedule { .. } => panic!("a failure moves the refund"),
            };
        // WeChat's NOT_ENOUGH: nothing created, the same id goes again.
        assert!(!created(Outcome::failed(
            "NOT_ENOUGH",
            "top up",
            Receipt::default(),
            IdUse::Free
        )));
        // A refund the gateway created and then closed has used its id,
        // whether or not the answer named the gateway's id for it.
        assert!(created(Outcome::failed(
            "CLOSED",
            "closed",
            Receipt::default(),
            IdUse::Spent
        )));
        let closed = Outcome::failed("CLOSED", "closed", Receipt::default(), IdUse::Spent);
        let verdict = after_query(
            State::Processing,
            &attempt(closed, Some(200)),
            &Counters::default(),
            &patience(),
        );
        assert!(
            matches!(verdict.update, Update::Transition { ref change, .. } if change.created && change.to == State::Failed)
        );
    }

    #[test]
    fn an_abnormal_refund_is_asked_about_hourly_and_left_alone_between() {
        let receipt = Receipt {
            gateway_refund_id: Some("503000".into()),
            refund_fen: None,
            success_at: Some("2026-11-30T15:59:59Z".parse().unwrap()),
            created_at: Some("2026-11-30T15:59:50Z".parse().unwrap()),
        };
        let abnormal = attempt(Outcome::Abnormal(receipt.clone()), Some(200));
        let hour = ABNORMAL_RECHECK.as_millis() as i64;
        let before = now_ms();
        let verdict = after_query(
            State::Processing,
            &abnormal,
            &Counters::default(),
            &patience(),
        );
        let Update::Transition { change, .. } = verdict.update else {
            panic!("processing -> abnormal is a transition");
        };
        assert_eq!(change.to, State::Abnormal);
        assert_eq!(
            change.error.as_ref().map(|e| e.0.as_str()),
            Some(CODE_ABNORMAL)
        );
        assert!(change.next_attempt_at.unwrap() >= before + hour);
        assert!(verdict.stop.is_none() && verdict.pause.is_none());
        // Still abnormal an hour later: asked again in another hour.
        let again = after_query(
            State::Abnormal,
            &abnormal,
            &Counters::default(),
            &patience(),
        );
        assert!(
            matches!(again.update, Update::Reschedule { next_attempt_at, .. } if next_attempt_at >= before + hour)
        );
        // Then the gateway's word settles it.
        let paid = attempt(Outcome::Succeeded(receipt), Some(200));
        let settled = after_query(State::Abnormal, &paid, &Counters::default(), &patience());
        assert_eq!(to_state(&settled.update), Some(State::Succeeded));
    }

    #[test]
    fn a_query_that_learns_nothing_leaves_an_abnormal_refund_abnormal_for_an_hour() {
        let hour = ABNORMAL_RECHECK.as_millis() as i64;
        let before = now_ms();
        for (outcome, stops) in [
            (Outcome::Abnormal(Receipt::default()), false),
            (Outcome::NotFound, false),
            (Outcome::unknown("HTTP 500"), false),
            (Outcome::retry(None, "busy"), false),
            (
                Outcome::Rejected {
                    code: "SIGN_ERROR".into(),
                    why: "bad key".into(),
                },
                true,
            ),
        ] {
            let counters = Counters {
                answered: true,
                ..Counters::default()
            };
            let verdict = after_query(
                State::Abnormal,
                &attempt(outcome.clone(), Some(200)),
                &counters,
                &patience(),
            );
            // Never pending (never sent again), never a poll's short wait,
            // and its error stays ABNORMAL.
            match verdict.update {
                Update::Reschedule {
                    next_attempt_at,
                    note: Some((code, _)),
                    ..
                } => {
                    assert!(next_attempt_at >= before + hour, "{outcome:?}");
                    assert_eq!(code, CODE_ABNORMAL, "{outcome:?}");
                }
                other => panic!("{outcome:?}: {other:?}"),
            }
            assert_eq!(verdict.stop.is_some(), stops, "{outcome:?}");
        }
        let closed = Outcome::failed("CLOSED", "closed", Receipt::default(), IdUse::Spent);
        let verdict = after_query(
            State::Abnormal,
            &attempt(closed, Some(200)),
            &Counters::default(),
            &patience(),
        );
        assert_eq!(to_state(&verdict.update), Some(State::Failed));
    }
}
