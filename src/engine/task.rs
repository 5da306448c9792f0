//! One step for one refund: submit it (pending, retry_wait), query it
//! (unknown, or abnormal: hourly), or poll it (processing), and record what the answer proved. What
//! an answer proves is decided in `verdict.rs`; this module sends the request
//! and commits the decision, under the claim the scheduler took for the step:
//! a write another process fenced off (it took the refund over while this
//! one was stalled) is reported, and nothing more is written for the refund.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::limit::LimitPermit;
use super::pacing::{Departure, Pace, RequestKind};
use super::policy::Counters;
use super::progress::ProgressHandle;
use super::verdict::{after_query, after_submit, Verdict};
use super::writer::{WriteError, Writer};
use crate::gateway::{Attempt, Outcome, RefundOrder};
use crate::journal::claim::Claim;
use crate::journal::{
    now_text, AttemptKind, AttemptRecord, Change, RefundRecord, State, Status, Update,
};

pub struct Job {
    pub record: RefundRecord,
    pub counters: Counters,
    /// The claim every write of the step is made under.
    pub claim: Claim,
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
    /// Another process took the refund over: a write of the step was fenced off.
    pub fenced: bool,
}

/// What an attempt records when the gateway has no such refund.
pub(crate) const NOT_FOUND: &str = "not found";

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
        Outcome::Abnormal(_) => Status::Abnormal.to_string(),
        Outcome::Unknown { why } => format!("{}: {why}", Status::Unknown),
        Outcome::Retry { why, .. } => format!("retry: {why}"),
        Outcome::NotFound => NOT_FOUND.to_owned(),
        Outcome::Mismatch { what } => format!("{}: {what}", Status::Review),
        Outcome::Rejected { code, why } => format!("rejected {code}: {why}"),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    tracing::debug!(
        kind = ?kind,
        http_status = attempt.http_status,
        gateway_codes = attempt.gateway_codes.as_deref(),
        latency_ms,
        outcome = outcome.as_str(),
        "attempt"
    );
    AttemptRecord {
        kind,
        at,
        http_status: attempt.http_status,
        gateway_codes: attempt.gateway_codes.clone(),
        outcome,
        latency_ms,
    }
}

/// What every step shares with the scheduler.
#[derive(Clone)]
pub struct Shared {
    pub writer: Writer,
    /// Cancelled by an interrupt, or when the gateway refuses every request of
    /// a profile: no new request leaves, the ones in flight finish.
    pub stop_sending: CancellationToken,
    /// Whether this run's claims may have lapsed: then it sends nothing more.
    pub lease: super::claiming::LeaseWatch,
    pub requests: Arc<AtomicU64>,
    pub done: mpsc::UnboundedSender<Done>,
    /// Told of each step's end at once (the scheduler may be busy dispatching).
    pub progress: ProgressHandle,
}

/// Runs one step and reports it on `done` once its changes are committed.
/// The step runs in a span naming the refund, its batch and what the step
/// does, so that every log line of it says which refund it is about.
pub async fn work(job: Job, pace: Arc<Pace>, permit: LimitPermit, shared: Shared) {
    let from = job.record.state;
    let span = tracing::info_span!(
        "refund",
        refund_id = %job.record.refund_id,
        batch = job.record.batch,
        step = step_name(from),
    );
    let report = step(job, &pace, permit, &shared)
        .instrument(span.clone())
        .await;
    if report.state != from {
        span.in_scope(|| {
            tracing::info!(
                from = from.as_str(),
                to = report.state.as_str(),
                "transition"
            )
        });
    }
    shared.progress.update(report.id, report.state);
    let _ = shared.done.send(report);
}

/// What a step from `state` does: submit, query (an unknown or abnormal
/// refund), or poll (a processing refund).
fn step_name(state: State) -> &'static str {
    match state {
        State::Pending | State::RetryWait => "submit",
        State::Unknown | State::InFlight | State::Abnormal => "query",
        State::Processing => "poll",
        _ => "none",
    }
}

