//! A WeChat Pay batch (docs/specs/new-gateway-batches.md): placeholder until
//! the row rules land.

use std::collections::BTreeMap;

use super::Wechatpay;
use crate::batch::columns::Header;
use crate::batch::rows::{BatchFormat, RowRules};

/// A refund's order ids, from its fields: (out_trade_no, transaction_id).
pub fn order_ids(fields: &BTreeMap<String, String>) -> (&str, &str) {
    let get = |name: &str| fields.get(name).map_or("", String::as_str);
    (get("out_trade_no"), get("transaction_id"))
}

impl BatchFormat for Wechatpay {
    fn columns(
        &self,
        _header: &Header,
        _defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        Err("WeChat Pay batches are not read yet".to_owned())
    }
}
