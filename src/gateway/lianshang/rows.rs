//! A Lianshang batch (docs/specs/batch-files.md, "Lianshang"): the three ids, the cash
//! amount in fen or yuan, and any field of the contract a row may give, else
//! the profile's `[defaults]`, else the contract's own default.

use std::collections::BTreeMap;

use super::fields::{check_text, is_valid_id, BASE_RULES, BIZ_RULES};
use super::Lianshang;
use crate::batch::amount::AmountColumn;
use crate::batch::columns::{Aliases, Header};
use crate::batch::reader::RawRow;
use crate::batch::rows::{
    check_notify_url, plain_text, BatchFormat, RefundRow, RowProblem, RowRules,
};
use crate::money::Fen;

/// The ids every row gives itself.
const ID_COLUMNS: [&str; 3] = ["out_refund_id", "out_trade_id", "original_wk_trade_id"];

/// The Chinese headers a Lianshang batch may use (our convention, with the
/// rules of new-gateway-batches.md, "Header names"): an amount without a unit is in yuan.
pub const ALIASES: Aliases = &[
    ("out_refund_id", &["商户退款单号", "退款单号", "退款编号"]),
    ("out_trade_id", &["商户订单号", "订单号"]),
    ("original_wk_trade_id", &["链商订单号", "原交易单号"]),
    ("refund_cash_amount", &["退款金额(分)"]),
    (
        "refund_cash_amount_yuan",
        &[
            "退款金额(元)",
            "退款金额",
            "申请退款金额(元)",
            "申请退款金额",
        ],
    ),
    ("refund_msg", &["退款原因"]),
    ("refund_currency", &["币种", "货币种类"]),
    ("notify_url", &["通知地址"]),
];

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
/// (docs/specs/lianshang.md: `refund_currency` defaults to CNY; a cash refund has 0 coin).
const BUILT_IN_DEFAULTS: &[(&str, &str)] = &[
    ("refund_currency", "CNY"),
    ("refund_coin_amount", "0"),
    ("refund_type", "cash"),
];

/// The order ids of a refund's fields: (ours, Lianshang's).
pub fn order_ids(fields: &BTreeMap<String, String>) -> (&str, &str) {
    let get = |name: &str| fields.get(name).map_or("", String::as_str);
    (get("out_trade_id"), get("original_wk_trade_id"))
}

impl BatchFormat for Lianshang {
    fn columns(
        &self,
        header: &Header,
        defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        for column in ID_COLUMNS {
            header.require(column, "lianshang")?;
        }
        let amount = AmountColumn::find(header, "refund_cash_amount", "refund_cash_amount_yuan")?;
        Ok(Box::new(LianshangRows {
            header: header.clone(),
            amount,
            defaults: defaults.clone(),
        }))
    }

    fn aliases(&self) -> Aliases {
        ALIASES
    }
}

struct LianshangRows {
    header: Header,
    amount: AmountColumn,
    defaults: BTreeMap<String, String>,
}

impl RowRules for LianshangRows {
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        self.amount.read(&self.header, row)
    }

    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        for id in ID_COLUMNS {
            let value = self.header.cell(row, id);
            if !is_valid_id(value) {
                return Err(RowProblem::new(
                    id,
                    format!("{value:?} is not 1-64 letters, digits, '-' or '_'"),
                ));
            }
        }
        let amount = self.amount(row)?;
        let fields = self.fields(row)?;
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
            refund_id: self.header.cell(row, "out_refund_id").to_owned(),
            amount,
            order_key: get("out_trade_id").to_owned(),
            fields,
            fingerprint,
        })
    }
}

