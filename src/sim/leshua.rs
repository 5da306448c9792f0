//! The simulated Leshua endpoint: `unified_refund` and `unified_query_refund`
//! on one CGI path, checked and answered as docs/specs/leshua.md says. A bad request
//! signature or an unknown service is a protocol rejection (`resp_code` 1,
//! unsigned); business errors are signed answers with `result_code` 1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::faults::{AfterFault, NewRefundAnswer};
use super::ledger::{Fate, OrderRef, RefundState, Refusal, SimRefund};
use super::SimState;
use crate::gateway::leshua::{self as wire, ALREADY_EXISTS};
use crate::gateway::GatewayKind;

type Fields = BTreeMap<String, String>;

enum Answer {
    /// Signed with the trade key.
    Signed(Fields),
    /// Protocol-level rejection: `resp_code` non-zero, no signature.
    Rejected(Fields),
    /// The request was processed; the answer is an HTTP 500.
    Lost,
}

pub(super) async fn handle(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    if state.faults.arrive().is_some() {
        return super::too_many_requests(&state);
    }
    state.faults.delay().await;
    let params: Fields = url::form_urlencoded::parse(&body).into_owned().collect();
    if state.faults.busy() {
        if state.faults.coin() {
            return super::overloaded(&state);
        }
        return respond(
            &state,
            Answer::Signed(business_error(&params, "-20099", "too many requests")),
            &AfterFault::None,
        );
    }
    let answer = process(&state, &params);
    let is_refund = params
        .get("service")
        .is_some_and(|s| s == wire::SERVICE_REFUND);
    match state.faults.after(is_refund) {
        AfterFault::ServerError => super::server_error(),
        AfterFault::Drop => super::dropped_connection(),
        AfterFault::Redirect => super::redirect(&state, wire::PATH),
        AfterFault::Oversize => super::oversize(),
        AfterFault::Endless => super::endless(),
        fault => respond(&state, answer, &fault),
    }
}

/// The fields a mismatch may change, each to another refund's value.
/// How Leshua's own refund ids start (`leshua_refund_id`).
pub(super) const REFUND_ID_PREFIX: &str = "LR";

const ECHOED: &[&str] = &[
    "merchant_refund_id",
    "refund_amount",
    "merchant_id",
    "third_order_id",
    "nonce_str",
];

/// Makes a (still correctly signed) answer about something else than the request.
fn mismatch(state: &SimState, fields: &mut Fields, field: Option<&str>) {
    let field = field.unwrap_or_else(|| state.faults.pick(ECHOED));
    let current = fields.get(field).cloned().unwrap_or_default();
    let other = match field {
        "refund_amount" => (current.parse::<u64>().unwrap_or(0) + 1).to_string(),
        "merchant_id" => "0000000099".to_owned(),
        // An answer replayed from an earlier request carries that request's nonce.
        "nonce_str" => format!("replayed{current}"),
        _ => format!("{current}X"),
    };
    fields.insert(field.to_owned(), other);
}

fn respond(state: &SimState, answer: Answer, fault: &AfterFault) -> Response {
    let fields = match answer {
        Answer::Rejected(fields) => fields,
        Answer::Lost => return super::server_error(),
        Answer::Signed(mut fields) => {
            if let AfterFault::Mismatch(field) = fault {
                mismatch(state, &mut fields, field.as_deref());
            }
            // Signed with the key the gateway holds, which a wrong key does not verify.
            let key = match fault {
                AfterFault::BadSign => crate::secret::Secret::new("NOT-THE-TRADE-KEY"),
                _ => state.leshua_key(),
            };
            let sign = wire::sign_response(&fields, &key);
            fields.insert("sign".into(), sign);
            fields
        }
    };
    let xml = if *fault == AfterFault::Padded {
        padded_xml(&fields)
    } else {
        wire::write_xml(&fields)
    };
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response()
}

/// Pretty-printed XML: every value on its own indented line. The whitespace is
/// formatting, not part of the value (what was signed).
fn padded_xml(fields: &Fields) -> String {
    let mut xml = String::from("<leshua>\n");
    for (name, value) in fields {
        if value.contains(['<', '&', ']']) {
            xml.push_str(&format!(
                "  <{name}>\n    <![CDATA[{value}]]>\n  </{name}>\n"
            ));
        } else {
            xml.push_str(&format!("  <{name}>\n    {value}\n  </{name}>\n"));
        }
    }
    xml.push_str("</leshua>\n");
    xml
}

