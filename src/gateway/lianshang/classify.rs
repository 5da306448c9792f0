//! What a Lianshang answer proves (docs/specs/lianshang.md, "result_code"): first
//! whether it is about this very request (every echoed field equal), then its
//! business part, each code mapped to what the state machine must do.

use serde_json::{Map, Value};

use super::wire::Call;
use crate::gateway::echo::EchoCheck;
use crate::gateway::{times, IdUse, Outcome, Receipt};
use crate::money::Fen;

/// result_codes that refuse a refund for good.
const FINAL_FAILURES: &[&str] = &[
    "DuplicateRefund",
    "ParamError",
    "TradeNotExist",
    "AmountExceed",
    "CurrencyMismatch",
];

/// What a request asked, as its answer must echo it (docs/specs/lianshang.md, "result_code").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub merchant_id: String,
    pub request_id: String,
    pub refund_id: String,
    pub out_trade_id: String,
    /// The refund's cash amount: sent with a refund, expected back from a query.
    pub amount: Fen,
}

/// An answer's objects with every string value trimmed: what the gateway meant.
fn trimmed(object: &Map<String, Value>) -> Map<String, Value> {
    object
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => Value::String(s.trim().to_owned()),
                other => other.clone(),
            };
            (name.clone(), value)
        })
        .collect()
}

/// A JSON value as the operator should read it in a mismatch note.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => format!("the {} {other}", json_type(other)),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Asked {
    /// `Err(outcome)` when the answer is not provably about this request: a
    /// field missing that every answer must echo (unknown), or one that differs
    /// or has the wrong JSON type (mismatch). Boxed: an outcome is large.
    fn check(
        &self,
        call: Call,
        base: &Map<String, Value>,
        biz: &Map<String, Value>,
    ) -> Result<(), Box<Outcome>> {
        let mut check = EchoCheck::default();
        for (field, asked) in [
            ("request_id", &self.request_id),
            ("merchant_id", &self.merchant_id),
        ] {
            match base.get(field) {
                None | Some(Value::Null) => {
                    return Err(Box::new(Outcome::unknown(format!(
                        "the answer does not echo our {field}: it cannot be tied to this request"
                    ))))
                }
                Some(value) => string_echo(&mut check, field, value, asked),
            }
        }
        for (field, asked) in [
            ("out_refund_id", &self.refund_id),
            ("out_trade_id", &self.out_trade_id),
        ] {
            if let Some(value) = biz.get(field).filter(|v| !v.is_null()) {
                string_echo(&mut check, field, value, asked);
            }
        }
        match biz.get("refund_cash_amount") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64() == Some(self.amount.0) => {}
            Some(other) => check.differ(
                "refund_cash_amount",
                &shown(other),
                &format!("{} (fen)", self.amount.0),
            ),
        }
        if let Some(what) = check.finish() {
            return Err(Box::new(Outcome::Mismatch { what }));
        }
        let says_success = biz.get("result_code").and_then(Value::as_str) == Some("Success");
        if call == Call::Query && says_success && !biz.contains_key("out_refund_id") {
            return Err(Box::new(Outcome::unknown(
                "the query answer does not say which refund it is about",
            )));
        }
        Ok(())
    }
}

/// An echoed id: the same string, never a number that merely prints the same.
fn string_echo(check: &mut EchoCheck, field: &str, answered: &Value, asked: &str) {
    match answered {
        Value::String(s) => check.text(field, Some(s), asked),
        other => check.differ(field, &shown(other), &format!("{asked:?}")),
    }
}

/// Turns an answer into what it proves: first whether it is about this request
/// at all, then its business part (all string values trimmed).
pub fn classify(
    call: Call,
    base: &Map<String, Value>,
    biz: &Map<String, Value>,
    asked: &Asked,
) -> Outcome {
    let (base, biz) = (trimmed(base), trimmed(biz));
    if let Err(outcome) = asked.check(call, &base, &biz) {
        return *outcome;
    }
    classify_business(call, &biz)
}

/// The business part of an answer already tied to its request.
fn classify_business(call: Call, biz: &Map<String, Value>) -> Outcome {
    let text = |name: &str| match biz.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let result_code = text("result_code");
    let message = text("result_msg");
    let receipt = Receipt {
        gateway_refund_id: Some(text("wk_refund_id")).filter(|s| !s.is_empty()),
        refund_fen: Fen::parse_fen(&text("refund_cash_amount")).ok(),
        success_at: None,
        created_at: None,
    };
    match (call, result_code.as_str()) {
        (_, "Success") => match text("refund_status").as_str() {
            "SUCCESS" => Outcome::Succeeded(Receipt {
                success_at: refund_time(biz),
                ..receipt
            }),
            "PROCESSING" => Outcome::Processing(receipt),
            "FAIL" => Outcome::failed(
                "FAIL",
                non_empty(message, "the gateway says the refund failed"),
                receipt,
                IdUse::Spent,
            ),
            other => Outcome::unknown(format!("unexpected refund_status {other:?}")),
        },
        (_, "SystemBusy") => Outcome::retry(None, format!("SystemBusy: {message}")),
        (_, "SignError") => Outcome::rejected(
            "SignError",
            "the gateway cannot verify our signature: the private key or rsa_digest is probably wrong (check private_key)",
        ),
        (Call::Refund, code) if FINAL_FAILURES.contains(&code) => {
            Outcome::failed(
                code,
                non_empty(message, "refused"),
                Receipt::default(),
                IdUse::Free,
            )
        }
        (Call::Query, "RefundNotExist") => Outcome::NotFound,
        (_, code) => Outcome::unknown(format!("{code}: {message}")),
    }
}