impl LianshangRows {
    /// The contract's fields of a row: its own value, else the profile's
    /// default, else the contract's; each checked against its rule.
    fn fields(&self, row: &RawRow) -> Result<BTreeMap<String, String>, RowProblem> {
        let mut fields = BTreeMap::new();
        for rule in BASE_RULES.iter().chain(BIZ_RULES) {
            if FIXED_FIELDS.contains(&rule.name) {
                continue;
            }
            let from_row = self.header.cell(row, rule.name);
            let value = if !from_row.is_empty() {
                from_row
            } else if let Some(default) = self.defaults.get(rule.name).filter(|v| !v.is_empty()) {
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
            check_text(rule, value).map_err(|why| RowProblem::new(rule.name, why.to_string()))?;
            fields.insert(rule.name.to_owned(), value.to_owned());
        }
        if !fields.contains_key("out_user_id") && !fields.contains_key("guest_id") {
            // The contract wants one of the two; a finance refund has no shopper session.
            fields.insert("guest_id".into(), "GUESTER".into());
        }
        if let Some(url) = fields.get("notify_url") {
            check_notify_url(url)?;
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::rows::testing::{row, rules};

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

    const HEADER: &[&str] = &[
        "out_refund_id",
        "out_trade_id",
        "original_wk_trade_id",
        "refund_cash_amount_yuan",
        "refund_msg",
        "refund_expire",
        "platform",
    ];

    #[test]
    fn the_columns_a_lianshang_batch_needs() {
        let error = rules(
            &Lianshang,
            &["out_refund_id", "out_trade_id", "refund_cash_amount"],
            &BTreeMap::new(),
        )
        .err()
        .unwrap_or_default();
        assert!(error.contains("original_wk_trade_id"), "{error}");
        assert!(rules(&Lianshang, HEADER, &BTreeMap::new()).is_ok());
    }

    #[test]
    fn a_lianshang_batch_headed_in_chinese() {
        let chinese = rules(
            &Lianshang,
            &[
                "商户退款单号",
                "商户订单号",
                "链商订单号",
                "退款金额(元)",
                "退款原因",
            ],
            &lianshang_defaults(),
        )
        .unwrap();
        let ok = chinese
            .check(&row(&["R-1", "T1", "WK1", "25.99", "客户退货"]))
            .unwrap();
        assert_eq!(ok.amount, Fen(2599));
        assert_eq!(ok.fields["refund_msg"], "客户退货");
        assert_eq!(order_ids(&ok.fields), ("T1", "WK1"));
        let error = rules(
            &Lianshang,
            &["退款单号", "订单号", "退款金额"],
            &BTreeMap::new(),
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            error,
            "the required column 'original_wk_trade_id' (or 链商订单号, 原交易单号) is missing (lianshang batch)"
        );
    }

    #[test]
    fn lianshang_defaults_fill_and_rules_apply() {
        let with_defaults = rules(&Lianshang, HEADER, &lianshang_defaults()).unwrap();
        let ok = with_defaults
            .check(&row(&["R-1", "T1", "WK1", "25.99", "客户退货", "", ""]))
            .unwrap();
        assert_eq!(ok.amount, Fen(2599));
        assert_eq!(ok.fields["refund_msg"], "客户退货");
        assert_eq!(ok.fields["refund_expire"], "30");
        assert_eq!(ok.fields["refund_currency"], "CNY");
        assert_eq!(ok.fields["guest_id"], "GUESTER");
        assert_eq!(ok.order_key, "T1");
        assert_eq!(order_ids(&ok.fields), ("T1", "WK1"));
        let problem = |cells: &[&str]| with_defaults.check(&row(cells)).unwrap_err().describe(14);
        assert!(
            problem(&["R 1", "T1", "WK1", "1", "", "", ""]).starts_with("line 14, out_refund_id:")
        );
        let without_defaults = rules(&Lianshang, HEADER, &BTreeMap::new()).unwrap();
        assert!(without_defaults
            .check(&row(&["R1", "T1", "WK1", "1", "", "", ""]))
            .unwrap_err()
            .describe(14)
            .contains("is required: give it in the row or in the profile's [defaults]"));
        assert!(problem(&["R1", "T1", "WK1", "1", "", "thirty", ""])
            .starts_with("line 14, refund_expire:"));
        assert!(problem(&["R1", "T1", "WK1", "1", &"x".repeat(257), "", ""])
            .contains("refund_msg: is longer than 256"));
        assert!(problem(&["R1", "T1", "WK1", "1", "", "", "Desktop"]).contains("platform"));
        assert!(problem(&["R1", "T1", "WK1", "1", "月末\n退款", "", ""])
            .contains("refund_msg: contains the control character U+000A"));
    }
}
