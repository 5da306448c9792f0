//! Errors about the file's text as an operator reads them: the file, the line,
//! the column, the table and the setting when known, and what is wrong, never
//! the text itself. The TOML parser's and serde's messages quote what they
//! found; they are rebuilt here from their kind and position.

use std::path::Path;

use crate::exit::UsageError;

/// Where each line of `text` starts.
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// (line, column), both from 1, of a byte offset.
pub fn position(line_starts: &[usize], offset: usize) -> (usize, usize) {
    let line = line_starts.partition_point(|&start| start <= offset).max(1);
    (line, offset - line_starts[line - 1] + 1)
}

/// The table a line sits in (`profiles.leshua`), when its header is plainly one.
fn enclosing_table(text: &str, line: usize) -> Option<String> {
    let header = text
        .lines()
        .take(line)
        .filter(|l| l.trim_start().starts_with('['))
        .last()?
        .trim();
    let name = header.strip_prefix('[')?.strip_suffix(']')?.trim();
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .then(|| name.to_owned())
}

/// The setting a line assigns, when it is one of `known`.
fn setting_on_line<'a>(text: &str, line: usize, known: &[&'a str]) -> Option<&'a str> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    known.iter().find(|name| **name == key).copied()
}

/// The names between backticks in a serde message (`expected one of `a`, `b``):
/// they come from bulkrefund's own schema.
fn schema_names(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// What a TOML or serde error is, in words that never quote the file.
/// `settings_here` are the names valid where an unknown one was found.
pub fn kind_of(message: &str, settings_here: &[&str], known: &[&str]) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // The unknown name itself is not repeated: it may be anything.
        let typed = rest.split('`').next().unwrap_or("");
        let closest = settings_here
            .iter()
            .map(|n| (strsim::levenshtein(typed, n), *n))
            .filter(|(distance, _)| *distance <= 2)
            .min();
        let suggestion = closest.map_or(String::new(), |(_, n)| format!(" (did you mean `{n}`?)"));
        return format!(
            "an unknown setting{suggestion}; the settings here are {}",
            settings_here.join(", ")
        );
    }
    if message.starts_with("duplicate key") {
        return "a setting is given twice".into();
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        if known.contains(&name) {
            return format!("the setting `{name}` is missing");
        }
        return "a setting is missing".into();
    }
    if message.starts_with("unknown variant") {
        let expected = message.split_once("expected").map_or("", |(_, e)| e);
        return format!("not one of {}", schema_names(expected).join(", "));
    }
    if message.starts_with("invalid type") {
        let expected = message.split_once(", expected ").map_or("", |(_, e)| e);
        // serde's names for types are words of the schema, not of the file.
        if expected
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ')
        {
            return format!("a value of the wrong type (expected {expected})");
        }
        return "a value of the wrong type".into();
    }
    if message.contains("string") {
        return "a string is not closed, or holds a character TOML does not allow".into();
    }
    "this is not valid TOML here".into()
}

/// The names an unknown-field message says are valid.
pub fn expected_names(message: &str) -> Vec<&str> {
    message
        .split_once("expected")
        .map_or_else(Vec::new, |(_, expected)| schema_names(expected))
}

/// "The configuration file 'F' is not valid: line L, column C, in [T], S: what".
pub fn invalid(
    path: &Path,
    text: &str,
    offset: Option<usize>,
    known: &[&str],
    what: &str,
) -> UsageError {
    let at = match offset {
        Some(offset) => {
            let (line, column) = position(&line_starts(text), offset);
            let mut at = format!("line {line}, column {column}");
            if let Some(table) = enclosing_table(text, line) {
                at.push_str(&format!(", in [{table}]"));
            }
            if let Some(setting) = setting_on_line(text, line, known) {
                at.push_str(&format!(", {setting}"));
            }
            at
        }
        None => "somewhere".into(),
    };
    UsageError(format!(
        "The configuration file '{}' is not valid: {at}: {what}",
        path.display()
    ))
}

/// A TOML syntax error (an unclosed string, a key given twice).
pub fn syntax_error(path: &Path, text: &str, e: &toml::de::Error, known: &[&str]) -> UsageError {
    let offset = e.span().map(|span| span.start);
    invalid(path, text, offset, known, &kind_of(e.message(), &[], known))
}
