//! Refund apply and query against the ledger, with the apply checks in the
//! contract's order (docs/specs/wechatpay-v3.md, "Limits, and what the
//! simulator enforces", steps 3–9), and the Refund object both answer.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::super::faults::NewRefundAnswer;
use super::super::ledger::{Fate, Ledger, NewRefund, OrderRef, RefundState};
use super::super::SimState;
use super::Answer;
use crate::gateway::wechatpay::is_valid_id;
use crate::gateway::GatewayKind;

/// An apply's body, once well-formed.
#[derive(Debug)]
pub(super) struct ApplyBody {
    out_refund_no: String,
    transaction_id: Option<String>,
    out_trade_no: Option<String>,
    refund: u64,
    total: u64,
}

impl ApplyBody {
    fn order(&self) -> OrderRef<'_> {
        OrderRef::Wechatpay {
            transaction_id: self.transaction_id.as_deref(),
            out_trade_no: self.out_trade_no.as_deref(),
        }
    }
}

/// The WeChat refund id prefix the ledger writes as 29 digits.
pub(in crate::sim) const REFUND_ID_PREFIX: &str = "503";
const YEAR: jiff::SignedDuration = jiff::SignedDuration::from_hours(365 * 24);
const MAX_REFUNDS_PER_ORDER: usize = 50;

fn param_error(message: &str) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, "PARAM_ERROR", message)
}

fn invalid(message: &str) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

/// An optional string field; `Err` when present with another JSON type.
fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// A positive JSON integer: `100.0`, `1e2` or `"100"` are not (ours).
fn amount(object: &Map<String, Value>, name: &str) -> Result<u64, String> {
    match object.get(name) {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => match n.as_i64() {
            Some(v) if v > 0 => Ok(v as u64),
            _ => Err(format!("amount.{name} must be at least 1")),
        },
        None => Err(format!("amount.{name} is required")),
        Some(_) => Err(format!("amount.{name} must be a JSON integer of fen")),
    }
}

/// Step 3: the body's shape and every field rule; `Err` is the PARAM_ERROR message.
pub(super) fn parse(body: &[u8]) -> Result<ApplyBody, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let object = value.as_object().ok_or("the body is not a JSON object")?;
    let out_refund_no = text(object, "out_refund_no")?.ok_or("out_refund_no is required")?;
    if !is_valid_id(out_refund_no, 64) {
        return Err("out_refund_no must be 1-64 of letters, digits, _ - | * @".into());
    }
    let transaction_id = text(object, "transaction_id")?;
    let out_trade_no = text(object, "out_trade_no")?;
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err("transaction_id or out_trade_no is required".into());
    }
    if transaction_id.is_some_and(|id| {
        id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric())
    }) {
        return Err("transaction_id must be 1-32 letters and digits".into());
    }
    if out_trade_no.is_some_and(|id| !is_valid_id(id, 32)) {
        return Err("out_trade_no must be 1-32 of letters, digits, _ - | * @".into());
    }
    if text(object, "reason")?.is_some_and(|r| r.chars().count() > 80) {
        return Err("reason must be at most 80 characters".into());
    }
    if let Some(url) = text(object, "notify_url")? {
        let absolute = url.starts_with("https://") || url.starts_with("http://");
        if !absolute || url.contains('?') || url.len() > 256 {
            return Err("notify_url must be an absolute URL of at most 256, no query".into());
        }
    }
    if text(object, "funds_account")?.is_some_and(|f| f != "AVAILABLE") {
        return Err("funds_account must be AVAILABLE".into());
    }
    let Some(Value::Object(amounts)) = object.get("amount") else {
        return Err("amount is required and must be an object".into());
    };
    let refund = amount(amounts, "refund")?;
    let total = amount(amounts, "total")?;
    if text(amounts, "currency")? != Some("CNY") {
        return Err("amount.currency must be CNY".into());
    }
    Ok(ApplyBody {
        out_refund_no: out_refund_no.to_owned(),
        transaction_id: transaction_id.map(str::to_owned),
        out_trade_no: out_trade_no.map(str::to_owned),
        refund,
        total,
    })
}

/// How the faults name a refund they lie about.
fn lie_key(mchid: &str, out_refund_no: &str) -> String {
    format!("wechatpay:{mchid}:{out_refund_no}")
}

