//! A batch's header as the row rules read it (docs/specs/batch-files.md, and
//! the header rules of new-gateway-batches.md for every gateway): a column is
//! found by its English name or by one of its gateway's aliases (the Chinese
//! headers a finance sheet has), compared case-insensitively after trimming,
//! with spaces inside ignored, full-width parentheses taken for half-width
//! ones and a trailing `*` (a template's "required" mark) dropped. Which
//! columns a batch needs is the gateway's business (`gateway::*::rows`).

use std::collections::HashMap;

use super::reader::RawRow;

/// A gateway's other names for its columns: (column, aliases).
pub type Aliases = &'static [(&'static str, &'static [&'static str])];

/// The columns of a batch by their matching form (see [`matching`]), each
/// alias standing for its column.
#[derive(Clone, Debug)]
pub struct Header {
    index: HashMap<String, usize>,
    /// Each column's header as the file writes it (trimmed).
    written: HashMap<String, String>,
    aliases: Aliases,
}

/// The form in which header names are compared: trimmed, a trailing `*`
/// dropped, no spaces, half-width parentheses, lower case.
pub fn matching(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_suffix(['*', '＊']).unwrap_or(name);
    name.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl Header {
    /// Indexes a header without aliases.
    pub fn new(names: &[String]) -> Result<Header, String> {
        Header::with_aliases(names, &[])
    }

    /// Indexes the header, an alias counting as its column's name; a column
    /// named twice (`out_refund_id` and its alias too) is a file-level problem.
    pub fn with_aliases(names: &[String], aliases: Aliases) -> Result<Header, String> {
        let mut index = HashMap::new();
        let mut written: HashMap<String, String> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let form = matching(name);
            if form.is_empty() {
                continue;
            }
            let column = aliases
                .iter()
                .find(|(_, names)| names.iter().any(|alias| matching(alias) == form))
                .map_or(form.clone(), |(column, _)| column.to_string());
            if index.insert(column.clone(), i).is_some() {
                let first = &written[&column];
                return Err(if matching(first) == form {
                    format!("the column '{form}' appears twice")
                } else {
                    format!(
                        "'{first}' and '{}' both name the column '{column}': keep one of them",
                        name.trim()
                    )
                });
            }
            written.insert(column, name.trim().to_owned());
        }
        Ok(Header {
            index,
            written,
            aliases,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Refuses a header without `name`; `batch` says whose batch it is.
    pub fn require(&self, name: &str, batch: &str) -> Result<(), String> {
        if self.has(name) {
            return Ok(());
        }
        Err(format!(
            "the required column '{name}'{} is missing ({batch} batch)",
            self.or_aliases(name)
        ))
    }

    /// ` (or 商户退款单号, 退款单号)`: the other names of a column, if it has any.
    pub fn or_aliases(&self, name: &str) -> String {
        match self.aliases.iter().find(|(column, _)| *column == name) {
            Some((_, names)) if !names.is_empty() => format!(" (or {})", names.join(", ")),
            _ => String::new(),
        }
    }

    /// A column as the file heads it, for messages: `退款金额(元) (refund_amount_yuan)`
    /// when an alias was used, else just the name.
    pub fn shown(&self, name: &str) -> String {
        match self.alias_used(name) {
            Some(written) => format!("{written} ({name})"),
            None => name.to_owned(),
        }
    }

    /// The header the file gives the column `name`, when it is an alias.
    pub fn alias_used(&self, name: &str) -> Option<&str> {
        self.written
            .get(name)
            .filter(|written| matching(written) != matching(name))
            .map(String::as_str)
    }

    /// The row's cell in the column `name`, or "" when the batch has no such column.
    pub fn cell<'a>(&self, row: &'a RawRow, name: &str) -> &'a str {
        self.index
            .get(name)
            .and_then(|&i| row.cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The header as read, for an error about its columns: the names found and
/// the delimiter that split them, with a hint when the one column found holds
/// another delimiter (a tab-separated paste read with the default comma).
pub fn found(names: &[String], delimiter: u8) -> String {
    const SHOWN: usize = 12;
    let name = |d: u8| match d {
        b'\t' => "a tab".to_owned(),
        d => format!("'{}'", d as char),
    };
    let mut list: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("{:?}", n.chars().take(64).collect::<String>()))
        .collect();
    if names.len() > SHOWN {
        list.push(format!("and {} more", names.len() - SHOWN));
    }
    let columns = match names.len() {
        1 => "1 column".to_owned(),
        n => format!("{n} columns"),
    };
    let mut text = format!(
        "the header read has {columns}, split at {}: {}",
        name(delimiter),
        list.join(", ")
    );
    if let [only] = names {
        let other = [(b'\t', "tab"), (b';', "';'"), (b'|', "'|'"), (b',', "','")]
            .into_iter()
            .find(|(d, _)| *d != delimiter && only.contains(*d as char));
        if let Some((d, flag)) = other {
            text.push_str(&format!(
                "; the file looks separated by {}: pass --delimiter {flag}",
                name(d)
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> RawRow {
        RawRow {
            line: 14,
            cells: cells.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn header(list: &[&str]) -> Result<Header, String> {
        Header::new(&names(list))
    }

    const ALIASES: Aliases = &[
        ("out_refund_id", &["商户退款单号", "退款单号"]),
        ("amount_yuan", &["退款金额(元)", "退款金额"]),
    ];

    #[test]
    fn names_are_trimmed_lower_cased_and_given_once() {
        let h = header(&[" Merchant_Refund_ID ", "THIRD_ORDER_ID", "", "memo"]).unwrap();
        assert!(h.has("merchant_refund_id") && h.has("third_order_id") && h.has("memo"));
        assert_eq!(h.cell(&row(&["R1", "T1", "x", "kept"]), "memo"), "kept");
        assert_eq!(h.cell(&row(&["R1"]), "memo"), "");
        assert_eq!(h.cell(&row(&["R1"]), "absent"), "");
        assert!(header(&["refund_amount", "Refund_Amount "])
            .unwrap_err()
            .contains("'refund_amount' appears twice"));
        assert_eq!(
            h.require("refund_amount", "leshua").unwrap_err(),
            "the required column 'refund_amount' is missing (leshua batch)"
        );
    }

    #[test]
    fn aliases_spaces_parentheses_and_a_required_mark() {
        let h = Header::with_aliases(
            &names(&["商户退款单号 *", "退款金额（ 元 ）", "Third_Order_ID *"]),
            ALIASES,
        )
        .unwrap();
        let r = row(&["R1", "12.50", "T1"]);
        assert_eq!(h.cell(&r, "out_refund_id"), "R1");
        assert_eq!(h.cell(&r, "amount_yuan"), "12.50");
        assert_eq!(h.cell(&r, "third_order_id"), "T1");
        assert_eq!(h.shown("amount_yuan"), "退款金额（ 元 ） (amount_yuan)");
        assert_eq!(h.shown("third_order_id"), "third_order_id");
        let both = Header::with_aliases(&names(&["out_refund_id", "退款单号"]), ALIASES);
        assert_eq!(
            both.unwrap_err(),
            "'out_refund_id' and '退款单号' both name the column 'out_refund_id': keep one of them"
        );
        let h = Header::with_aliases(&names(&["退款金额"]), ALIASES).unwrap();
        assert_eq!(
            h.require("out_refund_id", "lianshang").unwrap_err(),
            "the required column 'out_refund_id' (or 商户退款单号, 退款单号) is missing (lianshang batch)"
        );
        assert!(h.has("amount_yuan"), "an amount without a unit is in yuan");
        // Aliases count only for the gateway that gives them.
        assert!(!header(&["商户退款单号"]).unwrap().has("out_refund_id"));
    }

    #[test]
    fn the_header_found_is_described_with_a_hint_for_a_tab_separated_paste() {
        assert_eq!(
            found(
                &names(&["merchant_refund_id\tthird_order_id\trefund_amount"]),
                b','
            ),
            "the header read has 1 column, split at ',': \
             \"merchant_refund_id\\tthird_order_id\\trefund_amount\"; \
             the file looks separated by a tab: pass --delimiter tab"
        );
        assert_eq!(
            found(&names(&["id", "amount"]), b'\t'),
            "the header read has 2 columns, split at a tab: \"id\", \"amount\""
        );
        assert!(found(&names(&["a;b"]), b',').ends_with("pass --delimiter ';'"));
    }
}
