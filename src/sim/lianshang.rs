//! The simulated Lianshang open platform: `createRefundOrder` and
//! `queryRefundStatus`, checked and answered as docs/specs/lianshang.md says. Every
//! request's RSA signature is verified (SHA-256 or SHA-1) against the merchant's
//! public key; gzip bodies (`compress_type` "1") are answered gzipped.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::faults::{AfterFault, NewRefundAnswer};
use super::ledger::{Fate, NewRefund, OrderRef, RefundState, Refusal};
use super::SimState;
use crate::gateway::lianshang::{self as wire, check_text, is_valid_id, BASE_RULES, BIZ_RULES};
use crate::gateway::rsa_sign::RsaDigest;
use crate::gateway::GatewayKind;

#[derive(Clone, Copy)]
enum Call {
    Refund,
    Query,
}

impl Call {
    fn names(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Call::Refund => (
                "newBaseData",
                "newBizData",
                "newBaseResponseData",
                "newBizResponseData",
            ),
            Call::Query => (
                "queryBaseData",
                "queryBizData",
                "queryBaseResponseData",
                "queryBizResponseData",
            ),
        }
    }
}

pub(super) async fn handle_refund(
    state: State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, headers, body, Call::Refund).await
}

pub(super) async fn handle_query(
    state: State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, headers, body, Call::Query).await
}

async fn handle(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    if state.faults.arrive().is_some() {
        return super::too_many_requests(&state);
    }
    state.faults.delay().await;
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let (base_name, _, base_answer, biz_answer) = call.names();
    let request = if gzipped {
        wire::gunzip(&body).ok()
    } else {
        Some(body.to_vec())
    }
    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let mut base_echo = match request.as_ref().and_then(|r| r.get(base_name)) {
        Some(Value::Object(base)) => base.clone(),
        _ => Map::new(),
    };
    let mut biz = if state.faults.busy() {
        if state.faults.coin() {
            return super::overloaded(&state);
        }
        result("SystemBusy", "system busy, try again later")
    } else {
        match &request {
            None => result("ParamError", "the body is not JSON"),
            Some(request) => match process(&state, request, call) {
                Some(biz) => biz,
                // Processed; the answer is lost.
                None => return super::server_error(),
            },
        }
    };
    let path = match call {
        Call::Refund => wire::REFUND_PATH,
        Call::Query => wire::QUERY_PATH,
    };
    match state.faults.after(matches!(call, Call::Refund)) {
        AfterFault::ServerError => return super::server_error(),
        AfterFault::Drop => return super::dropped_connection(),
        AfterFault::Redirect => return super::redirect(&state, path),
        AfterFault::Oversize => return super::oversize(),
        AfterFault::Endless => return super::endless(),
        AfterFault::Mismatch(field) => mismatch(&state, &mut base_echo, &mut biz, field.as_deref()),
        AfterFault::Padded => {
            pad(&mut base_echo);
            pad(&mut biz);
        }
        // Lianshang answers carry no signature: there is nothing to get wrong.
        AfterFault::BadSign | AfterFault::None => {}
    }
    let answer = serde_json::to_vec(&json!({ base_answer: base_echo, biz_answer: biz }))
        .expect("a JSON value always serializes");
    let content_type = (header::CONTENT_TYPE, "application/json; charset=utf-8");
    if gzipped {
        (
            [content_type, (header::CONTENT_ENCODING, "gzip")],
            wire::gzip(&answer),
        )
            .into_response()
    } else {
        ([content_type], answer).into_response()
    }
}

/// The fields a mismatch may change; `out_refund_id_number` sends the id as a JSON number.
/// How Lianshang's own refund ids start (`wk_refund_id`).
pub(super) const REFUND_ID_PREFIX: &str = "WKR";

const ECHOED: &[&str] = &[
    "out_refund_id",
    "out_refund_id_number",
    "refund_cash_amount",
    "out_trade_id",
    "request_id",
    "merchant_id",
];

/// Makes an answer about something else than the request.
fn mismatch(
    state: &SimState,
    base: &mut Map<String, Value>,
    biz: &mut Map<String, Value>,
    field: Option<&str>,
) {
    let field = field.unwrap_or_else(|| state.faults.pick(ECHOED));
    let text = |object: &Map<String, Value>, name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match field {
        "out_refund_id_number" => {
            biz.insert("out_refund_id".into(), json!(1));
        }
        "refund_cash_amount" => {
            let amount = biz.get(field).and_then(Value::as_u64).unwrap_or(0);
            biz.insert(field.into(), json!(amount + 1));
        }
        "request_id" | "merchant_id" => {
            let other = format!("{}X", text(base, field));
            base.insert(field.into(), other.into());
        }
        _ => {
            let other = format!("{}X", text(biz, field));
            biz.insert(field.into(), other.into());
        }
    }
}

