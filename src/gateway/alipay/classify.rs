//! What an Alipay answer proves (docs/specs/alipay.md, "Verifying an answer",
//! "The refund answer", "alipay.trade.fastpay.refund.query", "Error codes:
//! what each proves", "The echo check"). An answer is the one `…_response`
//! member of a JSON body ([`super::verify`]); `code` `10000` and `40004` are
//! believed only with a `sign` that verifies, and a `10000` only when it is
//! about this very refund. Gateway-level codes may come unsigned and are read
//! by code; none of them created a refund. `10000` is "the call ran", not
//! "refunded": `fund_change` `N` is settled by a query, never by a new number.

use std::time::Duration;

pub use super::codes::Follow;
use super::codes::{business, gateway_level, shown};
use super::verify::{cut, Signature};
pub use super::wire::Call;
use super::wire::{
    parse_query, parse_refund, parse_status, response_member, Echoed, QueryAnswer, RefundAnswer,
    ERROR_MEMBER,
};
use super::yuan;
use crate::gateway::echo::EchoCheck;
use crate::gateway::rsa_sign::RsaVerifier;
use crate::gateway::{times, IdUse, Outcome, Receipt};
use crate::money::Fen;

/// What a request sent, as an answer must echo it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub out_request_no: String,
    pub out_trade_no: Option<String>,
    pub trade_no: Option<String>,
    pub refund: Fen,
}

/// How long after a refund answered `fund_change` `N` its query waits
/// (Alipay's advice: at least 10 s).
pub const QUERY_AFTER_NO_FUND_CHANGE: Duration = Duration::from_secs(10);

/// One answer read: its outcome, its codes for the journal, whether Alipay's
/// signature verified it, and what follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    pub codes: Option<String>,
    pub verified: bool,
    pub follow: Follow,
    /// A refund that moved money: the trade's total refunded so far
    /// (`refund_fee`), for the client's check against earlier parts.
    pub trade_total: Option<Fen>,
}

impl Classified {
    fn plain(outcome: Outcome) -> Classified {
        Classified {
            outcome,
            codes: None,
            verified: false,
            follow: Follow::Nothing,
            trade_total: None,
        }
    }
}

/// What a 2xx body proves.
pub fn answer(call: Call, body: &[u8], alipay_key: &RsaVerifier, asked: &Asked) -> Classified {
    let member = response_member(call.method());
    let found = match cut(body, &member, ERROR_MEMBER) {
        Ok(found) => found,
        Err(why) => return Classified::plain(Outcome::unknown(why)),
    };
    let signature = found.signature(alipay_key);
    if signature == Signature::Refused {
        tracing::warn!("an Alipay answer whose sign does not verify: never believed");
        return Classified::plain(Outcome::unverifiable("alipay_public_key"));
    }
    let status = match parse_status(found.value) {
        Ok(status) => status,
        Err(why) => return Classified::plain(Outcome::unknown(why)),
    };
    let sub_code = status.sub_code();
    let mut codes = Some(if sub_code.is_empty() {
        format!("code={}", shown(&status.code))
    } else {
        format!("code={}/sub_code={}", shown(&status.code), shown(sub_code))
    });
    let verified = signature == Signature::Verified;
    let mut trade_total = None;
    let (outcome, follow) = match status.code.as_str() {
        "10000" | "40004" if !verified => {
            tracing::warn!(
                "an unsigned Alipay answer with code {}",
                shown(&status.code)
            );
            (Outcome::unverifiable("base_url"), Follow::Nothing)
        }
        "10000" => match call {
            Call::Refund => match parse_refund(found.value) {
                Ok(answer) => {
                    if let Some(fund_change) = answer.fund_change.as_ref().and_then(Echoed::text) {
                        codes = Some(format!("code=10000/fund_change={}", shown(fund_change)));
                    }
                    let ran = refund_ran(&answer, asked);
                    if matches!(ran.0, Outcome::Succeeded(_)) {
                        trade_total = answer
                            .refund_fee
                            .as_ref()
                            .and_then(Echoed::text)
                            .and_then(|total| yuan::to_fen(total).ok());
                    }
                    ran
                }
                Err(why) => (Outcome::unknown(why), Follow::Nothing),
            },
            Call::Query => match parse_query(found.value) {
                Ok(answer) => {
                    if let Some(state) = answer.refund_status.as_ref().and_then(Echoed::text) {
                        codes = Some(format!("code=10000/refund_status={}", shown(state)));
                    }
                    (query_ran(&answer, asked), Follow::Nothing)
                }
                Err(why) => (Outcome::unknown(why), Follow::Nothing),
            },
        },
        "40004" => business(call, &status),
        code => (gateway_level(call, code, &status), Follow::Nothing),
    };
    Classified {
        outcome,
        codes,
        verified,
        follow,
        trade_total,
    }
}