/// Steps 3–9 of an apply. `None`: the refund was recorded and the answer is
/// to be lost (a 500), as `--contradict` asks.
pub(super) fn apply(state: &SimState, mchid: &str, body: &[u8]) -> Option<Answer> {
    let request = match parse(body) {
        Ok(request) => request,
        Err(why) => return Some(param_error(&why)),
    };
    let config = state.faults.config();
    let mut ledger = state.ledger.lock().expect("ledger lock");
    ledger.note_submission(GatewayKind::Wechatpay, mchid, &request.out_refund_no);
    let now = Instant::now();
    let order = ledger.find_order(GatewayKind::Wechatpay, mchid, &request.order());
    // Step 4: a known id answers the refund as it is now, before any rule.
    if let Some(existing) =
        ledger.find_refund(GatewayKind::Wechatpay, mchid, &request.out_refund_no)
    {
        let refund = ledger.refund(existing);
        let same = Some(refund.order) == order
            && refund.amount_fen == request.refund
            && ledger.order(refund.order).amount_fen == request.total;
        if !same {
            return Some(invalid("out_refund_no is already used for another refund"));
        }
        if config.contradict {
            return None;
        }
        return Some(Answer::ok(refund_object(&ledger, existing, now)));
    }
    if let Err(refused) = check_rules(state, &ledger, mchid, &request, order, now) {
        return Some(refused);
    }
    let order = order.expect("checked by the rules");
    let new = NewRefund {
        gateway: GatewayKind::Wechatpay,
        id_prefix: REFUND_ID_PREFIX,
        merchant_id: mchid,
        refund_id: &request.out_refund_no,
        order: request.order(),
        amount_fen: request.refund,
        coin_amount: 0,
        currency: Some("CNY"),
    };
    let fate = state.faults.refund_fate(&request.out_refund_no);
    let index = match ledger.create(new, now, config.processing_for, fate) {
        Ok(index) => index,
        // The rules above are the ledger's and more: it cannot refuse.
        Err(refusal) => return Some(invalid(&format!("refused: {refusal:?}"))),
    };
    debug_assert_eq!(ledger.refund(index).order, order);
    let lie = state.faults.lie();
    match state
        .faults
        .new_refund_answer(lie_key(mchid, &request.out_refund_no))
    {
        NewRefundAnswer::ServerError => None,
        NewRefundAnswer::Lie => Some(not_enough()),
        NewRefundAnswer::Truth if lie => Some(not_enough()),
        NewRefundAnswer::Truth => Some(Answer::ok(refund_object(&ledger, index, now))),
    }
}

fn not_enough() -> Answer {
    Answer::error(
        StatusCode::FORBIDDEN,
        "NOT_ENOUGH",
        "the merchant's refundable balance is too low",
    )
}

/// Steps 5–8: the order, the ledger's rules, the gap between one order's
/// refunds, the merchant's balance.
fn check_rules(
    state: &SimState,
    ledger: &Ledger,
    mchid: &str,
    request: &ApplyBody,
    order: Option<usize>,
    now: Instant,
) -> Result<(), Answer> {
    let both_given = request.transaction_id.is_some() && request.out_trade_no.is_some();
    let Some(order) = order else {
        let by = |r: OrderRef| ledger.find_order(GatewayKind::Wechatpay, mchid, &r);
        let one = |transaction_id, out_trade_no| {
            by(OrderRef::Wechatpay {
                transaction_id,
                out_trade_no,
            })
        };
        if both_given
            && (one(request.transaction_id.as_deref(), None).is_some()
                || one(None, request.out_trade_no.as_deref()).is_some())
        {
            return Err(invalid(
                "transaction_id and out_trade_no name different orders",
            ));
        }
        return Err(resource_not_exists("no such order"));
    };
    let paid = ledger.order(order);
    if paid.status != super::super::ledger::OrderStatus::Paid {
        return Err(resource_not_exists("the order is not paid"));
    }
    if request.total != paid.amount_fen {
        return Err(invalid("amount.total is not the order's paid amount"));
    }
    let age = state.clock.now().duration_since(ledger.paid_at(order));
    if age > YEAR {
        return Err(invalid("the order was paid more than 365 days ago"));
    }
    if ledger.refunds_of(order).len() >= MAX_REFUNDS_PER_ORDER {
        return Err(invalid("the order already has 50 refunds"));
    }
    if request.refund > ledger.refundable(order, now) {
        return Err(invalid(
            "amount.refund is more than the order's refundable balance",
        ));
    }
    let gap = state.wechatpay.config.order_gap;
    let too_soon = |last: Instant| now.saturating_duration_since(last) < gap;
    if gap > Duration::ZERO && ledger.last_created(order).is_some_and(too_soon) {
        return Err(Answer::error(
            StatusCode::TOO_MANY_REQUESTS,
            "FREQUENCY_LIMITED",
            "refunds of one order must be at least the gap apart",
        ));
    }
    if let Some(balance) = state.wechatpay.balance_fen() {
        let held = ledger.held_by_merchant(GatewayKind::Wechatpay, mchid, now);
        if balance.saturating_sub(held) < request.refund {
            return Err(not_enough());
        }
    }
    Ok(())
}

fn resource_not_exists(message: &str) -> Answer {
    Answer::error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", message)
}

