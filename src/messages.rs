//! What bulkrefund tells people: messages on stderr, data on stdout (the
//! ripgrep pattern). A message never panics and never stops the work, whatever
//! stderr is: a closed stderr (`2>&1 | head` after head has exited) loses the
//! message, not the run. Data written to a closed stdout ends the command
//! quietly with exit 0 ([`is_broken_pipe`], in `main`). `print!` and
//! `eprint!`, which panic on a closed stream, are forbidden by lint.

use std::io::Write;

/// Writes to stderr, ignoring any failure.
pub fn write_stderr(args: std::fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// A line on stderr (like `eprintln!`, but a closed stderr is not an error).
#[macro_export]
macro_rules! say {
    () => {
        $crate::messages::write_stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::messages::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Text on stderr without a newline (like `eprint!`).
#[macro_export]
macro_rules! say_part {
    ($($arg:tt)*) => {
        $crate::messages::write_stderr(format_args!($($arg)*))
    };
}

/// Writes a line on stderr from another thread, so that the caller is never
/// held up by a stderr that nobody reads: for the signal handler, whose work
/// (stopping the sends) must not wait on a message.
pub fn say_detached(text: String) {
    std::thread::spawn(move || write_stderr(format_args!("{text}\n")));
}

/// An error and its causes on one line, each cause after a colon, except a
/// cause the text already says: many errors name their cause in their own
/// message ("cannot lock the journal 'j.db': Resource busy") and also expose
/// it as their source, which anyhow's `{:#}` would print twice.
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if message.is_empty() || text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// True when an error comes from writing to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether to colour what goes to stderr: only on a terminal, and never with `NO_COLOR`.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open 'x': {source}")]
    struct SaysItsCause {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let said_in_the_message = anyhow::Error::from(SaysItsCause { source: io() });
        assert_eq!(
            describe(&said_in_the_message),
            "cannot open 'x': no such file"
        );
        let context = anyhow::Error::from(io()).context("reading the batch");
        assert_eq!(describe(&context), "reading the batch: no such file");
    }
}
