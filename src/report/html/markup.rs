//! The HTML every page of `report` and `reconcile` shares: escaping (every
//! text a journal, a bill or a gateway controls goes through [`escape`]
//! where it is written), amounts in yuan, and the page's frame: a head whose
//! Content-Security-Policy forbids every script and every fetch, the inline
//! style, and the footer. It knows no section of any page.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::Heading;
use crate::money::Fen;

/// Nothing but inline styles and `data:` images; no script at all.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = include_str!("page.css");

/// Text as HTML text or attribute value: `<`, `>`, `&`, and both quotes escaped.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// Escaped text whose `quoted` spans become `<code>` (commands in the notes
/// and in `show`'s steps).
pub fn with_code(text: &str) -> String {
    let escaped = escape(text);
    let mut html = String::with_capacity(escaped.len() + 32);
    for (i, part) in escaped.split('`').enumerate() {
        match i % 2 {
            0 => html.push_str(part),
            _ => {
                let _ = write!(html, "<code>{part}</code>");
            }
        }
    }
    html
}

/// The page's end: what wrote it, `from` what, and that it loads nothing.
pub fn footer(html: &mut String, from: &str) {
    let _ = write!(
        html,
        "<footer>Written by bulkrefund {} {from}. This page runs no script and \
         loads nothing: it reads the same offline and prints on A4.</footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
}

/// The page's start: the CSP that forbids every fetch, the inline style,
/// and the title (`kicker` above the period).
pub fn head(html: &mut String, h: &Heading, kicker: &str) {
    let merchants = match h.merchants.as_slice() {
        [] => "no refunds".to_owned(),
        [one] => format!("merchant {}", escape(one)),
        many => format!(
            "merchants {}",
            many.iter()
                .map(|m| escape(m))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{kicker} · {period}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header><p class=\"kicker\">{kicker}</p><h1>{period}</h1>\n\
         <p class=\"meta\">{merchants} · times in {zone} · generated {generated}</p></header>\n",
        period = escape(&h.period),
        zone = escape(&h.zone),
        generated = escape(&h.generated_at),
    );
}

pub fn yuan(fen: Fen) -> String {
    fen.grouped()
}
