//! Row rules (batch-files.md): which columns a batch must have, and what makes a
//! row a refund that may be sent. A bad row is reported with its line, column
//! and rule and never sent; a bad header stops the whole file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::reader::{FileError, RawRow};
use crate::gateway::lianshang::{self, is_valid_id, BASE_RULES, BIZ_RULES};
use crate::gateway::GatewayKind;
use crate::money::{AmountError, Fen};

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
    fn new(column: &str, message: impl Into<String>) -> RowProblem {
        RowProblem {
            column: column.to_owned(),
            message: message.into(),
        }
    }

    /// `line 14, refund_amount_yuan: "12.345" has more than 2 decimals`
    pub fn describe(&self, line: u64) -> String {
        format!("line {line}, {}: {}", self.column, self.message)
    }
}

/// Fields bulkrefund fixes itself: a row cannot set them.
const FIXED_FIELDS: &[&str] = &[
    "version",
    "request_id",
    "service_name",
    "merchant_id",
    "time_stamp",
    "compress_type",
    "security_type",
    "sign",
    "out_refund_id",
    "refund_cash_amount",
];

/// What the contract defaults when neither the row nor the profile says
/// (lianshang.md: `refund_currency` defaults to CNY; a cash refund has 0 coin).
const BUILT_IN_DEFAULTS: &[(&str, &str)] = &[
    ("refund_currency", "CNY"),
    ("refund_coin_amount", "0"),
    ("refund_type", "cash"),
];

/// The columns of a batch, found by lower-cased trimmed header name.
pub struct Columns {
    gateway: GatewayKind,
    index: HashMap<String, usize>,
    yuan: bool,
}

