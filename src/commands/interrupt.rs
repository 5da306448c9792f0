//! Ctrl-C and SIGTERM (docs/specs/cli.md, "Interruption"): the first stops sending new
//! refunds and lets the requests in flight finish; the second exits at once
//! (the journal is consistent: what was in flight is queried by `resume`).
//! The handler acts first and speaks after, from another thread: a stderr
//! that is closed, or full because nobody reads it, never delays a stop.

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
                say_detached(
                    "\ninterrupted: no new refunds are sent; the requests in flight are finishing (interrupt again to stop at once)".into(),
                );
            } else {
                // No message: a stderr nobody reads must not hold up the exit.
                // `resume` says what it found in flight.
                std::process::exit(i32::from(crate::exit::UNRESOLVED));
            }
        }
    });
    cancel
}
