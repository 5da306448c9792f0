//! Applying for a REFUND bill and downloading it (docs/specs/wechatpay-v3.md,
//! "The trade bill", "Simulator:"): the bill of a Beijing day is made from the
//! ledger when applied for, offered under a token that lives
//! `--bill-url-ttl`, and downloaded gzipped (or plain without `tar_type`).
//! A refund belongs to the day of its `success_time`, else of its
//! `create_time` (ours: which time WeChat uses is unverified).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use super::super::bill_faults::{DeliveryFault, RowFaults};
use super::super::bomb::{self, Bomb};
use super::super::ledger::Ledger;
use super::super::SimState;
use super::apply::{beijing, channel_and_account, status_word};
use super::bill::{self, BillRow};
use super::Answer;
use crate::gateway::GatewayKind;

/// How far back a bill may be asked for (ours; WeChat says three months).
const MAX_DAYS_BACK: i64 = 90;

/// A bill on offer under a token.
struct Offer {
    mchid: String,
    bytes: Vec<u8>,
    until: Instant,
}

/// The tokens handed out and what each one downloads.
#[derive(Default)]
pub(super) struct Offers {
    by_token: HashMap<String, Offer>,
}

fn bad(code: &str, message: &str) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, code, message)
}

/// The bill's day and whether it is gzipped, from the apply's query.
fn day_and_gzip(query: &str) -> Result<(jiff::civil::Date, bool), Answer> {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(date) = params.get("bill_date") else {
        return Err(bad("PARAM_ERROR", "bill_date is required"));
    };
    let Ok(day) = date.parse::<jiff::civil::Date>() else {
        return Err(bad("PARAM_ERROR", "bill_date must be yyyy-MM-dd"));
    };
    if params.get("bill_type").is_some_and(|t| t != "REFUND") {
        return Err(bad("PARAM_ERROR", "the simulator serves REFUND bills only"));
    }
    match params.get("tar_type").map(String::as_str) {
        None => Ok((day, false)),
        Some("GZIP") => Ok((day, true)),
        Some(_) => Err(bad("PARAM_ERROR", "tar_type must be GZIP")),
    }
}

/// `GET /v3/bill/tradebill`: checks the query, makes the bill and offers it.
pub(super) fn offer(state: &SimState, mchid: &str, query: &str, host: &str) -> Answer {
    let (day, gzip) = match day_and_gzip(query) {
        Ok(asked) => asked,
        Err(refused) => return refused,
    };
    let today = beijing(state.clock.now()).date();
    let config = &state.wechatpay.config;
    let ready = day < today || (day == today && config.bill_same_day);
    if !ready {
        return bad(
            "STATEMENT_CREATING",
            "the bill is not ready; try after 10:00 the next day",
        );
    }
    let days_back = today
        .since(day)
        .map_or(i64::MAX, |span| i64::from(span.get_days()));
    if days_back > MAX_DAYS_BACK {
        return bad("INVALID_REQUEST", "bill_date is more than 90 days back");
    }
    let faults = state.bill_faults.rows(GatewayKind::Wechatpay);
    let mut rows = {
        let ledger = state.ledger.lock().expect("ledger lock");
        rows_of_day(&ledger, &faults, mchid, day, Instant::now())
    };
    if rows.is_empty() {
        return bad("NO_STATEMENT_EXIST", "no refund on that day");
    }
    let fault = state.bill_faults.delivery(GatewayKind::Wechatpay);
    if fault == Some(DeliveryFault::OtherMerchant) {
        let other = other_mchid(mchid);
        rows.iter_mut().for_each(|row| row.mchid = other.clone());
    }
    let (hash, bytes) = delivered(state, &rows, gzip, fault);
    let token = super::auth::nonce();
    let mut offers = state.wechatpay.bills.lock().expect("bills lock");
    let now = Instant::now();
    offers.by_token.retain(|_, offer| offer.until > now);
    let ttl = match fault {
        Some(DeliveryFault::ExpiredUrl) => Duration::ZERO,
        _ => config.bill_url_ttl,
    };
    offers.by_token.insert(
        token.clone(),
        Offer {
            mchid: mchid.to_owned(),
            bytes,
            until: now + ttl,
        },
    );
    Answer::ok(json!({
        "hash_type": "SHA1",
        "hash_value": hash,
        "download_url": format!("http://{host}{}?token={token}", super::DOWNLOAD_PATH),
    }))
}

