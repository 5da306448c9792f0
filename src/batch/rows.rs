//! What the row rules produce and how they fail (docs/specs/batch-files.md): a checked
//! [`RefundRow`], or a [`RowProblem`] naming the column and the rule. Each
//! gateway writes its own rules ([`BatchFormat`], [`RowRules`]) with the checks
//! every gateway shares, which live here. A bad row is reported with its line,
//! column and rule and never sent; a bad header stops the whole file.

use std::collections::BTreeMap;

use super::columns::{Aliases, Header};
use super::reader::RawRow;
use crate::money::Fen;

/// A row that may be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRow {
    pub refund_id: String,
    pub amount: Fen,
    /// What the gateway client needs besides id and amount (order ids, optional fields).
    pub fields: BTreeMap<String, String>,
    /// The refund's content (order, amount, currency): same id + other content is a conflict.
    pub fingerprint: String,
    /// The order it refunds, as the row names it (Leshua: `leshua_order_id`,
    /// else `third_order_id`; Lianshang: `out_trade_id`). Refunds of one
    /// order are sent one at a time, in input order.
    pub order_key: String,
}

/// Why a row is invalid: the column and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub column: String,
    pub message: String,
}

impl RowProblem {
    pub fn new(column: &str, message: impl Into<String>) -> RowProblem {
        RowProblem {
            column: column.to_owned(),
            message: message.into(),
        }
    }

    /// `line 14, refund_amount_yuan: "12.345" has more than 2 decimals`
    pub fn describe(&self, line: u64) -> String {
        format!("line {line}, {}: {}", self.column, self.message)
    }

    /// As [`RowProblem::describe`], the column as the file heads it:
    /// `line 14, 退款金额(元) (refund_amount_yuan): ...` when an alias was used.
    pub fn describe_in(&self, header: &Header, line: u64) -> String {
        format!(
            "line {line}, {}: {}",
            header.shown(&self.column),
            self.message
        )
    }
}

/// How one gateway reads its batches: the columns it needs and its row rules.
pub trait BatchFormat: Sync {
    /// Checks the header (a problem here stops the whole file) and returns the
    /// rules for its rows. `defaults` are the profile's values for fields a row
    /// may leave empty (gateways without such fields ignore them).
    fn columns(
        &self,
        header: &Header,
        defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String>;

    /// The other names its columns may be headed by (new-gateway-batches.md,
    /// "Header names"): they count only for this gateway's batches.
    fn aliases(&self) -> Aliases {
        &[]
    }
}

/// The rules of one batch's rows, its header already known.
pub trait RowRules {
    /// A row that may be sent, or the first rule it breaks.
    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem>;
    /// The row's amount, when it can be read (an invalid row still reports it).
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem>;
}

/// A value that is sent must be plain text: no control character (a NUL, a
/// newline) and no U+FFFD, the mark of text damaged by an earlier conversion.
pub fn plain_text(column: &str, value: &str) -> Result<(), RowProblem> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(RowProblem::new(
            column,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    if value.contains(char::REPLACEMENT_CHARACTER) {
        return Err(RowProblem::new(
            column,
            "contains U+FFFD, the mark of text damaged by an earlier conversion",
        ));
    }
    Ok(())
}

pub fn check_notify_url(url: &str) -> Result<(), RowProblem> {
    let absolute =
        url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !absolute || url.len() > 128 {
        return Err(RowProblem::new(
            "notify_url",
            format!("{url:?} is not an absolute http(s) URL of at most 128 characters"),
        ));
    }
    Ok(())
}

/// What the row-rule tests of every gateway share.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// The rules a gateway gives a batch with this header.
    pub fn rules(
        format: &dyn BatchFormat,
        header: &[&str],
        defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        format.columns(&Header::with_aliases(&header, format.aliases())?, defaults)
    }

    /// A data row on line 14.
    pub fn row(cells: &[&str]) -> RawRow {
        RawRow {
            line: 14,
            cells: cells.iter().map(|s| s.to_string()).collect(),
        }
    }
}
