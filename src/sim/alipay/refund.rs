//! `alipay.trade.refund` and `alipay.trade.fastpay.refund.query` against the
//! ledger, the refund's checks in the contract's order (docs/specs/alipay.md,
//! "What the simulator enforces", steps 3–10). A refund is synchronous: it is
//! executed (recorded, succeeded) by the call that answers `fund_change` `Y`,
//! or not at all. `out_request_no` is unique within its trade only, so the
//! ledger keeps Alipay's refunds per order ([`Ledger::create_within_order`]).

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::super::faults::NewRefundAnswer;
use super::super::ledger::{Fate, Ledger, NewRefund, OrderRef, OrderStatus, RefundState};
use super::super::SimState;
use super::answer::{fen, yuan, Reply};
use super::form::Call;
use crate::gateway::GatewayKind;

/// The made-up payer every answer names (the vectors' values).
const BUYER_LOGON_ID: &str = "159****5620";
const BUYER_OPEN_ID: &str = "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5";
/// The largest refund Alipay takes: 100000000.00 yuan.
const MAX_REFUND_FEN: u64 = 10_000_000_000;

/// A refund's business fields, once well-formed.
#[derive(Debug)]
struct RefundBody {
    out_trade_no: Option<String>,
    trade_no: Option<String>,
    refund_fen: u64,
    /// As sent; without it Alipay takes the `out_trade_no` as the number.
    out_request_no: Option<String>,
}

impl RefundBody {
    fn order(&self) -> OrderRef<'_> {
        OrderRef::Alipay {
            trade_no: self.trade_no.as_deref(),
            out_trade_no: self.out_trade_no.as_deref(),
        }
    }
}

/// A business failure of the refund call: Alipay adds zero amounts to it.
fn refused(sub_code: &str, sub_msg: &str) -> Reply {
    Reply::business(
        &Call::Refund.member(),
        sub_code,
        sub_msg,
        &[("refund_fee", yuan(0)), ("send_back_fee", yuan(0))],
    )
}

fn invalid(member: &str, why: &str) -> Reply {
    Reply::business(
        member,
        "ACQ.INVALID_PARAMETER",
        &format!("参数无效: {why}"),
        &[],
    )
}

/// An optional string field of at most `max` characters; empty is absent.
fn text(object: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max => {
            Err(format!("{name} is longer than {max}"))
        }
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn object(biz_content: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(biz_content) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("biz_content is not a JSON object".into()),
    }
}

/// Step 3: the fields' types, lengths and the amount; `Err` is why.
fn parse_refund(biz_content: &str) -> Result<RefundBody, String> {
    let object = object(biz_content)?;
    let out_trade_no = text(&object, "out_trade_no", 64)?;
    let trade_no = text(&object, "trade_no", 64)?;
    let out_request_no = text(&object, "out_request_no", 64)?;
    text(&object, "refund_reason", 256)?;
    text(&object, "operator_id", 30)?;
    text(&object, "store_id", 32)?;
    text(&object, "terminal_id", 32)?;
    if out_trade_no.is_none() && trade_no.is_none() {
        return Err("out_trade_no or trade_no is required".into());
    }
    let amount = text(&object, "refund_amount", 16)?.ok_or("refund_amount is required")?;
    let refund_fen = fen(&amount)
        .filter(|&f| (1..=MAX_REFUND_FEN).contains(&f))
        .ok_or("refund_amount must be 0.01 to 100000000.00 yuan, at most two decimals")?;
    Ok(RefundBody {
        out_trade_no,
        trade_no,
        refund_fen,
        out_request_no,
    })
}

/// How the faults name a refund they lie about.
fn lie_key(app_id: &str, order: usize, out_request_no: &str) -> String {
    format!("alipay:{app_id}:{order}:{out_request_no}")
}