async fn step(job: Job, pace: &Pace, permit: LimitPermit, shared: &Shared) -> Done {
    let Job {
        record,
        mut counters,
        claim,
    } = job;
    let RefundRecord {
        id,
        state: from,
        profile,
        refund_id,
        amount,
        fields,
        gateway_refund_id,
        ..
    } = record;
    let order = RefundOrder {
        refund_id,
        amount,
        fields,
        gateway_refund_id,
    };
    let held = Held { id, claim: &claim };
    let sent = match from {
        State::Pending | State::RetryWait => {
            submit(held, from, &order, pace, shared, &mut counters).await
        }
        // An abnormal refund is only ever asked about: never sent again.
        State::Unknown | State::Processing | State::Abnormal => {
            query(held, from, &order, pace, shared, &mut counters).await
        }
        _ => return Done::unchanged(id, from, counters),
    };
    let recorded = match sent {
        Ok((attempt, verdict)) => {
            // A busy answer pauses the merchant before this request's place
            // in flight is given up: else the next request could take the
            // place and leave in the moment between.
            if let Some(wait) = verdict.pause {
                pace.pause(wait);
            }
            drop(permit);
            record_verdict(held, from, &profile, attempt, verdict, shared).await
        }
        Err(not_sent) => not_sent,
    };
    if recorded.fenced {
        tracing::warn!(
            "refund {}: another process took it over while this one was stalled; its answer here was not recorded",
            order.refund_id
        );
    }
    recorded.finish(Done::unchanged(id, from, counters))
}

/// A request that went out with what its answer proves, or how a step that
/// ended before anything was sent left the refund.
type Sent = Result<(AttemptRecord, Verdict), Recorded>;

/// The refund a step works on, and the claim its writes are made under.
#[derive(Clone, Copy)]
struct Held<'a> {
    id: i64,
    claim: &'a Claim,
}

impl Done {
    fn unchanged(id: i64, state: State, counters: Counters) -> Done {
        Done {
            id,
            counters,
            state,
            fatal: None,
            stop: None,
            fenced: false,
        }
    }
}

/// Sends one request the rate has allowed, with what every request is
/// counted in: the progress display, the in-flight limit's view of the
/// gateway's latency and load, and the run's request count. Returns when it
/// left (journal time and clock) and what came back.
async fn sent(
    id: i64,
    departure: Departure<'_>,
    submit: bool,
    pace: &Pace,
    shared: &Shared,
    request: impl std::future::Future<Output = Attempt>,
) -> (String, Instant, Attempt) {
    let (at, started) = (now_text(), Instant::now());
    shared.progress.request_left(id);
    pace.count(submit);
    let attempt = pace.send(departure, request).await;
    pace.feedback(&attempt, started.elapsed());
    shared.requests.fetch_add(1, Ordering::Relaxed);
    (at, started, attempt)
}

/// Commits the intent, waits for the rate and sends a refund that was never
/// sent or waits to be sent again.
async fn submit(
    held: Held<'_>,
    from: State,
    order: &RefundOrder,
    pace: &Pace,
    shared: &Shared,
    counters: &mut Counters,
) -> Sent {
    let Held { id, claim } = held;
    if let Err(e) = shared.writer.intent(id, from, claim).await {
        if e.is_stale() {
            // Another process moved it between the page's read and this
            // run's claim (it ended, or went on to wait): nothing was sent,
            // and the next read sees it as it is.
            tracing::info!("refund {}: {e}; it is read again", order.refund_id);
            return Err(Recorded::not_sent(from, None));
        }
        return Err(Recorded::not_sent(from, Some(e)));
    }
    // The limiter gates the send itself, after the intent's commit (whose
    // latency varies), so that the gateway sees the rate we promised.
    let ready = pace.ready(RequestKind::Submit, &shared.stop_sending).await;
    // Checked after the wait for the rate, the last moment before the
    // request leaves: a run that stalled past its lease stops sending.
    let lapsed = ready.is_some() && shared.lease.lapsed();
    if lapsed && !shared.stop_sending.is_cancelled() {
        tracing::warn!(
            "this run stalled past its claims' lease: it sends nothing more (run resume)"
        );
        shared.stop_sending.cancel();
    }
    let Some(departure) = ready.filter(|_| !lapsed) else {
        let withdraw = Change::to(
            State::Pending,
            if lapsed {
                "its claim's lease ran out before the request left (this run stalled); nothing was sent"
            } else {
                "stopped before the request left; nothing was sent"
            },
        );
        let fatal = shared
            .writer
            .transition(id, State::InFlight, withdraw, claim)
            .await
            .err();
        return Err(Recorded::not_sent(State::Pending, fatal));
    };
    let submitted = pace.gateway.submit(order);
    let (at, started, attempt) = sent(id, departure, true, pace, shared, submitted).await;
    counters.submits += 1;
    counters.answered = attempt
        .http_status
        .is_some_and(|status| (200..300).contains(&status));
    let verdict = after_submit(&attempt, counters.submits, &pace.patience);
    let verdict = distrust(id, &attempt, verdict, pace, shared);
    Ok((
        attempt_record(AttemptKind::Submit, at, started, &attempt),
        verdict,
    ))
}

