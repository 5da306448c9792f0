//! The amount column of a batch: whole fen or yuan with up to 2 decimals,
//! exactly one of the two per file, and how its cells read. Shared by every
//! gateway's row rules.

use super::columns::Header;
use super::reader::RawRow;
use super::rows::RowProblem;
use crate::money::{AmountError, Fen};

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
            (true, true) => {
                let quoted = |name: &str| match header.alias_used(name) {
                    Some(written) => format!("'{written}' ({name})"),
                    None => format!("'{name}'"),
                };
                Err(format!(
                    "both {} and {} are present: give the amount in one of them only",
                    quoted(fen),
                    quoted(yuan)
                ))
            }
            (false, false) => Err(format!(
                "the amount column is missing: '{fen}'{} (fen) or '{yuan}'{} (yuan)",
                header.or_aliases(fen),
                header.or_aliases(yuan)
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
