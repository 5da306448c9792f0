//! The Alipay vectors (tests/vectors/alipay/, README there): every signed
//! request re-made byte for byte (string to sign, `sign`, form body), every
//! answer verified over its member's raw bytes and classified, the tampered
//! one refused; a re-ordered or re-spaced body still verifies, a byte changed
//! inside the member's value does not.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::classify::{answer, Call, Classified, Follow};
use super::client::{asked, query_biz, refund_biz, AlipayClient, AlipaySettings};
use super::keys;
use super::testing::{alipay_key, app_key, app_signer, vector, APP_ID};
use super::verify::{cut, Signature};
use super::wire::{self, form_body, parameters, signed, string_to_sign, Common};
use crate::gateway::rsa_sign::RsaDigest;
use crate::gateway::{IdUse, Outcome, Receipt, RefundOrder};
use crate::money::Fen;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn made_here() -> Value {
    json(vector!("made_here_vectors.json"))
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not text"))
}

fn order(id: &str, fen: u64, fields: &[(&str, &str)]) -> RefundOrder {
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        gateway_refund_id: None,
    }
}

/// The made-here vectors' refund: R20261122-0003 of trade T20261101000002, 25.99 yuan.
fn refund() -> RefundOrder {
    order(
        "R20261122-0003",
        2599,
        &[
            ("out_trade_no", "T20261101000002"),
            ("refund_reason", "月末退款 month-end"),
        ],
    )
}

const TRADE_NO: &str = "2026110122001400000000000002";

/// A client whose clock reads `beijing` (Beijing time), never sending.
fn client_at(beijing: &str) -> AlipayClient {
    let at: jiff::Timestamp = format!("{}+08:00", beijing.replace(' ', "T"))
        .parse()
        .unwrap();
    AlipayClient::new(AlipaySettings {
        gateway_url: url::Url::parse("https://openapi.alipay.com/gateway.do").unwrap(),
        app_id: APP_ID.into(),
        signer: app_signer(),
        alipay_key: Arc::new(alipay_key()),
        app_auth_token: None,
        timeout: Duration::from_secs(5),
        clock: Arc::new(move || at),
    })
}

/// A signed request vector re-made from its parameters: the parameters in
/// the form's order, the string to sign, `sign`, and the body when given.
fn check_request(v: &Value, biz: &str) {
    let params = &v["params"];
    assert_eq!(biz, s(params, "biz_content"));
    let common = Common {
        app_id: s(params, "app_id"),
        method: s(params, "method"),
        timestamp: s(params, "timestamp"),
        app_auth_token: None,
    };
    let made = parameters(&common, biz);
    let names: Vec<&str> = made.iter().map(|(name, _)| *name).collect();
    let given: Vec<&str> = params
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, given, "the form's order");
    for (name, value) in &made {
        assert_eq!(value, s(params, name), "{name}");
    }
    assert_eq!(string_to_sign(&made), s(v, "string_to_sign"));
    let signed = signed(made, &app_signer());
    assert_eq!(signed.last().unwrap(), &("sign", s(v, "sign").to_owned()));
    if let Some(http) = v.get("http") {
        assert_eq!(form_body(&signed), s(http, "body"));
        assert_eq!(s(http, "content_type"), wire::CONTENT_TYPE);
        assert_eq!(s(http, "method"), "POST");
    }
    // The app's public key verifies it, as the simulator checks it.
    let app = app_key();
    assert!(app.verify(s(v, "string_to_sign"), s(v, "sign"), RsaDigest::Sha256));
}

#[test]
fn refund_request_vector_byte_for_byte() {
    let all = made_here();
    let v = &all["refund_request"];
    assert_eq!(v["fen"], 2599);
    let biz = refund_biz(&refund()).unwrap();
    check_request(v, &biz);
    // The client writes the same body, stamped by its clock.
    let client = client_at("2026-11-22 09:30:00");
    assert_eq!(
        client.form(wire::REFUND_METHOD, &biz),
        s(&v["http"], "body")
    );
}

#[test]
fn query_request_vector_byte_for_byte() {
    let all = made_here();
    let v = &all["refund_query_request"];
    let biz = query_biz(&refund());
    check_request(v, &biz);
    let client = client_at("2026-11-22 09:30:15");
    assert_eq!(client.form(wire::QUERY_METHOD, &biz), s(&v["http"], "body"));
}

