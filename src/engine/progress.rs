//! The progress bar on stderr: refunds settled out of the total, rate, ETA and
//! counts of succeeded / failed / processing / unknown. Hidden when stderr is
//! not a terminal or with `--quiet` (the hyperfine pattern: one factory that
//! returns a hidden bar).

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::journal::State;

pub struct Progress {
    bar: ProgressBar,
    /// The last state shown for each refund not yet final.
    last_state: HashMap<i64, State>,
    /// Succeeded, failed, processing, unknown, review.
    counts: [u64; 5],
}

impl Progress {
    pub fn new(show: bool, total: u64, already_final: u64) -> Progress {
        let bar = if show && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} settled  {per_sec}  eta {eta}  {msg}",
                )
                .expect("a valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_position(already_final);
        Progress {
            bar,
            last_state: HashMap::new(),
            counts: [0; 5],
        }
    }

    /// Records a refund's new state.
    pub fn update(&mut self, id: i64, state: State) {
        if self.bar.is_hidden() {
            return;
        }
        let (last, counts) = (&mut self.last_state, &mut self.counts);
        let slot = |s: State| match s {
            State::Succeeded => Some(0),
            State::Failed => Some(1),
            State::Processing => Some(2),
            State::Unknown | State::InFlight => Some(3),
            State::Review => Some(4),
            _ => None,
        };
        if let Some(i) = last.insert(id, state).and_then(slot) {
            counts[i] -= 1;
        }
        if let Some(i) = slot(state) {
            counts[i] += 1;
        }
        if state.is_final() {
            last.remove(&id);
            self.bar.inc(1);
        }
        self.bar.set_message(format!(
            "succeeded {}  failed {}  processing {}  unknown {}  review {}",
            counts[0], counts[1], counts[2], counts[3], counts[4]
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
