//! What a Leshua answer proves (docs/specs/leshua.md, "Error codes"): the signature is
//! checked first, then every echoed field against the request, then the codes,
//! each mapped to what the state machine must do.

use std::collections::BTreeMap;

use super::wire::response_verifies;
use crate::gateway::echo::EchoCheck;
use crate::gateway::{times, IdUse, Outcome, Receipt};
use crate::money::Fen;
use crate::secret::Secret;

/// Codes that prove the refund was refused for good.
const FINAL_FAILURES: &[&str] = &[
    "-20001", "-20004", "-4006", "-20018", "-20024", "-20019", "-5016", "-20023", "-5017", "-5014",
    "-5015", "-5018", "-2034", "-2125",
];
/// Codes that refuse the request itself, whatever refund it carries: every
/// other request of the profile would be refused alike. With the likely cause.
const REJECTS_EVERY_REQUEST: &[(&str, &str)] = &[
    (
        "-20006",
        "the gateway cannot verify our signature: the trade key is probably wrong (check trade_key)",
    ),
    (
        "-20007",
        "the gateway has no signing key for this merchant: ask Leshua to configure it",
    ),
    (
        "-20002",
        "the gateway does not know this merchant: check merchant_id",
    ),
    (
        "-1002",
        "the gateway does not know this merchant: check merchant_id",
    ),
];
/// Codes that prove nothing was created and the same id may be sent later.
const RETRY_LATER: &[&str] = &["-4004", "-20099"];
/// Query answers that prove the refund does not exist.
const NOT_FOUND: &[&str] = &["-5019", "-20022"];
/// The refund id exists already: its state must be learned by a query.
pub const ALREADY_EXISTS: &str = "-5103";

fn receipt(fields: &BTreeMap<String, String>) -> Receipt {
    Receipt {
        gateway_refund_id: fields
            .get("leshua_refund_id")
            .filter(|v| !v.is_empty())
            .cloned(),
        refund_fen: fields
            .get("refund_amount")
            .and_then(|a| Fen::parse_fen(a).ok()),
        success_at: None,
        created_at: None,
    }
}

/// A succeeded refund's receipt: `refund_time` (`yyyyMMddHHmmss`, Beijing
/// time, given when final) is its success time when it reads.
fn succeeded(fields: &BTreeMap<String, String>) -> Receipt {
    Receipt {
        success_at: times::kept(fields.get("refund_time").map(String::as_str), |t| {
            times::beijing(t, times::COMPACT)
        }),
        ..receipt(fields)
    }
}

pub(super) fn codes(fields: &BTreeMap<String, String>) -> String {
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    format!(
        "resp_code={} result_code={} error_code={}",
        get("resp_code"),
        get("result_code"),
        get("error_code")
    )
}

/// Which call an answer belongs to: the same code means different things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Refund,
    Query,
}

/// What a request asked, as its answer must echo it (docs/specs/leshua.md, "Response signature").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub merchant_id: String,
    pub refund_id: String,
    /// The refund's amount: sent with a refund, expected back from a query.
    pub amount: Fen,
    /// The order ids the request named; an answer is compared on these only.
    pub third_order_id: Option<String>,
    pub leshua_order_id: Option<String>,
    /// The request's random string: an old answer replayed carries another.
    pub nonce: String,
}

impl Asked {
    pub(super) fn from_params(params: &BTreeMap<String, String>, amount: Fen) -> Asked {
        let get = |name: &str| params.get(name).cloned().unwrap_or_default();
        Asked {
            merchant_id: get("merchant_id"),
            refund_id: get("merchant_refund_id"),
            amount,
            third_order_id: params.get("third_order_id").cloned(),
            leshua_order_id: params.get("leshua_order_id").cloned(),
            nonce: get("nonce_str"),
        }
    }

    /// What the (trimmed) answer echoes that differs from the request.
    fn mismatch(&self, fields: &BTreeMap<String, String>) -> Option<String> {
        let get = |name: &str| fields.get(name).map(String::as_str);
        let mut check = EchoCheck::default();
        check.text("merchant_id", get("merchant_id"), &self.merchant_id);
        check.text(
            "merchant_refund_id",
            get("merchant_refund_id"),
            &self.refund_id,
        );
        check.text(
            "refund_amount",
            get("refund_amount"),
            &self.amount.0.to_string(),
        );
        for (name, asked) in [
            ("third_order_id", &self.third_order_id),
            ("leshua_order_id", &self.leshua_order_id),
        ] {
            if let Some(asked) = asked {
                check.text(name, get(name), asked);
            }
        }
        check.text("nonce_str", get("nonce_str"), &self.nonce);
        check.finish()
    }
}

