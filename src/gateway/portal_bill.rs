//! The portal statements bulkrefund reads from a file (statements.md,
//! "Leshua portal statement", "Lianshang portal statement"; our convention
//! until the real layouts are known): a CSV with a header row, UTF-8 with or
//! without a BOM or GBK, read strictly; columns by name, extra ones ignored.
//! One [`PortalLayout`] per gateway names its columns and status words; the
//! rules are the same for both: the required columns, at least one order id,
//! exactly one of the fen and yuan amount columns, a success time on every
//! final row, and one merchant per file. Rows with an empty refund id are not
//! refunds and are skipped.

use jiff::civil::Date;

use super::bill::{Bill, BillError, BillRow, BillStatus, BillTotals, Caps};
use super::bill_read::{
    at_line, beijing_time, decode_utf8_or_gbk, listed_once, quoted, shown, Columns,
};
use super::GatewayKind;
use crate::money::Fen;

const TIME_FORMAT: &str = crate::gateway::times::COMPACT;

/// A gateway's portal columns and status words.
pub(crate) struct PortalLayout {
    pub gateway: GatewayKind,
    pub merchant: &'static str,
    pub refund_id: &'static str,
    pub gateway_refund_id: &'static str,
    pub order_id: &'static str,
    pub gateway_order_id: &'static str,
    /// Integer fen.
    pub fen: &'static str,
    /// Decimal yuan, at most two decimals.
    pub yuan: &'static str,
    pub status: &'static str,
    /// Each status word and what it means; any other is [`BillStatus::Other`].
    pub statuses: &'static [(&'static str, BillStatus)],
    pub success_time: &'static str,
    /// A currency column and the only value taken, when the layout has one
    /// (absent or empty: that value).
    pub currency: Option<(&'static str, &'static str)>,
}

/// Where a file's columns are.
struct Found {
    merchant: usize,
    refund_id: usize,
    gateway_refund_id: usize,
    order_id: Option<usize>,
    gateway_order_id: Option<usize>,
    amount: (usize, bool),
    status: usize,
    success_time: Option<usize>,
    currency: Option<usize>,
}

impl PortalLayout {
    fn what(&self) -> String {
        format!("the {} statement's header (line 1)", self.gateway)
    }

    fn find(&self, header: &[String]) -> Result<Found, BillError> {
        let columns = Columns::new(header, self.what());
        let need = |name: &str| columns.require(&[name]);
        let (order_id, gateway_order_id) = (
            columns.find(&[self.order_id])?,
            columns.find(&[self.gateway_order_id])?,
        );
        if order_id.is_none() && gateway_order_id.is_none() {
            return Err(columns.missing(&[self.order_id, self.gateway_order_id]));
        }
        let amount =
            match (columns.find(&[self.fen])?, columns.find(&[self.yuan])?) {
                (Some(at), None) => (at, false),
                (None, Some(at)) => (at, true),
                (None, None) => return Err(columns.missing(&[self.fen, self.yuan])),
                (Some(_), Some(_)) => {
                    return Err(BillError::File(format!(
                "{} has both {} and {}: exactly one of them, so that the amount is never two",
                columns.what(), self.fen, self.yuan
            )))
                }
            };
        Ok(Found {
            merchant: need(self.merchant)?,
            refund_id: need(self.refund_id)?,
            gateway_refund_id: need(self.gateway_refund_id)?,
            order_id,
            gateway_order_id,
            amount,
            status: need(self.status)?,
            success_time: columns.find(&[self.success_time])?,
            currency: match self.currency {
                Some((name, _)) => columns.find(&[name])?,
                None => None,
            },
        })
    }

    fn status(&self, word: &str) -> BillStatus {
        self.statuses
            .iter()
            .find(|(w, _)| *w == word)
            .map_or_else(|| BillStatus::Other(shown(word)), |(_, s)| s.clone())
    }
}

/// Reads a portal statement of `layout`'s gateway.
pub(crate) fn read(
    layout: &PortalLayout,
    bytes: &[u8],
    date: Date,
    caps: Caps,
) -> Result<Bill, BillError> {
    if bytes.len() as u64 > caps.plain {
        return Err(BillError::Refused(format!(
            "the statement is larger than {} MiB: not read",
            caps.plain >> 20
        )));
    }
    let what = format!("the {} statement", layout.gateway);
    let text = decode_utf8_or_gbk(bytes, &what)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(record)) => record.iter().map(|c| c.trim().to_owned()).collect(),
        Some(Err(e)) => return Err(at_line(1, format!("is not CSV: {e}"))),
        None => return Err(BillError::File(format!("{what} is empty"))),
    };
    let found = layout.find(&header)?;
    let mut rows = Vec::new();
    let mut merchant: Option<(String, u64)> = None;
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at_line(line, format!("is not CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            return Err(at_line(
                line,
                format!(
                    "has {} cells, the header has {}",
                    record.len(),
                    header.len()
                ),
            ));
        }
        let cell = |at: usize| record.get(at).unwrap_or("").trim();
        if cell(found.refund_id).is_empty() {
            continue;
        }
        let mchid = cell(found.merchant);
        match &merchant {
            None => merchant = Some((mchid.to_owned(), line)),
            Some((first, at)) if first != mchid => {
                return Err(at_line(
                    line,
                    format!(
                        "{} {} differs from line {at}'s {}: one statement is one merchant's",
                        layout.merchant,
                        quoted(mchid),
                        quoted(first)
                    ),
                ))
            }
            Some(_) => {}
        }
        rows.push(row(layout, &found, &cell, line)?);
    }
    listed_once(&rows, layout.refund_id)?;
    Ok(Bill {
        gateway: layout.gateway,
        merchant_id: merchant.map(|(id, _)| id),
        date,
        rows,
        // The portal files state no totals.
        totals: BillTotals::default(),
    })
}

fn row<'a>(
    layout: &PortalLayout,
    found: &Found,
    cell: &dyn Fn(usize) -> &'a str,
    line: u64,
) -> Result<BillRow, BillError> {
    let text = |at: Option<usize>| at.map(cell).filter(|v| !v.is_empty()).map(str::to_owned);
    let (at, in_yuan) = found.amount;
    let name = if in_yuan { layout.yuan } else { layout.fen };
    let amount = cell(at);
    let fen = if in_yuan {
        Fen::parse_yuan(amount)
    } else {
        Fen::parse_fen(amount)
    }
    .map_err(|e| at_line(line, format!("{name} {} {e}", quoted(amount))))?;
    if let (Some(at), Some((name, only))) = (found.currency, layout.currency) {
        let currency = cell(at);
        if !currency.is_empty() && currency != only {
            return Err(at_line(
                line,
                format!("{name} {} is not {only}", quoted(currency)),
            ));
        }
    }
    let status = layout.status(cell(found.status));
    let success_at = match text(found.success_time) {
        Some(at) => Some(
            beijing_time(&at, TIME_FORMAT)
                .map_err(|e| at_line(line, format!("{} {e}", layout.success_time)))?,
        ),
        None if status == BillStatus::Succeeded => {
            return Err(at_line(
                line,
                format!("a succeeded refund has no {}", layout.success_time),
            ))
        }
        None => None,
    };
    Ok(BillRow {
        refund_id: cell(found.refund_id).to_owned(),
        gateway_refund_id: text(Some(found.gateway_refund_id)),
        order_id: text(found.order_id),
        gateway_order_id: text(found.gateway_order_id),
        fen,
        status,
        success_at,
        line,
    })
}
