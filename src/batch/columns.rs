//! A batch's header as the row rules read it: columns found by trimmed,
//! lower-cased name, and an amount given either in fen or in yuan. Which
//! columns a batch needs is the gateway's business (`gateway::*::rows`).

use std::collections::HashMap;

use super::reader::RawRow;
use super::rows::RowProblem;
use crate::money::{AmountError, Fen};

/// The columns of a batch by lower-cased, trimmed header name.
#[derive(Clone, Debug)]
pub struct Header {
    index: HashMap<String, usize>,
}

impl Header {
    /// Indexes the header; a name given twice is a file-level problem.
    pub fn new(names: &[String]) -> Result<Header, String> {
        let mut index = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(format!("the column '{name}' appears twice"));
            }
        }
        Ok(Header { index })
    }

    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Refuses a header without `name`; `batch` says whose batch it is.
    pub fn require(&self, name: &str, batch: &str) -> Result<(), String> {
        if self.has(name) {
            Ok(())
        } else {
            Err(format!(
                "the required column '{name}' is missing ({batch} batch)"
            ))
        }
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

/// The amount column a batch chose: whole fen, or yuan with up to 2 decimals.
#[derive(Clone, Copy, Debug)]
pub struct AmountColumn {
    name: &'static str,
    yuan: bool,
}

impl AmountColumn {
    /// Finds the amount column: exactly one of `fen` and `yuan` must be present.
    pub fn find(
        header: &Header,
        fen: &'static str,
        yuan: &'static str,
    ) -> Result<AmountColumn, String> {
        match (header.has(fen), header.has(yuan)) {
            (true, true) => Err(format!(
                "both '{fen}' and '{yuan}' are present: give the amount in one of them only"
            )),
            (false, false) => Err(format!(
                "the amount column is missing: '{fen}' (fen) or '{yuan}' (yuan)"
            )),
            (true, false) => Ok(AmountColumn {
                name: fen,
                yuan: false,
            }),
            (false, true) => Ok(AmountColumn {
                name: yuan,
                yuan: true,
            }),
        }
    }

    /// Parses the amount cell, or says what is wrong with it.
    pub fn read(&self, header: &Header, row: &RawRow) -> Result<Fen, RowProblem> {
        let text = header.cell(row, self.name);
        let parsed = if self.yuan {
            Fen::parse_yuan(text)
        } else {
            Fen::parse_fen(text)
        };
        parsed.map_err(|e| match e {
            AmountError::Empty => RowProblem::new(self.name, "is empty: every row needs an amount"),
            other => RowProblem::new(self.name, format!("{text:?} {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::rows::testing::row;

    fn header(names: &[&str]) -> Result<Header, String> {
        Header::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

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
    fn exactly_one_amount_column() {
        let find = |names: &[&str]| {
            AmountColumn::find(&header(names).unwrap(), "amount", "amount_yuan").map(|a| a.name)
        };
        assert_eq!(find(&["amount"]), Ok("amount"));
        assert_eq!(find(&["amount_yuan"]), Ok("amount_yuan"));
        assert!(find(&["amount", "amount_yuan"])
            .unwrap_err()
            .contains("both"));
        assert!(find(&["other"])
            .unwrap_err()
            .contains("the amount column is missing: 'amount' (fen) or 'amount_yuan' (yuan)"));
        let h = header(&["amount_yuan"]).unwrap();
        let yuan = AmountColumn::find(&h, "amount", "amount_yuan").unwrap();
        assert_eq!(yuan.read(&h, &row(&["12.50"])), Ok(Fen(1250)));
        assert_eq!(
            yuan.read(&h, &row(&[""])).unwrap_err().describe(14),
            "line 14, amount_yuan: is empty: every row needs an amount"
        );
    }
}
