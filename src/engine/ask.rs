//! One query about one refund, outside the engine's loop: what `retry
//! --new-ids` asks about a failed refund before it derives a new id, and what
//! `resume --review` asks about a refund in review. The attempt is recorded,
//! and a verified answer about that very refund corrects what the journal
//! holds; anything else (unknown, busy, rejected, or an answer about another
//! refund) changes nothing but the attempt count. Queries may run many at once
//! ([`query_once`]); their answers are recorded one at a time ([`record_answer`]).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::pacing::Pace;
use super::task::attempt_record;
use super::verdict::CODE_MISMATCH;
use crate::gateway::{Attempt, Outcome, Receipt, RefundOrder};
use crate::journal::{
    now_ms, now_text, AttemptKind, AttemptRecord, Change, Journal, JournalError, RefundRecord,
    State,
};

/// What the gateway answered, and the state the refund is in now.
#[derive(Debug)]
pub struct Asked {
    pub outcome: Outcome,
    pub state: State,
}

fn with_receipt(change: Change, receipt: &Receipt) -> Change {
    Change {
        gateway_refund_id: receipt.gateway_refund_id.clone(),
        created: true,
        ..change
    }
}

/// The change a query's answer makes to a refund that is `failed` or in
/// `review`; `None` when it leaves the refund as it is.
pub fn correction(from: State, outcome: &Outcome) -> Option<Change> {
    let asked = match from {
        State::Failed => "a query before a retry",
        _ => "a query an operator asked for",
    };
    match outcome {
        Outcome::Succeeded(receipt) => Some(with_receipt(
            Change::to(
                State::Succeeded,
                format!("{asked}: the gateway says it succeeded"),
            ),
            receipt,
        )),
        Outcome::Processing(receipt) => Some(Change {
            next_attempt_at: Some(now_ms()),
            ..with_receipt(
                Change::to(
                    State::Processing,
                    format!("{asked}: the gateway is still refunding it"),
                ),
                receipt,
            )
        }),
        Outcome::Failed { .. } | Outcome::NotFound if from == State::Failed => None,
        Outcome::Failed {
            code,
            message,
            receipt,
        } => Some(Change {
            error: Some((code.clone(), message.clone())),
            ..with_receipt(
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
    if !pace.ready(cancel).await {
        return None;
    }
    let order = RefundOrder {
        refund_id: record.refund_id.clone(),
        amount: record.amount,
        fields: record.fields.clone(),
        gateway_refund_id: record.gateway_refund_id.clone(),
    };
    let (at, started) = (now_text(), Instant::now());
    let attempt = pace.gateway.query(&order).await;
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
    let state = match correction(record.state, &answer.attempt.outcome) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_one_answer_does_to_a_failed_refund_and_to_one_in_review() {
        let receipt = Receipt::default();
        let failed = Outcome::failed("12", "failed", Receipt::default());
        let mismatch = Outcome::Mismatch {
            what: "merchant_refund_id differs".into(),
        };
        let to = |from, outcome: &Outcome| correction(from, outcome).map(|c| c.to);
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
        assert_eq!(
            to(State::Review, &Outcome::Succeeded(receipt)),
            Some(State::Succeeded)
        );
        assert_eq!(to(State::Review, &mismatch), None);
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
}
