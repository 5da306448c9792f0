//! A WeChat Pay batch (docs/specs/new-gateway-batches.md, "WeChat Pay"):
//! `out_refund_no`, an order id (`out_trade_no` and/or `transaction_id`),
//! the refund amount and the order's paid total, each in fen or yuan, and the
//! optional currency (CNY only), `reason`, `notify_url` and `funds_account`.
//! The order total is required: WeChat's apply needs it and nothing in a
//! refund batch can derive it.

use std::collections::BTreeMap;

use super::{is_valid_id, Wechatpay};
use crate::batch::amount::AmountColumn;
use crate::batch::columns::{Aliases, Header};
use crate::batch::reader::RawRow;
use crate::batch::rows::{plain_text, BatchFormat, RefundRow, RowProblem, RowRules};
use crate::money::Fen;

/// The Chinese headers of a WeChat Pay batch: an amount without a unit is in
/// yuan; `备注` is not a reason, since the reason is shown to the payer.
pub const ALIASES: Aliases = &[
    ("out_refund_no", &["商户退款单号", "退款单号", "退款编号"]),
    ("out_trade_no", &["商户订单号", "订单号"]),
    (
        "transaction_id",
        &["微信订单号", "微信支付订单号", "微信支付单号", "交易单号"],
    ),
    ("refund_amount", &["退款金额(分)"]),
    (
        "refund_amount_yuan",
        &[
            "退款金额(元)",
            "退款金额",
            "申请退款金额(元)",
            "申请退款金额",
        ],
    ),
    ("order_total", &["订单金额(分)", "订单总金额(分)"]),
    (
        "order_total_yuan",
        &[
            "订单金额(元)",
            "订单金额",
            "订单总金额(元)",
            "订单总金额",
            "原订单金额(元)",
            "支付金额(元)",
        ],
    ),
    ("currency", &["币种", "货币种类"]),
    ("reason", &["退款原因"]),
    ("notify_url", &["通知地址"]),
    ("funds_account", &["退款资金来源"]),
];

/// A refund's order ids, from its fields: (out_trade_no, transaction_id).
pub fn order_ids(fields: &BTreeMap<String, String>) -> (&str, &str) {
    let get = |name: &str| fields.get(name).map_or("", String::as_str);
    (get("out_trade_no"), get("transaction_id"))
}

/// `notify_url`: an absolute http(s) URL without a query string, at most 256 bytes.
pub fn check_notify_url(url: &str) -> Result<(), RowProblem> {
    let fits = url::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.has_host() && u.query().is_none()
    });
    if !fits || url.len() > 256 || url.contains('?') {
        return Err(RowProblem::new(
            "notify_url",
            format!("{url:?} is not an absolute http(s) URL without a query string, of at most 256 characters"),
        ));
    }
    Ok(())
}

impl BatchFormat for Wechatpay {
    fn columns(
        &self,
        header: &Header,
        defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        header.require("out_refund_no", "wechatpay")?;
        if !header.has("out_trade_no") && !header.has("transaction_id") {
            return Err(format!(
                "a WeChat Pay batch needs an 'out_trade_no'{} or a 'transaction_id'{} column",
                header.or_aliases("out_trade_no"),
                header.or_aliases("transaction_id")
            ));
        }
        let amount = AmountColumn::find(header, "refund_amount", "refund_amount_yuan")?;
        if !header.has("order_total") && !header.has("order_total_yuan") {
            return Err(format!(
                "the order total column is missing: 'order_total'{} (fen) or 'order_total_yuan'{} (yuan); \
                 WeChat Pay needs each order's paid total next to the refund, and nothing is sent without it",
                header.or_aliases("order_total"),
                header.or_aliases("order_total_yuan")
            ));
        }
        let total = AmountColumn::find(header, "order_total", "order_total_yuan")?;
        Ok(Box::new(WechatpayRows {
            header: header.clone(),
            default_notify_url: defaults.get("notify_url").cloned().unwrap_or_default(),
            amount,
            total,
        }))
    }

    fn aliases(&self) -> Aliases {
        ALIASES
    }
}

struct WechatpayRows {
    header: Header,
    /// The profile's `notify_url` (`[profiles.P] notify_url`), or empty.
    default_notify_url: String,
    amount: AmountColumn,
    total: AmountColumn,
}