/// A merchant id that is not `mchid` (WeChat's documentation's sample one).
fn other_mchid(mchid: &str) -> String {
    if mchid == "1900000109" {
        "1900000110"
    } else {
        "1900000109"
    }
    .to_owned()
}

/// The `hash_value` and the bytes to download, as the delivery fault has them.
fn delivered(
    state: &SimState,
    rows: &[BillRow],
    gzip: bool,
    fault: Option<DeliveryFault>,
) -> (String, Vec<u8>) {
    let layout = state.wechatpay.config.bill_layout;
    if fault == Some(DeliveryFault::ZipBomb) {
        // Gzipped whatever `tar_type` asked: the fault is the gzip.
        let bomb = state.wechatpay.bomb.get_or_init(|| {
            // The header line, BOM and CRLF included, then the zeros.
            let empty = bill::render(&[], layout);
            let header_end = empty
                .windows(2)
                .position(|w| w == b"\r\n")
                .map_or(0, |i| i + 2);
            Bomb::new(&empty[..header_end], bomb::CHUNKS)
        });
        return (bomb.sha1.clone(), bomb.gzip());
    }
    let text = bill::render(rows, layout);
    let mut hash = bill::sha1_hex(&text);
    let mut bytes = if gzip { bill::gzip(&text) } else { text };
    match fault {
        Some(DeliveryFault::BadHash) => hash = bill::sha1_hex(b"another file"),
        Some(DeliveryFault::Truncated) => bytes.truncate(bytes.len() / 2),
        _ => {}
    }
    (hash, bytes)
}

/// `GET /v3/billdownload/file`: the bytes, or an error answer.
pub(super) fn download(state: &SimState, mchid: &str, query: &str) -> Result<Vec<u8>, Answer> {
    let token = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| bad("PARAM_ERROR", "token is required"))?;
    let offers = state.wechatpay.bills.lock().expect("bills lock");
    let offer = offers
        .by_token
        .get(&token)
        .filter(|offer| offer.until > Instant::now())
        .ok_or_else(|| bad("INVALID_REQUEST", "the download URL expired; apply again"))?;
    if offer.mchid != mchid {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            "NO_AUTH",
            "the bill is another merchant's",
        ));
    }
    Ok(offer.bytes.clone())
}

fn bill_time(time: jiff::Timestamp) -> String {
    beijing(time).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The merchant's refunds of one Beijing day, in the order they were
/// created, each as the bill faults show it.
fn rows_of_day(
    ledger: &Ledger,
    faults: &RowFaults,
    mchid: &str,
    day: jiff::civil::Date,
    now: Instant,
) -> Vec<BillRow> {
    let mut rows = Vec::new();
    for (index, refund) in ledger.refunds().iter().enumerate() {
        if refund.gateway != GatewayKind::Wechatpay
            || refund.merchant_id != mchid
            || faults.omits(&refund.refund_id)
        {
            continue;
        }
        let success = refund.success_time(now);
        if beijing(success.unwrap_or(refund.created_at)).date() != day {
            continue;
        }
        let order = ledger.order(refund.order);
        let status = refund.state(now);
        let asked = faults.amount(&refund.refund_id, refund.amount_fen);
        // Money that went back to the merchant (a closed refund) was not settled.
        let settled = match status {
            super::super::ledger::RefundState::Failed => 0,
            _ => asked,
        };
        let status = faults
            .status(&refund.refund_id)
            .unwrap_or(status_word(status));
        rows.push(BillRow {
            paid_at: bill_time(ledger.paid_at(refund.order)),
            appid: "wx00000000000000a1".into(),
            mchid: mchid.to_owned(),
            sub_mchid: "0".into(),
            transaction_id: order.gateway_order_id.clone(),
            out_trade_no: order.third_order_id.clone(),
            openid: format!("oTEST{:024}", refund.order + 1),
            trade_type: "NATIVE".into(),
            bank: "OTHERS".into(),
            currency: order.currency.clone(),
            applied_at: bill_time(refund.created_at),
            succeeded_at: success.map(bill_time).unwrap_or_default(),
            refund_id: refund.gateway_refund_id.clone(),
            out_refund_no: refund.refund_id.clone(),
            refund_fen: settled,
            channel: channel_and_account(ledger, index).0.into(),
            status: status.into(),
            product: "bulkrefund 模拟商品, 测试".into(),
            fee_rate: "0.60%".into(),
            applied_fen: asked,
            ..BillRow::default()
        });
    }
    rows
}