/// Values as the gateway meant them: pretty-printed XML pads them with
/// whitespace (`<resp_code>\n  0\n</resp_code>`), which is not part of the value.
pub(super) fn trimmed(fields: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(name, value)| (name.clone(), value.trim().to_owned()))
        .collect()
}

fn rejection(code: &str) -> Option<Outcome> {
    REJECTS_EVERY_REQUEST
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(c, why)| Outcome::rejected(*c, *why))
}

/// Turns a parsed answer into what it proves. The signature is checked before
/// any field is believed, then every echoed field against the request, then the
/// codes are read (all values trimmed).
pub fn classify(
    call: Call,
    raw: &BTreeMap<String, String>,
    key: &Secret,
    asked: &Asked,
) -> Outcome {
    let fields = trimmed(raw);
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let Some(resp_code) = fields.get("resp_code") else {
        return Outcome::unknown("the answer has no resp_code");
    };
    if resp_code != "0" {
        // A protocol-level rejection: the request was not taken, nothing was created.
        let code = if get("error_code").is_empty() {
            format!("resp_code {resp_code}")
        } else {
            get("error_code").to_owned()
        };
        if let Some(rejected) = rejection(&code) {
            return rejected;
        }
        let message = format!("gateway rejected the request: {}", get("resp_msg"));
        return match call {
            Call::Refund => Outcome::failed(code, message, Receipt::default(), IdUse::Free),
            // A rejected query says nothing about the refund itself.
            Call::Query => {
                Outcome::unknown(format!("query rejected ({code}): {}", get("resp_msg")))
            }
        };
    }
    // The gateway signs its values; whitespace around them may or may not be in what it signed.
    if !response_verifies(raw, key) && !response_verifies(&fields, key) {
        return Outcome::unverifiable("trade_key");
    }
    if let Some(what) = asked.mismatch(&fields) {
        return Outcome::Mismatch { what };
    }
    if get("result_code") == "0" {
        if get("merchant_refund_id").is_empty() {
            return Outcome::unknown("the answer does not say which refund it is about");
        }
        return match get("status") {
            "10" => Outcome::Processing(receipt(&fields)),
            "11" => Outcome::Succeeded(succeeded(&fields)),
            "12" => Outcome::failed(
                "12",
                non_empty(get("failure_reason"), "the gateway says the refund failed"),
                receipt(&fields),
                IdUse::Spent,
            ),
            other => Outcome::unknown(format!("unexpected refund status {other:?}")),
        };
    }
    let code = get("error_code");
    let message = non_empty(get("error_msg"), "no message");
    if RETRY_LATER.contains(&code) {
        return Outcome::retry(None, format!("{code}: {message}"));
    }
    if let Some(rejected) = rejection(code) {
        return rejected;
    }
    match call {
        Call::Refund if code == ALREADY_EXISTS => Outcome::unknown(format!(
            "{code}: the refund id already exists at the gateway; its state must be queried"
        )),
        Call::Refund if FINAL_FAILURES.contains(&code) => {
            Outcome::failed(code, message, Receipt::default(), IdUse::Free)
        }
        Call::Query if NOT_FOUND.contains(&code) => Outcome::NotFound,
        _ => Outcome::unknown(format!("{code}: {message}")),
    }
}