/// An order id cell: empty, or 1 to 32 of the characters `rule` allows.
fn order_id(column: &str, value: &str, digits_only: bool) -> Result<(), RowProblem> {
    if value.is_empty() {
        return Ok(());
    }
    let looks_scientific = value.contains(['E', 'e']) && value.contains(['.', '+']);
    if digits_only && looks_scientific {
        return Err(RowProblem::new(
            column,
            format!("{value:?} is a number in scientific notation, not the id: format the column as text in the spreadsheet and copy the ids again"),
        ));
    }
    let fits = if digits_only {
        (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
    } else {
        is_valid_id(value, 32)
    };
    if !fits {
        let allowed = if digits_only {
            "letters and digits"
        } else {
            "letters, digits and _ - | * @"
        };
        return Err(RowProblem::new(
            column,
            format!("{value:?} is not 1-32 {allowed}"),
        ));
    }
    Ok(())
}

impl WechatpayRows {
    /// The optional cells: currency (CNY), reason, notify_url, funds_account.
    fn optional(&self, row: &RawRow) -> Result<Vec<(&'static str, String)>, RowProblem> {
        let cell = |name: &str| self.header.cell(row, name);
        let currency = cell("currency");
        if !currency.is_empty() && currency != "CNY" {
            return Err(RowProblem::new(
                "currency",
                format!("{currency:?}: WeChat Pay refunds are in CNY only"),
            ));
        }
        let reason = cell("reason");
        plain_text("reason", reason)?;
        if reason.chars().count() > 80 {
            return Err(RowProblem::new(
                "reason",
                "is longer than 80 characters (it is shown to the payer)",
            ));
        }
        // The profile's, when the row has none: recorded with the refund at
        // import, so that every send of it carries the same JSON.
        let notify_url = match cell("notify_url") {
            "" => self.default_notify_url.as_str(),
            given => given,
        };
        plain_text("notify_url", notify_url)?;
        if !notify_url.is_empty() {
            check_notify_url(notify_url)?;
        }
        let funds = cell("funds_account");
        if !funds.is_empty() && funds != "AVAILABLE" {
            return Err(RowProblem::new(
                "funds_account",
                format!("{funds:?}: only AVAILABLE may be asked for"),
            ));
        }
        Ok([
            ("reason", reason),
            ("notify_url", notify_url),
            ("funds_account", funds),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, v)| (name, v.to_owned()))
        .collect())
    }
}

