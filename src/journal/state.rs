//! The refund state machine (docs/DESIGN.md, "Refund states"). [`check`] is the only
//! judge of whether a state may follow another; the journal refuses anything else.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not sent yet.
    Pending,
    /// A submit's intent is committed; its answer is not. After a crash: unknown.
    InFlight,
    /// Accepted by the gateway, still refunding: poll it.
    Processing,
    Succeeded,
    Failed,
    /// Sent, outcome not proven: query before anything else.
    Unknown,
    /// Proven not created; send again at `next_attempt_at`.
    RetryWait,
    /// A verified answer was not about this refund (another id, amount,
    /// merchant, order or request). Never believed, retried or queried in a
    /// loop: an operator settles it (`resume --review` asks the gateway once).
    Review,
    /// Accepted, but the money reached nobody (WeChat's ABNORMAL: the payer's
    /// card was cancelled or frozen). A person acts at the gateway; bulkrefund
    /// never resends it nor gives it a new id, and asks about it at most once
    /// an hour until the gateway says it succeeded or closed.
    Abnormal,
}

pub const ALL: [State; 9] = [
    State::Pending,
    State::InFlight,
    State::Processing,
    State::Succeeded,
    State::Failed,
    State::Unknown,
    State::RetryWait,
    State::Review,
    State::Abnormal,
];

/// States in which the engine has nothing more to do to finish a run. (An
/// abnormal refund is still asked about, hourly, but nothing waits for it.)
pub const FINAL: [State; 4] = [
    State::Succeeded,
    State::Failed,
    State::Review,
    State::Abnormal,
];

/// Final states the engine never asks about again: [`FINAL`] but abnormal
/// (a person settles those; `resume --review` asks about review once).
pub const SETTLED: [State; 3] = [State::Succeeded, State::Failed, State::Review];

/// `('a', 'b')`: a list of states for SQL, built from the states themselves.
pub fn sql_list(states: &[State]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("({})", names.join(", "))
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::InFlight => "in_flight",
            State::Processing => "processing",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Unknown => "unknown",
            State::RetryWait => "retry_wait",
            State::Review => "review",
            State::Abnormal => "abnormal",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more for the engine to do (a refund in review waits for an operator).
    pub fn is_final(self) -> bool {
        FINAL.contains(&self)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal refund state transition {from} -> {to}")]
pub struct IllegalTransition {
    pub from: State,
    pub to: State,
}

/// Whether `to` may follow `from`.
pub fn check(from: State, to: State) -> Result<(), IllegalTransition> {
    use State::*;
    let legal = match from {
        Pending | RetryWait => matches!(to, InFlight),
        // `Pending` only when the live process withdraws an intent whose request
        // never left (interrupted while waiting for the rate limiter). After a
        // crash nobody knows that: recovery goes to `Unknown`.
        InFlight => matches!(
            to,
            Processing | Succeeded | Failed | Unknown | RetryWait | Pending | Review | Abnormal
        ),
        // `Pending` only when the gateway said the refund does not exist.
        Unknown => matches!(
            to,
            Processing | Succeeded | Failed | Pending | Review | Abnormal
        ),
        Processing => matches!(to, Succeeded | Failed | Review | Abnormal),
        // The gateway's later word: paid another way, closed, or refunding again.
        Abnormal => matches!(to, Succeeded | Failed | Processing | Review),
        // `Pending`: `retry --failed`, only for a refund never created at the
        // gateway. The others: the query `retry --new-ids` makes before it
        // replaces a refund found the failure misread (or the answer hostile).
        Failed => matches!(to, Pending | Succeeded | Processing | Review | Abnormal),
        // Settled by one query that an operator asked for (`resume --review`).
        Review => matches!(to, Succeeded | Failed | Processing | Pending | Abnormal),
        Succeeded => false,
    };
    if legal {
        Ok(())
    } else {
        Err(IllegalTransition { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_designed_transitions_are_legal() {
        use State::*;
        let legal = [
            (Pending, InFlight),
            (RetryWait, InFlight),
            (InFlight, Processing),
            (InFlight, Succeeded),
            (InFlight, Failed),
            (InFlight, Unknown),
            (InFlight, RetryWait),
            (InFlight, Pending),
            (InFlight, Review),
            (InFlight, Abnormal),
            (Unknown, Processing),
            (Unknown, Succeeded),
            (Unknown, Failed),
            (Unknown, Pending),
            (Unknown, Review),
            (Unknown, Abnormal),
            (Processing, Succeeded),
            (Processing, Failed),
            (Processing, Review),
            (Processing, Abnormal),
            (Abnormal, Succeeded),
            (Abnormal, Failed),
            (Abnormal, Processing),
            (Abnormal, Review),
            (Failed, Pending),
            (Failed, Succeeded),
            (Failed, Processing),
            (Failed, Review),
            (Failed, Abnormal),
            (Review, Succeeded),
            (Review, Failed),
            (Review, Processing),
            (Review, Pending),
            (Review, Abnormal),
        ];
        for from in ALL {
            for to in ALL {
                let expected = legal.contains(&(from, to));
                assert_eq!(check(from, to).is_ok(), expected, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for state in ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(
            sql_list(&FINAL),
            "('succeeded', 'failed', 'review', 'abnormal')"
        );
    }
}
