//! Alipay's answers (docs/specs/alipay.md, "Verifying an answer"): the
//! `…_response` member, every value a JSON string in the order Alipay writes
//! them, and the top-level `sign` over the exact bytes of that member's value
//! as emitted. A padded answer is signed as padded, and puts `sign` first: a
//! client must cut the value out of the body it received, not re-serialize.

use serde_json::{Map, Value};

use crate::gateway::rsa_sign::RsaSigner;

/// Fen as Alipay's yuan string: always two decimals, never through a float.
pub(super) fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A yuan string as fen: digits, then at most two decimals; `None` for
/// anything else (a sign, an exponent, a third decimal, an empty part).
pub(super) fn fen(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || !digits(fraction) {
        return None;
    }
    if (text.contains('.') && fraction.is_empty()) || fraction.len() > 2 {
        return None;
    }
    let cents = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u64>().ok()? * 10,
        _ => fraction.parse::<u64>().ok()?,
    };
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// An answer before faults and signing: the member and its fields in order.
#[derive(Clone, Debug)]
pub(super) struct Reply {
    pub member: String,
    pub fields: Map<String, Value>,
    /// Gateway-level refusals are unsigned (`40001`, `40002`, `40005`).
    pub signed: bool,
}

impl Reply {
    /// `code`, `msg`, then `more` in order.
    pub(super) fn new(member: &str, code: &str, msg: &str, more: &[(&str, String)]) -> Reply {
        let mut fields = Map::new();
        fields.insert("code".into(), code.into());
        fields.insert("msg".into(), msg.into());
        for (name, value) in more {
            fields.insert((*name).into(), value.clone().into());
        }
        Reply {
            member: member.to_owned(),
            fields,
            signed: true,
        }
    }

    pub(super) fn success(member: &str, more: &[(&str, String)]) -> Reply {
        Reply::new(member, "10000", "Success", more)
    }

    /// A business failure (`40004`), signed.
    pub(super) fn business(
        member: &str,
        sub_code: &str,
        sub_msg: &str,
        more: &[(&str, String)],
    ) -> Reply {
        let mut all = vec![
            ("sub_code", sub_code.to_owned()),
            ("sub_msg", sub_msg.to_owned()),
        ];
        all.extend(more.iter().cloned());
        Reply::new(member, "40004", "Business Failed", &all)
    }

    /// A gateway-level refusal, unsigned.
    pub(super) fn gateway(
        member: &str,
        code: &str,
        msg: &str,
        sub_code: &str,
        sub_msg: &str,
    ) -> Reply {
        let mut reply = Reply::new(
            member,
            code,
            msg,
            &[
                ("sub_code", sub_code.to_owned()),
                ("sub_msg", sub_msg.to_owned()),
            ],
        );
        reply.signed = false;
        reply
    }