/// Pretty-printed values: whitespace around every string, not part of it.
fn pad(object: &mut Map<String, Value>) {
    for value in object.values_mut() {
        if let Value::String(s) = value {
            *s = format!("\n  {s}\n");
        }
    }
}

fn result(code: &str, message: &str) -> Map<String, Value> {
    let mut biz = Map::new();
    biz.insert("result_code".into(), code.into());
    biz.insert("result_msg".into(), message.into());
    biz
}

/// The business answer to a request; `None` when it was processed and its
/// answer is to be an HTTP 500.
fn process(state: &SimState, request: &Value, call: Call) -> Option<Map<String, Value>> {
    let (base_name, biz_name, _, _) = call.names();
    let (Some(Value::Object(base)), Some(Value::Object(biz))) =
        (request.get(base_name), request.get(biz_name))
    else {
        return Some(result(
            "ParamError",
            &format!("{base_name} and {biz_name} are required objects"),
        ));
    };
    let Some(Value::String(sign)) = biz.get("sign") else {
        return Some(result("SignError", "sign is missing"));
    };
    let text = wire::string_to_sign(&[base, biz]);
    let verifies = !state.faults.config().wrong_key
        && [RsaDigest::Sha256, RsaDigest::Sha1]
            .into_iter()
            .any(|digest| state.lianshang_key.verify(&text, sign, digest));
    if !verifies {
        return Some(result("SignError", "signature check failed"));
    }
    match call {
        Call::Refund => refund(state, base, biz),
        Call::Query => Some(query(state, base, biz)),
    }
}

fn str_of<'a>(object: &'a Map<String, Value>, name: &str) -> &'a str {
    object.get(name).and_then(Value::as_str).unwrap_or("")
}

fn int_of(object: &Map<String, Value>, name: &str) -> u64 {
    object.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Every field rule of the contract; `Err` is the ParamError message.
fn check_fields(
    base: &Map<String, Value>,
    biz: &Map<String, Value>,
    service: &str,
) -> Result<(), String> {
    for (object, rules) in [(base, BASE_RULES), (biz, BIZ_RULES)] {
        for rule in rules {
            let value = match object.get(rule.name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if rule.max_chars.is_some() => Some(s.clone()),
                Some(Value::Number(n)) if rule.max_chars.is_none() => Some(n.to_string()),
                Some(_) => return Err(format!("{} has the wrong JSON type", rule.name)),
            };
            match value {
                Some(value) if !value.is_empty() => {
                    check_text(rule, &value).map_err(|why| format!("{} {why}", rule.name))?
                }
                _ if rule.required => return Err(format!("{} is required", rule.name)),
                _ => {}
            }
        }
    }
    if str_of(base, "out_user_id").is_empty() && str_of(base, "guest_id").is_empty() {
        return Err("out_user_id or guest_id is required".into());
    }
    if str_of(base, "version") != "2" || str_of(base, "service_name") != service {
        return Err(format!(
            "version must be \"2\" and service_name {service:?}"
        ));
    }
    if str_of(biz, "security_type") != "RSA" {
        return Err("security_type must be \"RSA\"".into());
    }
    let time_stamp = str_of(base, "time_stamp");
    if time_stamp.len() != 14 || !time_stamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err("time_stamp must be yyyyMMddHHmmss".into());
    }
    for id in ["out_refund_id", "out_trade_id", "original_wk_trade_id"] {
        if !is_valid_id(str_of(biz, id)) {
            return Err(format!("{id} must be 1-64 letters, digits, '-' or '_'"));
        }
    }
    if int_of(biz, "refund_cash_amount") + int_of(biz, "refund_coin_amount") == 0 {
        return Err("the refund amount must be more than zero".into());
    }
    Ok(())
}

pub(super) fn status_text(state: RefundState) -> &'static str {
    match state {
        // Lianshang refunds never end abnormal (a WeChat Pay state).
        RefundState::Processing | RefundState::Abnormal => "PROCESSING",
        RefundState::Succeeded => "SUCCESS",
        RefundState::Failed => "FAIL",
    }
}