#[test]
fn bill_url_request_vector_byte_for_byte() {
    let all = made_here();
    let v = &all["bill_downloadurl_request"];
    check_request(v, r#"{"bill_type":"trade","bill_date":"2026-11-22"}"#);
}

#[test]
fn derived_request_vectors() {
    // The earlier research wrote refund_amount before out_request_no; the
    // contract's vector (above) and bulkrefund write it after. The signing
    // rules are the same: re-made from the vector's own biz_content.
    let v = json(vector!("derived_alipay_vectors.json"));
    for name in ["refund_request", "refund_query_request"] {
        let request = &v[name];
        check_request(request, s(&request["params"], "biz_content"));
    }
    let ours = order(
        "R20250101000001",
        100,
        &[
            ("out_trade_no", "T20250101000001"),
            ("refund_reason", "bulk refund"),
        ],
    );
    assert_eq!(
        query_biz(&ours),
        s(&v["refund_query_request"]["params"], "biz_content")
    );
    assert_eq!(
        refund_biz(&ours).unwrap(),
        r#"{"out_trade_no":"T20250101000001","out_request_no":"R20250101000001","refund_amount":"1.00","refund_reason":"bulk refund"}"#
    );
    // Its answer is signed with the app key standing in for Alipay.
    let response = &v["refund_response"];
    let raw = s(response, "raw").as_bytes();
    let member = wire::response_member(wire::REFUND_METHOD);
    let found = cut(raw, &member, wire::ERROR_MEMBER).unwrap();
    assert_eq!(found.value, s(response, "string_verified").as_bytes());
    assert_eq!(found.sign.as_deref(), Some(s(response, "sign")));
    let app_key = app_key();
    let read = answer(Call::Refund, raw, &app_key, &asked(&ours));
    assert_eq!(
        read.outcome,
        Outcome::Succeeded(Receipt {
            gateway_refund_id: Some("2025010122001400000000000001".into()),
            refund_fen: None,
            // gmt_refund_pay 2025-01-01 10:00:01, Beijing time
            success_at: Some("2025-01-01T02:00:01Z".parse().unwrap()),
            created_at: None,
        })
    );
    // Alipay's real key does not believe it.
    assert_eq!(
        answer(Call::Refund, raw, &alipay_key(), &asked(&ours))
            .outcome
            .unverifiable_key(),
        Some("alipay_public_key")
    );
}

#[test]
fn a_real_alipay_answer_verifies_over_its_raw_member() {
    let v = json(vector!("node_response_sign_vector.json"));
    let raw = s(&v, "response_raw").as_bytes();
    let found = cut(raw, s(&v, "response_key"), wire::ERROR_MEMBER).unwrap();
    assert_eq!(found.value, s(&v, "string_verified").as_bytes());
    let key = keys::public_key(vector!("node_alipay-public-key.pem")).unwrap();
    assert_eq!(found.signature(&key), Signature::Verified);
    assert_eq!(found.signature(&alipay_key()), Signature::Refused);
}

#[test]
fn a_notification_verifies_only_without_sign_type() {
    // bulkrefund takes no notification; the vector shows the two rules differ.
    let v = json(vector!("node_notify_sign_vector.json"));
    let key = keys::public_key(vector!("node_notify_v1_public_key.pem")).unwrap();
    let text = s(&v, "string_verified");
    assert!(key.verify(text, s(&v, "sign"), RsaDigest::Sha256));
    let with_type = text.replace("&subject=", "&sign_type=RSA2&subject=");
    assert!(!key.verify(&with_type, s(&v, "sign"), RsaDigest::Sha256));
}

/// A made-here answer as the client reads it for the vectors' refund.
fn read(name: &str, call: Call) -> Classified {
    let all = made_here();
    answer(
        call,
        s(&all[name], "raw").as_bytes(),
        &alipay_key(),
        &asked(&refund()),
    )
}

#[test]
fn every_signed_answer_cuts_to_its_verified_string() {
    let all = made_here();
    for (name, method) in [
        ("refund_answer_fund_change_Y", wire::REFUND_METHOD),
        ("refund_answer_replay_fund_change_N", wire::REFUND_METHOD),
        ("query_answer_found", wire::QUERY_METHOD),
        ("query_answer_not_found", wire::QUERY_METHOD),
        ("refund_answer_trade_not_exist", wire::REFUND_METHOD),
        (
            "bill_downloadurl_answer",
            "alipay.data.dataservice.bill.downloadurl.query",
        ),
        (
            "bill_not_exist_answer",
            "alipay.data.dataservice.bill.downloadurl.query",
        ),
    ] {
        let v = &all[name];
        let member = wire::response_member(method);
        let found = cut(s(v, "raw").as_bytes(), &member, wire::ERROR_MEMBER).unwrap();
        assert_eq!(found.value, s(v, "string_verified").as_bytes(), "{name}");
        assert_eq!(found.sign.as_deref(), Some(s(v, "sign")), "{name}");
        assert_eq!(
            found.signature(&alipay_key()),
            Signature::Verified,
            "{name}"
        );
        // Never with the app's key: the roles do not share a key.
        let app = app_key();
        assert_eq!(found.signature(&app), Signature::Refused, "{name}");
    }
}

#[test]
fn the_vectors_answers_classified() {
    // The vectors' gmt_refund_pay: 2026-11-22 09:30:01, Beijing time.
    let trade = || Receipt {
        gateway_refund_id: Some(TRADE_NO.into()),
        refund_fen: None,
        success_at: Some("2026-11-22T01:30:01Z".parse().unwrap()),
        created_at: None,
    };
    let y = read("refund_answer_fund_change_Y", Call::Refund);
    assert_eq!(y.outcome, Outcome::Succeeded(trade()));
    assert_eq!(y.codes.as_deref(), Some("code=10000/fund_change=Y"));
    assert!(y.verified);
    let n = read("refund_answer_replay_fund_change_N", Call::Refund);
    assert!(matches!(n.outcome, Outcome::Unknown { ref why } if why.contains("fund_change N")));
    assert_eq!(n.follow, Follow::QueryLater);
    assert_eq!(n.codes.as_deref(), Some("code=10000/fund_change=N"));
    let found = read("query_answer_found", Call::Query);
    assert_eq!(
        found.outcome,
        Outcome::Succeeded(Receipt {
            refund_fen: Some(Fen(2599)),
            ..trade()
        })
    );
    assert_eq!(
        found.codes.as_deref(),
        Some("code=10000/refund_status=REFUND_SUCCESS")
    );
    assert_eq!(
        read("query_answer_not_found", Call::Query).outcome,
        Outcome::NotFound
    );
    let missing = read("refund_answer_trade_not_exist", Call::Refund);
    assert!(
        matches!(&missing.outcome, Outcome::Failed { code, id: IdUse::Free, message, .. }
            if code == "ACQ.TRADE_NOT_EXIST" && message.contains("交易不存在")),
        "{:?}",
        missing.outcome
    );
    assert_eq!(
        missing.codes.as_deref(),
        Some("code=40004/sub_code=ACQ.TRADE_NOT_EXIST")
    );
    let unsigned = read("refund_answer_invalid_signature_unsigned", Call::Refund);
    assert!(
        matches!(&unsigned.outcome, Outcome::Rejected { code, why } if code == "isv.invalid-signature" && why.contains("private_key")),
        "{:?}",
        unsigned.outcome
    );
    assert!(!unsigned.verified);
}

#[test]
fn the_tampered_answer_is_never_believed() {
    let tampered = read("refund_answer_tampered", Call::Refund);
    assert_eq!(
        tampered.outcome.unverifiable_key(),
        Some("alipay_public_key")
    );
    assert!(!tampered.verified);
}

/// The fund_change Y answer's member value and sign, as sent.
fn y_parts() -> (String, String) {
    let all = made_here();
    let v = &all["refund_answer_fund_change_Y"];
    (s(v, "string_verified").to_owned(), s(v, "sign").to_owned())
}

#[test]
fn a_reordered_or_respaced_body_still_verifies() {
    let (value, sign) = y_parts();
    let member = "alipay_trade_refund_response";
    for body in [
        format!("{{\"sign\":\"{sign}\",\"{member}\":{value}}}"),
        format!("\r\n {{ \"sign\" : \"{sign}\" ,\n\t\"{member}\" :\n {value} \n}}\n"),
        format!("{{\"{member}\":{value},\"alipay_cert_sn\":null,\"sign\":\"{sign}\",\"extra\":[1,{{\"}}\":\"{{\"}}]}}"),
        // `/` escaped in the sign, as some JSON writers do.
        format!("{{\"{member}\":{value},\"sign\":\"{}\"}}", sign.replace('/', "\\/")),
    ] {
        let read = answer(Call::Refund, body.as_bytes(), &alipay_key(), &asked(&refund()));
        assert!(matches!(read.outcome, Outcome::Succeeded(_)), "{body}: {:?}", read.outcome);
    }
}

#[test]
fn one_byte_changed_inside_the_value_fails() {
    let (value, sign) = y_parts();
    let member = "alipay_trade_refund_response";
    let variants = [
        value.replace("\"25.99\",\"send", "\"25.98\",\"send"),
        value.replace("\"fund_change\":\"Y\"", "\"fund_change\":\"y\""),
        value.replace("\"code\":\"10000\",", "\"code\":\"10000\" ,"),
        value.replacen("T20261101000002", "T20261101000003", 1),
        // The same content re-serialized (keys sorted, spaced): not the bytes signed.
        serde_json::to_string_pretty(&json(&value)).unwrap(),
    ];
    for changed in variants {
        assert_ne!(changed, value);
        let body = format!("{{\"{member}\":{changed},\"sign\":\"{sign}\"}}");
        let read = answer(
            Call::Refund,
            body.as_bytes(),
            &alipay_key(),
            &asked(&refund()),
        );
        assert_eq!(
            read.outcome.unverifiable_key(),
            Some("alipay_public_key"),
            "{changed}"
        );
    }
    // Every single byte of the value flipped to another printable one.
    for at in 0..value.len() {
        let mut bytes = value.clone().into_bytes();
        if !bytes[at].is_ascii_alphanumeric() {
            continue;
        }
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let body = [
            format!("{{\"{member}\":").as_bytes(),
            &bytes,
            format!(",\"sign\":\"{sign}\"}}").as_bytes(),
        ]
        .concat();
        let read = answer(Call::Refund, &body, &alipay_key(), &asked(&refund()));
        assert!(!matches!(read.outcome, Outcome::Succeeded(_)), "byte {at}");
    }
}

#[test]
fn the_member_twice_or_absent_is_unknown() {
    let (value, sign) = y_parts();
    let member = "alipay_trade_refund_response";
    for body in [
        format!("{{\"{member}\":{value},\"{member}\":{value},\"sign\":\"{sign}\"}}"),
        format!("{{\"{member}\":{value},\"error_response\":{{\"code\":\"40002\"}},\"sign\":\"{sign}\"}}"),
        format!("{{\"alipay_trade_fastpay_refund_query_response\":{value},\"sign\":\"{sign}\"}}"),
        format!("{{\"{member}\":{value},\"sign\":\"{sign}\",\"sign\":\"{sign}\"}}"),
        "<html>502 Bad Gateway</html>".to_owned(),
        String::new(),
    ] {
        let read = answer(Call::Refund, body.as_bytes(), &alipay_key(), &asked(&refund()));
        assert!(
            matches!(read.outcome, Outcome::Unknown { .. }) && read.outcome.unverifiable_key().is_none(),
            "{body}: {:?}",
            read.outcome
        );
    }
    // The refund answer read as a query's proves nothing either.
    let body = format!("{{\"{member}\":{value},\"sign\":\"{sign}\"}}");
    let read = answer(
        Call::Query,
        body.as_bytes(),
        &alipay_key(),
        &asked(&refund()),
    );
    assert!(matches!(read.outcome, Outcome::Unknown { .. }));
}

#[test]
fn a_service_providers_token_is_sent_and_signed() {
    let mut client = client_at("2026-11-22 09:30:00");
    client = AlipayClient::new(AlipaySettings {
        app_auth_token: Some(crate::secret::Secret::new(
            "201611BB8xxxxxxxxxxxxxxxxxxxedcecde6",
        )),
        ..client.into_settings()
    });
    let body = client.form(wire::REFUND_METHOD, "{}");
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "app_id",
            "method",
            "format",
            "charset",
            "sign_type",
            "timestamp",
            "version",
            "app_auth_token",
            "biz_content",
            "sign"
        ]
    );
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let message = string_to_sign(&borrowed);
    assert!(message.starts_with("app_auth_token=201611BB8xxxxxxxxxxxxxxxxxxxedcecde6&app_id="));
    assert!(app_key().verify(&message, &params[9].1, RsaDigest::Sha256));
}

/// An Alipay profile's own settings, as `bulkrefund.toml` gives them (the
/// key files are read later, by `check`). Here, not in `profile.rs`, which
/// `gateway/profile.rs` names (tests/layout.rs: no file depends on itself).
const PROFILE: &str = r#"
private_key = { file = "node_app-private-key.pem" }
alipay_public_key = { file = "made_here_alipay_sim_public_key.pem" }
"#;

#[test]
fn a_profile_names_the_gateway_alipay() {
    use crate::gateway::profile::ProfileSection;
    use crate::gateway::GatewayKind;
    let read = |text: String| ProfileSection::read(toml::from_str(&text).unwrap());
    let section = read(format!("gateway = \"alipay\"\n{PROFILE}")).unwrap();
    assert_eq!(section.kind(), GatewayKind::Alipay);
    let wrong = read(format!("gateway = \"alipay\"\n{PROFILE}app_id = 1\n")).unwrap_err();
    assert_eq!(wrong.setting.as_deref(), Some("app_id"));
    // Another gateway's setting is not an Alipay one.
    let other = read(format!(
        "gateway = \"alipay\"\n{PROFILE}merchant_serial_no = \"x\"\n"
    ));
    assert!(other.unwrap_err().message.contains("merchant_serial_no"));
}
