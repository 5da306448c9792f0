//! A Leshua batch (docs/specs/batch-files.md, "Leshua"): `merchant_refund_id`, an order id
//! (`third_order_id` and/or `leshua_order_id`), the amount in fen or yuan and an
//! optional `notify_url`; and the refund-id rule, which retry's derived ids obey too.

use std::collections::BTreeMap;

use super::Leshua;
use crate::batch::amount::AmountColumn;
use crate::batch::columns::{Aliases, Header};
use crate::batch::reader::RawRow;
use crate::batch::rows::{
    check_notify_url, plain_text, BatchFormat, RefundRow, RowProblem, RowRules,
};
use crate::money::Fen;

/// The Chinese headers a Leshua batch may use (our convention, with the rules
/// of new-gateway-batches.md, "Header names"): an amount without a unit is in yuan.
pub const ALIASES: Aliases = &[
    (
        "merchant_refund_id",
        &["商户退款单号", "退款单号", "退款编号"],
    ),
    ("third_order_id", &["商户订单号", "订单号", "第三方订单号"]),
    ("leshua_order_id", &["乐刷订单号"]),
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
    ("notify_url", &["通知地址"]),
];

/// The longest refund id Leshua takes.
const REFUND_ID_MAX: usize = 64;

/// Leshua's refund id: 1 to 64 ASCII letters and digits (docs/specs/leshua.md, `merchant_refund_id`).
pub fn is_valid_refund_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= REFUND_ID_MAX && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The order ids of a refund's fields: (ours, Leshua's).
pub fn order_ids(fields: &BTreeMap<String, String>) -> (&str, &str) {
    let get = |name: &str| fields.get(name).map_or("", String::as_str);
    (get("third_order_id"), get("leshua_order_id"))
}

impl BatchFormat for Leshua {
    fn columns(
        &self,
        header: &Header,
        _defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        header.require("merchant_refund_id", "leshua")?;
        if !header.has("third_order_id") && !header.has("leshua_order_id") {
            return Err(format!(
                "a Leshua batch needs a 'third_order_id'{} or a 'leshua_order_id'{} column",
                header.or_aliases("third_order_id"),
                header.or_aliases("leshua_order_id")
            ));
        }
        let amount = AmountColumn::find(header, "refund_amount", "refund_amount_yuan")?;
        Ok(Box::new(LeshuaRows {
            header: header.clone(),
            amount,
        }))
    }

    fn aliases(&self) -> Aliases {
        ALIASES
    }
}

struct LeshuaRows {
    header: Header,
    amount: AmountColumn,
}

