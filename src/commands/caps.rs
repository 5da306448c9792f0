//! The caps a profile puts on money (`max_refund_yuan`: one refund;
//! `max_batch_yuan`: all that one batch, or one retry of a batch, sends). One
//! check for every command that sends or says what would be sent: `run` and
//! `validate` (the same batch, the same verdict), `retry` and `resume`. It is
//! given exactly what will leave: new refunds and refunds recorded earlier
//! that are not yet sent. Over a cap, nothing is sent unless
//! `--allow-over-limit`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::Profile;
use crate::journal::import::Tally;
use crate::journal::outgoing::Waiting;
use crate::money::Fen;

/// What one batch's work (or one retry) is about to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    pub count: u64,
    pub fen: Fen,
    /// The largest refund, and where it is (`line 7`, `refund R12 of batch 1`).
    pub largest: Option<(Fen, String)>,
}

impl Outgoing {
    pub fn add(&mut self, count: u64, fen: Fen, largest: (Fen, String)) {
        self.count += count;
        self.fen = self.fen.saturating_add(fen);
        if self
            .largest
            .as_ref()
            .is_none_or(|(most, _)| largest.0 > *most)
        {
            self.largest = Some(largest);
        }
    }

    /// What a run of a batch sends: its new refunds and the earlier ones it names.
    pub fn of_tally(tally: &Tally) -> Outgoing {
        let mut outgoing = Outgoing::default();
        if let Some((fen, line)) = tally.largest_new {
            outgoing.add(tally.new, tally.new_fen, (fen, format!("line {line}")));
        }
        for waiting in &tally.earlier {
            outgoing.add_waiting(waiting);
        }
        outgoing
    }

    pub fn add_waiting(&mut self, waiting: &Waiting) {
        let (fen, id) = &waiting.largest;
        let place = format!("refund {id} of batch {}", waiting.batch);
        self.add(waiting.count, waiting.fen, (*fen, place));
    }
}

/// The caps of `profile` that `outgoing` is over, each said in full.
pub fn over(profile: &Profile, outgoing: &Outgoing) -> Vec<String> {
    let mut over = Vec::new();
    if let Some(max) = profile.max_batch {
        if outgoing.fen > max {
            over.push(format!(
                "{} yuan in all, more than max_batch_yuan = {}",
                outgoing.fen.grouped(),
                max.grouped()
            ));
        }
    }
    if let (Some(max), Some((largest, place))) = (profile.max_refund, &outgoing.largest) {
        if *largest > max {
            over.push(format!(
                "a refund of {} yuan ({place}), more than max_refund_yuan = {}",
                largest.grouped(),
                max.grouped()
            ));
        }
    }
    over
}

/// The earlier refunds a batch sends, as the plans show them: `batch 1: 25
/// refunds, 27.00 yuan; batch 3: ...`.
pub fn by_batch(earlier: &[Waiting]) -> String {
    let mut sums: BTreeMap<i64, (u64, Fen)> = BTreeMap::new();
    for waiting in earlier {
        let sum = sums.entry(waiting.batch).or_default();
        sum.0 += waiting.count;
        sum.1 = sum.1.saturating_add(waiting.fen);
    }
    let mut text = String::new();
    for (batch, (count, fen)) in sums {
        if !text.is_empty() {
            text.push_str("; ");
        }
        let _ = write!(
            text,
            "batch {batch}: {count} refunds, {} yuan",
            fen.grouped()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_and_the_sum_cover_new_and_earlier_refunds() {
        let tally = Tally {
            new: 1,
            new_fen: Fen(10),
            largest_new: Some((Fen(10), 3)),
            earlier: vec![
                Waiting {
                    batch: 1,
                    profile: "p".into(),
                    count: 2,
                    fen: Fen(700),
                    largest: (Fen(500), "R2".into()),
                },
                Waiting {
                    batch: 2,
                    profile: "p".into(),
                    count: 1,
                    fen: Fen(90),
                    largest: (Fen(90), "S1".into()),
                },
            ],
            ..Tally::default()
        };
        let outgoing = Outgoing::of_tally(&tally);
        assert_eq!(outgoing.count, 4);
        assert_eq!(outgoing.fen, Fen(800));
        assert_eq!(
            outgoing.largest,
            Some((Fen(500), "refund R2 of batch 1".into()))
        );
        assert_eq!(
            by_batch(&tally.earlier),
            "batch 1: 2 refunds, 7.00 yuan; batch 2: 1 refunds, 0.90 yuan"
        );
    }
}
