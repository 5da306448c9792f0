//! The contract's field tables (docs/specs/lianshang.md): which fields go in the base
//! object and which in the business one, their JSON types, lengths and allowed
//! values. The row rules, the client and the simulator all read them from here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Fields of `newBaseData` (the rest of a row's fields belong to `newBizData`).
pub const BASE_FIELDS: &[&str] = &[
    "version",
    "platform",
    "request_id",
    "out_user_id",
    "guest_id",
    "client_user_id",
    "service_name",
    "language",
    "merchant_id",
    "time_stamp",
    "compress_type",
];
/// Fields of `newBizData` that a row or the profile's defaults may give.
pub const BIZ_FIELDS: &[&str] = &[
    "refund_type",
    "refund_way",
    "refund_msg",
    "refund_auditor",
    "refund_portion",
    "refund_strong_check",
    "settlement_id",
    "appid",
    "out_trade_id",
    "original_wk_trade_id",
    "out_refund_id",
    "refund_coin_amount",
    "coin_type",
    "refund_cash_amount",
    "refund_currency",
    "refund_product_subject",
    "notify_url",
    "refund_expire",
    "risk_extend",
];
/// Fields the contract types as JSON integers.
pub const INTEGER_FIELDS: &[&str] = &[
    "language",
    "refund_expire",
    "refund_cash_amount",
    "refund_coin_amount",
];

/// A field's place and form in the contract (docs/specs/lianshang.md, the field tables).
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    pub name: &'static str,
    /// `None` for JSON integers; otherwise the longest string, in characters.
    pub max_chars: Option<usize>,
    pub required: bool,
}

const fn text(name: &'static str, max: usize, required: bool) -> FieldRule {
    FieldRule {
        name,
        max_chars: Some(max),
        required,
    }
}

const fn integer(name: &'static str, required: bool) -> FieldRule {
    FieldRule {
        name,
        max_chars: None,
        required,
    }
}

/// `newBaseData` (`out_user_id`/`guest_id`: one of the two, checked apart).
pub const BASE_RULES: &[FieldRule] = &[
    text("version", 6, true),
    text("platform", 10, true),
    text("request_id", 64, true),
    text("out_user_id", 64, false),
    text("guest_id", 64, false),
    text("client_user_id", 64, true),
    text("service_name", 32, true),
    integer("language", false),
    text("merchant_id", 32, true),
    text("time_stamp", 14, true),
    text("compress_type", 2, true),
];

/// `newBizData`. `sign` may be 344 characters (a 2048-bit key), as the gateway accepts.
pub const BIZ_RULES: &[FieldRule] = &[
    text("refund_type", 32, true),
    text("refund_way", 256, false),
    text("refund_msg", 256, true),
    text("refund_auditor", 20, false),
    text("refund_portion", 10, false),
    text("refund_strong_check", 10, false),
    text("settlement_id", 32, false),
    text("appid", 32, true),
    text("out_trade_id", 64, true),
    text("original_wk_trade_id", 64, true),
    text("out_refund_id", 64, true),
    integer("refund_coin_amount", true),
    text("coin_type", 50, true),
    integer("refund_cash_amount", true),
    text("refund_currency", 6, true),
    text("refund_product_subject", 1024, true),
    text("notify_url", 128, true),
    integer("refund_expire", true),
    text("risk_extend", 1024, true),
    text("security_type", 6, true),
    text("sign", 344, true),
];

/// Values the contract enumerates.
pub fn allowed_values(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "refund_type" => Some(&["cash", "coin", "mixed", "credit"]),
        "refund_portion" => Some(&["part", "all"]),
        "refund_strong_check" => Some(&["yes", "no"]),
        "platform" => Some(&["H5", "Online", "Native SDK", "Offline", "Android", "iOS"]),
        "compress_type" => Some(&["0", "1"]),
        _ => None,
    }
}

/// True for an id of 1-64 letters, digits, `-` and `_` (docs/specs/batch-files.md).
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Which rule of the contract a field's value breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("{value:?} is not a whole number of at least 0")]
    NotWhole { value: String },
    #[error("is longer than {max} characters")]
    TooLong { max: usize },
    #[error("{value:?} is not one of {}", allowed.join(", "))]
    NotAllowed {
        value: String,
        allowed: &'static [&'static str],
    },
    #[error("{name} must be a whole number, not {value:?}")]
    NotAnInteger { name: String, value: String },
}

/// Checks one field's text against its rule.
pub fn check_text(rule: &FieldRule, value: &str) -> Result<(), FieldError> {
    match rule.max_chars {
        None => match value.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(()),
            _ => Err(FieldError::NotWhole {
                value: value.to_owned(),
            }),
        },
        Some(max) if value.chars().count() > max => Err(FieldError::TooLong { max }),
        Some(_) => match allowed_values(rule.name) {
            Some(allowed) if !allowed.contains(&value) => Err(FieldError::NotAllowed {
                value: value.to_owned(),
                allowed,
            }),
            _ => Ok(()),
        },
    }
}

/// A field's value as the JSON type the contract gives it.
pub fn typed_value(name: &str, text: &str) -> Result<Value, FieldError> {
    if INTEGER_FIELDS.contains(&name) {
        text.parse::<i64>()
            .map(Value::from)
            .map_err(|_| FieldError::NotAnInteger {
                name: name.to_owned(),
                value: text.to_owned(),
            })
    } else {
        Ok(Value::String(text.to_owned()))
    }
}

/// A row's fields as the biz/base maps a test or the simulator works with.
pub fn split_fields(fields: &BTreeMap<String, String>) -> (Map<String, Value>, Map<String, Value>) {
    let mut base = Map::new();
    let mut biz = Map::new();
    for (name, value) in fields {
        let typed = typed_value(name, value).unwrap_or_else(|_| Value::String(value.clone()));
        if BASE_FIELDS.contains(&name.as_str()) {
            base.insert(name.clone(), typed);
        } else {
            biz.insert(name.clone(), typed);
        }
    }
    (base, biz)
}