/// A refund call that ran (`10000`): `fund_change` `Y` and the echo check
/// make it succeeded; `N` (or none) proves nothing yet: a query decides.
pub fn refund_ran(answer: &RefundAnswer, asked: &Asked) -> (Outcome, Follow) {
    let moved = answer.fund_change.as_ref().and_then(Echoed::text) == Some("Y");
    if let Some(what) = echo_refund(answer, asked, moved) {
        return (Outcome::Mismatch { what }, Follow::Nothing);
    }
    if !moved {
        let outcome = Outcome::unknown(
            "Alipay ran the call but moved no money (fund_change N): a repeat of a refund \
             already made answers so, and so may one not made; a query decides, never a new number",
        );
        return (outcome, Follow::QueryLater);
    }
    let receipt = Receipt {
        gateway_refund_id: trade_no(answer.trade_no.as_ref(), asked),
        // refund_fee is the trade's total so far, not this refund's.
        refund_fen: None,
        success_at: refund_paid_at(answer.gmt_refund_pay.as_ref()),
        created_at: None,
    };
    (Outcome::Succeeded(receipt), Follow::Nothing)
}

/// `gmt_refund_pay` (Beijing time): the refund's success time, when the
/// answer proves a success and the time reads; else none.
fn refund_paid_at(answered: Option<&Echoed>) -> Option<jiff::Timestamp> {
    times::kept(answered.and_then(Echoed::text), |text| {
        times::beijing(text, times::DASHED)
    })
}

/// The refund's gateway id: its trade's `trade_no` (an Alipay refund has no
/// id of its own), as answered, else as sent.
fn trade_no(answered: Option<&Echoed>, asked: &Asked) -> Option<String> {
    answered
        .and_then(Echoed::text)
        .map(str::to_owned)
        .or_else(|| asked.trade_no.clone())
}

/// A query that ran (`10000`): with the refund's number and amount, the
/// refund was executed; with neither, Alipay holds no such refund on the
/// trade; with one of them only, the answer is malformed.
pub fn query_ran(answer: &QueryAnswer, asked: &Asked) -> Outcome {
    let present = |field: &Option<Echoed>| match field {
        Some(Echoed::Text(text)) => !text.is_empty(),
        Some(Echoed::Other(_)) => true,
        None => false,
    };
    match (present(&answer.out_request_no), present(&answer.refund_amount)) {
        (false, false) => return Outcome::NotFound,
        (true, true) => {}
        _ => {
            return Outcome::unknown(
                "the query answer has only one of out_request_no and refund_amount: malformed, it proves nothing",
            )
        }
    }
    if let Some(what) = echo_query(answer, asked) {
        return Outcome::Mismatch { what };
    }
    let receipt = Receipt {
        gateway_refund_id: trade_no(answer.trade_no.as_ref(), asked),
        refund_fen: Some(asked.refund),
        success_at: None,
        created_at: None,
    };
    // Only a success's gmt_refund_pay is its success time.
    let succeeded = Receipt {
        success_at: refund_paid_at(answer.gmt_refund_pay.as_ref()),
        ..receipt.clone()
    };
    match answer.refund_status.as_ref() {
        None => Outcome::Succeeded(succeeded),
        Some(Echoed::Text(status)) => match status.as_str() {
            "REFUND_SUCCESS" => Outcome::Succeeded(succeeded),
            "REFUND_PROCESSING" => Outcome::Processing(receipt),
            // Alipay asks for the same number again after a failed refund.
            "REFUND_FAIL" => Outcome::failed(
                "REFUND_FAIL",
                "Alipay says the refund failed; retry --failed sends the same number again",
                receipt,
                IdUse::Free,
            ),
            other => Outcome::unknown(format!(
                "refund_status {:?} is not in the contract: it proves nothing",
                shown(other)
            )),
        },
        Some(Echoed::Other(kind)) => Outcome::unknown(format!(
            "refund_status is {kind}: malformed, it proves nothing"
        )),
    }
}

