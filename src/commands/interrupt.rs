//! Ctrl-C and SIGTERM (docs/specs/cli.md, "Interruption"): the first stops sending new
//! refunds and lets the requests in flight finish; the second exits at once
//! (the journal is consistent: what was in flight is queried by `resume`).
//! The handler acts first and speaks after, from another thread: a stderr
//! that is closed, or full because nobody reads it, never delays a stop.
//! What it says depends on what the command is doing ([`Phase`]): during an
//! import nothing is in flight and nothing is recorded yet.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

use crate::messages::say_detached;

/// Listens for interrupts for the rest of the process; returns the token the first one cancels.
pub fn install() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut seen = 0;
        loop {
            #[cfg(unix)]
            let terminated = async {
                match terminate.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            seen += 1;
            if seen == 1 {
                token.cancel();
                say_detached(first_words(phase()).into());
            } else {
                // No message: a stderr nobody reads must not hold up the exit.
                // `resume` says what it found in flight.
                std::process::exit(i32::from(crate::exit::UNRESOLVED));
            }
        }
    });
    cancel
}

/// What a command is doing, for the words of an interruption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading the batch into the journal: nothing is recorded or sent yet.
    Importing = 0,
    /// Sending, querying, polling.
    Sending = 1,
}

static PHASE: AtomicU8 = AtomicU8::new(Phase::Sending as u8);

/// Says what the command is doing from now on.
pub fn set_phase(phase: Phase) {
    PHASE.store(phase as u8, Ordering::Relaxed);
}

fn phase() -> Phase {
    match PHASE.load(Ordering::Relaxed) {
        0 => Phase::Importing,
        _ => Phase::Sending,
    }
}

/// What the first interruption says.
fn first_words(phase: Phase) -> &'static str {
    match phase {
        Phase::Importing => {
            "\ninterrupted during the import: nothing of this batch is recorded or sent (interrupt again to stop at once; then run the file again)"
        }
        Phase::Sending => {
            "\ninterrupted: no new refunds are sent; the requests in flight are finishing (interrupt again to stop at once)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_import_speaks_of_no_requests() {
        let importing = first_words(Phase::Importing);
        assert!(!importing.contains("in flight"), "{importing}");
        assert!(importing.contains("nothing of this batch is recorded or sent"));
        assert!(first_words(Phase::Sending).contains("requests in flight are finishing"));
    }
}