impl RowRules for LeshuaRows {
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        self.amount.read(&self.header, row)
    }

    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        let cell = |name: &str| self.header.cell(row, name);
        let refund_id = cell("merchant_refund_id");
        if !is_valid_refund_id(refund_id) {
            return Err(RowProblem::new(
                "merchant_refund_id",
                format!("{refund_id:?} is not 1-64 letters and digits"),
            ));
        }
        let third = cell("third_order_id");
        let leshua = cell("leshua_order_id");
        let notify_url = cell("notify_url");
        for (column, value) in [
            ("third_order_id", third),
            ("leshua_order_id", leshua),
            ("notify_url", notify_url),
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
        if !notify_url.is_empty() {
            check_notify_url(notify_url)?;
        }
        let fields: BTreeMap<String, String> = [
            ("third_order_id", third),
            ("leshua_order_id", leshua),
            ("notify_url", notify_url),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        Ok(RefundRow {
            refund_id: refund_id.to_owned(),
            amount,
            // Leshua uses leshua_order_id first when both are given: both name the order.
            fingerprint: format!("{third}|{leshua}|{}", amount.0),
            order_key: if leshua.is_empty() { third } else { leshua }.to_owned(),
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::rows::testing::{row, rules};

    const HEADER: &[&str] = &[
        "merchant_refund_id",
        "third_order_id",
        "leshua_order_id",
        "refund_amount_yuan",
        "notify_url",
    ];

    fn problem(cells: &[&str]) -> String {
        let rules = rules(&Leshua, HEADER, &BTreeMap::new()).unwrap();
        rules.check(&row(cells)).unwrap_err().describe(14)
    }

    #[test]
    fn the_columns_a_leshua_batch_needs() {
        let error = |header: &[&str]| {
            rules(&Leshua, header, &BTreeMap::new())
                .err()
                .unwrap_or_default()
        };
        assert!(error(&["third_order_id", "refund_amount"])
            .contains("'merchant_refund_id' (or 商户退款单号, 退款单号, 退款编号) is missing"));
        assert_eq!(
            error(&["merchant_refund_id", "refund_amount"]),
            "a Leshua batch needs a 'third_order_id' (or 商户订单号, 订单号, 第三方订单号) \
             or a 'leshua_order_id' (or 乐刷订单号) column"
        );
        assert!(error(&[
            "merchant_refund_id",
            "third_order_id",
            "refund_amount",
            "refund_amount_yuan"
        ])
        .contains("both"));
        assert!(
            error(&["merchant_refund_id", "third_order_id"]).contains("amount column is missing")
        );
        assert!(rules(
            &Leshua,
            &[
                " Merchant_Refund_ID ",
                "THIRD_ORDER_ID",
                "refund_amount",
                "memo"
            ],
            &BTreeMap::new()
        )
        .is_ok());
    }

    #[test]
    fn each_leshua_row_rule() {
        assert_eq!(
            problem(&["R_1", "T1", "", "1"]),
            "line 14, merchant_refund_id: \"R_1\" is not 1-64 letters and digits"
        );
        assert!(problem(&["", "T1", "", "1"]).starts_with("line 14, merchant_refund_id:"));
        assert!(problem(&[&"R".repeat(65), "T1", "", "1"]).contains("merchant_refund_id"));
        assert_eq!(
            problem(&["R1", "", "", "1"]),
            "line 14, third_order_id: is empty, and so is leshua_order_id: one of them is required"
        );
        assert!(problem(&["R1", &"T".repeat(65), "", "1"])
            .contains("third_order_id: is longer than 64"));
        assert!(problem(&["R1", "", &"L".repeat(33), "1"])
            .contains("leshua_order_id: is longer than 32"));
        assert_eq!(
            problem(&["R1", "T1", "", "12.345"]),
            "line 14, refund_amount_yuan: \"12.345\" has more than 2 decimals"
        );
        assert_eq!(
            problem(&["R1", "T1", "", ""]),
            "line 14, refund_amount_yuan: is empty: every row needs an amount"
        );
        assert!(problem(&["R1", "T1", "", "0"]).contains("must be more than zero"));
        assert_eq!(
            problem(&["R1", "T\u{0}1", "", "1"]),
            "line 14, third_order_id: contains the control character U+0000"
        );
        assert!(
            problem(&["R1", "", "L\u{7}1", "1"]).contains("leshua_order_id: contains the control")
        );
        assert!(problem(&["R1", "订单\u{FFFD}1", "", "1"]).contains("U+FFFD"));
        assert!(problem(&["R1", "T1", "", "1", "/relative"]).contains("notify_url"));
        assert!(problem(&[
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
        let rules = rules(
            &Leshua,
            &[
                "merchant_refund_id",
                "third_order_id",
                "refund_amount",
                "memo",
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        let ok = rules.check(&row(&["R1", "T1", "1250", "kept"])).unwrap();
        assert_eq!(ok.refund_id, "R1");
        assert_eq!(ok.amount, Fen(1250));
        assert_eq!(ok.order_key, "T1");
        assert_eq!(
            ok.fields.get("third_order_id").map(String::as_str),
            Some("T1")
        );
        assert_eq!(order_ids(&ok.fields), ("T1", ""));
        assert!(rules
            .check(&row(&["R1", "T1", "12.50"]))
            .unwrap_err()
            .message
            .contains("not a whole number"));
    }

    #[test]
    fn a_leshua_batch_headed_in_chinese() {
        let chinese = rules(
            &Leshua,
            &["商户退款单号", "商户订单号", "退款金额（元）*", "备注"],
            &BTreeMap::new(),
        )
        .unwrap();
        let ok = chinese.check(&row(&["R1", "T1", "12.50", "月末"])).unwrap();
        assert_eq!((ok.refund_id.as_str(), ok.amount), ("R1", Fen(1250)));
        assert_eq!(order_ids(&ok.fields), ("T1", ""));
        let unitless = rules(
            &Leshua,
            &["退款单号", "乐刷订单号", "退款金额"],
            &BTreeMap::new(),
        )
        .unwrap()
        .check(&row(&["R2", "L2", "3"]))
        .unwrap();
        assert_eq!(
            unitless.amount,
            Fen(300),
            "an amount without a unit is in yuan"
        );
        assert_eq!(order_ids(&unitless.fields), ("", "L2"));
        let error = |header: &[&str]| {
            rules(&Leshua, header, &BTreeMap::new())
                .err()
                .unwrap_or_default()
        };
        assert_eq!(
            error(&["merchant_refund_id", "商户退款单号", "订单号", "退款金额"]),
            "'merchant_refund_id' and '商户退款单号' both name the column 'merchant_refund_id': keep one of them"
        );
        assert_eq!(
            error(&["退款单号", "订单号", "退款金额(分)", "退款金额(元)"]),
            "both '退款金额(分)' (refund_amount) and '退款金额(元)' (refund_amount_yuan) are present: \
             give the amount in one of them only"
        );
        assert_eq!(
            error(&["订单号", "退款金额"]),
            "the required column 'merchant_refund_id' (or 商户退款单号, 退款单号, 退款编号) is missing (leshua batch)"
        );
    }

    #[test]
    fn the_refund_id_rule() {
        assert!(is_valid_refund_id("R123R2"));
        assert!(is_valid_refund_id(&"R".repeat(64)));
        assert!(!is_valid_refund_id(&"R".repeat(65)));
        assert!(!is_valid_refund_id(""));
        assert!(!is_valid_refund_id("R-1"));
    }
}
