//! The dedupe verdict on a row (docs/specs/batch-files.md, "Dedupe"),
//! whatever stores the journal: one decision for the SQLite import, its
//! preview for `validate`, and the PostgreSQL import, so that no two of
//! them disagree about a row. A store only finds what the decision reads
//! (the refund holding the id, its chain's head, the first row of the batch
//! that reached that head) and writes what it says; how each row adds to the
//! tally and to the refunds that may still leave is decided here too.

use super::import_rows::Tally;
use super::records::Waiting;
use crate::batch::RefundRow;
use crate::money::Fen;

/// What becomes of a valid row.
pub(super) enum Dedupe {
    /// A new refund: recorded pending, sent.
    New,
    /// The journal holds the same refund: the row reports its chain's head.
    Known { refund: i64 },
    /// An earlier row of the batch reached the same refund.
    Duplicate { refund: Option<i64>, of_line: u64 },
    /// The id is taken by a different refund: never sent.
    Conflict { message: String },
}

/// The refund that already holds a row's id (in its gateway and merchant).
pub(super) struct Existing {
    pub(super) id: i64,
    pub(super) fingerprint: String,
    pub(super) batch_id: i64,
    pub(super) line: u64,
}

/// The conflict of a row whose id `existing` holds with other content.
pub(super) fn conflict_with_journal(
    refund_id: &str,
    existing: &Existing,
    this_batch: Option<i64>,
) -> Dedupe {
    if Some(existing.batch_id) == this_batch {
        return used_at_line(refund_id, existing.line);
    }
    Dedupe::Conflict {
        message: format!(
            "refund id {refund_id} was already used for a different refund (batch {}, line {}); never sent",
            existing.batch_id, existing.line
        ),
    }
}

/// The conflict of a row whose id an earlier row of the same file holds
/// with other content.
fn used_at_line(refund_id: &str, line: u64) -> Dedupe {
    Dedupe::Conflict {
        message: format!(
            "refund id {refund_id} is used at line {line} for a different refund; never sent"
        ),
    }
}

/// The verdict on a row naming a refund the journal holds (`existing`), for
/// the import and its preview alike: a conflict when the content differs;
/// otherwise the refund is reported by its chain's head (`head_of`: a retry
/// under a new id), and the row repeats an earlier row of the batch that
/// reached the same head (`first_row_with(head)`: that row's line), so that a
/// file naming both `R1` and its retry `R1R2` sends the chain once.
pub(super) fn against_journal<E>(
    refund: &RefundRow,
    existing: &Existing,
    this_batch: Option<i64>,
    head_of: impl FnOnce(i64) -> Result<i64, E>,
    first_row_with: impl FnOnce(i64) -> Result<Option<u64>, E>,
) -> Result<Dedupe, E> {
    if existing.fingerprint != refund.fingerprint {
        return Ok(conflict_with_journal(
            &refund.refund_id,
            existing,
            this_batch,
        ));
    }
    let head = head_of(existing.id)?;
    Ok(match first_row_with(head)? {
        Some(of_line) => Dedupe::Duplicate {
            refund: Some(head),
            of_line,
        },
        None => Dedupe::Known { refund: head },
    })
}

/// The verdict the preview gives a row whose id an earlier row of the file
/// used (`fingerprint`, at `of_line`): the import finds that row's refund in
/// the journal and decides the same.
pub(super) fn against_earlier_row(refund: &RefundRow, fingerprint: &str, of_line: u64) -> Dedupe {
    if fingerprint == refund.fingerprint {
        Dedupe::Duplicate {
            refund: None,
            of_line,
        }
    } else {
        used_at_line(&refund.refund_id, of_line)
    }
}

/// Adds a valid row's verdict to the tally.
pub(super) fn tally(tally: &mut Tally, verdict: &Dedupe, fen: Fen, line: u64) {
    tally.rows += 1;
    match verdict {
        Dedupe::New => {
            tally.new += 1;
            tally.new_fen = tally.new_fen.saturating_add(fen);
            if tally.largest_new.is_none_or(|(largest, _)| fen > largest) {
                tally.largest_new = Some((fen, line));
            }
        }
        Dedupe::Known { .. } => tally.known += 1,
        Dedupe::Duplicate { .. } => tally.duplicate += 1,
        Dedupe::Conflict { .. } => tally.conflict += 1,
    }
}

/// Adds a refund recorded before the batch, which a row names and which may
/// still leave, to `into`: summed by its batch and profile, in the order
/// first met; the largest is the first of the largest amount.
pub(super) fn note_waiting(
    into: &mut Vec<Waiting>,
    batch: i64,
    profile: String,
    fen: Fen,
    refund_id: String,
) {
    match into
        .iter_mut()
        .find(|w| w.batch == batch && w.profile == profile)
    {
        Some(waiting) => {
            waiting.count += 1;
            waiting.fen = waiting.fen.saturating_add(fen);
            if fen > waiting.largest.0 {
                waiting.largest = (fen, refund_id);
            }
        }
        None => into.push(Waiting {
            batch,
            profile,
            count: 1,
            fen,
            largest: (fen, refund_id),
        }),
    }
}
