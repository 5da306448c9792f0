//! The question before money moves: `run` and `retry` show what they will
//! send and ask on the terminal. Without a terminal to ask on, only `--yes`
//! lets them send: a script never pays by default.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::UsageError;

/// True to go on: `--yes`, or "y" typed on the terminal. Without a terminal
/// and without `--yes`, an error that says to pass `--yes`.
pub fn confirmed(yes: bool, command: &str, question: &str) -> Result<bool, UsageError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "{command} sends money: without a terminal to confirm on, pass --yes"
        )));
    }
    crate::messages::write_error(format_args!("{question} [y/N] "));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