/// `None`: recorded, answered with an HTTP 500.
fn refund(
    state: &SimState,
    base: &Map<String, Value>,
    biz: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    if let Err(why) = check_fields(base, biz, "CreateRefundOrder") {
        return Some(result("ParamError", &why));
    }
    let merchant = str_of(base, "merchant_id");
    let refund_id = str_of(biz, "out_refund_id");
    let mut ledger = state.ledger.lock().expect("ledger lock");
    if !ledger.knows_merchant(GatewayKind::Lianshang, merchant) {
        return Some(result("TradeNotExist", "unknown merchant_id"));
    }
    ledger.note_submission(GatewayKind::Lianshang, merchant, refund_id);
    let new = NewRefund {
        gateway: GatewayKind::Lianshang,
        id_prefix: REFUND_ID_PREFIX,
        merchant_id: merchant,
        refund_id,
        order: OrderRef::Lianshang {
            out_trade_id: str_of(biz, "out_trade_id"),
            original_wk_trade_id: str_of(biz, "original_wk_trade_id"),
            appid: str_of(biz, "appid"),
        },
        amount_fen: int_of(biz, "refund_cash_amount"),
        coin_amount: int_of(biz, "refund_coin_amount"),
        currency: Some(str_of(biz, "refund_currency")),
    };
    let now = Instant::now();
    let fate = Fate::ends_failed(state.faults.refund_ends_failed());
    let index = match ledger.create(new, now, state.faults.config().processing_for, fate) {
        Ok(index) => match state.faults.new_refund_answer(lie_key(merchant, refund_id)) {
            NewRefundAnswer::Truth => index,
            NewRefundAnswer::ServerError => return None,
            NewRefundAnswer::Lie => {
                return Some(result("AmountExceed", "more than the refundable balance"))
            }
        },
        // A gateway contradicting itself loses the answer to a resend too.
        Err(Refusal::AlreadyExists { .. }) if state.faults.config().contradict => return None,
        // Same id, same content: an idempotent replay answers the existing refund.
        Err(Refusal::AlreadyExists {
            refund,
            same_content: true,
        }) => refund,
        Err(refusal) => {
            let (code, message) = match refusal {
                Refusal::AlreadyExists { .. } => (
                    "DuplicateRefund",
                    "out_refund_id already used for another refund",
                ),
                Refusal::UnknownOrder => ("TradeNotExist", "no such payment"),
                Refusal::NotPaid => ("TradeNotExist", "the payment is not paid"),
                Refusal::CurrencyMismatch => (
                    "CurrencyMismatch",
                    "refund_currency differs from the payment's",
                ),
                Refusal::OverBalance { .. } => ("AmountExceed", "more than the refundable balance"),
            };
            return Some(result(code, message));
        }
    };
    let refund = ledger.refund(index);
    let mut answer = result("Success", "ok");
    answer.insert(
        "wk_refund_id".into(),
        refund.gateway_refund_id.clone().into(),
    );
    answer.insert("out_refund_id".into(), refund.refund_id.clone().into());
    answer.insert(
        "refund_status".into(),
        status_text(refund.state(now)).into(),
    );
    Some(answer)
}

/// How the faults name a refund they lie about.
fn lie_key(merchant: &str, refund_id: &str) -> String {
    format!("lianshang:{merchant}:{refund_id}")
}

fn query(
    state: &SimState,
    base: &Map<String, Value>,
    biz: &Map<String, Value>,
) -> Map<String, Value> {
    let merchant = str_of(base, "merchant_id");
    if str_of(base, "service_name") != "QueryRefundStatus" || str_of(biz, "security_type") != "RSA"
    {
        return result(
            "ParamError",
            "service_name must be \"QueryRefundStatus\" and security_type \"RSA\"",
        );
    }
    let ledger = state.ledger.lock().expect("ledger lock");
    let by_out = Some(str_of(biz, "out_refund_id"))
        .filter(|id| !id.is_empty())
        .map(|id| ledger.find_refund(GatewayKind::Lianshang, merchant, id));
    let by_wk = Some(str_of(biz, "wk_refund_id"))
        .filter(|id| !id.is_empty())
        .map(|id| {
            ledger.find_by_gateway_refund_id(id).filter(|&i| {
                ledger.refund(i).merchant_id == merchant
                    && ledger.refund(i).gateway == GatewayKind::Lianshang
            })
        });
    let found = match (by_out, by_wk) {
        (None, None) => return result("ParamError", "wk_refund_id or out_refund_id is required"),
        (Some(a), Some(b)) if a != b => {
            return result("ParamError", "wk_refund_id and out_refund_id disagree")
        }
        (Some(found), _) | (None, Some(found)) => found,
    };
    let Some(index) = found.filter(|&i| {
        let refund = ledger.refund(i);
        !state.faults.denies(&lie_key(merchant, &refund.refund_id))
    }) else {
        return result("RefundNotExist", "no such refund");
    };
    let now = Instant::now();
    let refund = ledger.refund(index);
    let order = ledger.order(refund.order);
    let mut answer = result("Success", "ok");
    answer.insert(
        "wk_refund_id".into(),
        refund.gateway_refund_id.clone().into(),
    );
    answer.insert("out_refund_id".into(), refund.refund_id.clone().into());
    answer.insert("out_trade_id".into(), order.third_order_id.clone().into());
    let status = refund.state(now);
    answer.insert("refund_status".into(), status_text(status).into());
    answer.insert("refund_cash_amount".into(), refund.amount_fen.into());
    answer.insert("refund_coin_amount".into(), refund.coin_amount.into());
    answer.insert("refund_currency".into(), order.currency.clone().into());
    let time = match status {
        RefundState::Processing | RefundState::Abnormal => String::new(),
        _ => super::clock::beijing(refund.finished_at)
            .strftime("%Y%m%d%H%M%S")
            .to_string(),
    };
    answer.insert("refund_time".into(), time.into());
    answer
}