/// A time as Alipay writes it: `yyyy-MM-dd HH:mm:ss`, Beijing time.
pub(super) fn beijing_text(time: jiff::Timestamp) -> String {
    beijing(time).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

pub(super) use super::super::clock::beijing;

/// What the trade's executed refunds add up to (Alipay's `refund_fee`).
fn refunded(ledger: &Ledger, order: usize, now: Instant) -> u64 {
    ledger
        .order(order)
        .amount_fen
        .saturating_sub(ledger.refundable(order, now))
}

/// The refund answer: `fund_change` `Y` for the call that executed it, `N`
/// for a repeat; `refund_fee` is the trade's total refunded so far.
pub(super) fn refund_answer(
    out_trade_no: &str,
    trade_no: &str,
    executed_now: bool,
    gmt_refund_pay: Option<&str>,
    refund_fee: u64,
    this_refund: u64,
) -> Reply {
    let mut fields = vec![("buyer_logon_id", BUYER_LOGON_ID.to_owned())];
    if executed_now {
        fields.push(("buyer_open_id", BUYER_OPEN_ID.to_owned()));
    }
    fields.push((
        "fund_change",
        if executed_now { "Y" } else { "N" }.to_owned(),
    ));
    if let Some(at) = gmt_refund_pay {
        fields.push(("gmt_refund_pay", at.to_owned()));
    }
    fields.push(("out_trade_no", out_trade_no.to_owned()));
    fields.push(("refund_fee", yuan(refund_fee)));
    if executed_now {
        fields.push(("send_back_fee", yuan(this_refund)));
    }
    fields.push(("trade_no", trade_no.to_owned()));
    Reply::success(&Call::Refund.member(), &fields)
}

fn answer_of(ledger: &Ledger, refund: usize, executed_now: bool, now: Instant) -> Reply {
    let r = ledger.refund(refund);
    let order = ledger.order(r.order);
    refund_answer(
        &order.third_order_id,
        &order.gateway_order_id,
        executed_now,
        Some(&beijing_text(r.created_at)),
        refunded(ledger, r.order, now),
        r.amount_fen,
    )
}

/// What the refund call answers; `None`: the refund was recorded and the
/// answer is to be lost (HTTP 500), as `--contradict` asks.
pub(super) fn refund(state: &SimState, app_id: &str, biz_content: &str) -> Option<Reply> {
    let request = match parse_refund(biz_content) {
        Ok(request) => request,
        Err(why) => return Some(invalid(&Call::Refund.member(), &why)),
    };
    let config = state.faults.config();
    let mut ledger = state.ledger.lock().expect("ledger lock");
    let now = Instant::now();
    let order = ledger.find_order(GatewayKind::Alipay, app_id, &request.order());
    // Step 4: the trade, and the number (the out_trade_no when none is sent).
    let Some(order) = order else {
        if let Some(id) = &request.out_request_no {
            ledger.note_submission(GatewayKind::Alipay, app_id, id);
        }
        return Some(refused("ACQ.TRADE_NOT_EXIST", "交易不存在"));
    };
    let trade = ledger.order(order).clone();
    let number = request
        .out_request_no
        .clone()
        .unwrap_or_else(|| trade.third_order_id.clone());
    ledger.note_submission(GatewayKind::Alipay, app_id, &number);
    // Step 5: a number already executed on this trade.
    if let Some(existing) = ledger.find_refund_of_order(order, &number) {
        if ledger.refund(existing).amount_fen != request.refund_fen {
            return Some(refused("ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求"));
        }
        if config.contradict {
            return None;
        }
        return Some(answer_of(&ledger, existing, false, now));
    }
    if let Err(refusal) = check_rules(state, &ledger, app_id, &request, order, now) {
        return Some(refusal);
    }
    // The faults that refuse, or say N, without executing.
    if state.faults.refund_ends_failed() {
        return Some(refused("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足"));
    }
    if state.faults.fund_change_n() {
        // Not executed, yet answered as if accepted: `refund_fee` counts this
        // refund (ours), so that only the query can tell.
        return Some(refund_answer(
            &trade.third_order_id,
            &trade.gateway_order_id,
            false,
            None,
            refunded(&ledger, order, now) + request.refund_fen,
            request.refund_fen,
        ));
    }
    // Step 10: execute.
    let new = NewRefund {
        gateway: GatewayKind::Alipay,
        id_prefix: "",
        merchant_id: app_id,
        refund_id: &number,
        order: request.order(),
        amount_fen: request.refund_fen,
        coin_amount: 0,
        currency: Some("CNY"),
    };
    let index = match ledger.create_within_order(new, now, Duration::ZERO, Fate::Succeeds) {
        Ok(index) => index,
        // The rules above are the ledger's and more: it cannot refuse.
        Err(refusal) => return Some(refused("ACQ.SYSTEM_ERROR", &format!("{refusal:?}"))),
    };
    let lie = state.faults.lie();
    match state
        .faults
        .new_refund_answer(lie_key(app_id, order, &number))
    {
        NewRefundAnswer::ServerError => None,
        NewRefundAnswer::Lie => Some(refused("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")),
        NewRefundAnswer::Truth if lie => {
            Some(refused("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足"))
        }
        NewRefundAnswer::Truth => Some(answer_of(&ledger, index, true, now)),
    }
}

/// Steps 6–9: the trade's state and age, the amount, the gap since the
/// trade's last refund, the merchant's balance; `Err` is the refusal.
fn check_rules(
    state: &SimState,
    ledger: &Ledger,
    app_id: &str,
    request: &RefundBody,
    order: usize,
    now: Instant,
) -> Result<(), Reply> {
    let alipay = &state.alipay.config;
    // Step 6: the trade's state.
    match ledger.order(order).status {
        OrderStatus::Failed => return Err(refused("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")),
        OrderStatus::Closed => return Err(refused("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")),
        OrderStatus::Paid => {}
    }
    let refundable = ledger.refundable(order, now);
    if refundable == 0 {
        return Err(refused("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"));
    }
    let age = state.clock.now().duration_since(ledger.paid_at(order));
    let window =
        jiff::SignedDuration::try_from(alipay.refund_window).unwrap_or(jiff::SignedDuration::MAX);
    if age > window {
        return Err(refused("ACQ.TRADE_HAS_FINISHED", "交易已完结"));
    }
    // Step 7: the amount.
    if request.out_request_no.is_none() && request.refund_fen != ledger.order(order).amount_fen {
        return Err(refused(
            "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
            "退款金额与订单金额不一致",
        ));
    }
    if request.refund_fen > refundable {
        return Err(refused("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效"));
    }
    // Step 8: refunds of one trade too close together: nothing recorded.
    let gap = alipay.trade_gap;
    let too_soon = |last: Instant| now.saturating_duration_since(last) < gap;
    if gap > Duration::ZERO && ledger.last_created(order).is_some_and(too_soon) {
        return Err(refused("ACQ.SYSTEM_ERROR", "系统错误"));
    }
    // Step 9: the merchant's balance.
    if let Some(balance) = state.alipay.balance_fen() {
        let held = ledger.held_by_merchant(GatewayKind::Alipay, app_id, now);
        if balance.saturating_sub(held) < request.refund_fen {
            return Err(refused("ACQ.SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足"));
        }
    }
    Ok(())
}

/// A query's business fields.
struct QueryBody {
    out_trade_no: Option<String>,
    trade_no: Option<String>,
    out_request_no: String,
    with_time: bool,
}

fn parse_query(biz_content: &str) -> Result<QueryBody, String> {
    let object = object(biz_content)?;
    let out_trade_no = text(&object, "out_trade_no", 64)?;
    let trade_no = text(&object, "trade_no", 64)?;
    if out_trade_no.is_none() && trade_no.is_none() {
        return Err("out_trade_no or trade_no is required".into());
    }
    let out_request_no =
        text(&object, "out_request_no", 64)?.ok_or("out_request_no is required")?;
    let with_time = match object.get("query_options") {
        None | Some(Value::Null) => false,
        Some(Value::Array(options)) => {
            if !options.iter().all(Value::is_string) {
                return Err("query_options must be an array of strings".into());
            }
            options.iter().any(|o| o == "gmt_refund_pay")
        }
        Some(_) => return Err("query_options must be an array of strings".into()),
    };
    Ok(QueryBody {
        out_trade_no,
        trade_no,
        out_request_no,
        with_time,
    })
}

/// The query answer: the refund with `REFUND_SUCCESS`, or the bare success
/// of "not found" (never executed, or the faults deny it).
pub(super) fn query(state: &SimState, app_id: &str, biz_content: &str) -> Reply {
    let member = Call::RefundQuery.member();
    let request = match parse_query(biz_content) {
        Ok(request) => request,
        Err(why) => return invalid(&member, &why),
    };
    let ledger = state.ledger.lock().expect("ledger lock");
    let by = OrderRef::Alipay {
        trade_no: request.trade_no.as_deref(),
        out_trade_no: request.out_trade_no.as_deref(),
    };
    let Some(order) = ledger.find_order(GatewayKind::Alipay, app_id, &by) else {
        return Reply::business(&member, "ACQ.TRADE_NOT_EXIST", "交易不存在", &[]);
    };
    let found = ledger.find_refund_of_order(order, &request.out_request_no);
    let now = Instant::now();
    let found = found.filter(|&r| ledger.refund(r).state(now) == RefundState::Succeeded);
    let Some(index) = found else {
        return Reply::success(&member, &[]);
    };
    let key = lie_key(app_id, order, &request.out_request_no);
    if state.faults.lie() || state.faults.denies(&key) {
        return Reply::success(&member, &[]);
    }
    let refund = ledger.refund(index);
    let trade = ledger.order(order);
    let mut fields = Vec::new();
    if request.with_time {
        fields.push(("gmt_refund_pay", beijing_text(refund.created_at)));
    }
    fields.extend([
        ("out_request_no", refund.refund_id.clone()),
        ("out_trade_no", trade.third_order_id.clone()),
        ("refund_amount", yuan(refund.amount_fen)),
        ("refund_status", "REFUND_SUCCESS".to_owned()),
        ("total_amount", yuan(trade.amount_fen)),
        ("trade_no", trade.gateway_order_id.clone()),
    ]);
    Reply::success(&member, &fields)
}

#[cfg(test)]
mod tests {
    use super::super::answer::{body, Layout};
    use super::*;
    use crate::gateway::rsa_sign::{RsaDigest, RsaSigner};

    const VECTORS: &str = include_str!("../../../tests/vectors/alipay/made_here_vectors.json");

    fn signer() -> RsaSigner {
        RsaSigner::from_pem(
            crate::sim::sample_keys::ALIPAY_PRIVATE_KEY,
            RsaDigest::Sha256,
        )
        .unwrap()
    }

    /// The answer the simulator renders for the vector's values is the
    /// vector's body, byte for byte, signature included (PKCS#1 v1.5 is
    /// deterministic).
    fn assert_renders(vector: &str, reply: &Reply) {
        let all: Value = serde_json::from_str(VECTORS).unwrap();
        let raw = all[vector]["raw"].as_str().unwrap();
        assert_eq!(body(reply, &signer(), Layout::default()), raw, "{vector}");
    }

    #[test]
    fn the_answers_are_the_vectors_byte_for_byte() {
        let (t, trade) = ("T20261101000002", "2026110122001400000000000002");
        let at = Some("2026-11-22 09:30:01");
        assert_renders(
            "refund_answer_fund_change_Y",
            &refund_answer(t, trade, true, at, 2599, 2599),
        );
        assert_renders(
            "refund_answer_replay_fund_change_N",
            &refund_answer(t, trade, false, at, 2599, 2599),
        );
        assert_renders(
            "refund_answer_trade_not_exist",
            &refused("ACQ.TRADE_NOT_EXIST", "交易不存在"),
        );
        let member = Call::RefundQuery.member();
        assert_renders("query_answer_not_found", &Reply::success(&member, &[]));
        assert_renders(
            "query_answer_found",
            &Reply::success(
                &member,
                &[
                    ("gmt_refund_pay", "2026-11-22 09:30:01".into()),
                    ("out_request_no", "R20261122-0003".into()),
                    ("out_trade_no", t.into()),
                    ("refund_amount", "25.99".into()),
                    ("refund_status", "REFUND_SUCCESS".into()),
                    ("total_amount", "50.00".into()),
                    ("trade_no", trade.into()),
                ],
            ),
        );
        let unsigned = Reply::gateway(
            &Call::Refund.member(),
            "40002",
            "Invalid Arguments",
            "isv.invalid-signature",
            "验签出错",
        );
        assert_renders("refund_answer_invalid_signature_unsigned", &unsigned);
    }

    #[test]
    fn the_refund_fields_are_checked() {
        let ok = r#"{"out_trade_no":"T1","out_request_no":"R1","refund_amount":"25.99"}"#;
        assert_eq!(parse_refund(ok).unwrap().refund_fen, 2599);
        for bad in [
            "not json",
            r#"{"out_request_no":"R1","refund_amount":"1.00"}"#,
            r#"{"out_trade_no":"T1","refund_amount":1}"#,
            r#"{"out_trade_no":"T1","refund_amount":"0.00"}"#,
            r#"{"out_trade_no":"T1","refund_amount":"1.001"}"#,
            r#"{"out_trade_no":"T1","refund_amount":"100000000.01"}"#,
            r#"{"out_trade_no":"T1","refund_amount":"-1.00"}"#,
            r#"{"out_trade_no":"T1"}"#,
        ] {
            assert!(parse_refund(bad).is_err(), "{bad}");
        }
        let long = format!(
            r#"{{"out_trade_no":"T1","refund_amount":"1","out_request_no":"{}"}}"#,
            "R".repeat(65)
        );
        assert!(parse_refund(&long).is_err());
    }
}