    pub(super) fn code(&self) -> &str {
        self.fields
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

/// How the body is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Layout {
    /// Pretty-printed, `sign` first.
    pub padded: bool,
    /// Signed over other bytes than the value sent (the bad-sign fault).
    pub bad_signature: bool,
}

/// The member's value exactly as it will be sent.
pub(super) fn value_text(reply: &Reply, padded: bool) -> String {
    let value = Value::Object(reply.fields.clone());
    if padded {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .expect("a JSON object always serializes")
}

/// The body: `{"<member>":<value>,"sign":"…"}`, the signature over the value's bytes.
pub(super) fn body(reply: &Reply, signer: &RsaSigner, layout: Layout) -> String {
    let value = value_text(reply, layout.padded);
    let member = serde_json::to_string(&reply.member).expect("a string serializes");
    if !reply.signed {
        return format!("{{{member}:{value}}}");
    }
    let signature = if layout.bad_signature {
        signer.sign(&format!("{value} "))
    } else {
        signer.sign(&value)
    };
    if layout.padded {
        format!("{{\n  \"sign\" : \"{signature}\",\n  {member} : {value}\n}}\n")
    } else {
        format!("{{{member}:{value},\"sign\":\"{signature}\"}}")
    }
}

/// The fields a mismatch may change, as `mismatch_field` names them. The
/// refund answer echoes the trade ids and the cumulative `refund_fee`; the
/// query answer the trade ids, `out_request_no` and `refund_amount`. An
/// amount field names either answer's amount (the refund answer has no
/// `out_request_no`: its mismatch changes `trade_no` there). `_empty` echoes
/// an empty string, `_number` the value as a JSON number.
pub(super) const ECHOED: &[&str] = &[
    "out_trade_no",
    "out_trade_no_empty",
    "out_trade_no_number",
    "trade_no",
    "trade_no_empty",
    "trade_no_number",
    "out_request_no",
    "refund_fee",
    "refund_amount",
];

/// A correctly signed answer about something else than the request. Only a
/// success is changed: errors echo nothing.
pub(super) fn mismatch(reply: &mut Reply, field: &str) {
    if reply.code() != "10000" || !reply.fields.contains_key("trade_no") {
        return;
    }
    let (base, form) = if let Some(base) = field.strip_suffix("_empty") {
        (base, "empty")
    } else if let Some(base) = field.strip_suffix("_number") {
        (base, "number")
    } else {
        (field, "other")
    };
    let is_query = reply.fields.contains_key("out_request_no");
    let name = match base {
        "refund_fee" | "refund_amount" if is_query => "refund_amount",
        "refund_fee" | "refund_amount" => "refund_fee",
        "out_request_no" if !is_query => "trade_no",
        other => other,
    };
    let current = reply.text(name).unwrap_or("").to_owned();
    let changed: Value = match (form, name) {
        ("empty", _) => "".into(),
        ("number", _) => current
            .parse::<u64>()
            .map_or_else(|_| Value::from(1), Value::from),
        // The refund answer's total can only be checked to be at least
        // this refund (`send_back_fee`): the other refund's is below it.
        (_, "refund_fee") => {
            let this = reply.text("send_back_fee").and_then(fen);
            yuan(
                this.or_else(|| fen(&current))
                    .unwrap_or(0)
                    .saturating_sub(1),
            )
            .into()
        }
        (_, "refund_amount") => yuan(fen(&current).unwrap_or(0) + 1).into(),
        _ => format!("{current}X").into(),
    };
    reply.fields.insert(name.into(), changed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_and_fen_convert_exactly() {
        assert_eq!(yuan(2599), "25.99");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(100), "1.00");
        assert_eq!(fen("25.99"), Some(2599));
        assert_eq!(fen("25.9"), Some(2590));
        assert_eq!(fen("25"), Some(2500));
        assert_eq!(fen("100000000.00"), Some(10_000_000_000));
        for bad in ["", ".5", "5.", "1.234", "-1", "1e2", " 1", "1,00", "+1"] {
            assert_eq!(fen(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_mismatch_changes_the_named_echo_of_either_answer() {
        let refund = Reply::success(
            "alipay_trade_refund_response",
            &[
                ("out_trade_no", "T1".into()),
                ("refund_fee", "1.00".into()),
                ("trade_no", "2026".into()),
            ],
        );
        let mut r = refund.clone();
        mismatch(&mut r, "refund_amount");
        assert_eq!(r.text("refund_fee"), Some("0.99"));
        let mut executed = refund.clone();
        executed.fields.insert("refund_fee".into(), "3.00".into());
        executed
            .fields
            .insert("send_back_fee".into(), "2.00".into());
        mismatch(&mut executed, "refund_fee");
        assert_eq!(
            executed.text("refund_fee"),
            Some("1.99"),
            "below this refund"
        );
        let mut r = refund.clone();
        mismatch(&mut r, "trade_no_number");
        assert_eq!(r.fields["trade_no"], Value::from(2026));
        let mut r = refund.clone();
        mismatch(&mut r, "out_trade_no_empty");
        assert_eq!(r.text("out_trade_no"), Some(""));
        let query = Reply::success(
            "alipay_trade_fastpay_refund_query_response",
            &[
                ("out_request_no", "R1".into()),
                ("refund_amount", "1.00".into()),
                ("trade_no", "2026".into()),
            ],
        );
        let mut q = query.clone();
        mismatch(&mut q, "refund_fee");
        assert_eq!(q.text("refund_amount"), Some("1.01"));
        let mut q = query;
        mismatch(&mut q, "out_request_no");
        assert_eq!(q.text("out_request_no"), Some("R1X"));
    }
}
