//! The control calls that make reconciliation testable (docs/specs/statements.md,
//! "What the simulator provides"; our convention): `POST /__sim/outside-refund`
//! records a refund as if made in the merchant portal, which every later
//! answer, query and bill then shows like any refund of the ledger. Bodies
//! are JSON with the fields named exactly; a refusal is 400 with the reason.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::bill_faults::{BillFault, DeliveryFault};
use super::clock::beijing_rfc3339;
use super::ledger::{Fate, IdScope, NewRefund, OrderRef, Refusal};
use super::SimState;
use crate::gateway::GatewayKind;

pub const OUTSIDE_REFUND_PATH: &str = "/__sim/outside-refund";

/// A refusal of a `/__sim/…` control call: 400 with the reason.
pub(super) fn refused(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": reason })),
    )
        .into_response()
}

/// A control call's body, every field known; `Err` is the reason to refuse it.
pub(super) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("the body does not fit: {e}"))
}

/// A gateway by its profile name (`wechatpay`, `alipay`, `leshua`, `lianshang`).
pub(super) fn gateway_named(name: &str) -> Result<GatewayKind, String> {
    GatewayKind::parse(name).ok_or_else(|| format!("no gateway {name:?}"))
}

/// How `gateway` numbers its refunds and where their ids are unique, as
/// its own refund call does.
fn id_rules(gateway: GatewayKind) -> Result<(&'static str, IdScope), String> {
    Ok(match gateway {
        GatewayKind::Leshua => (super::leshua::REFUND_ID_PREFIX, IdScope::Merchant),
        GatewayKind::Lianshang => (super::lianshang::REFUND_ID_PREFIX, IdScope::Merchant),
        GatewayKind::Wechatpay => (super::wechatpay::REFUND_ID_PREFIX, IdScope::Merchant),
        GatewayKind::Alipay => ("", IdScope::Order),
        #[cfg(test)]
        GatewayKind::Stub => return Err("the stub gateway has no simulator".into()),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutsideRefund {
    gateway: String,
    merchant_id: String,
    /// The merchant's order id, or the gateway's.
    order: String,
    refund_id: String,
    amount_fen: u64,
}

/// Why a portal refund is not recorded, in words.
fn refusal_text(refusal: Refusal, asked: &OutsideRefund) -> String {
    match refusal {
        Refusal::AlreadyExists { .. } => format!("refund id {:?} is already used", asked.refund_id),
        Refusal::UnknownOrder => format!(
            "no order {:?} of merchant {:?} at {}",
            asked.order, asked.merchant_id, asked.gateway
        ),
        Refusal::NotPaid => format!("order {:?} is not paid", asked.order),
        Refusal::CurrencyMismatch => "the currency is not the order's".into(),
        Refusal::OverBalance { refundable } => format!(
            "amount_fen {} is over the order's refundable balance of {refundable} fen",
            asked.amount_fen
        ),
    }
}

/// `POST /__sim/outside-refund {gateway, merchant_id, order, refund_id,
/// amount_fen}`: a refund that succeeded at the clock's now, as if made in
/// the merchant portal; answers it with its gateway id and success time.
pub(super) async fn handle_outside_refund(
    State(state): State<Arc<SimState>>,
    bytes: Bytes,
) -> Response {
    let asked: OutsideRefund = match body(&bytes) {
        Ok(asked) => asked,
        Err(why) => return refused(&why),
    };
    let rules = gateway_named(&asked.gateway).and_then(|g| Ok((g, id_rules(g)?)));
    let (gateway, (id_prefix, scope)) = match rules {
        Ok(rules) => rules,
        Err(why) => return refused(&why),
    };
    if asked.amount_fen == 0 || asked.refund_id.is_empty() {
        return refused("amount_fen must be at least 1 and refund_id not empty");
    }
    let new = NewRefund {
        gateway,
        id_prefix,
        merchant_id: &asked.merchant_id,
        refund_id: &asked.refund_id,
        order: OrderRef::Portal(&asked.order),
        amount_fen: asked.amount_fen,
        coin_amount: 0,
        currency: None,
    };
    let mut ledger = state.ledger.lock().expect("ledger lock");
    let now = Instant::now();
    let created = match scope {
        IdScope::Merchant => ledger.create(new, now, Duration::ZERO, Fate::Succeeds),
        IdScope::Order => ledger.create_within_order(new, now, Duration::ZERO, Fate::Succeeds),
    };
    let index = match created {
        Ok(index) => index,
        Err(refusal) => return refused(&refusal_text(refusal, &asked)),
    };
    let refund = ledger.refund(index);
    axum::Json(json!({
        "gateway": gateway,
        "merchant_id": refund.merchant_id,
        "refund_id": refund.refund_id,
        "order_id": ledger.order(refund.order).third_order_id,
        "gateway_refund_id": refund.gateway_refund_id,
        "amount_fen": refund.amount_fen,
        "success_time": refund.success_time(now).map(beijing_rfc3339),
    }))
    .into_response()
}

pub const BILL_FAULT_PATH: &str = "/__sim/bill-fault";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillFaultBody {
    gateway: String,
    refund_id: String,
    #[serde(default)]
    omit: bool,
    amount_fen: Option<u64>,
    status: Option<String>,
}

/// Whether `gateway`'s bill has a status column (Alipay's lists executed refunds only).
fn bill_has_status(gateway: GatewayKind) -> bool {
    match gateway {
        GatewayKind::Wechatpay | GatewayKind::Leshua | GatewayKind::Lianshang => true,
        GatewayKind::Alipay => false,
        #[cfg(test)]
        GatewayKind::Stub => false,
    }
}

/// The fault a body asks for: `None` clears; `Err` is the reason to refuse.
fn bill_fault_of(asked: &BillFaultBody, gateway: GatewayKind) -> Result<Option<BillFault>, String> {
    let fault = match (asked.omit, asked.amount_fen, &asked.status) {
        (false, None, None) => None,
        (true, None, None) => Some(BillFault::Omit),
        (false, Some(fen), None) => Some(BillFault::Amount(fen)),
        (false, None, Some(raw)) if raw.is_empty() => return Err("status must not be empty".into()),
        (false, None, Some(_)) if !bill_has_status(gateway) => {
            return Err(format!("{} bills have no status column", asked.gateway))
        }
        (false, None, Some(raw)) => Some(BillFault::Status(raw.clone())),
        _ => return Err("one of omit: true, amount_fen or status, not several".into()),
    };
    Ok(fault)
}

/// `POST /__sim/bill-fault {gateway, refund_id, omit: true | amount_fen: N |
/// status: "RAW"}` (none of the three: cleared): how that refund appears in
/// every later bill of its gateway; answers never change.
pub(super) async fn handle_bill_fault(
    State(state): State<Arc<SimState>>,
    bytes: Bytes,
) -> Response {
    let asked: BillFaultBody = match body(&bytes) {
        Ok(asked) => asked,
        Err(why) => return refused(&why),
    };
    let fault = gateway_named(&asked.gateway)
        .and_then(|gateway| Ok((gateway, bill_fault_of(&asked, gateway)?)));
    let (gateway, fault) = match fault {
        Ok(fault) => fault,
        Err(why) => return refused(&why),
    };
    let known = {
        let ledger = state.ledger.lock().expect("ledger lock");
        ledger
            .refunds()
            .iter()
            .any(|r| r.gateway == gateway && r.refund_id == asked.refund_id)
    };
    if !known {
        return refused(&format!(
            "no refund {:?} at {}",
            asked.refund_id, asked.gateway
        ));
    }
    state
        .bill_faults
        .set_row(gateway, &asked.refund_id, fault.clone());
    let shown = match fault {
        None => serde_json::Value::Null,
        Some(BillFault::Omit) => json!({"omit": true}),
        Some(BillFault::Amount(fen)) => json!({"amount_fen": fen}),
        Some(BillFault::Status(raw)) => json!({"status": raw}),
    };
    axum::Json(json!({"gateway": gateway, "refund_id": asked.refund_id, "fault": shown}))
        .into_response()
}

pub const BILL_DELIVERY_FAULT_PATH: &str = "/__sim/bill-delivery-fault";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryFaultBody {
    gateway: String,
    /// A fault's name, or `null` to clear.
    fault: Option<String>,
}

/// Whether `gateway`'s bill API can deliver with `fault`: WeChat Pay's every
/// one; Alipay's has no hash and no gzip; the others have no bill API.
fn delivery_applies(gateway: GatewayKind, fault: DeliveryFault) -> Result<(), String> {
    let wechat_only = matches!(fault, DeliveryFault::BadHash | DeliveryFault::Truncated);
    match gateway {
        GatewayKind::Wechatpay => Ok(()),
        GatewayKind::Alipay if wechat_only => Err(
            "bad_hash and truncated are WeChat Pay's: an Alipay bill has no hash and no gzip"
                .into(),
        ),
        GatewayKind::Alipay => Ok(()),
        GatewayKind::Leshua | GatewayKind::Lianshang => Err(format!(
            "{} has no bill API: its statement is a portal file",
            gateway.as_str()
        )),
        #[cfg(test)]
        GatewayKind::Stub => Err("the stub gateway has no simulator".into()),
    }
}

/// `POST /__sim/bill-delivery-fault {gateway, fault}`: how every later bill
/// answer of that gateway's API delivers, until `fault` is `null`.
pub(super) async fn handle_delivery_fault(
    State(state): State<Arc<SimState>>,
    bytes: Bytes,
) -> Response {
    let asked: DeliveryFaultBody = match body(&bytes) {
        Ok(asked) => asked,
        Err(why) => return refused(&why),
    };
    let set = gateway_named(&asked.gateway).and_then(|gateway| {
        let Some(name) = &asked.fault else {
            return Ok((gateway, None));
        };
        let fault = DeliveryFault::named(name).ok_or_else(|| {
            format!("no delivery fault {name:?}: bad_hash, truncated, zip_bomb, other_merchant, expired_url")
        })?;
        delivery_applies(gateway, fault)?;
        Ok((gateway, Some(fault)))
    });
    let (gateway, fault) = match set {
        Ok(set) => set,
        Err(why) => return refused(&why),
    };
    state.bill_faults.set_delivery(gateway, fault);
    axum::Json(json!({"gateway": gateway, "fault": asked.fault})).into_response()
}