fn process(state: &SimState, params: &Fields) -> Answer {
    let given = params.get("sign").map(String::as_str).unwrap_or("");
    let expected = wire::sign_request(params, &state.leshua_key());
    if !given.eq_ignore_ascii_case(&expected) {
        if state.faults.config().signed_refusals {
            return Answer::Signed(business_error(params, "-20006", "signature check failed"));
        }
        return rejection("-20006", "signature check failed");
    }
    match params.get("service").map(String::as_str) {
        Some(wire::SERVICE_REFUND) => refund(state, params),
        Some(wire::SERVICE_QUERY) => query(state, params),
        _ => rejection("-20001", "unknown service"),
    }
}

fn rejection(error_code: &str, message: &str) -> Answer {
    let mut fields = Fields::new();
    fields.insert("resp_code".into(), "1".into());
    fields.insert("resp_msg".into(), message.into());
    fields.insert("error_code".into(), error_code.into());
    Answer::Rejected(fields)
}

fn business_error(params: &Fields, code: &str, message: &str) -> Fields {
    let mut fields = echo(params);
    fields.insert("result_code".into(), "1".into());
    fields.insert("error_code".into(), code.into());
    fields.insert("error_msg".into(), message.into());
    fields
}

/// How the faults name a refund they lie about.
fn lie_key(merchant: &str, refund_id: &str) -> String {
    format!("leshua:{merchant}:{refund_id}")
}

/// The fields every answer carries, echoed from the request.
fn echo(params: &Fields) -> Fields {
    let get = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut fields = Fields::new();
    fields.insert("resp_code".into(), "0".into());
    fields.insert("result_code".into(), "0".into());
    fields.insert("error_code".into(), String::new());
    fields.insert("error_msg".into(), String::new());
    fields.insert("merchant_id".into(), get("merchant_id"));
    fields.insert("sub_merchant_id".into(), String::new());
    fields.insert("nonce_str".into(), get("nonce_str"));
    fields
}

/// The field rules of unified_refund; `Err` names the broken rule.
fn check_refund_params(params: &Fields) -> Result<(), String> {
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    let refund_id = get("merchant_refund_id");
    if !wire::is_valid_refund_id(refund_id) {
        return Err("merchant_refund_id must be 1-64 letters and digits".into());
    }
    let amount = get("refund_amount");
    if crate::money::Fen::parse_fen(amount).is_err() {
        return Err("refund_amount must be whole fen, 1 to 10 digits, no leading zero".into());
    }
    let nonce = get("nonce_str");
    if nonce.is_empty() || nonce.len() > 32 {
        return Err("nonce_str must be 1-32 characters".into());
    }
    if get("third_order_id").chars().count() > 64 || get("leshua_order_id").chars().count() > 32 {
        return Err("order id too long".into());
    }
    let notify = get("notify_url");
    if !notify.is_empty()
        && (notify.len() > 128
            || !(notify.starts_with("http://") || notify.starts_with("https://")))
    {
        return Err("notify_url must be an absolute http(s) URL of at most 128 characters".into());
    }
    Ok(())
}

fn order_ref(params: &Fields) -> OrderRef<'_> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    OrderRef::Leshua {
        third_order_id: get("third_order_id"),
        leshua_order_id: get("leshua_order_id"),
    }
}

fn has_order_id(params: &Fields) -> bool {
    ["third_order_id", "leshua_order_id"]
        .iter()
        .any(|name| params.get(*name).is_some_and(|v| !v.is_empty()))
}

pub(super) fn status_code(state: RefundState) -> &'static str {
    match state {
        // Leshua refunds never end abnormal (a WeChat Pay state).
        RefundState::Processing | RefundState::Abnormal => "10",
        RefundState::Succeeded => "11",
        RefundState::Failed => "12",
    }
}

