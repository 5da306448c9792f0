//! A gateway's daily statement (对账单, "bill"; `statements.md`), whichever
//! gateway and layout it came from: the refund rows it lists and the totals it
//! states. Each gateway reads its own files (`<gateway>/bill.rs`) and, where it
//! has a bill API, fetches them ([`BillSource`]); reconciliation reads only
//! what is here.

use jiff::civil::Date;
use jiff::Timestamp;

use super::GatewayKind;
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
    /// The line of the bill file the row came from (1-based), for notes.
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

/// A bill fetched through the gateway's API: its bytes as the gateway sent
/// them (decompressed where the integrity check is over the decompressed
/// file), kept beside the report, and what they say.
#[derive(Clone, Debug)]
pub struct FetchedBill {
    pub raw: Vec<u8>,
    /// The kept file's extension: `csv` (WeChat, decompressed), `csv.zip` (Alipay).
    pub raw_extension: &'static str,
    pub bill: Bill,
}

/// Why a bill could not be had or read. Never holds a key or a token.
#[derive(Debug, thiserror::Error)]
pub enum BillError {
    /// The gateway has not made the day's bill yet (WeChat `STATEMENT_CREATING`).
    #[error("the bill of {date} is not ready yet: {why}")]
    NotReady { date: Date, why: String },
    /// The bill could not be fetched: the network, the gateway's refusal, a
    /// download URL that expired.
    #[error("the bill could not be fetched: {0}")]
    Fetch(String),
    /// A bill arrived but is not intact or not this merchant's: a hash that
    /// does not match, a truncated or oversized file, another merchant's bill.
    /// Nothing of it is believed.
    #[error("the bill was refused: {0}")]
    Refused(String),
    /// A bill file that cannot be read: an unknown layout (naming the columns
    /// found), a line that does not parse (naming the line and the rule).
    #[error("{0}")]
    File(String),
    /// This gateway has no bill API: give the file with `--file`.
    #[error("{gateway} has no bill API that bulkrefund can call: download the day's statement from the portal and give it with --file")]
    NoApi { gateway: &'static str },
}

/// A gateway's bill API, built from a profile like its client.
#[async_trait::async_trait]
pub trait BillSource: Send + Sync {
    /// The bill of Beijing day `date`. A day the gateway says has no bill
    /// (`NO_STATEMENT_EXIST`, `isp.bill_not_exist`) is an empty bill.
    async fn fetch(&self, date: Date) -> Result<FetchedBill, BillError>;
}

/// Reads a bill file (`--file`) of `gateway` for Beijing day `date`.
pub fn read_file(gateway: GatewayKind, bytes: &[u8], date: Date) -> Result<Bill, BillError> {
    let _ = (bytes, date);
    Err(BillError::File(format!(
        "reading {} bills is not built yet",
        gateway.as_str()
    )))
}