/// A field that must echo `sent` exactly: missing, empty or of another JSON
/// type is a difference too.
fn exact(check: &mut EchoCheck, field: &str, answered: Option<&Echoed>, sent: &str) {
    match answered {
        Some(Echoed::Text(text)) if !text.is_empty() => check.text(field, Some(text), sent),
        Some(Echoed::Other(kind)) => check.differ(field, kind, &format!("{sent:?}")),
        _ => check.differ(field, "missing", &format!("{sent:?}")),
    }
}

/// A yuan field as fen, or the difference it makes.
fn amount(check: &mut EchoCheck, field: &str, answered: Option<&Echoed>, sent: Fen) -> Option<Fen> {
    let asked = format!("{:?} (this refund)", yuan::from_fen(sent));
    match answered {
        Some(Echoed::Text(text)) => match yuan::to_fen(text) {
            Ok(fen) => return Some(fen),
            Err(e) => check.differ(field, &format!("{:?}, which {e}", shown(text)), &asked),
        },
        Some(Echoed::Other(kind)) => check.differ(field, kind, &asked),
        None => check.differ(field, "missing", &asked),
    }
    None
}

/// The trade's ids as the request sent them.
fn trade_ids(
    check: &mut EchoCheck,
    out_trade_no: Option<&Echoed>,
    trade_no: Option<&Echoed>,
    asked: &Asked,
) {
    if let Some(sent) = &asked.out_trade_no {
        exact(check, "out_trade_no", out_trade_no, sent);
    }
    if let Some(sent) = &asked.trade_no {
        exact(check, "trade_no", trade_no, sent);
    }
}

/// The refund answer's echo check: the trade's ids, and, when money moved,
/// `refund_fee` (the trade's refunds so far, this one included) at least
/// this refund. A refund answer names no number, so an answer about an
/// earlier, smaller part of the trade shows a total below this part and is
/// refused; without `fund_change` `Y` the total is not compared (the query
/// that follows compares the number and the amount exactly).
pub fn echo_refund(answer: &RefundAnswer, asked: &Asked, moved: bool) -> Option<String> {
    let mut check = EchoCheck::default();
    trade_ids(
        &mut check,
        answer.out_trade_no.as_ref(),
        answer.trade_no.as_ref(),
        asked,
    );
    if moved {
        if let Some(total) = amount(
            &mut check,
            "refund_fee",
            answer.refund_fee.as_ref(),
            asked.refund,
        ) {
            if total < asked.refund {
                check.differ(
                    "refund_fee",
                    &format!("{:?} in all on the trade", yuan::from_fen(total)),
                    &format!("at least {:?} (this refund)", yuan::from_fen(asked.refund)),
                );
            }
        }
    }
    check.finish()
}