fn refund(state: &SimState, params: &Fields) -> Answer {
    let merchant = params.get("merchant_id").map(String::as_str).unwrap_or("");
    let mut ledger = state.ledger.lock().expect("ledger lock");
    if !ledger.knows_merchant(GatewayKind::Leshua, merchant) {
        return Answer::Signed(business_error(params, "-20002", "invalid merchant"));
    }
    if let Err(rule) = check_refund_params(params) {
        return Answer::Signed(business_error(params, "-20001", &rule));
    }
    if !has_order_id(params) {
        return Answer::Signed(business_error(
            params,
            "-20024",
            "third_order_id or leshua_order_id is required",
        ));
    }
    let refund_id = &params["merchant_refund_id"];
    let amount: u64 = params["refund_amount"].parse().expect("checked above");
    ledger.note_submission(GatewayKind::Leshua, merchant, refund_id);
    let new = super::ledger::NewRefund {
        gateway: GatewayKind::Leshua,
        id_prefix: REFUND_ID_PREFIX,
        merchant_id: merchant,
        refund_id,
        order: order_ref(params),
        amount_fen: amount,
        coin_amount: 0,
        currency: None,
    };
    let now = Instant::now();
    let fate = Fate::ends_failed(state.faults.refund_ends_failed());
    match ledger.create(new, now, state.faults.config().processing_for, fate) {
        Ok(_) if state.faults.lie() => Answer::Signed(business_error(
            params,
            "-20023",
            "refundable balance too low",
        )),
        Ok(index) => {
            match state.faults.new_refund_answer(lie_key(merchant, refund_id)) {
                NewRefundAnswer::Truth => {}
                NewRefundAnswer::ServerError => return Answer::Lost,
                NewRefundAnswer::Lie => {
                    return Answer::Signed(business_error(
                        params,
                        "-20023",
                        "refundable balance too low",
                    ))
                }
            }
            let refund = ledger.refund(index).clone();
            let mut fields = refund_fields(params, &refund, &ledger, now);
            fields.insert(
                "order_balance".into(),
                ledger.refundable(refund.order, now).to_string(),
            );
            Answer::Signed(fields)
        }
        Err(refusal) => {
            let (code, message) = match refusal {
                Refusal::AlreadyExists { .. } => {
                    (ALREADY_EXISTS, "merchant_refund_id already exists")
                }
                Refusal::UnknownOrder => ("-20004", "order not found"),
                Refusal::NotPaid => ("-20019", "order status does not allow a refund"),
                Refusal::OverBalance { .. } => ("-20023", "refundable balance too low"),
                Refusal::CurrencyMismatch => ("-20001", "currency mismatch"),
            };
            Answer::Signed(business_error(params, code, message))
        }
    }
}

/// The fields that describe an existing refund, as both calls answer them.
fn refund_fields(
    params: &Fields,
    refund: &SimRefund,
    ledger: &super::ledger::Ledger,
    now: Instant,
) -> Fields {
    let order = ledger.order(refund.order);
    let mut fields = echo(params);
    let state = refund.state(now);
    fields.insert("third_order_id".into(), order.third_order_id.clone());
    fields.insert("leshua_order_id".into(), order.gateway_order_id.clone());
    fields.insert("merchant_refund_id".into(), refund.refund_id.clone());
    fields.insert("leshua_refund_id".into(), refund.gateway_refund_id.clone());
    fields.insert("refund_amount".into(), refund.amount_fen.to_string());
    fields.insert("total_amount".into(), order.amount_fen.to_string());
    fields.insert("status".into(), status_code(state).into());
    fields
}

fn query(state: &SimState, params: &Fields) -> Answer {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let merchant = get("merchant_id").unwrap_or("");
    let ledger = state.ledger.lock().expect("ledger lock");
    if !ledger.knows_merchant(GatewayKind::Leshua, merchant) {
        return Answer::Signed(business_error(params, "-20002", "invalid merchant"));
    }
    if !has_order_id(params) {
        return Answer::Signed(business_error(
            params,
            "-20024",
            "third_order_id or leshua_order_id is required",
        ));
    }
    let found = match (get("merchant_refund_id"), get("leshua_refund_id")) {
        (Some(id), _) => ledger.find_refund(GatewayKind::Leshua, merchant, id),
        (None, Some(id)) => ledger.find_by_gateway_refund_id(id).filter(|&i| {
            ledger.refund(i).merchant_id == merchant
                && ledger.refund(i).gateway == GatewayKind::Leshua
        }),
        (None, None) => {
            return Answer::Signed(business_error(
                params,
                "-20001",
                "merchant_refund_id or leshua_refund_id is required",
            ))
        }
    };
    let order = ledger.find_order(GatewayKind::Leshua, merchant, &order_ref(params));
    if found.is_some() && state.faults.lie() {
        return Answer::Signed(business_error(params, "-5019", "the order has no refund"));
    }
    let Some(index) = found.filter(|&i| Some(ledger.refund(i).order) == order) else {
        let no_refunds = order.is_some_and(|o| ledger.refunds_of(o).is_empty());
        return Answer::Signed(if no_refunds {
            business_error(params, "-5019", "the order has no refund")
        } else {
            business_error(params, "-20022", "invalid refund id")
        });
    };
    let refund = ledger.refund(index);
    if state.faults.denies(&lie_key(merchant, &refund.refund_id)) {
        return Answer::Signed(business_error(params, "-5019", "the order has no refund"));
    }
    let now = Instant::now();
    let mut fields = refund_fields(params, refund, &ledger, now);
    match refund.state(now) {
        RefundState::Processing | RefundState::Abnormal => {}
        final_state => {
            fields.insert(
                "refund_time".into(),
                super::clock::beijing(refund.finished_at)
                    .strftime("%Y%m%d%H%M%S")
                    .to_string(),
            );
            if final_state == RefundState::Failed {
                fields.insert("failure_reason".into(), "simulated refund failure".into());
            }
        }
    }
    Answer::Signed(fields)
}
