//! An Alipay batch (docs/specs/new-gateway-batches.md, "Alipay"):
//! `out_request_no`, a trade id (`out_trade_no` and/or `trade_no`), the
//! refund amount in fen or yuan, and the optional order total (checked, not
//! sent), `refund_reason`, `operator_id`, `store_id` and `terminal_id`, each
//! also under the Chinese headers of Alipay's portal and a finance sheet.

use std::collections::BTreeMap;

use super::{is_valid_request_no, Alipay};
use crate::batch::amount::AmountColumn;
use crate::batch::columns::{Aliases, Header};
use crate::batch::reader::RawRow;
use crate::batch::rows::{plain_text, BatchFormat, RefundRow, RowProblem, RowRules};
use crate::money::Fen;

/// The Chinese headers of an Alipay batch: an amount without a unit is in
/// yuan; `退款批次号/请求号` is the bill's own header for the number.
pub const ALIASES: Aliases = &[
    (
        "out_request_no",
        &[
            "退款请求号",
            "退款批次号/请求号",
            "商户退款单号",
            "退款单号",
        ],
    ),
    ("out_trade_no", &["商户订单号", "订单号"]),
    ("trade_no", &["支付宝交易号", "交易号"]),
    ("refund_amount", &["退款金额(分)"]),
    ("refund_amount_yuan", &["退款金额(元)", "退款金额"]),
    ("order_total", &["订单金额(分)"]),
    ("order_total_yuan", &["订单金额(元)", "订单金额"]),
    ("refund_reason", &["退款原因"]),
    ("operator_id", &["操作员", "操作员编号"]),
    ("store_id", &["门店编号"]),
    ("terminal_id", &["终端号"]),
];

/// The optional text cells, each with its longest length (characters).
const OPTIONAL: [(&str, usize); 4] = [
    ("refund_reason", 256),
    ("operator_id", 30),
    ("store_id", 32),
    ("terminal_id", 32),
];

/// A refund's order ids, from its fields: (out_trade_no, trade_no).
pub fn order_ids(fields: &BTreeMap<String, String>) -> (&str, &str) {
    let get = |name: &str| fields.get(name).map_or("", String::as_str);
    (get("out_trade_no"), get("trade_no"))
}

impl BatchFormat for Alipay {
    fn columns(
        &self,
        header: &Header,
        _defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        header.require("out_request_no", "alipay")?;
        if !header.has("out_trade_no") && !header.has("trade_no") {
            return Err(format!(
                "an Alipay batch needs an 'out_trade_no'{} or a 'trade_no'{} column",
                header.or_aliases("out_trade_no"),
                header.or_aliases("trade_no")
            ));
        }
        let amount = AmountColumn::find(header, "refund_amount", "refund_amount_yuan")?;
        let total = if header.has("order_total") || header.has("order_total_yuan") {
            Some(AmountColumn::find(
                header,
                "order_total",
                "order_total_yuan",
            )?)
        } else {
            None
        };
        Ok(Box::new(AlipayRows {
            header: header.clone(),
            amount,
            total,
        }))
    }

    fn aliases(&self) -> Aliases {
        ALIASES
    }
}

struct AlipayRows {
    header: Header,
    amount: AmountColumn,
    /// The order total, when the batch has the column: checked, never sent.
    total: Option<AmountColumn>,
}

/// `out_trade_no`: empty, or 1 to 64 characters of plain text.
fn out_trade_no(value: &str) -> Result<(), RowProblem> {
    plain_text("out_trade_no", value)?;
    if value.chars().count() > 64 {
        return Err(RowProblem::new(
            "out_trade_no",
            format!("{value:?} is longer than 64 characters"),
        ));
    }
    Ok(())
}

/// `trade_no`: empty, or 1 to 64 digits (a spreadsheet's `2.02611E+27` named).
fn trade_no(value: &str) -> Result<(), RowProblem> {
    if value.is_empty() {
        return Ok(());
    }
    if value.contains(['E', 'e']) && value.contains(['.', '+']) {
        return Err(RowProblem::new(
            "trade_no",
            format!("{value:?} is a number in scientific notation, not the id: format the column as text in the spreadsheet and copy the ids again"),
        ));
    }
    if value.len() > 64 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RowProblem::new(
            "trade_no",
            format!("{value:?} is not 1-64 digits"),
        ));
    }
    Ok(())
}