/// `refund_time` of a succeeded refund (queryRefundStatus answers; a
/// refund answer may carry it too): `yyyyMMddHHmmss`, Beijing time, as
/// Lianshang writes every time (its requests' `time_stamp` too). Only a
/// JSON string that reads is kept.
fn refund_time(biz: &Map<String, Value>) -> Option<jiff::Timestamp> {
    let text = biz.get("refund_time").and_then(Value::as_str);
    times::kept(text, |t| times::beijing(t, times::COMPACT))
}

fn non_empty(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Asked {
        Asked {
            merchant_id: "pay001".into(),
            request_id: "Q1".into(),
            refund_id: "R-1".into(),
            out_trade_id: "T1".into(),
            amount: Fen(2599),
        }
    }

    fn base() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("request_id".into(), "Q1".into());
        m.insert("merchant_id".into(), "pay001".into());
        m
    }

    fn biz(code: &str, status: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("result_code".into(), code.into());
        m.insert("refund_status".into(), status.into());
        m.insert("wk_refund_id".into(), "WKR1".into());
        m.insert("out_refund_id".into(), "R-1".into());
        m
    }

    fn classify_asked(call: Call, biz: &Map<String, Value>) -> Outcome {
        classify(call, &base(), biz, &asked())
    }

    #[test]
    fn refund_time_is_the_success_time_when_it_reads() {
        let success_at = |status: &str, at: Value| {
            let mut answer = biz("Success", status);
            answer.insert("refund_time".into(), at);
            match classify_asked(Call::Query, &answer) {
                Outcome::Succeeded(receipt) => receipt.success_at,
                Outcome::Failed { receipt, .. } => receipt.success_at,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            success_at("SUCCESS", "20261130235959".into()),
            Some("2026-11-30T15:59:59Z".parse().unwrap())
        );
        assert_eq!(success_at("SUCCESS", "".into()), None);
        assert_eq!(success_at("SUCCESS", "2026-11-30 23:59:59".into()), None);
        assert_eq!(success_at("SUCCESS", 20261130235959u64.into()), None);
        assert_eq!(success_at("FAIL", "20261130235959".into()), None);
    }

    #[test]
    fn result_codes_map_to_actions() {
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "SUCCESS")),
            Outcome::Succeeded(_)
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "PROCESSING")),
            Outcome::Processing(_)
        ));
        assert!(matches!(
            classify_asked(Call::Query, &biz("Success", "FAIL")),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Success", "??")),
            Outcome::Unknown { .. }
        ));
        for code in FINAL_FAILURES {
            assert!(
                matches!(
                    classify_asked(Call::Refund, &biz(code, "")),
                    Outcome::Failed { .. }
                ),
                "{code}"
            );
            assert!(
                matches!(
                    classify_asked(Call::Query, &biz(code, "")),
                    Outcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        for call in [Call::Refund, Call::Query] {
            assert!(matches!(
                classify_asked(call, &biz("SignError", "")),
                Outcome::Rejected { .. }
            ));
        }
        assert!(matches!(
            classify_asked(Call::Refund, &biz("SystemBusy", "")),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("SystemError", "")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &biz("Whatever", "")),
            Outcome::Unknown { .. }
        ));
        assert_eq!(
            classify_asked(Call::Query, &biz("RefundNotExist", "")),
            Outcome::NotFound
        );
        assert!(matches!(
            classify_asked(Call::Refund, &biz("RefundNotExist", "")),
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn padded_values_are_read_trimmed() {
        let mut padded = biz(" Success\n", "\n  SUCCESS  ");
        padded.insert("out_refund_id".into(), " R-1 ".into());
        let mut base = base();
        base.insert("request_id".into(), "Q1\n".into());
        assert!(matches!(
            classify(Call::Query, &base, &padded, &asked()),
            Outcome::Succeeded(_)
        ));
    }

    #[test]
    fn an_answer_about_another_refund_is_never_believed() {
        let cases: Vec<(&str, Value)> = vec![
            ("out_refund_id", "R-2".into()),
            // The right digits as a JSON number are still not our string id.
            ("out_refund_id", serde_json::json!(1)),
            ("out_trade_id", "T9".into()),
            ("refund_cash_amount", serde_json::json!(2600)),
            ("refund_cash_amount", "2599".into()),
            ("refund_cash_amount", serde_json::json!(25.99)),
        ];
        for (field, value) in cases {
            let mut answer = biz("Success", "SUCCESS");
            answer.insert(field.into(), value.clone());
            match classify_asked(Call::Query, &answer) {
                Outcome::Mismatch { what } => assert!(what.contains(field), "{what}"),
                other => panic!("{field}={value}: {other:?}"),
            }
        }
        for (field, value) in [
            ("request_id", Value::from("Q-another")),
            ("merchant_id", Value::from("pay999")),
            ("request_id", serde_json::json!(1)),
        ] {
            let mut base = base();
            base.insert(field.into(), value);
            assert!(matches!(
                classify(Call::Refund, &base, &biz("Success", "SUCCESS"), &asked()),
                Outcome::Mismatch { .. }
            ));
        }
        // An answer that does not echo our request at all cannot be tied to it.
        assert!(matches!(
            classify(
                Call::Refund,
                &Map::new(),
                &biz("Success", "SUCCESS"),
                &asked()
            ),
            Outcome::Unknown { .. }
        ));
        // A query answer must say which refund it is about.
        let mut anonymous = biz("Success", "SUCCESS");
        anonymous.remove("out_refund_id");
        assert!(matches!(
            classify_asked(Call::Query, &anonymous),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &anonymous),
            Outcome::Succeeded(_)
        ));
    }
}
