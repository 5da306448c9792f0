//! A stub batch: `refund_id`, `order_id` and `amount_fen`, every one required.

use std::collections::BTreeMap;

use super::{is_valid_refund_id, Stub};
use crate::batch::amount::AmountColumn;
use crate::batch::columns::Header;
use crate::batch::reader::RawRow;
use crate::batch::rows::{plain_text, BatchFormat, RefundRow, RowProblem, RowRules};
use crate::money::Fen;

impl BatchFormat for Stub {
    fn columns(
        &self,
        header: &Header,
        _defaults: &BTreeMap<String, String>,
    ) -> Result<Box<dyn RowRules>, String> {
        header.require("refund_id", "stub")?;
        header.require("order_id", "stub")?;
        let amount = AmountColumn::find(header, "amount_fen", "amount_yuan")?;
        Ok(Box::new(StubRows {
            header: header.clone(),
            amount,
        }))
    }
}

struct StubRows {
    header: Header,
    amount: AmountColumn,
}

impl RowRules for StubRows {
    fn amount(&self, row: &RawRow) -> Result<Fen, RowProblem> {
        self.amount.read(&self.header, row)
    }

    fn check(&self, row: &RawRow) -> Result<RefundRow, RowProblem> {
        let refund_id = self.header.cell(row, "refund_id");
        if !is_valid_refund_id(refund_id) {
            return Err(RowProblem::new(
                "refund_id",
                format!("{refund_id:?} is not 1-16 letters and digits"),
            ));
        }
        let order = self.header.cell(row, "order_id");
        plain_text("order_id", order)?;
        if order.is_empty() {
            return Err(RowProblem::new("order_id", "is empty"));
        }
        let amount = self.amount(row)?;
        Ok(RefundRow {
            refund_id: refund_id.to_owned(),
            amount,
            fields: BTreeMap::from([("order_id".to_owned(), order.to_owned())]),
            fingerprint: format!("{order}|{}", amount.0),
            order_key: order.to_owned(),
        })
    }
}
