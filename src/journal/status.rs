//! What a row of a batch reports (docs/specs/batch-files.md, "Statuses"): its refund's
//! state as the results file names it ([`Status`]), or the row's own verdict
//! when it never was a refund to send ([`RowStatus`]). The journal stores both
//! by name; everywhere else they are these types.

use std::fmt;

use super::State;

/// A status a results row can show, in the order people read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Succeeded,
    Failed,
    /// Accepted, but the money reached nobody (WeChat's ABNORMAL): a person
    /// acts at the gateway. Neither paid nor failed; never resent.
    Abnormal,
    /// A verified answer did not match its request: never believed.
    Review,
    Invalid,
    Conflict,
    Duplicate,
    Processing,
    Unknown,
    Pending,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Succeeded,
        Status::Failed,
        Status::Abnormal,
        Status::Review,
        Status::Invalid,
        Status::Conflict,
        Status::Duplicate,
        Status::Processing,
        Status::Unknown,
        Status::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Abnormal => "abnormal",
            Status::Review => "review",
            Status::Invalid => "invalid",
            Status::Conflict => "conflict",
            Status::Duplicate => "duplicate",
            Status::Processing => "processing",
            Status::Unknown => "unknown",
            Status::Pending => "pending",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still to be worked on: `resume` finishes it.
    pub fn is_unresolved(self) -> bool {
        matches!(self, Status::Processing | Status::Unknown | Status::Pending)
    }

    /// Ended without the refund being paid, or waiting for a person.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::Abnormal | Status::Review | Status::Invalid | Status::Conflict
        )
    }

    /// The journal states a refund with this status can be in (none for the
    /// rows' own verdicts).
    pub fn states(self) -> impl Iterator<Item = State> {
        super::state::ALL
            .into_iter()
            .filter(move |state| state.status() == self)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row's own verdict: it was never a refund to send, or it repeats one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowStatus {
    /// The row broke a rule.
    Invalid,
    /// The id was already used for different content.
    Conflict,
    /// It repeats an earlier row of the same file.
    Duplicate,
}

impl RowStatus {
    pub const ALL: [RowStatus; 3] = [
        RowStatus::Invalid,
        RowStatus::Conflict,
        RowStatus::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    pub fn parse(text: &str) -> Option<RowStatus> {
        RowStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn status(self) -> Status {
        match self {
            RowStatus::Invalid => Status::Invalid,
            RowStatus::Conflict => Status::Conflict,
            RowStatus::Duplicate => Status::Duplicate,
        }
    }
}

impl State {
    /// The status a results file shows (docs/specs/batch-files.md: in_flight → unknown,
    /// retry_wait → pending).
    pub fn status(self) -> Status {
        match self {
            State::Pending | State::RetryWait => Status::Pending,
            State::InFlight | State::Unknown => Status::Unknown,
            State::Processing => Status::Processing,
            State::Succeeded => Status::Succeeded,
            State::Failed => Status::Failed,
            State::Review => Status::Review,
            State::Abnormal => Status::Abnormal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_every_state_has_a_status() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for row in RowStatus::ALL {
            assert_eq!(RowStatus::parse(row.as_str()), Some(row));
            assert_eq!(row.status().states().count(), 0, "never a refund's state");
        }
        assert_eq!(State::InFlight.status(), Status::Unknown);
        assert_eq!(State::RetryWait.status(), Status::Pending);
        assert_eq!(State::Review.status(), Status::Review);
        assert_eq!(
            Status::Pending.states().collect::<Vec<_>>(),
            [State::Pending, State::RetryWait]
        );
        let mut sorted = Status::ALL;
        sorted.sort();
        assert_eq!(sorted, Status::ALL, "declared in reading order");
    }
}