/// A query: the refund as it is now, or 404 when it was never created (or
/// the faults deny it).
pub(super) fn query(state: &SimState, mchid: &str, out_refund_no: &str) -> Answer {
    let ledger = state.ledger.lock().expect("ledger lock");
    let found = ledger.find_refund(GatewayKind::Wechatpay, mchid, out_refund_no);
    let Some(index) = found else {
        return resource_not_exists("no such refund");
    };
    if state.faults.lie() || state.faults.denies(&lie_key(mchid, out_refund_no)) {
        return resource_not_exists("no such refund");
    }
    Answer::ok(refund_object(&ledger, index, Instant::now()))
}

pub(super) use super::super::clock::beijing;
/// A time as the API writes it: RFC 3339 in Beijing time.
use super::super::clock::beijing_rfc3339 as rfc3339;

/// A refund's status word.
pub(super) fn status_word(state: RefundState) -> &'static str {
    match state {
        RefundState::Processing => "PROCESSING",
        RefundState::Succeeded => "SUCCESS",
        RefundState::Failed => "CLOSED",
        RefundState::Abnormal => "ABNORMAL",
    }
}

/// Where the money went: an abnormal refund tried a bank card; one a person
/// redirected went to the payer's balance.
pub(super) fn channel_and_account(ledger: &Ledger, index: usize) -> (&'static str, &'static str) {
    let refund = ledger.refund(index);
    match (refund.fate, refund.resolved_at) {
        (Fate::Abnormal, Some(_)) => ("OTHER_BALANCE", "支付用户零钱"),
        (Fate::Abnormal, None) => ("ORIGINAL", "招商银行信用卡0403"),
        _ => ("ORIGINAL", "支付用户零钱"),
    }
}

/// The Refund object, in the field order of the contract's table.
pub(super) fn refund_object(ledger: &Ledger, index: usize, now: Instant) -> Value {
    let refund = ledger.refund(index);
    let order = ledger.order(refund.order);
    let (channel, account) = channel_and_account(ledger, index);
    let mut object = Map::new();
    object.insert("refund_id".into(), refund.gateway_refund_id.clone().into());
    object.insert("out_refund_no".into(), refund.refund_id.clone().into());
    object.insert(
        "transaction_id".into(),
        order.gateway_order_id.clone().into(),
    );
    object.insert("out_trade_no".into(), order.third_order_id.clone().into());
    object.insert("channel".into(), channel.into());
    object.insert("user_received_account".into(), account.into());
    if let Some(at) = refund.success_time(now) {
        object.insert("success_time".into(), rfc3339(at).into());
    }
    object.insert("create_time".into(), rfc3339(refund.created_at).into());
    object.insert("status".into(), status_word(refund.state(now)).into());
    object.insert("funds_account".into(), "AVAILABLE".into());
    let (total, amount) = (order.amount_fen, refund.amount_fen);
    object.insert(
        "amount".into(),
        json!({
            "total": total, "refund": amount, "payer_total": total, "payer_refund": amount,
            "settlement_refund": amount, "settlement_total": total, "discount_refund": 0,
            "currency": "CNY",
        }),
    );
    Value::Object(object)
}

/// The fields a mismatch may change; `out_refund_no_number` sends the id as a
/// JSON number (a wrong type), an `_empty` field an empty string (an echo
/// that names nothing).
const ECHOED: &[&str] = &[
    "out_refund_no",
    "out_refund_no_number",
    "out_refund_no_empty",
    "out_trade_no_empty",
    "amount.currency_empty",
    "out_trade_no",
    "transaction_id",
    "amount.refund",
    "amount.currency",
];

/// A correctly signed answer about something else than the request.
pub(super) fn mismatch(state: &SimState, body: &mut Value, field: Option<&str>) {
    let field = field.unwrap_or_else(|| state.faults.pick(ECHOED));
    // Only a Refund object echoes the request; a bill's answer has nothing to mismatch.
    let Some(object) = body.as_object_mut().filter(|o| o.contains_key("refund_id")) else {
        return;
    };
    match field {
        "out_refund_no_number" => {
            object.insert("out_refund_no".into(), json!(1));
        }
        "amount.refund" => {
            if let Some(amount) = object.get_mut("amount").and_then(Value::as_object_mut) {
                let refund = amount.get("refund").and_then(Value::as_u64).unwrap_or(0);
                amount.insert("refund".into(), json!(refund + 1));
            }
        }
        "amount.currency" | "amount.currency_empty" => {
            let currency = if field == "amount.currency" {
                "USD"
            } else {
                ""
            };
            if let Some(amount) = object.get_mut("amount").and_then(Value::as_object_mut) {
                amount.insert("currency".into(), json!(currency));
            }
        }
        "out_refund_no_empty" | "out_trade_no_empty" => {
            let name = field.trim_end_matches("_empty");
            object.insert(name.into(), json!(""));
        }
        name => {
            let current = object.get(name).and_then(Value::as_str).unwrap_or("");
            let other = format!("{current}X");
            object.insert(name.into(), other.into());
        }
    }
}