impl Columns {
    pub fn new(header: &[String], gateway: GatewayKind, path: &Path) -> Result<Columns, FileError> {
        let problem = |message: String| FileError::Columns {
            path: path.to_owned(),
            message,
        };
        let mut index = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            if index.insert(name.clone(), i).is_some() {
                return Err(problem(format!("the column '{name}' appears twice")));
            }
        }
        let has = |name: &str| index.contains_key(name);
        let (id_columns, amount, amount_yuan): (&[&str], _, _) = match gateway {
            GatewayKind::Leshua => (
                &["merchant_refund_id"],
                "refund_amount",
                "refund_amount_yuan",
            ),
            GatewayKind::Lianshang => (
                &["out_refund_id", "out_trade_id", "original_wk_trade_id"],
                "refund_cash_amount",
                "refund_cash_amount_yuan",
            ),
        };
        for column in id_columns {
            if !has(column) {
                return Err(problem(format!(
                    "the required column '{column}' is missing ({gateway} batch)"
                )));
            }
        }
        if gateway == GatewayKind::Leshua && !has("third_order_id") && !has("leshua_order_id") {
            return Err(problem(
                "a Leshua batch needs a 'third_order_id' or a 'leshua_order_id' column".into(),
            ));
        }
        match (has(amount), has(amount_yuan)) {
            (true, true) => {
                return Err(problem(format!(
                    "both '{amount}' and '{amount_yuan}' are present: give the amount in one of them only"
                )))
            }
            (false, false) => {
                return Err(problem(format!("the amount column is missing: '{amount}' (fen) or '{amount_yuan}' (yuan)")))
            }
            _ => {}
        }
        Ok(Columns {
            gateway,
            yuan: has(amount_yuan),
            index,
        })
    }

    fn cell<'a>(&self, row: &'a RawRow, name: &str) -> &'a str {
        self.index
            .get(name)
            .and_then(|&i| row.cells.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The amount column as the file names it.
    fn amount_column(&self) -> &'static str {
        match (self.gateway, self.yuan) {
            (GatewayKind::Leshua, false) => "refund_amount",
            (GatewayKind::Leshua, true) => "refund_amount_yuan",
            (GatewayKind::Lianshang, false) => "refund_cash_amount",
            (GatewayKind::Lianshang, true) => "refund_cash_amount_yuan",
        }
    }

    /// Parses the amount cell, or says what is wrong with it (when it can be read at all).
    pub fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        let column = self.amount_column();
        let text = self.cell(row, column);
        let parsed = if self.yuan {
            Fen::parse_yuan(text)
        } else {
            Fen::parse_fen(text)
        };
        parsed.map_err(|e| match e {
            AmountError::Empty => RowProblem::new(column, "is empty: every row needs an amount"),
            other => RowProblem::new(column, format!("{text:?} {other}")),
        })
    }

    /// Checks a row; `defaults` are the profile's Lianshang defaults (ignored for Leshua).
    pub fn check(
        &self,
        row: &RawRow,
        defaults: &BTreeMap<String, String>,
    ) -> Result<RefundRow, RowProblem> {
        match self.gateway {
            GatewayKind::Leshua => self.check_leshua(row),
            GatewayKind::Lianshang => self.check_lianshang(row, defaults),
        }
    }

    fn check_leshua(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        let refund_id = self.cell(row, "merchant_refund_id");
        if refund_id.is_empty()
            || refund_id.len() > 64
            || !refund_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(RowProblem::new(
                "merchant_refund_id",
                format!("{refund_id:?} is not 1-64 letters and digits"),
            ));
        }
        let third = self.cell(row, "third_order_id");
        let leshua = self.cell(row, "leshua_order_id");
        for (column, value) in [
            ("third_order_id", third),
            ("leshua_order_id", leshua),
            ("notify_url", self.cell(row, "notify_url")),
        ] {
            plain_text(column, value)?;
        }
        if third.is_empty() && leshua.is_empty() {
            return Err(RowProblem::new(
                "third_order_id",
                "is empty, and so is leshua_order_id: one of them is required",
            ));
        }
        if third.chars().count() > 64 {
            return Err(RowProblem::new(
                "third_order_id",
                "is longer than 64 characters",
            ));
        }
        if leshua.chars().count() > 32 {
            return Err(RowProblem::new(
                "leshua_order_id",
                "is longer than 32 characters",
            ));
        }
        let amount = self.amount(row)?;
        let notify_url = self.cell(row, "notify_url");
        if !notify_url.is_empty() {
            check_notify_url(notify_url)?;
        }
        let mut fields = BTreeMap::new();
        for (name, value) in [
            ("third_order_id", third),
            ("leshua_order_id", leshua),
            ("notify_url", notify_url),
        ] {
            if !value.is_empty() {
                fields.insert(name.to_owned(), value.to_owned());
            }
        }
        Ok(RefundRow {
            refund_id: refund_id.to_owned(),
            amount,
            // Leshua uses leshua_order_id first when both are given: both name the order.
            fingerprint: format!("{third}|{leshua}|{}", amount.0),
            order_key: if leshua.is_empty() { third } else { leshua }.to_owned(),
            fields,
        })
    }

    fn check_lianshang(
        &self,
        row: &RawRow,
        defaults: &BTreeMap<String, String>,
    ) -> Result<RefundRow, RowProblem> {
        for id in ["out_refund_id", "out_trade_id", "original_wk_trade_id"] {
            let value = self.cell(row, id);
            if !is_valid_id(value) {
                return Err(RowProblem::new(
                    id,
                    format!("{value:?} is not 1-64 letters, digits, '-' or '_'"),
                ));
            }
        }
        let amount = self.amount(row)?;
        let mut fields = BTreeMap::new();
        for rule in BASE_RULES.iter().chain(BIZ_RULES) {
            if FIXED_FIELDS.contains(&rule.name) {
                continue;
            }
            let from_row = self.cell(row, rule.name);
            let value = if !from_row.is_empty() {
                from_row
            } else if let Some(default) = defaults.get(rule.name).filter(|v| !v.is_empty()) {
                default.as_str()
            } else if let Some((_, built_in)) =
                BUILT_IN_DEFAULTS.iter().find(|(n, _)| *n == rule.name)
            {
                built_in
            } else if rule.required {
                return Err(RowProblem::new(
                    rule.name,
                    "is required: give it in the row or in the profile's [defaults]",
                ));
            } else {
                continue;
            };
            plain_text(rule.name, value)?;
            lianshang::check_text(rule, value).map_err(|why| RowProblem::new(rule.name, why))?;
            fields.insert(rule.name.to_owned(), value.to_owned());
        }
        if !fields.contains_key("out_user_id") && !fields.contains_key("guest_id") {
            // The contract wants one of the two; a finance refund has no shopper session.
            fields.insert("guest_id".into(), "GUESTER".into());
        }
        if let Some(url) = fields.get("notify_url") {
            check_notify_url(url)?;
        }
        let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
        let fingerprint = format!(
            "{}|{}|{}|{}|{}",
            get("out_trade_id"),
            get("original_wk_trade_id"),
            amount.0,
            get("refund_coin_amount"),
            get("refund_currency"),
        );
        Ok(RefundRow {
            refund_id: self.cell(row, "out_refund_id").to_owned(),
            amount,
            order_key: get("out_trade_id").to_owned(),
            fields,
            fingerprint,
        })
    }
}

