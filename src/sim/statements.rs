//! The Leshua and Lianshang portal statements (docs/specs/statements.md,
//! "Leshua portal statement", "Lianshang portal statement"; our convention):
//! `GET /__sim/statement/{leshua|lianshang}?merchant_id=…&date=YYYY-MM-DD
//! [&encoding=gbk]`, the CSV a merchant downloads from the portal, made from
//! the ledger. One row per refund of that Beijing day (by its success time;
//! one not succeeded by its creation time), in the order they were created,
//! amounts in integer fen, bill faults applied; CRLF lines, UTF-8 without a
//! BOM, or GBK. These gateways have no bill API, so no day is refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::bill_faults::RowFaults;
use super::clock::beijing;
use super::control::refused;
use super::ledger::{Ledger, RefundState, SimRefund};
use super::SimState;
use crate::gateway::GatewayKind;

pub const STATEMENT_PATH: &str = "/__sim/statement/{gateway}";

const LESHUA_HEADER: &[&str] = &[
    "merchant_id",
    "merchant_refund_id",
    "leshua_refund_id",
    "third_order_id",
    "leshua_order_id",
    "refund_amount",
    "status",
    "refund_time",
];

const LIANSHANG_HEADER: &[&str] = &[
    "merchant_id",
    "appid",
    "out_refund_id",
    "wk_refund_id",
    "out_trade_id",
    "original_wk_trade_id",
    "refund_cash_amount",
    "refund_coin_amount",
    "refund_currency",
    "refund_status",
    "refund_time",
];

/// A portal's statement: its header and how one refund becomes a row.
struct Layout {
    header: &'static [&'static str],
    row: fn(&Ledger, &SimRefund, &RowFaults, Instant) -> Vec<String>,
}

/// The portal statement layout of `gateway`; `None` for a gateway whose
/// bill comes through its API.
fn layout(gateway: GatewayKind) -> Option<Layout> {
    match gateway {
        GatewayKind::Leshua => Some(Layout {
            header: LESHUA_HEADER,
            row: leshua_row,
        }),
        GatewayKind::Lianshang => Some(Layout {
            header: LIANSHANG_HEADER,
            row: lianshang_row,
        }),
        _ => None,
    }
}

/// `yyyyMMddHHmmss` in Beijing time, once the refund is final (as the
/// query answers write `refund_time`); empty while it is not.
fn refund_time(refund: &SimRefund, now: Instant) -> String {
    match refund.state(now) {
        RefundState::Processing | RefundState::Abnormal => String::new(),
        RefundState::Succeeded | RefundState::Failed => {
            let at = refund.success_time(now).unwrap_or(refund.finished_at);
            beijing(at).strftime("%Y%m%d%H%M%S").to_string()
        }
    }
}

fn leshua_row(
    ledger: &Ledger,
    refund: &SimRefund,
    faults: &RowFaults,
    now: Instant,
) -> Vec<String> {
    let order = ledger.order(refund.order);
    let status = super::leshua::status_code(refund.state(now));
    vec![
        refund.merchant_id.clone(),
        refund.refund_id.clone(),
        refund.gateway_refund_id.clone(),
        order.third_order_id.clone(),
        order.gateway_order_id.clone(),
        faults
            .amount(&refund.refund_id, refund.amount_fen)
            .to_string(),
        faults
            .status(&refund.refund_id)
            .unwrap_or(status)
            .to_owned(),
        refund_time(refund, now),
    ]
}

fn lianshang_row(
    ledger: &Ledger,
    refund: &SimRefund,
    faults: &RowFaults,
    now: Instant,
) -> Vec<String> {
    let order = ledger.order(refund.order);
    let status = super::lianshang::status_text(refund.state(now));
    vec![
        refund.merchant_id.clone(),
        order.appid.clone(),
        refund.refund_id.clone(),
        refund.gateway_refund_id.clone(),
        order.third_order_id.clone(),
        order.gateway_order_id.clone(),
        faults
            .amount(&refund.refund_id, refund.amount_fen)
            .to_string(),
        refund.coin_amount.to_string(),
        order.currency.clone(),
        faults
            .status(&refund.refund_id)
            .unwrap_or(status)
            .to_owned(),
        refund_time(refund, now),
    ]
}

/// The statement's text: the header, then `merchant`'s refunds of `day`.
fn statement(
    ledger: &Ledger,
    gateway: GatewayKind,
    layout: &Layout,
    faults: &RowFaults,
    merchant: &str,
    day: jiff::civil::Date,
) -> String {
    let now = Instant::now();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut write = |record: Vec<String>| {
        writer
            .write_record(&record)
            .expect("writing CSV to memory never fails")
    };
    write(layout.header.iter().map(|&name| name.to_owned()).collect());
    for refund in ledger.refunds() {
        let on = refund.success_time(now).unwrap_or(refund.created_at);
        if refund.gateway != gateway
            || refund.merchant_id != merchant
            || beijing(on).date() != day
            || faults.omits(&refund.refund_id)
        {
            continue;
        }
        write((layout.row)(ledger, refund, faults, now));
    }
    let bytes = writer
        .into_inner()
        .expect("writing CSV to memory never fails");
    String::from_utf8(bytes).expect("the CSV of UTF-8 fields is UTF-8")
}

/// `GET /__sim/statement/{gateway}?merchant_id=…&date=YYYY-MM-DD[&encoding=gbk]`.
pub(super) async fn handle(
    State(state): State<Arc<SimState>>,
    Path(gateway): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some((gateway, layout)) = GatewayKind::parse(&gateway).and_then(|g| Some((g, layout(g)?)))
    else {
        let error =
            json!({"error": format!("no portal statement for {gateway:?}: leshua or lianshang")});
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    };
    let (Some(merchant), Some(date)) = (query.get("merchant_id"), query.get("date")) else {
        return refused("merchant_id and date are required");
    };
    let Some(day) = (date.len() == 10)
        .then(|| date.parse::<jiff::civil::Date>().ok())
        .flatten()
    else {
        return refused("date must be YYYY-MM-DD");
    };
    let gbk = match query.get("encoding").map(String::as_str) {
        None | Some("utf-8") => false,
        Some("gbk") => true,
        Some(_) => return refused("encoding must be utf-8 or gbk"),
    };
    let faults = state.bill_faults.rows(gateway);
    let text = {
        let ledger = state.ledger.lock().expect("ledger lock");
        if !ledger.knows_merchant(gateway, merchant) {
            let error =
                json!({"error": format!("no merchant {merchant:?} at {}", gateway.as_str())});
            return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
        }
        statement(&ledger, gateway, &layout, &faults, merchant, day)
    };
    if gbk {
        let bytes = encoding_rs::GBK.encode(&text).0.into_owned();
        ([(header::CONTENT_TYPE, "text/csv; charset=gbk")], bytes).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
    }
}
