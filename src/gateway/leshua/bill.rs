//! Leshua's portal statement (statements.md, "Leshua portal statement", our
//! convention until the real layout is known): its column names and status
//! codes (`unified_query_refund`'s `10`/`11`/`12`); the reading is
//! `portal_bill.rs`'s, shared with Lianshang.

use jiff::civil::Date;

use crate::gateway::bill::{Bill, BillError, BillStatus, Caps};
use crate::gateway::portal_bill::{self, PortalLayout};
use crate::gateway::GatewayKind;

const LAYOUT: PortalLayout = PortalLayout {
    gateway: GatewayKind::Leshua,
    merchant: "merchant_id",
    refund_id: "merchant_refund_id",
    gateway_refund_id: "leshua_refund_id",
    order_id: "third_order_id",
    gateway_order_id: "leshua_order_id",
    fen: "refund_amount",
    yuan: "refund_amount_yuan",
    status: "status",
    statuses: &[
        ("11", BillStatus::Succeeded),
        ("10", BillStatus::Processing),
        ("12", BillStatus::Failed),
    ],
    success_time: "refund_time",
    currency: None,
};

pub(crate) fn read(bytes: &[u8], date: Date, caps: Caps) -> Result<Bill, BillError> {
    portal_bill::read(&LAYOUT, bytes, date, caps)
}