/// A value that is sent must be plain text: no control character (a NUL, a
/// newline) and no U+FFFD, the mark of text damaged by an earlier conversion.
fn plain_text(column: &str, value: &str) -> Result<(), RowProblem> {
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

fn check_notify_url(url: &str) -> Result<(), RowProblem> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(header: &[&str], gateway: GatewayKind) -> Result<Columns, FileError> {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        Columns::new(&header, gateway, Path::new("batch.csv"))
    }

    fn row(cells: &[&str]) -> RawRow {
        RawRow {
            line: 14,
            cells: cells.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn leshua_problem(cells: &[&str]) -> String {
        let c = columns(
            &[
                "merchant_refund_id",
                "third_order_id",
                "leshua_order_id",
                "refund_amount_yuan",
                "notify_url",
            ],
            GatewayKind::Leshua,
        )
        .unwrap();
        c.check(&row(cells), &BTreeMap::new())
            .unwrap_err()
            .describe(14)
    }

    #[test]
    fn file_level_column_rules() {
        use GatewayKind::*;
        let message =
            |r: Result<Columns, FileError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message(columns(&["third_order_id", "refund_amount"], Leshua))
                .contains("'merchant_refund_id' is missing")
        );
        assert!(
            message(columns(&["merchant_refund_id", "refund_amount"], Leshua))
                .contains("'third_order_id' or a 'leshua_order_id'")
        );
        assert!(message(columns(
            &[
                "merchant_refund_id",
                "third_order_id",
                "refund_amount",
                "refund_amount_yuan"
            ],
            Leshua
        ))
        .contains("both"));
        assert!(
            message(columns(&["merchant_refund_id", "third_order_id"], Leshua))
                .contains("amount column is missing")
        );
        assert!(message(columns(
            &[
                "merchant_refund_id",
                "third_order_id",
                "refund_amount",
                "Refund_Amount "
            ],
            Leshua
        ))
        .contains("twice"));
        assert!(message(columns(
            &["out_refund_id", "out_trade_id", "refund_cash_amount"],
            Lianshang
        ))
        .contains("original_wk_trade_id"));
        assert!(columns(
            &[
                " Merchant_Refund_ID ",
                "THIRD_ORDER_ID",
                "refund_amount",
                "memo"
            ],
            Leshua
        )
        .is_ok());
    }

    #[test]
    fn each_leshua_row_rule() {
        assert_eq!(
            leshua_problem(&["R_1", "T1", "", "1"]),
            "line 14, merchant_refund_id: \"R_1\" is not 1-64 letters and digits"
        );
        assert!(leshua_problem(&["", "T1", "", "1"]).starts_with("line 14, merchant_refund_id:"));
        assert!(leshua_problem(&[&"R".repeat(65), "T1", "", "1"]).contains("merchant_refund_id"));
        assert_eq!(
            leshua_problem(&["R1", "", "", "1"]),
            "line 14, third_order_id: is empty, and so is leshua_order_id: one of them is required"
        );
        assert!(leshua_problem(&["R1", &"T".repeat(65), "", "1"])
            .contains("third_order_id: is longer than 64"));
        assert!(leshua_problem(&["R1", "", &"L".repeat(33), "1"])
            .contains("leshua_order_id: is longer than 32"));
        assert_eq!(
            leshua_problem(&["R1", "T1", "", "12.345"]),
            "line 14, refund_amount_yuan: \"12.345\" has more than 2 decimals"
        );
        assert_eq!(
            leshua_problem(&["R1", "T1", "", ""]),
            "line 14, refund_amount_yuan: is empty: every row needs an amount"
        );
        assert!(leshua_problem(&["R1", "T1", "", "0"]).contains("must be more than zero"));
        assert_eq!(
            leshua_problem(&["R1", "T\u{0}1", "", "1"]),
            "line 14, third_order_id: contains the control character U+0000"
        );
        assert!(leshua_problem(&["R1", "", "L\u{7}1", "1"])
            .contains("leshua_order_id: contains the control"));
        assert!(leshua_problem(&["R1", "订单\u{FFFD}1", "", "1"]).contains("U+FFFD"));
        assert!(leshua_problem(&["R1", "T1", "", "1", "/relative"]).contains("notify_url"));
        assert!(leshua_problem(&[
            "R1",
            "T1",
            "",
            "1",
            &format!("https://x.example/{}", "a".repeat(120))
        ])
        .contains("notify_url"));
    }

    #[test]
    fn valid_leshua_row() {
        let c = columns(
            &[
                "merchant_refund_id",
                "third_order_id",
                "refund_amount",
                "memo",
            ],
            GatewayKind::Leshua,
        )
        .unwrap();
        let ok = c
            .check(&row(&["R1", "T1", "1250", "kept"]), &BTreeMap::new())
            .unwrap();
        assert_eq!(ok.refund_id, "R1");
        assert_eq!(ok.amount, Fen(1250));
        assert_eq!(
            ok.fields.get("third_order_id").map(String::as_str),
            Some("T1")
        );
        assert!(c
            .check(&row(&["R1", "T1", "12.50"]), &BTreeMap::new())
            .unwrap_err()
            .message
            .contains("not a whole number"));
    }

    fn lianshang_defaults() -> BTreeMap<String, String> {
        [
            ("appid", "app01"),
            ("platform", "Online"),
            ("client_user_id", "finance"),
            ("coin_type", "lianshang_coin"),
            ("refund_msg", "month-end refund"),
            ("notify_url", "https://shop.example.com/n"),
            ("refund_expire", "30"),
            ("risk_extend", "{\"risk\":100}"),
            ("refund_product_subject", "[]"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn lianshang_defaults_fill_and_rules_apply() {
        let c = columns(
            &[
                "out_refund_id",
                "out_trade_id",
                "original_wk_trade_id",
                "refund_cash_amount_yuan",
                "refund_msg",
                "refund_expire",
                "platform",
            ],
            GatewayKind::Lianshang,
        )
        .unwrap();
        let ok = c
            .check(
                &row(&["R-1", "T1", "WK1", "25.99", "客户退货", "", ""]),
                &lianshang_defaults(),
            )
            .unwrap();
        assert_eq!(ok.amount, Fen(2599));
        assert_eq!(ok.fields["refund_msg"], "客户退货");
        assert_eq!(ok.fields["refund_expire"], "30");
        assert_eq!(ok.fields["refund_currency"], "CNY");
        assert_eq!(ok.fields["guest_id"], "GUESTER");
        let problem = |cells: &[&str], defaults: &BTreeMap<String, String>| {
            c.check(&row(cells), defaults).unwrap_err().describe(14)
        };
        assert!(problem(
            &["R 1", "T1", "WK1", "1", "", "", ""],
            &lianshang_defaults()
        )
        .starts_with("line 14, out_refund_id:"));
        assert!(
            problem(&["R1", "T1", "WK1", "1", "", "", ""], &BTreeMap::new())
                .contains("is required: give it in the row or in the profile's [defaults]")
        );
        assert!(problem(
            &["R1", "T1", "WK1", "1", "", "thirty", ""],
            &lianshang_defaults()
        )
        .starts_with("line 14, refund_expire:"));
        assert!(problem(
            &["R1", "T1", "WK1", "1", &"x".repeat(257), "", ""],
            &lianshang_defaults()
        )
        .contains("refund_msg: is longer than 256"));
        assert!(problem(
            &["R1", "T1", "WK1", "1", "", "", "Desktop"],
            &lianshang_defaults()
        )
        .contains("platform"));
        assert!(problem(
            &["R1", "T1", "WK1", "1", "月末\n退款", "", ""],
            &lianshang_defaults()
        )
        .contains("refund_msg: contains the control character U+000A"));
    }
}