fn non_empty(text: &str, fallback: &str) -> String {
    if text.is_empty() { fallback } else { text }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::leshua::wire::{parse_xml, sign_response};

    fn signed(mut fields: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let key = Secret::new("TESTKEY");
        let sign = sign_response(&fields, &key);
        fields.insert("sign".into(), sign);
        fields
    }

    fn answer(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// What the answers in these tests are about.
    fn asked() -> Asked {
        Asked {
            merchant_id: "0000000018".into(),
            refund_id: "R1".into(),
            amount: Fen(100),
            third_order_id: Some("T1".into()),
            leshua_order_id: None,
            nonce: "n1".into(),
        }
    }

    /// A signed answer with what every answer echoes.
    fn echoing(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut fields = answer(&[("merchant_id", "0000000018"), ("nonce_str", "n1")]);
        fields.extend(answer(pairs));
        signed(fields)
    }

    fn classify_asked(call: Call, fields: &BTreeMap<String, String>) -> Outcome {
        classify(call, fields, &Secret::new("TESTKEY"), &asked())
    }

    #[test]
    fn every_error_code_maps_to_its_action() {
        let with_code = |code: &str| {
            echoing(&[
                ("resp_code", "0"),
                ("result_code", "1"),
                ("error_code", code),
            ])
        };
        for code in FINAL_FAILURES {
            assert!(
                matches!(classify_asked(Call::Refund, &with_code(code)), Outcome::Failed { code: c, .. } if c == *code),
                "{code}"
            );
            // The same code on a query proves nothing about the refund.
            assert!(
                matches!(
                    classify_asked(Call::Query, &with_code(code)),
                    Outcome::Unknown { .. }
                ),
                "{code}"
            );
        }
        for (code, _) in REJECTS_EVERY_REQUEST {
            for call in [Call::Refund, Call::Query] {
                assert!(
                    matches!(classify_asked(call, &with_code(code)), Outcome::Rejected { code: c, .. } if c == *code),
                    "{code}"
                );
            }
        }
        for code in ["-4004", "-20099"] {
            for call in [Call::Refund, Call::Query] {
                assert!(
                    matches!(
                        classify_asked(call, &with_code(code)),
                        Outcome::Retry { .. }
                    ),
                    "{code}"
                );
            }
        }
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-5103")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-4027")),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-9999")),
            Outcome::Unknown { .. }
        ));
        assert_eq!(
            classify_asked(Call::Query, &with_code("-5019")),
            Outcome::NotFound
        );
        assert_eq!(
            classify_asked(Call::Query, &with_code("-20022")),
            Outcome::NotFound
        );
        assert!(matches!(
            classify_asked(Call::Refund, &with_code("-5019")),
            Outcome::Unknown { .. }
        ));
    }

    fn about_r1(status: &str) -> Vec<(&'static str, String)> {
        vec![
            ("resp_code", "0".into()),
            ("result_code", "0".into()),
            ("status", status.into()),
            ("merchant_refund_id", "R1".into()),
            ("third_order_id", "T1".into()),
            ("leshua_order_id", "L1".into()),
            ("leshua_refund_id", "LR1".into()),
            ("refund_amount", "100".into()),
        ]
    }

    fn echoing_owned(pairs: &[(&'static str, String)]) -> BTreeMap<String, String> {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        echoing(&pairs)
    }

    #[test]
    fn refund_time_is_the_success_time_when_it_reads() {
        let with_time = |status: &str, at: &str| {
            let mut pairs = about_r1(status);
            pairs.push(("refund_time", at.into()));
            classify_asked(Call::Query, &echoing_owned(&pairs))
        };
        let receipt = |success_at: Option<&str>| Receipt {
            gateway_refund_id: Some("LR1".into()),
            refund_fen: Some(Fen(100)),
            success_at: success_at.map(|t| t.parse().unwrap()),
            created_at: None,
        };
        // 2026-11-30 23:59:59 Beijing time.
        assert_eq!(
            with_time("11", "20261130235959"),
            Outcome::Succeeded(receipt(Some("2026-11-30T15:59:59Z")))
        );
        // Not a time: not kept, and the success stands.
        assert_eq!(
            with_time("11", "2026-11-30 23:59:59"),
            Outcome::Succeeded(receipt(None))
        );
        assert_eq!(
            with_time("11", "20261131000000"),
            Outcome::Succeeded(receipt(None))
        );
        // A failed refund's time is not a success time.
        assert!(matches!(
            with_time("12", "20261130235959"),
            Outcome::Failed {
                receipt: Receipt {
                    success_at: None,
                    ..
                },
                ..
            }
        ));
        // The refund call's answer is read the same way.
        let mut pairs = about_r1("11");
        pairs.push(("refund_time", "20261201000001".into()));
        assert_eq!(
            classify_asked(Call::Refund, &echoing_owned(&pairs)),
            Outcome::Succeeded(receipt(Some("2026-11-30T16:00:01Z")))
        );
    }

    #[test]
    fn statuses_and_untrusted_answers() {
        let key = Secret::new("TESTKEY");
        let receipt = Receipt {
            gateway_refund_id: Some("LR1".into()),
            refund_fen: Some(Fen(100)),
            success_at: None,
            created_at: None,
        };
        let ok = |status: &str| echoing_owned(&about_r1(status));
        assert_eq!(
            classify_asked(Call::Query, &ok("10")),
            Outcome::Processing(receipt.clone())
        );
        assert_eq!(
            classify_asked(Call::Query, &ok("11")),
            Outcome::Succeeded(receipt.clone())
        );
        assert!(matches!(
            classify_asked(Call::Query, &ok("12")),
            Outcome::Failed { .. }
        ));
        // Unsigned, or signed with another key: never believed.
        let mut unsigned = ok("11");
        unsigned.remove("sign");
        assert!(matches!(
            classify_asked(Call::Query, &unsigned),
            Outcome::Unknown { .. }
        ));
        let mut forged = ok("11");
        forged.insert("status".into(), "12".into());
        assert!(matches!(
            classify_asked(Call::Query, &forged),
            Outcome::Unknown { .. }
        ));
        // A success that does not say which refund it is about is not believed.
        let mut anonymous = about_r1("11");
        anonymous.retain(|(k, _)| *k != "merchant_refund_id");
        assert!(matches!(
            classify_asked(Call::Query, &echoing_owned(&anonymous)),
            Outcome::Unknown { .. }
        ));
        // A protocol rejection needs no signature and created nothing.
        let rejected = answer(&[
            ("resp_code", "1"),
            ("resp_msg", "bad parameter"),
            ("error_code", "-20001"),
        ]);
        assert!(
            matches!(classify(Call::Refund, &rejected, &key, &asked()), Outcome::Failed { code, .. } if code == "-20001")
        );
        // A wrong signature on our request is the profile's problem, not the refund's.
        let wrong_key = answer(&[
            ("resp_code", "1"),
            ("resp_msg", "sign error"),
            ("error_code", "-20006"),
        ]);
        assert!(
            matches!(classify(Call::Refund, &wrong_key, &key, &asked()), Outcome::Rejected { code, why } if code == "-20006" && why.contains("trade_key"))
        );
    }

    #[test]
    fn padded_values_are_read_trimmed() {
        // Pretty-printed XML: the values were signed without the padding.
        let xml = format!(
            "<leshua>\n<resp_code>\n  0\n</resp_code>\n{}</leshua>",
            echoing_owned(&about_r1("11"))
                .iter()
                .filter(|(k, _)| *k != "resp_code")
                .map(|(k, v)| format!("<{k}>\n  <![CDATA[{v}]]>\n</{k}>\n"))
                .collect::<String>()
        );
        let fields = parse_xml(xml.as_bytes()).unwrap();
        assert_eq!(fields["resp_code"], "\n  0\n");
        assert!(matches!(
            classify_asked(Call::Refund, &fields),
            Outcome::Succeeded(_)
        ));
        // Signed with the padding kept, it verifies too.
        let mut padded = answer(&[
            ("resp_code", " 0 "),
            ("result_code", "\n0\n"),
            ("status", " 11"),
            ("merchant_id", "0000000018 "),
            ("merchant_refund_id", " R1"),
            ("refund_amount", "100\n"),
            ("nonce_str", "n1"),
        ]);
        padded = signed(padded);
        assert!(matches!(
            classify_asked(Call::Query, &padded),
            Outcome::Succeeded(_)
        ));
    }

    #[test]
    fn a_verified_answer_about_another_refund_is_never_believed() {
        let cases = [
            ("merchant_refund_id", "R2"),
            ("refund_amount", "10000"),
            ("refund_amount", "100.00"),
            ("merchant_id", "0000000099"),
            ("third_order_id", "T9"),
            // A replayed answer to an earlier request carries that request's nonce.
            ("nonce_str", "an-old-nonce"),
        ];
        for (field, value) in cases {
            for status in ["10", "11", "12"] {
                let mut pairs = about_r1(status);
                pairs.retain(|(k, _)| *k != field);
                pairs.push((field, value.to_owned()));
                // `echoing` lets these pairs override what it echoes itself.
                match classify_asked(Call::Query, &echoing_owned(&pairs)) {
                    Outcome::Mismatch { what } => assert!(what.contains(field), "{what}"),
                    other => panic!("{field}={value} status {status}: {other:?}"),
                }
            }
        }
        // A business error about another merchant is not believed either.
        let mut error = answer(&[
            ("resp_code", "0"),
            ("result_code", "1"),
            ("error_code", "-20023"),
        ]);
        error.insert("merchant_id".into(), "0000000099".into());
        error.insert("nonce_str".into(), "n1".into());
        assert!(matches!(
            classify_asked(Call::Refund, &signed(error)),
            Outcome::Mismatch { .. }
        ));
        // The order id is compared only when the request sent it.
        let mut pairs = about_r1("11");
        pairs.retain(|(k, _)| *k != "leshua_order_id");
        pairs.push(("leshua_order_id", "L-other".into()));
        assert!(matches!(
            classify_asked(Call::Query, &echoing_owned(&pairs)),
            Outcome::Succeeded(_)
        ));
    }
}
