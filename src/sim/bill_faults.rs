//! How bills lie, for reconciliation's tests (docs/specs/statements.md, "What
//! the simulator provides"; our convention): per refund, how it appears in
//! every later bill of its gateway (left out, another amount, a raw status
//! value), never in query answers; per gateway, how the bill API delivers
//! (a wrong hash, a cut gzip, a zip bomb, another merchant's bill, an
//! expired URL). Bills read these when they are made; answers never do.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::gateway::GatewayKind;

/// How one refund appears in later bills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillFault {
    /// Left out.
    Omit,
    /// Shown with this amount, in fen.
    Amount(u64),
    /// Shown with this raw status value (`PROCESSING`, `10`, …).
    Status(String),
}

/// How the bill API of a gateway delivers (`POST /__sim/bill-delivery-fault`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFault {
    /// WeChat Pay: `hash_value` is not the file's SHA-1.
    BadHash,
    /// WeChat Pay: the gzip body is cut at half.
    Truncated,
    /// The detail entry (Alipay) or the gzip (WeChat Pay) inflates past 600 MiB.
    ZipBomb,
    /// The bill names another merchant (WeChat's 商户号, Alipay's `#账号`).
    OtherMerchant,
    /// The download URL a bill answer gives is already expired.
    ExpiredUrl,
}

impl DeliveryFault {
    /// A fault by its name in `POST /__sim/bill-delivery-fault`.
    pub fn named(name: &str) -> Option<DeliveryFault> {
        Some(match name {
            "bad_hash" => DeliveryFault::BadHash,
            "truncated" => DeliveryFault::Truncated,
            "zip_bomb" => DeliveryFault::ZipBomb,
            "other_merchant" => DeliveryFault::OtherMerchant,
            "expired_url" => DeliveryFault::ExpiredUrl,
            _ => return None,
        })
    }
}

/// The bill faults of one gateway, by refund id, as a bill is made.
#[derive(Clone, Debug, Default)]
pub struct RowFaults(HashMap<String, BillFault>);

impl RowFaults {
    /// Whether the refund is left out.
    pub fn omits(&self, refund_id: &str) -> bool {
        self.0.get(refund_id) == Some(&BillFault::Omit)
    }

    /// The amount the bill shows for a refund of `fen`.
    pub fn amount(&self, refund_id: &str, fen: u64) -> u64 {
        match self.0.get(refund_id) {
            Some(BillFault::Amount(shown)) => *shown,
            _ => fen,
        }
    }

    /// The raw status value the bill shows instead of the refund's.
    pub fn status(&self, refund_id: &str) -> Option<&str> {
        match self.0.get(refund_id) {
            Some(BillFault::Status(raw)) => Some(raw),
            _ => None,
        }
    }
}

/// Every bill fault set, by gateway.
#[derive(Default)]
pub struct BillFaults {
    rows: Mutex<HashMap<GatewayKind, RowFaults>>,
    delivery: Mutex<HashMap<GatewayKind, DeliveryFault>>,
}

impl BillFaults {
    /// Sets (or, `None`, clears) how `refund_id` of `gateway` appears in later bills.
    pub fn set_row(&self, gateway: GatewayKind, refund_id: &str, fault: Option<BillFault>) {
        let mut rows = self.rows.lock().expect("bill faults lock");
        let faults = &mut rows.entry(gateway).or_default().0;
        match fault {
            Some(fault) => faults.insert(refund_id.to_owned(), fault),
            None => faults.remove(refund_id),
        };
    }

    /// A copy of `gateway`'s refund faults, for the bill being made.
    pub fn rows(&self, gateway: GatewayKind) -> RowFaults {
        let rows = self.rows.lock().expect("bill faults lock");
        rows.get(&gateway).cloned().unwrap_or_default()
    }

    /// Sets (or, `None`, clears) how `gateway`'s bill API delivers.
    pub fn set_delivery(&self, gateway: GatewayKind, fault: Option<DeliveryFault>) {
        let mut delivery = self.delivery.lock().expect("bill faults lock");
        match fault {
            Some(fault) => delivery.insert(gateway, fault),
            None => delivery.remove(&gateway),
        };
    }

    pub fn delivery(&self, gateway: GatewayKind) -> Option<DeliveryFault> {
        let delivery = self.delivery.lock().expect("bill faults lock");
        delivery.get(&gateway).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_changes_its_refund_only_and_clears() {
        let faults = BillFaults::default();
        let gateway = GatewayKind::Wechatpay;
        faults.set_row(gateway, "R1", Some(BillFault::Amount(5)));
        faults.set_row(gateway, "R2", Some(BillFault::Omit));
        faults.set_row(gateway, "R3", Some(BillFault::Status("PROCESSING".into())));
        let rows = faults.rows(gateway);
        assert_eq!((rows.amount("R1", 9), rows.amount("R2", 9)), (5, 9));
        assert!(rows.omits("R2") && !rows.omits("R1"));
        assert_eq!(
            (rows.status("R3"), rows.status("R1")),
            (Some("PROCESSING"), None)
        );
        assert!(!faults.rows(GatewayKind::Alipay).omits("R2"));
        faults.set_row(gateway, "R2", None);
        assert!(!faults.rows(gateway).omits("R2"));
        faults.set_delivery(gateway, DeliveryFault::named("zip_bomb"));
        assert_eq!(faults.delivery(gateway), Some(DeliveryFault::ZipBomb));
        faults.set_delivery(gateway, None);
        assert_eq!(faults.delivery(gateway), None);
        assert_eq!(DeliveryFault::named("zip"), None);
    }
}
