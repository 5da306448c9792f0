//! The WeChat Pay vectors (tests/vectors/wechatpay/, README there): every
//! signed request re-made byte for byte, every signed answer verified and
//! classified, the tampered one refused; and what a wrong serial, a stale
//! timestamp or a missing header does (unknown, never believed).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::classify::{answer, Asked, Call};
use super::client::apply_body;
use super::testing::{keys, MERCHANT_KEY};
use super::verify::{AnswerKeys, Signature};
use super::wire::{authorization, query_path, string_to_sign, Credentials};
use crate::gateway::rsa_sign::{RsaDigest, RsaSigner};
use crate::gateway::{Outcome, Receipt, RefundOrder};
use crate::money::Fen;

macro_rules! vector {
    ($file:literal) => {
        include_str!(concat!("../../../tests/vectors/wechatpay/", $file))
    };
}

const PLATFORM_CERT: &str = vector!("gunsluo_mock_cert.pem");
/// The made-here vectors' clock: 2026-11-22 09:30 Beijing time.
const NOW: i64 = 1795311000;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn made_here() -> Value {
    json(vector!("made_here_refund_vectors.json"))
}

fn s<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not text"))
}

fn merchant() -> RsaSigner {
    RsaSigner::from_pem(MERCHANT_KEY, RsaDigest::Sha256).unwrap()
}

fn headers(value: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, v) in value.as_object().unwrap() {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
        );
    }
    map
}

/// The vectors' refund: R20261122-0001 of order T20261101000001, 25.99 of 50.00 yuan.
fn refund() -> RefundOrder {
    let fields = [
        ("out_trade_no", "T20261101000001"),
        ("order_total", "5000"),
        ("reason", "月末退款"),
    ];
    RefundOrder {
        refund_id: "R20261122-0001".into(),
        amount: Fen(2599),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        gateway_refund_id: None,
    }
}

fn asked() -> Asked {
    super::client::asked(&refund())
}

/// A signed request vector re-made: string to sign, then the whole header.
fn check_request(v: &Value, body: &[u8]) {
    let ts: i64 = s(v, "timestamp").parse().unwrap();
    let (method, url, nonce) = (s(v, "method"), s(v, "canonical_url"), s(v, "nonce_str"));
    assert_eq!(body, s(v, "body").as_bytes());
    assert_eq!(
        string_to_sign(method, url, ts, nonce, body),
        s(v, "string_to_sign").as_bytes()
    );
    let signer = merchant();
    let credentials = Credentials {
        mchid: "1234567890",
        serial_no: "F5765756002FDD77",
        signer: &signer,
    };
    assert_eq!(
        authorization(&credentials, method, url, ts, nonce, body),
        s(&v["headers"], "Authorization")
    );
}

#[test]
fn apply_request_vector_byte_for_byte() {
    let v = &made_here()["apply_request"];
    let body = apply_body(&refund()).unwrap();
    check_request(v, &body);
}

#[test]
fn query_request_vectors_with_the_escaped_path() {
    let all = made_here();
    let v = &all["query_request"];
    assert_eq!(query_path("R20261122-0001"), s(v, "canonical_url"));
    check_request(v, b"");
    let v = &all["query_request_escaped_path"];
    assert_eq!(query_path(s(v, "out_refund_no")), s(v, "canonical_url"));
    check_request(v, b"");
}

#[test]
fn tradebill_signed_calls() {
    let all = made_here();
    let bill = &all["tradebill"];
    check_request(&bill["request"], b"");
    check_request(&bill["download_request"], b"");
    let a = &bill["answer"];
    let now = 1795397400;
    assert_eq!(
        keys(&[]).check(&headers(&a["headers"]), s(a, "body").as_bytes(), now),
        Signature::Verified
    );
}