impl RowRules for WechatpayRows {
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        self.amount.read(&self.header, row)
    }

    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        let cell = |name: &str| self.header.cell(row, name);
        let refund_id = cell("out_refund_no");
        if !is_valid_id(refund_id, 64) {
            return Err(RowProblem::new(
                "out_refund_no",
                format!("{refund_id:?} is not 1-64 letters, digits and _ - | * @"),
            ));
        }
        let trade = cell("out_trade_no");
        let transaction = cell("transaction_id");
        order_id("out_trade_no", trade, false)?;
        order_id("transaction_id", transaction, true)?;
        if trade.is_empty() && transaction.is_empty() {
            return Err(RowProblem::new(
                "out_trade_no",
                "is empty, and so is transaction_id: one of them is required",
            ));
        }
        let amount = self.amount(row)?;
        let total = self.total.read(&self.header, row)?;
        if total < amount {
            return Err(RowProblem::new(
                "refund_amount",
                format!("{amount} yuan is more than the order total, {total} yuan"),
            ));
        }
        let mut fields: BTreeMap<String, String> =
            [("out_trade_no", trade), ("transaction_id", transaction)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(name, v)| (name.to_owned(), v.to_owned()))
                .collect();
        fields.insert("order_total".to_owned(), total.0.to_string());
        for (name, value) in self.optional(row)? {
            fields.insert(name.to_owned(), value);
        }
        Ok(RefundRow {
            refund_id: refund_id.to_owned(),
            amount,
            fingerprint: format!("{trade}|{transaction}|{}|{}|CNY", amount.0, total.0),
            order_key: if transaction.is_empty() {
                trade
            } else {
                transaction
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
        rules(&Wechatpay, names, &BTreeMap::new()).err().unwrap()
    }

    fn check(names: &[&str], cells: &[&str]) -> Result<RefundRow, RowProblem> {
        rules(&Wechatpay, names, &BTreeMap::new())
            .unwrap()
            .check(&row(cells))
    }

    const CHINESE: &[&str] = &[
        "商户退款单号",
        "商户订单号",
        "微信订单号",
        "退款金额(元)",
        "订单金额（元）*",
        "退款原因",
    ];

    #[test]
    fn the_profiles_notify_url_is_recorded_with_a_row_that_has_none() {
        let names = [
            "out_refund_no",
            "out_trade_no",
            "refund_amount",
            "order_total",
            "notify_url",
        ];
        let defaults =
            BTreeMap::from([("notify_url".to_owned(), "https://m.example/p".to_owned())]);
        let rules = rules(&Wechatpay, &names, &defaults).unwrap();
        let from_profile = rules.check(&row(&["R1", "T1", "100", "100", ""])).unwrap();
        assert_eq!(from_profile.fields["notify_url"], "https://m.example/p");
        let own = rules
            .check(&row(&["R2", "T1", "100", "100", "https://m.example/r"]))
            .unwrap();
        assert_eq!(own.fields["notify_url"], "https://m.example/r");
        let none = check(&names, &["R3", "T1", "100", "100", ""]).unwrap();
        assert!(!none.fields.contains_key("notify_url"));
    }

    #[test]
    fn the_specs_example_in_chinese_headers() {
        let r = check(
            CHINESE,
            &[
                "R20261122-0001",
                "T20261101000001",
                "",
                "25.99",
                "50.00",
                "月末退款",
            ],
        )
        .unwrap();
        assert_eq!(r.amount, Fen(2599));
        assert_eq!(r.fields["order_total"], "5000");
        assert_eq!(r.fields["reason"], "月末退款");
        assert_eq!(r.order_key, "T20261101000001");
        assert_eq!(r.fingerprint, "T20261101000001||2599|5000|CNY");
        let r = check(
            CHINESE,
            &[
                "R20261122-0002",
                "",
                "4200000000202610150000000009",
                "10",
                "10",
                "",
            ],
        )
        .unwrap();
        assert_eq!((r.amount, r.fields.get("reason")), (Fen(1000), None));
        assert_eq!(r.order_key, "4200000000202610150000000009");
        assert_eq!(order_ids(&r.fields), ("", "4200000000202610150000000009"));
    }

    #[test]
    fn the_order_total_is_required_and_given_once() {
        let missing = header_error(&["out_refund_no", "out_trade_no", "退款金额"]);
        assert!(
            missing.contains("'order_total' (or 订单金额(分), 订单总金额(分))"),
            "{missing}"
        );
        assert!(
            missing.contains("'order_total_yuan' (or 订单金额(元), 订单金额,"),
            "{missing}"
        );
        let both = header_error(&[
            "out_refund_no",
            "out_trade_no",
            "退款金额",
            "订单金额",
            "order_total",
        ]);
        assert!(both.contains("both"), "{both}");
        let both = header_error(&[
            "out_refund_no",
            "out_trade_no",
            "退款金额(分)",
            "退款金额",
            "order_total",
        ]);
        assert!(both.contains("both"), "{both}");
        let twice = header_error(&["out_refund_no", "商户退款单号", "out_trade_no"]);
        assert!(twice.contains("keep one of them"), "{twice}");
        let no_order = header_error(&["out_refund_no", "refund_amount", "order_total"]);
        assert!(
            no_order.contains("'out_trade_no' (or 商户订单号, 订单号)"),
            "{no_order}"
        );
    }

    #[test]
    fn row_rules() {
        let names = &[
            "out_refund_no",
            "out_trade_no",
            "transaction_id",
            "refund_amount",
            "order_total",
            "currency",
            "reason",
            "notify_url",
            "funds_account",
        ];
        let good = ["R|1*@", "T-1", "", "100", "200", "", "", "", ""];
        let with = |i: usize, value: &str| {
            let mut cells = good;
            cells[i] = value;
            check(names, &cells).map_err(|p| p.describe(14))
        };
        assert!(with(0, "R|1*@").is_ok());
        let problem = |i, value: &str, want: &str| {
            let got = with(i, value).unwrap_err();
            assert!(got.contains(want), "{value}: {got}");
        };
        problem(0, "R 1", "out_refund_no");
        problem(0, &"R".repeat(65), "out_refund_no");
        problem(1, &"T".repeat(33), "out_trade_no");
        problem(1, "", "one of them is required");
        problem(2, "4.2E+27", "format the column as text");
        problem(2, "42_1", "1-32 letters and digits");
        problem(4, "99", "more than the order total");
        problem(5, "USD", "CNY only");
        problem(6, &"退".repeat(81), "longer than 80");
        problem(7, "https://m.example/n?a=1", "without a query string");
        problem(7, "ftp://m.example/n", "notify_url");
        problem(8, "BASIC", "AVAILABLE");
        assert!(with(6, &"退".repeat(80)).is_ok());
        assert!(with(5, "CNY").is_ok());
        assert!(with(8, "AVAILABLE").is_ok());
        let r = check(
            names,
            &[
                "R1",
                "T1",
                "4200",
                "100",
                "100",
                "CNY",
                "",
                "https://m.example/n",
                "AVAILABLE",
            ],
        )
        .unwrap();
        assert_eq!(r.fields["notify_url"], "https://m.example/n");
        assert_eq!(r.fields["funds_account"], "AVAILABLE");
        assert_eq!(r.fingerprint, "T1|4200|100|100|CNY");
    }
}
