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