/// Asks the gateway about a refund whose outcome is unknown (or an abnormal
/// one, hourly), or polls one still processing.
async fn query(
    held: Held<'_>,
    from: State,
    order: &RefundOrder,
    pace: &Pace,
    shared: &Shared,
    counters: &mut Counters,
) -> Sent {
    let id = held.id;
    let Some(departure) = pace.ready(RequestKind::Query, &shared.stop_sending).await else {
        return Err(Recorded::not_sent(from, None));
    };
    let queried = pace.gateway.query(order);
    let (at, started, attempt) = sent(id, departure, false, pace, shared, queried).await;
    if from == State::Processing {
        counters.polls += 1;
    } else {
        counters.queries += 1;
        if attempt.outcome == Outcome::NotFound && counters.answered {
            counters.denials += 1;
        }
    }
    let verdict = after_query(from, &attempt, counters, &pace.patience);
    let verdict = distrust(id, &attempt, verdict, pace, shared);
    Ok((
        attempt_record(AttemptKind::Query, at, started, &attempt),
        verdict,
    ))
}

/// Stops the profile when its answers cannot be verified at all
/// (engine/trust.rs): at once, before this step gives its place in flight
/// back, so that no request takes it.
fn distrust(
    id: i64,
    attempt: &Attempt,
    mut verdict: Verdict,
    pace: &Pace,
    shared: &Shared,
) -> Verdict {
    if let Some(why) = pace.trust.witness(id, &attempt.outcome) {
        shared.stop_sending.cancel();
        verdict.stop.get_or_insert(why);
    }
    verdict
}

/// Where a step left the refund: its state, why the profile must stop
/// sending, and the journal's refusal if it refused.
struct Recorded {
    state: State,
    stop: Option<String>,
    fatal: Option<WriteError>,
    fenced: bool,
}

impl Recorded {
    /// A step that ended before its request left (fenced off, nothing was).
    fn not_sent(state: State, refused: Option<WriteError>) -> Recorded {
        let fenced = refused.as_ref().is_some_and(WriteError::is_fenced);
        Recorded {
            state,
            stop: None,
            fatal: refused.filter(|_| !fenced),
            fenced,
        }
    }

    fn finish(self, done: Done) -> Done {
        Done {
            state: self.state,
            stop: self.stop,
            fatal: self.fatal,
            fenced: self.fenced,
            ..done
        }
    }
}

/// Stops the profile as the verdict asks, then commits its update with the
/// attempt.
async fn record_verdict(
    held: Held<'_>,
    from: State,
    profile: &str,
    attempt: AttemptRecord,
    verdict: Verdict,
    shared: &Shared,
) -> Recorded {
    // Its pause was applied before the place in flight was given up ([`step`]).
    let Verdict { update, stop, .. } = verdict;
    let stop = stop.map(|why| format!("profile '{profile}': {why}"));
    if stop.is_some() {
        // Every other request of the profile would be refused alike.
        shared.stop_sending.cancel();
    }
    let state = match &update {
        Update::Transition { change, .. } => change.to,
        Update::Reschedule { .. } => from,
    };
    match shared
        .writer
        .settle(held.id, attempt, update, held.claim)
        .await
    {
        Ok(()) => Recorded {
            state,
            stop,
            fatal: None,
            fenced: false,
        },
        // The refund is another process's now: it queries it.
        Err(e) if e.is_fenced() => Recorded {
            state: from,
            stop,
            fatal: None,
            fenced: true,
        },
        // Another process settled it since this run read it (on a shared
        // journal): this answer is not recorded; the journal's stands.
        Err(e) if e.is_stale() => {
            tracing::info!("refund #{}: {e}; this answer is not recorded", held.id);
            Recorded {
                state: from,
                stop,
                fatal: None,
                fenced: false,
            }
        }
        Err(e) => Recorded {
            state: State::InFlight,
            stop,
            fatal: Some(e),
            fenced: false,
        },
    }
}
