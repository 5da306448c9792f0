//! Counts and amounts per status: the summary a run prints, `status` lists and
//! the exit code is decided from.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::journal::{Journal, JournalError, Status};
use crate::money::Fen;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    counts: BTreeMap<Status, (u64, Fen)>,
}

impl StatusCounts {
    pub fn add(&mut self, status: Status, count: u64, fen: Fen) {
        let entry = self.counts.entry(status).or_default();
        entry.0 += count;
        entry.1 = entry.1.saturating_add(fen);
    }

    pub fn get(&self, status: Status) -> (u64, Fen) {
        self.counts.get(&status).copied().unwrap_or_default()
    }

    pub fn total(&self) -> (u64, Fen) {
        self.counts
            .values()
            .fold((0, Fen(0)), |(n, f), (c, a)| (n + c, f.saturating_add(*a)))
    }

    fn from_totals(totals: Vec<(Status, u64, Fen)>) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for (status, count, fen) in totals {
            counts.add(status, count, fen);
        }
        counts
    }

    /// Rows per status for one batch, as the results file reports them.
    pub fn for_batch(journal: &Journal, batch: i64) -> Result<StatusCounts, JournalError> {
        Ok(Self::from_totals(journal.status_totals(batch, false)?))
    }

    /// Like [`StatusCounts::for_batch`], but a duplicate row counts as the
    /// status of the row it repeats: what the exit code is decided from.
    pub fn outcomes_for_batch(journal: &Journal, batch: i64) -> Result<StatusCounts, JournalError> {
        Ok(Self::from_totals(journal.status_totals(batch, true)?))
    }

    /// The exit code these outcomes deserve (docs/specs/cli.md, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        let any = |wanted: fn(Status) -> bool| {
            self.counts
                .iter()
                .any(|(status, (count, _))| *count > 0 && wanted(*status))
        };
        if any(Status::is_unresolved) {
            crate::exit::UNRESOLVED
        } else if any(Status::needs_attention) {
            crate::exit::SOME_FAILED
        } else {
            crate::exit::SUCCESS
        }
    }

    /// The statuses with rows, in reading order, with their counts and amounts.
    pub fn rows(&self) -> impl Iterator<Item = (Status, u64, Fen)> + '_ {
        Status::ALL.into_iter().filter_map(|status| {
            let (count, fen) = self.get(status);
            (count > 0).then_some((status, count, fen))
        })
    }

    /// One line per status that has rows: `  succeeded     38     1234.56 yuan`.
    pub fn table(&self) -> String {
        let mut text = String::new();
        for (status, count, fen) in self.rows() {
            let _ = writeln!(
                text,
                "  {:<11} {count:>9} {:>16} yuan",
                status.as_str(),
                fen.to_string()
            );
        }
        let (count, fen) = self.total();
        let _ = writeln!(
            text,
            "  {:<11} {count:>9} {:>16} yuan",
            "total",
            fen.to_string()
        );
        text
    }

    /// `succeeded 38 (1234.56 yuan), failed 1 (0.01 yuan)`
    pub fn one_line(&self) -> String {
        let parts: Vec<String> = self
            .rows()
            .map(|(status, count, fen)| format!("{status} {count} ({fen} yuan)"))
            .collect();
        if parts.is_empty() {
            "no rows".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::State;

    #[test]
    fn journal_states_count_as_their_status_and_decide_the_exit() {
        let mut counts = StatusCounts::default();
        counts.add(Status::Succeeded, 2, Fen(300));
        assert_eq!(counts.exit_code(), 0);
        counts.add(Status::Failed, 1, Fen(1));
        assert_eq!(counts.exit_code(), 3);
        let mut review = StatusCounts::default();
        review.add(Status::Succeeded, 1, Fen(1));
        review.add(State::Review.status(), 1, Fen(1));
        assert_eq!(review.exit_code(), 3, "a refund in review needs a person");
        counts.add(State::RetryWait.status(), 1, Fen(5));
        counts.add(State::InFlight.status(), 1, Fen(7));
        assert_eq!(counts.get(Status::Pending), (1, Fen(5)));
        assert_eq!(counts.get(Status::Unknown), (1, Fen(7)));
        assert_eq!(counts.exit_code(), 4);
        assert_eq!(counts.total(), (5, Fen(313)));
        assert_eq!(
            counts.one_line(),
            "succeeded 2 (3.00 yuan), failed 1 (0.01 yuan), unknown 1 (0.07 yuan), pending 1 (0.05 yuan)"
        );
    }
}
