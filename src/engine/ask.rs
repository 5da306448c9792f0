//! One query about one refund, outside the engine's loop: what `retry
//! --new-ids` asks about a failed refund before it derives a new id, and what
//! `resume --review` asks about a refund in review. The attempt is recorded,
//! and a verified answer about that very refund corrects what the journal
//! holds; anything else (unknown, busy, rejected, or an answer about another
//! refund) changes nothing but the attempt count. Queries may run many at once
//! ([`query_once`]); their answers are recorded one at a time ([`record_answer`]).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::pacing::{Pace, RequestKind};
use super::task::attempt_record;
use super::verdict::correction;
use crate::gateway::{Attempt, Outcome, RefundOrder};
use crate::journal::{
    now_text, AttemptKind, AttemptRecord, Journal, JournalError, RefundRecord, State,
};

/// What the gateway answered, and the state the refund is in now.
#[derive(Debug)]
pub struct Asked {
    pub outcome: Outcome,
    pub state: State,
}

/// A query's answer, before it is recorded.
pub struct Answer {
    attempt: Attempt,
    kept: AttemptRecord,
}

/// Asks the gateway once about `record`, within the profile's pace (its rate
/// and its bound on requests in flight). Many may run at once; each answer is
/// then recorded by [`record_answer`], one at a time. `None` when interrupted
/// before the request left.
pub async fn query_once(
    pace: &Pace,
    record: &RefundRecord,
    cancel: &CancellationToken,
) -> Option<Answer> {
    let _permit = tokio::select! {
        permit = pace.in_flight.acquire() => permit,
        _ = cancel.cancelled() => return None,
    };
    let departure = pace.ready(RequestKind::Query, cancel).await?;
    let order = RefundOrder {
        refund_id: record.refund_id.clone(),
        amount: record.amount,
        fields: record.fields.clone(),
        gateway_refund_id: record.gateway_refund_id.clone(),
    };
    let (at, started) = (now_text(), Instant::now());
    let attempt = pace.send(departure, pace.gateway.query(&order)).await;
    pace.feedback(&attempt, started.elapsed());
    if let Outcome::Retry {
        after: Some(wait), ..
    } = &attempt.outcome
    {
        pace.pause(*wait);
    }
    let kept = attempt_record(AttemptKind::Query, at, started, &attempt);
    Some(Answer { attempt, kept })
}

/// Records an answer to a query about `record` (which is `failed` or in
/// `review`) and applies [`correction`]. A refund whose outcome changed
/// reopens the batches that list it: their results are rewritten by this
/// command, or by the next `resume` if this one stops first.
pub fn record_answer(
    journal: &Journal,
    record: &RefundRecord,
    answer: Answer,
) -> Result<Asked, JournalError> {
    let state = match correction(record.state, record.ever_created, &answer.attempt.outcome) {
        Some(change) => {
            journal.settle(record.id, record.state, &change, &answer.kept)?;
            journal.reopen_listing(record.id)?;
            change.to
        }
        None => {
            journal.note_attempt(record.id, &answer.kept)?;
            record.state
        }
    };
    Ok(Asked {
        outcome: answer.attempt.outcome,
        state,
    })
}

/// [`query_once`], then [`record_answer`].
pub async fn ask_once(
    journal: &Journal,
    pace: &Pace,
    record: &RefundRecord,
    cancel: &CancellationToken,
) -> Result<Option<Asked>, JournalError> {
    match query_once(pace, record, cancel).await {
        Some(answer) => record_answer(journal, record, answer).map(Some),
        None => Ok(None),
    }
}