impl RowRules for AlipayRows {
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        self.amount.read(&self.header, row)
    }

    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        let cell = |name: &str| self.header.cell(row, name);
        let refund_id = cell("out_request_no");
        if !is_valid_request_no(refund_id) {
            return Err(RowProblem::new(
                "out_request_no",
                format!("{refund_id:?} is not 1-64 letters, digits, _ and -"),
            ));
        }
        let (trade, alipay_trade) = (cell("out_trade_no"), cell("trade_no"));
        out_trade_no(trade)?;
        trade_no(alipay_trade)?;
        if trade.is_empty() && alipay_trade.is_empty() {
            return Err(RowProblem::new(
                "out_trade_no",
                "is empty, and so is trade_no: one of them is required",
            ));
        }
        let amount = self.amount(row)?;
        // An empty total cell gives no total: the column is optional.
        let total_given = !(cell("order_total").is_empty() && cell("order_total_yuan").is_empty());
        if let Some(total) = self.total.as_ref().filter(|_| total_given) {
            let total = total.read(&self.header, row)?;
            if total < amount {
                return Err(RowProblem::new(
                    "refund_amount",
                    format!("{amount} yuan is more than the order total, {total} yuan"),
                ));
            }
        }
        let mut fields = BTreeMap::new();
        for (name, value) in [("out_trade_no", trade), ("trade_no", alipay_trade)] {
            if !value.is_empty() {
                fields.insert(name.to_owned(), value.to_owned());
            }
        }
        for (name, longest) in OPTIONAL {
            let value = cell(name);
            plain_text(name, value)?;
            if value.chars().count() > longest {
                return Err(RowProblem::new(
                    name,
                    format!("is longer than {longest} characters"),
                ));
            }
            if !value.is_empty() {
                fields.insert(name.to_owned(), value.to_owned());
            }
        }
        Ok(RefundRow {
            refund_id: refund_id.to_owned(),
            amount,
            fingerprint: format!("{trade}|{alipay_trade}|{}|CNY", amount.0),
            order_key: if alipay_trade.is_empty() {
                trade
            } else {
                alipay_trade
            }
            .to_owned(),
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::rows::testing::{row, rules};

    fn header_error(names: &[&str]) -> String {
        rules(&Alipay, names, &BTreeMap::new()).err().unwrap()
    }

    fn check(names: &[&str], cells: &[&str]) -> Result<RefundRow, RowProblem> {
        rules(&Alipay, names, &BTreeMap::new())
            .unwrap()
            .check(&row(cells))
    }

    #[test]
    fn the_specs_example_in_chinese_headers() {
        let names = [
            "退款请求号",
            "商户订单号",
            "支付宝交易号",
            "退款金额(元)",
            "退款原因",
        ];
        let r = check(
            &names,
            &[
                "R20261122-0003",
                "T20261101000002",
                "",
                "25.99",
                "月末退款 month-end",
            ],
        )
        .unwrap();
        assert_eq!(r.refund_id, "R20261122-0003");
        assert_eq!(r.amount, Fen(2599));
        assert_eq!(r.fields["out_trade_no"], "T20261101000002");
        assert_eq!(r.fields["refund_reason"], "月末退款 month-end");
        assert!(!r.fields.contains_key("trade_no"));
        assert_eq!(r.order_key, "T20261101000002");
        assert_eq!(r.fingerprint, "T20261101000002||2599|CNY");
        assert_eq!(order_ids(&r.fields), ("T20261101000002", ""));
    }

    #[test]
    fn every_alias_names_its_column() {
        let names = [
            "退款批次号/请求号",
            "订单号",
            "交易号",
            "退款金额（分）",
            "订单金额(分)",
            "操作员编号",
            "门店编号",
            "终端号",
        ];
        let r = check(
            &names,
            &[
                "R1",
                "T1",
                "2026110122001400000000000002",
                "100",
                "200",
                "op",
                "s1",
                "t1",
            ],
        )
        .unwrap();
        assert_eq!(r.amount, Fen(100));
        assert_eq!(r.order_key, "2026110122001400000000000002");
        assert_eq!(r.fields["operator_id"], "op");
        assert_eq!(r.fields["store_id"], "s1");
        assert_eq!(r.fields["terminal_id"], "t1");
        for (alias, column) in [
            ("商户退款单号", "out_request_no"),
            ("退款单号", "out_request_no"),
            ("商户订单号", "out_trade_no"),
            ("支付宝交易号", "trade_no"),
            ("退款金额", "refund_amount_yuan"),
            ("订单金额", "order_total_yuan"),
            ("订单金额（元）", "order_total_yuan"),
            ("操作员", "operator_id"),
        ] {
            let header = Header::with_aliases(&[alias.to_owned()], ALIASES).unwrap();
            assert!(header.has(column), "{alias}");
        }
    }

    #[test]
    fn header_problems_stop_the_file() {
        let missing = header_error(&["out_trade_no", "退款金额"]);
        assert!(missing.contains("out_request_no"), "{missing}");
        let no_trade = header_error(&["out_request_no", "refund_amount"]);
        assert!(
            no_trade.contains("'out_trade_no' (or 商户订单号, 订单号)"),
            "{no_trade}"
        );
        let both = header_error(&[
            "out_request_no",
            "out_trade_no",
            "退款金额",
            "refund_amount",
        ]);
        assert!(both.contains("both"), "{both}");
        let totals = header_error(&[
            "out_request_no",
            "out_trade_no",
            "refund_amount",
            "订单金额",
            "order_total",
        ]);
        assert!(totals.contains("both"), "{totals}");
        let twice = header_error(&["out_request_no", "退款请求号", "out_trade_no"]);
        assert!(twice.contains("keep one of them"), "{twice}");
        // The order total is optional.
        assert!(rules(
            &Alipay,
            &["out_request_no", "trade_no", "refund_amount"],
            &BTreeMap::new()
        )
        .is_ok());
    }

    #[test]
    fn row_rules() {
        let names = &[
            "out_request_no",
            "out_trade_no",
            "trade_no",
            "refund_amount_yuan",
            "order_total_yuan",
            "refund_reason",
            "operator_id",
            "store_id",
            "terminal_id",
        ];
        let good = ["R-1_a", "T-1", "", "1.00", "2.00", "", "", "", ""];
        let with = |i: usize, value: &str| {
            let mut cells = good;
            cells[i] = value;
            check(names, &cells).map_err(|p| p.describe(14))
        };
        assert!(with(0, "R-1_a").is_ok());
        let problem = |i, value: &str, want: &str| {
            let got = with(i, value).unwrap_err();
            assert!(got.contains(want), "{value}: {got}");
        };
        problem(0, "R|1", "out_request_no");
        problem(0, &"R".repeat(65), "out_request_no");
        problem(1, &"T".repeat(65), "longer than 64");
        problem(1, "", "one of them is required");
        problem(1, "T\u{1}", "control character");
        problem(2, "2.02611E+27", "format the column as text");
        problem(2, "2026x", "1-64 digits");
        problem(3, "1.001", "more than 2 decimals");
        problem(3, "￥1.00", "refund_amount_yuan");
        problem(4, "0.99", "more than the order total");
        problem(5, &"退".repeat(257), "longer than 256");
        problem(6, &"o".repeat(31), "longer than 30");
        problem(7, &"s".repeat(33), "longer than 32");
        problem(8, &"t".repeat(33), "longer than 32");
        assert!(with(1, &"订".repeat(64)).is_ok());
        assert!(with(5, &"退".repeat(256)).is_ok());
        assert!(with(4, "1").is_ok());
        assert!(check(names, &["R1", "T1", "2026", "1", "", "", "", "", ""]).is_ok());
        problem(4, "1.2.3", "order_total_yuan");
        let r = with(2, "2026110122001400000000000002").unwrap();
        assert_eq!(r.fields["trade_no"], "2026110122001400000000000002");
        assert_eq!(r.fingerprint, "T-1|2026110122001400000000000002|100|CNY");
        assert!(!r.fields.contains_key("order_total"));
    }
}
