//! A gateway's daily statement, whichever gateway and layout it came from:
//! the refund rows it lists and the totals it states. Each gateway's parser
//! (statements.md, "Bill columns → journal fields") produces one; matching
//! reads only this.

use jiff::civil::Date;
use jiff::Timestamp;

use crate::gateway::GatewayKind;
use crate::money::Fen;

/// A refund's status as a bill states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillStatus {
    Succeeded,
    Processing,
    Failed,
    Abnormal,
    /// A value the contract does not name: the row is `status_differs`,
    /// with the raw value in its note.
    Other(String),
}

/// One refund row of a bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillRow {
    /// The merchant's refund id: bulkrefund's refund id for its own refunds.
    pub refund_id: String,
    /// The gateway's refund id (Alipay has none: its trade number stands in).
    pub gateway_refund_id: Option<String>,
    /// The merchant's order id, and the gateway's, where the bill has them.
    pub order_id: Option<String>,
    pub gateway_order_id: Option<String>,
    /// The amount asked for, in fen (WeChat's 申请退款金额, not 退款金额).
    pub fen: Fen,
    pub status: BillStatus,
    /// The gateway's success time, where the bill gives one.
    pub success_at: Option<Timestamp>,
    /// The line of the bill file the row came from (1-based), for errors and notes.
    pub line: u64,
}

/// The totals a bill states of its own refund rows, where it states them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillTotals {
    pub count: Option<u64>,
    pub fen: Option<Fen>,
}

/// A parsed bill: one Beijing day of one merchant's refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    pub gateway: GatewayKind,
    /// The merchant the bill says it is of, where it says so (WeChat's 商户号
    /// per row, Alipay's `#账号` line, the portal files' merchant_id column).
    pub merchant_id: Option<String>,
    /// The Beijing day the bill covers.
    pub date: Date,
    pub rows: Vec<BillRow>,
    pub totals: BillTotals,
}