#[test]
fn go_signer_and_gunsluo_signatures() {
    let v = json(vector!("go_signer_vector.json"));
    assert_eq!(merchant().sign(s(&v, "message")), s(&v, "signature"));
    let v = json(vector!("gunsluo_authorization_vector.json"));
    let key = RsaSigner::from_pem(
        vector!("gunsluo_mock_private_key_pkcs8.pem"),
        RsaDigest::Sha256,
    )
    .unwrap();
    let ts: i64 = s(&v, "timestamp").parse().unwrap();
    let message = string_to_sign(
        "POST",
        s(&v, "canonical_url"),
        ts,
        s(&v, "nonce"),
        s(&v, "body").as_bytes(),
    );
    assert_eq!(message, s(&v, "string_to_sign").as_bytes());
    assert_eq!(key.sign_bytes(&message), s(&v, "signature"));
    let header = s(&v, "authorization_header_as_emitted_by_that_sdk");
    assert!(header.contains(&format!("signature=\"{}\"", s(&v, "signature"))));
}

#[test]
fn derived_refund_vectors() {
    let v = json(vector!("derived_refund_vectors.json"));
    let order = RefundOrder {
        refund_id: "R20250101000001".into(),
        amount: Fen(100),
        fields: [
            ("out_trade_no", "T20250101000001"),
            ("order_total", "100"),
            ("reason", "bulk refund"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        gateway_refund_id: None,
    };
    let body = apply_body(&order).unwrap();
    let request = &v["request"];
    assert_eq!(body, s(request, "body").as_bytes());
    let message = string_to_sign(
        "POST",
        "/v3/refund/domestic/refunds",
        1624523846,
        "A1B2C3D4E5F6G7",
        &body,
    );
    assert_eq!(message, s(request, "string_to_sign").as_bytes());
    assert_eq!(merchant().sign_bytes(&message), s(request, "signature"));
    let path = query_path("R20250101000001");
    let message = string_to_sign("GET", &path, 1624523846, "A1B2C3D4E5F6G7", b"");
    assert_eq!(message, s(&v["query"], "string_to_sign").as_bytes());
    assert_eq!(merchant().sign_bytes(&message), s(&v["query"], "signature"));
    // The answer is signed under the certificate D7CE59D1F522D701 (the merchant's own key there).
    let response = &v["response"];
    let keys = keys(&[vector!("go_notify_test_cert.pem")]);
    let attempt = answer(
        Call::Query,
        200,
        &headers(&response["headers"]),
        s(response, "body").as_bytes(),
        &keys,
        &super::client::asked(&order),
        1624523846,
    );
    assert!(
        matches!(attempt.outcome, Outcome::Processing(_)),
        "{:?}",
        attempt.outcome
    );
}

/// A made-here answer classified at the vectors' clock.
fn classify_vector(name: &str, call: Call, keys: &AnswerKeys, now: i64) -> Outcome {
    let all = made_here();
    let v = &all[name];
    let status = v["http_status"].as_u64().unwrap() as u16;
    answer(
        call,
        status,
        &headers(&v["headers"]),
        s(v, "body").as_bytes(),
        keys,
        &asked(),
        now,
    )
    .outcome
}

fn receipt() -> Receipt {
    Receipt {
        gateway_refund_id: Some("50300000002026112200000000001".into()),
        refund_fen: Some(Fen(2599)),
        success_at: None,
        // create_time 2026-11-22T09:30:00+08:00
        created_at: Some("2026-11-22T01:30:00Z".parse().unwrap()),
    }
}

/// The query vector's receipt: its success_time 2026-11-22T09:30:05+08:00.
fn succeeded() -> Receipt {
    Receipt {
        success_at: Some("2026-11-22T01:30:05Z".parse().unwrap()),
        ..receipt()
    }
}

#[test]
fn signed_answers_in_both_key_modes() {
    let pubkey = keys(&[]);
    let with_cert = keys(&[PLATFORM_CERT]);
    assert_eq!(
        classify_vector("apply_answer_public_key_mode", Call::Apply, &pubkey, NOW),
        Outcome::Processing(receipt())
    );
    assert_eq!(
        classify_vector(
            "apply_answer_certificate_mode",
            Call::Apply,
            &with_cert,
            NOW
        ),
        Outcome::Processing(receipt())
    );
    // The certificate's answer is not believed by a profile without the certificate.
    let refused = classify_vector("apply_answer_certificate_mode", Call::Apply, &pubkey, NOW);
    assert_eq!(refused.unverifiable_key(), Some("wechatpay_public_key_id"));
    assert_eq!(
        classify_vector("query_answer_success", Call::Query, &pubkey, NOW + 61),
        Outcome::Succeeded(succeeded())
    );
    assert_eq!(
        classify_vector("query_answer_not_found_404", Call::Query, &pubkey, NOW + 62),
        Outcome::NotFound
    );
    let abnormal = classify_vector("query_answer_abnormal", Call::Query, &pubkey, 1795314600);
    assert_eq!(abnormal, Outcome::Abnormal(receipt()));
}

#[test]
fn the_tampered_answer_is_never_believed() {
    let outcome = classify_vector("apply_answer_tampered", Call::Apply, &keys(&[]), NOW);
    assert_eq!(outcome.unverifiable_key(), Some("wechatpay_public_key"));
}

/// The public-key answer with its headers changed by `change`.
fn altered(change: impl FnOnce(&mut HeaderMap), now: i64) -> Outcome {
    let all = made_here();
    let v = &all["apply_answer_public_key_mode"];
    let mut map = headers(&v["headers"]);
    change(&mut map);
    answer(
        Call::Apply,
        200,
        &map,
        s(v, "body").as_bytes(),
        &keys(&[PLATFORM_CERT]),
        &asked(),
        now,
    )
    .outcome
}

#[test]
fn a_wrong_serial_a_stale_answer_or_a_missing_header_is_unknown() {
    let serial = altered(
        |h| {
            h.insert(
                "Wechatpay-Serial",
                HeaderValue::from_static("PUB_KEY_ID_OTHER"),
            );
        },
        NOW,
    );
    assert_eq!(serial.unverifiable_key(), Some("wechatpay_public_key_id"));
    assert_eq!(altered(|_| {}, NOW + 299), Outcome::Processing(receipt()));
    assert_eq!(altered(|_| {}, NOW - 298), Outcome::Processing(receipt()));
    assert_eq!(
        altered(|_| {}, NOW + 301).unverifiable_key(),
        Some("the system clock")
    );
    assert_eq!(
        altered(|_| {}, NOW - 299).unverifiable_key(),
        Some("the system clock")
    );
    // A timestamp at the edge of i64 neither overflows nor wraps into "fresh".
    for far in ["-9223372036854775808", "9223372036854775807"] {
        let outcome = altered(
            |h| {
                h.insert("Wechatpay-Timestamp", HeaderValue::from_static(far));
            },
            NOW,
        );
        assert_eq!(
            outcome.unverifiable_key(),
            Some("the system clock"),
            "{far}"
        );
    }
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        let outcome = altered(
            |h| {
                h.remove(name);
            },
            NOW,
        );
        assert_eq!(outcome.unverifiable_key(), Some("base_url"), "{name}");
    }
    let unsigned = altered(
        |h| {
            for name in [
                "Wechatpay-Timestamp",
                "Wechatpay-Nonce",
                "Wechatpay-Signature",
                "Wechatpay-Serial",
            ] {
                h.remove(name);
            }
        },
        NOW,
    );
    assert_eq!(unsigned.unverifiable_key(), Some("base_url"));
    let typed = |value: &'static str| {
        altered(
            |h| {
                h.insert("Wechatpay-Signature-Type", HeaderValue::from_static(value));
            },
            NOW,
        )
    };
    assert_eq!(
        typed("WECHATPAY2-SHA256-RSA2048"),
        Outcome::Processing(receipt())
    );
    assert!(typed("WECHATPAY2-SM2-WITH-SM3")
        .unverifiable_key()
        .is_some());
    // A serial in lower case names the certificate too (hex, case-insensitive).
    let all = made_here();
    let v = &all["apply_answer_certificate_mode"];
    let mut map = headers(&v["headers"]);
    map.insert(
        "Wechatpay-Serial",
        HeaderValue::from_static("9ad59953adf1babb"),
    );
    let keys = keys(&[PLATFORM_CERT]);
    assert_eq!(
        keys.check(&map, s(v, "body").as_bytes(), NOW),
        Signature::Verified
    );
    let cert = &keys.certificates[0];
    assert_eq!(cert.serial, "9AD59953ADF1BABB");
    // 2021-01-25 10:13:30 to 2031-01-23 10:13:30 UTC.
    assert_eq!((cert.not_before, cert.not_after), (1611569610, 1926929610));
}