/// The query answer's echo check: the number, this refund's amount exactly,
/// and the trade's ids; an answer about another part of the trade differs
/// in the number (and most likely the amount).
pub fn echo_query(answer: &QueryAnswer, asked: &Asked) -> Option<String> {
    let mut check = EchoCheck::default();
    exact(
        &mut check,
        "out_request_no",
        answer.out_request_no.as_ref(),
        &asked.out_request_no,
    );
    if let Some(fen) = amount(
        &mut check,
        "refund_amount",
        answer.refund_amount.as_ref(),
        asked.refund,
    ) {
        if fen != asked.refund {
            check.differ(
                "refund_amount",
                &format!("{:?}", yuan::from_fen(fen)),
                &format!("{:?}", yuan::from_fen(asked.refund)),
            );
        }
    }
    trade_ids(
        &mut check,
        answer.out_trade_no.as_ref(),
        answer.trade_no.as_ref(),
        asked,
    );
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::alipay::codes::REFUND_REFUSALS;
    use crate::gateway::alipay::testing::{alipay_key, signed_answer};

    const REFUND: &str = "alipay_trade_refund_response";
    const QUERY: &str = "alipay_trade_fastpay_refund_query_response";

    fn member(call: Call) -> &'static str {
        match call {
            Call::Refund => REFUND,
            Call::Query => QUERY,
        }
    }

    /// Part 2 of trade T1 (Alipay's 2026…0002): R2, 20.00 yuan.
    fn asked() -> Asked {
        Asked {
            out_request_no: "R2".into(),
            out_trade_no: Some("T1".into()),
            trade_no: Some("2026".into()),
            refund: Fen(2000),
        }
    }

    fn signed(call: Call, value: &str) -> Classified {
        answer(
            call,
            signed_answer(member(call), value).as_bytes(),
            &alipay_key(),
            &asked(),
        )
    }

    fn unsigned(call: Call, value: &str) -> Classified {
        let body = format!("{{\"{}\":{value}}}", member(call));
        answer(call, body.as_bytes(), &alipay_key(), &asked())
    }

    fn error(code: &str, sub_code: &str) -> String {
        format!(r#"{{"code":"{code}","msg":"m","sub_code":"{sub_code}","sub_msg":"说明"}}"#)
    }

    fn failed_free(outcome: &Outcome, want: &str) -> bool {
        matches!(outcome, Outcome::Failed { code, id: IdUse::Free, .. } if code == want)
    }

    #[test]
    fn every_refund_refusal_fails_final_and_leaves_the_number_free() {
        for (sub_code, meaning) in REFUND_REFUSALS {
            let read = signed(Call::Refund, &error("40004", sub_code));
            assert!(
                failed_free(&read.outcome, sub_code),
                "{sub_code}: {:?}",
                read.outcome
            );
            let Outcome::Failed { message, .. } = &read.outcome else {
                unreachable!()
            };
            assert!(
                message.contains(meaning) && message.contains("说明"),
                "{message}"
            );
            // Queried, the same code proves nothing about the refund.
            if *sub_code != "ACQ.TRADE_NOT_EXIST" {
                let read = signed(Call::Query, &error("40004", sub_code));
                assert!(
                    matches!(read.outcome, Outcome::Unknown { .. }),
                    "{sub_code}"
                );
            }
        }
        let balance = signed(
            Call::Refund,
            &error("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH"),
        );
        let Outcome::Failed { message, .. } = balance.outcome else {
            panic!()
        };
        assert!(message.contains("top it up"), "{message}");
    }

    #[test]
    fn the_refund_codes_that_prove_nothing_are_queried() {
        for sub_code in [
            "ACQ.SYSTEM_ERROR",
            "ACQ.REFUND_CHARGE_ERROR",
            "ACQ.SOMETHING_NEW",
            "",
        ] {
            let read = signed(Call::Refund, &error("40004", sub_code));
            assert!(
                matches!(read.outcome, Outcome::Unknown { .. }),
                "{sub_code}"
            );
            assert_eq!(read.follow, Follow::Nothing, "{sub_code}");
        }
        let system = signed(Call::Refund, &error("40004", "ACQ.SYSTEM_ERROR")).outcome;
        assert!(
            matches!(&system, Outcome::Unknown { why } if why.contains("same number and amount")),
            "{system:?}"
        );
        // Never "change the number and retry": a query says what it holds.
        let discordant = signed(
            Call::Refund,
            &error("40004", "ACQ.DISCORDANT_REPEAT_REQUEST"),
        );
        assert!(
            matches!(&discordant.outcome, Outcome::Unknown { why } if why.contains("never sent under another number"))
        );
        assert_eq!(discordant.follow, Follow::AskWhatTheNumberHolds);
    }

    #[test]
    fn query_codes() {
        assert_eq!(
            signed(Call::Query, &error("40004", "ACQ.TRADE_NOT_EXIST")).outcome,
            Outcome::NotFound
        );
        for code in ["ACQ.SYSTEM_ERROR", "ACQ.INVALID_PARAMETER"] {
            assert!(matches!(
                signed(Call::Query, &error("40004", code)).outcome,
                Outcome::Unknown { .. }
            ));
        }
        assert!(matches!(
            signed(Call::Query, &error("20000", "isp.unknow-error")).outcome,
            Outcome::Unknown { .. }
        ));
    }

    #[test]
    fn gateway_level_codes_unsigned_or_signed() {
        for read in [signed, unsigned] {
            for call in [Call::Refund, Call::Query] {
                for (code, sub) in [
                    ("40002", "isv.invalid-signature"),
                    ("40002", "isv.invalid-app-id"),
                    ("40002", "isv.invalid-signature-type"),
                    ("40003", "isv.missing-signature-config"),
                    ("40006", "isv.insufficient-isv-permissions"),
                    ("20001", "aop.invalid-auth-token"),
                ] {
                    let outcome = read(call, &error(code, sub)).outcome;
                    assert!(
                        matches!(&outcome, Outcome::Rejected { code, .. } if code == sub),
                        "{sub}: {outcome:?}"
                    );
                }
                for sub in ["isv.app-call-limited", "isv.method-call-limited"] {
                    assert_eq!(
                        read(call, &error("40005", sub)).outcome,
                        Outcome::retry(
                            None,
                            format!("{sub}: 说明 (Alipay's call limit: nothing was created)")
                        )
                    );
                }
                for (code, sub) in [
                    ("20000", "isp.unknow-error"),
                    ("20000", "aop.unknow-error"),
                    ("40002", "other"),
                    ("99999", "x"),
                ] {
                    let outcome = read(call, &error(code, sub)).outcome;
                    assert!(matches!(outcome, Outcome::Unknown { .. }), "{code} {sub}");
                    assert!(outcome.unverifiable_key().is_none());
                }
            }
            // A bug of ours: the refund was not created, final; a query proves nothing.
            for (code, sub) in [
                ("40001", "isv.missing-method"),
                ("40002", "isv.invalid-parameter"),
            ] {
                assert!(
                    failed_free(&read(Call::Refund, &error(code, sub)).outcome, sub),
                    "{sub}"
                );
                assert!(matches!(
                    read(Call::Query, &error(code, sub)).outcome,
                    Outcome::Unknown { .. }
                ));
            }
        }
        // Raised before routing: `error_response`.
        let body =
            r#"{"error_response":{"code":"40002","msg":"m","sub_code":"isv.invalid-app-id"}}"#;
        let outcome = answer(Call::Refund, body.as_bytes(), &alipay_key(), &asked()).outcome;
        assert!(matches!(outcome, Outcome::Rejected { .. }), "{outcome:?}");
    }

    #[test]
    fn success_and_business_codes_need_a_verified_sign() {
        let ran = r#"{"code":"10000","msg":"Success","fund_change":"Y","out_trade_no":"T1","trade_no":"2026","refund_fee":"20.00"}"#;
        assert!(matches!(
            signed(Call::Refund, ran).outcome,
            Outcome::Succeeded(_)
        ));
        let read = unsigned(Call::Refund, ran);
        assert_eq!(read.outcome.unverifiable_key(), Some("base_url"));
        let refused = unsigned(Call::Refund, &error("40004", "ACQ.TRADE_NOT_EXIST"));
        assert_eq!(refused.outcome.unverifiable_key(), Some("base_url"));
        // A sign that fails is never believed, whatever the code.
        let wrong = |value: &str| {
            let body = format!(
                "{{\"{REFUND}\":{value},\"sign\":\"{}\"}}",
                "QUJD".repeat(86)
            );
            answer(Call::Refund, body.as_bytes(), &alipay_key(), &asked()).outcome
        };
        for value in [
            ran.to_owned(),
            error("40002", "isv.invalid-signature"),
            error("40004", "ACQ.TRADE_NOT_EXIST"),
        ] {
            assert_eq!(
                wrong(&value).unverifiable_key(),
                Some("alipay_public_key"),
                "{value}"
            );
        }
        // `code` missing or not text: malformed.
        for value in [r#"{"msg":"Success"}"#, r#"{"code":10000}"#] {
            assert!(matches!(
                signed(Call::Refund, value).outcome,
                Outcome::Unknown { .. }
            ));
        }
    }

    fn refund_answer(
        fund_change: &str,
        out_trade_no: &str,
        trade_no: &str,
        refund_fee: &str,
    ) -> String {
        format!(
            r#"{{"code":"10000","msg":"Success","fund_change":{fund_change},"gmt_refund_pay":"2026-11-22 09:30:01","out_trade_no":{out_trade_no},"refund_fee":{refund_fee},"trade_no":{trade_no}}}"#
        )
    }

    /// The answers' `gmt_refund_pay`, 2026-11-22 09:30:01 Beijing time.
    const PAID_AT: &str = "2026-11-22T01:30:01Z";

    #[test]
    fn gmt_refund_pay_is_the_success_time_when_it_reads() {
        let y = r#""Y""#;
        let with = |call: Call, at: &str| {
            let body = match call {
                Call::Refund => refund_answer(y, r#""T1""#, r#""2026""#, r#""30.00""#),
                Call::Query => query_answer(r#""R2""#, r#""20.00""#, ""),
            };
            match signed(call, &body.replace("2026-11-22 09:30:01", at)).outcome {
                Outcome::Succeeded(receipt) => receipt.success_at,
                other => panic!("{other:?}"),
            }
        };
        let at = |t: &str| Some(t.parse::<jiff::Timestamp>().unwrap());
        for call in [Call::Refund, Call::Query] {
            assert_eq!(
                with(call, "2026-11-30 23:59:59"),
                at("2026-11-30T15:59:59Z")
            );
            // A time that does not read is not kept; the success stands.
            assert_eq!(with(call, "2026-11-30T23:59:59"), None);
            assert_eq!(with(call, "2026/11/30 23:59:59"), None);
        }
        // A refund still processing has no success time, whatever it says.
        let processing = query_answer(
            r#""R2""#,
            r#""20.00""#,
            r#","refund_status":"REFUND_PROCESSING""#,
        );
        assert!(matches!(
            signed(Call::Query, &processing).outcome,
            Outcome::Processing(Receipt {
                success_at: None,
                ..
            })
        ));
    }

    fn refund_outcome(
        fund_change: &str,
        out_trade_no: &str,
        trade_no: &str,
        refund_fee: &str,
    ) -> Outcome {
        signed(
            Call::Refund,
            &refund_answer(fund_change, out_trade_no, trade_no, refund_fee),
        )
        .outcome
    }

    #[test]
    fn fund_change_y_is_success_n_is_a_query() {
        let good = refund_outcome(r#""Y""#, r#""T1""#, r#""2026""#, r#""30.00""#);
        assert_eq!(
            good,
            Outcome::Succeeded(Receipt {
                gateway_refund_id: Some("2026".into()),
                refund_fen: None,
                // gmt_refund_pay 2026-11-22 09:30:01, Beijing time
                success_at: Some(PAID_AT.parse().unwrap()),
                created_at: None,
            })
        );
        for not_moved in [r#""N""#, r#""y""#, "null", r#""""#, "true"] {
            let read = signed(
                Call::Refund,
                &refund_answer(not_moved, r#""T1""#, r#""2026""#, r#""0.00""#),
            );
            assert!(
                matches!(read.outcome, Outcome::Unknown { .. }),
                "{not_moved}"
            );
            assert_eq!(read.follow, Follow::QueryLater, "{not_moved}");
        }
        let absent = r#"{"code":"10000","msg":"Success","out_trade_no":"T1","trade_no":"2026"}"#;
        assert_eq!(signed(Call::Refund, absent).follow, Follow::QueryLater);
    }

    #[test]
    fn the_refund_echo_field_by_field() {
        let mismatch = |outcome: Outcome, field: &str| {
            assert!(
                matches!(&outcome, Outcome::Mismatch { what } if what.contains(field)),
                "{field}: {outcome:?}"
            )
        };
        let y = r#""Y""#;
        let (t1, trade) = (r#""T1""#, r#""2026""#);
        mismatch(
            refund_outcome(y, r#""T9""#, trade, r#""20.00""#),
            "out_trade_no",
        );
        mismatch(refund_outcome(y, "12", trade, r#""20.00""#), "out_trade_no");
        mismatch(
            refund_outcome(y, r#""""#, trade, r#""20.00""#),
            "out_trade_no",
        );
        mismatch(refund_outcome(y, t1, r#""2027""#, r#""20.00""#), "trade_no");
        mismatch(refund_outcome(y, t1, "2026", r#""20.00""#), "trade_no");
        mismatch(refund_outcome(y, t1, trade, r#""19.99""#), "refund_fee");
        mismatch(refund_outcome(y, t1, trade, "20.00"), "refund_fee");
        mismatch(refund_outcome(y, t1, trade, r#""20.001""#), "refund_fee");
        mismatch(refund_outcome(y, t1, trade, r#""-20.00""#), "refund_fee");
        let missing = r#"{"code":"10000","msg":"Success","fund_change":"Y","out_trade_no":"T1","trade_no":"2026"}"#;
        mismatch(signed(Call::Refund, missing).outcome, "refund_fee");
        let no_trade_no = r#"{"code":"10000","msg":"Success","fund_change":"Y","out_trade_no":"T1","refund_fee":"20.00"}"#;
        mismatch(signed(Call::Refund, no_trade_no).outcome, "trade_no");
        // Earlier parts of the trade count in refund_fee: more is this refund plus them.
        assert!(matches!(
            refund_outcome(y, t1, trade, r#""20.00""#),
            Outcome::Succeeded(_)
        ));
        assert!(matches!(
            refund_outcome(y, t1, trade, r#""35""#),
            Outcome::Succeeded(_)
        ));
        // An id the request did not carry is not compared.
        let only_out = Asked {
            trade_no: None,
            ..asked()
        };
        let body = signed_answer(REFUND, &refund_answer(y, t1, r#""9999""#, r#""20.00""#));
        let outcome = answer(Call::Refund, body.as_bytes(), &alipay_key(), &only_out).outcome;
        assert_eq!(
            outcome,
            Outcome::Succeeded(Receipt {
                gateway_refund_id: Some("9999".into()),
                refund_fen: None,
                success_at: Some(PAID_AT.parse().unwrap()),
                created_at: None,
            })
        );
        // Without fund_change Y the total is not compared, but the trade is.
        let n = r#""N""#;
        assert!(matches!(
            refund_outcome(n, t1, trade, r#""0.00""#),
            Outcome::Unknown { .. }
        ));
        mismatch(
            refund_outcome(n, r#""T9""#, trade, r#""0.00""#),
            "out_trade_no",
        );
    }

    fn query_answer(out_request_no: &str, refund_amount: &str, status: &str) -> String {
        format!(
            r#"{{"code":"10000","msg":"Success","gmt_refund_pay":"2026-11-22 09:30:01","out_request_no":{out_request_no},"out_trade_no":"T1","refund_amount":{refund_amount}{status},"total_amount":"50.00","trade_no":"2026"}}"#
        )
    }

    fn query_outcome(out_request_no: &str, refund_amount: &str, status: &str) -> Outcome {
        signed(
            Call::Query,
            &query_answer(out_request_no, refund_amount, status),
        )
        .outcome
    }

    #[test]
    fn query_answers_with_and_without_the_refund() {
        let receipt = Receipt {
            gateway_refund_id: Some("2026".into()),
            refund_fen: Some(Fen(2000)),
            success_at: None,
            created_at: None,
        };
        let paid = Receipt {
            success_at: Some(PAID_AT.parse().unwrap()),
            ..receipt.clone()
        };
        let (r2, amount) = (r#""R2""#, r#""20.00""#);
        assert_eq!(
            query_outcome(r2, amount, ""),
            Outcome::Succeeded(paid.clone())
        );
        assert_eq!(
            query_outcome(r2, amount, r#","refund_status":"REFUND_SUCCESS""#),
            Outcome::Succeeded(paid)
        );
        assert_eq!(
            query_outcome(r2, amount, r#","refund_status":"REFUND_PROCESSING""#),
            Outcome::Processing(receipt)
        );
        assert!(failed_free(
            &query_outcome(r2, amount, r#","refund_status":"REFUND_FAIL""#),
            "REFUND_FAIL"
        ));
        for odd in [r#","refund_status":"NEW""#, r#","refund_status":1"#] {
            assert!(
                matches!(query_outcome(r2, amount, odd), Outcome::Unknown { .. }),
                "{odd}"
            );
        }
        // Neither: not found. One of them: malformed.
        assert_eq!(
            signed(Call::Query, r#"{"code":"10000","msg":"Success"}"#).outcome,
            Outcome::NotFound
        );
        let empty = r#"{"code":"10000","msg":"Success","out_request_no":"","refund_amount":""}"#;
        assert_eq!(signed(Call::Query, empty).outcome, Outcome::NotFound);
        for one in [
            r#"{"code":"10000","msg":"Success","out_request_no":"R2"}"#,
            r#"{"code":"10000","msg":"Success","refund_amount":"20.00"}"#,
        ] {
            let outcome = signed(Call::Query, one).outcome;
            assert!(
                matches!(&outcome, Outcome::Unknown { why } if why.contains("only one")),
                "{one}"
            );
        }
    }

    #[test]
    fn the_query_echo_field_by_field() {
        let mismatch = |outcome: Outcome, field: &str| {
            assert!(
                matches!(&outcome, Outcome::Mismatch { what } if what.contains(field)),
                "{field}: {outcome:?}"
            )
        };
        let (r2, amount) = (r#""R2""#, r#""20.00""#);
        mismatch(query_outcome(r#""R1""#, amount, ""), "out_request_no");
        mismatch(query_outcome("2", amount, ""), "out_request_no");
        mismatch(query_outcome(r2, r#""20.01""#, ""), "refund_amount");
        mismatch(query_outcome(r2, r#""30.00""#, ""), "refund_amount");
        mismatch(query_outcome(r2, "20", ""), "refund_amount");
        mismatch(query_outcome(r2, r#""20.000""#, ""), "refund_amount");
        mismatch(query_outcome(r2, r#""２0.00""#, ""), "refund_amount");
        assert!(matches!(
            query_outcome(r2, r#""20""#, ""),
            Outcome::Succeeded(_)
        ));
        let with = |from: &str, to: &str| {
            signed(Call::Query, &query_answer(r2, amount, "").replace(from, to)).outcome
        };
        mismatch(
            with(r#""out_trade_no":"T1""#, r#""out_trade_no":"T2""#),
            "out_trade_no",
        );
        mismatch(with(r#""out_trade_no":"T1","#, ""), "out_trade_no");
        mismatch(
            with(r#""trade_no":"2026""#, r#""trade_no":"2027""#),
            "trade_no",
        );
        mismatch(with(r#","trade_no":"2026""#, ""), "trade_no");
    }

    #[test]
    fn no_part_of_a_trade_is_believed_for_another() {
        // Trade T1 refunded in three parts, the third retried under a new number.
        let parts = [("R1", 1000u64), ("R2", 2000), ("R3", 500), ("R3R2", 500)];
        let asked_for = |(no, fen): (&str, u64)| Asked {
            out_request_no: no.into(),
            out_trade_no: Some("T1".into()),
            trade_no: Some("2026".into()),
            refund: Fen(fen),
        };
        let yuan_of = |fen: u64| yuan::from_fen(Fen(fen));
        for (i, &part) in parts.iter().enumerate() {
            for (j, &other) in parts.iter().enumerate() {
                let value = query_answer(
                    &format!("\"{}\"", other.0),
                    &format!("\"{}\"", yuan_of(other.1)),
                    "",
                );
                let body = signed_answer(QUERY, &value);
                let outcome = answer(
                    Call::Query,
                    body.as_bytes(),
                    &alipay_key(),
                    &asked_for(part),
                )
                .outcome;
                if i == j {
                    assert!(matches!(outcome, Outcome::Succeeded(_)), "{i}");
                } else {
                    assert!(
                        matches!(outcome, Outcome::Mismatch { .. }),
                        "{} for {}",
                        other.0,
                        part.0
                    );
                }
            }
        }
        // A refund answer names no number: its cumulative refund_fee refuses
        // an answer of an earlier, smaller part (R1's 10.00 shown to R2's 20.00).
        let first = refund_answer(r#""Y""#, r#""T1""#, r#""2026""#, r#""10.00""#);
        let body = signed_answer(REFUND, &first);
        let outcome = answer(
            Call::Refund,
            body.as_bytes(),
            &alipay_key(),
            &asked_for(parts[1]),
        )
        .outcome;
        assert!(matches!(outcome, Outcome::Mismatch { .. }), "{outcome:?}");
    }
}
