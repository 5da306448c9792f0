//! Lianshang's portal statement (statements.md, "Lianshang portal
//! statement", our convention until the real layout is known): its column
//! names and status words; the reading is `portal_bill.rs`'s, shared with
//! Leshua. `appid` and `refund_coin_amount` are read by nobody (extra columns).

use jiff::civil::Date;

use crate::gateway::bill::{Bill, BillError, BillStatus, Caps};
use crate::gateway::portal_bill::{self, PortalLayout};
use crate::gateway::GatewayKind;

const LAYOUT: PortalLayout = PortalLayout {
    gateway: GatewayKind::Lianshang,
    merchant: "merchant_id",
    refund_id: "out_refund_id",
    gateway_refund_id: "wk_refund_id",
    order_id: "out_trade_id",
    gateway_order_id: "original_wk_trade_id",
    fen: "refund_cash_amount",
    yuan: "refund_cash_amount_yuan",
    status: "refund_status",
    statuses: &[
        ("SUCCESS", BillStatus::Succeeded),
        ("PROCESSING", BillStatus::Processing),
        ("FAIL", BillStatus::Failed),
    ],
    success_time: "refund_time",
    currency: Some(("refund_currency", "CNY")),
};

pub(crate) fn read(bytes: &[u8], date: Date, caps: Caps) -> Result<Bill, BillError> {
    portal_bill::read(&LAYOUT, bytes, date, caps)
}
