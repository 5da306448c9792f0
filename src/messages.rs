//! What bulkrefund tells people: messages on stderr, data on stdout (the
//! ripgrep pattern). A message never panics and never stops the work, whatever
//! stderr is: a closed stderr (`2>&1 | head` after head has exited) loses the
//! message, not the run. Data written to a closed stdout ends the command
//! quietly with exit 0 ([`is_broken_pipe`], in `main`). `print!` and
//! `eprint!`, which panic on a closed stream, are forbidden by lint.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// How messages are written: as text, not at all (`--quiet`: errors only), or
/// as JSON lines beside the JSON logs (`--log-format json`: stderr then holds
/// only JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Text = 0,
    Quiet = 1,
    Json = 2,
}

static MODE: AtomicU8 = AtomicU8::new(Mode::Text as u8);

/// Chosen once, from the command line, before anything is said.
pub fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        1 => Mode::Quiet,
        2 => Mode::Json,
        _ => Mode::Text,
    }
}

/// True when `--quiet` asked for errors only.
pub fn quiet() -> bool {
    mode() == Mode::Quiet
}

/// Writes a message to stderr, ignoring any failure.
pub fn write_stderr(args: std::fmt::Arguments) {
    match mode() {
        Mode::Quiet => {}
        Mode::Json => write_json("INFO", &args.to_string()),
        Mode::Text => {
            let _ = std::io::stderr().lock().write_fmt(args);
        }
    }
}

/// Writes an error to stderr, whatever the mode (`--quiet` included).
pub fn write_error(args: std::fmt::Arguments) {
    match mode() {
        Mode::Json => write_json("ERROR", &args.to_string()),
        _ => {
            let _ = std::io::stderr().lock().write_fmt(args);
        }
    }
}

/// Each line of `text` as one JSON object, shaped like the log's events.
fn write_json(level: &str, text: &str) {
    let mut stderr = std::io::stderr().lock();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let event = serde_json::json!({
            "timestamp": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            "level": level,
            "fields": { "message": line.trim() },
            "target": "bulkrefund::messages",
        });
        let _ = writeln!(stderr, "{event}");
    }
}

/// An error line on stderr, shown even with `--quiet`.
#[macro_export]
macro_rules! say_error {
    ($($arg:tt)*) => {
        $crate::messages::write_error(format_args!("{}\n", format_args!($($arg)*)))
    };
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
    use std::io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            // serde_json keeps the io::Error inside, not as its source.
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}

/// Whether to colour what goes to stderr: only on a terminal, and never with `NO_COLOR`.
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `word` as a POSIX shell reads it back: as it is when it holds only
/// characters no shell treats specially, else in single quotes (a quote
/// inside written `'\''`). For the commands a message tells people to run.
pub fn shell_word(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.into();
    }
    format!("'{}'", word.replace('\'', r"'\''")).into()
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
    fn a_closed_pipe_is_known_through_json_too() {
        let closed = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed");
        assert!(is_broken_pipe(&anyhow::Error::from(closed())));
        let json = serde_json::Error::io(closed());
        assert!(is_broken_pipe(&anyhow::Error::from(json)));
        let other = serde_json::Error::io(std::io::Error::other("disk full"));
        assert!(!is_broken_pipe(&anyhow::Error::from(other)));
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

    #[test]
    fn shell_words_read_back_as_written() {
        assert_eq!(shell_word("dir/nov-30.csv"), "dir/nov-30.csv");
        assert_eq!(shell_word("my refunds.csv"), "'my refunds.csv'");
        assert_eq!(shell_word("it's.csv"), r"'it'\''s.csv'");
        assert_eq!(shell_word("$(rm x).csv"), "'$(rm x).csv'");
        assert_eq!(shell_word(""), "''");
    }
}
