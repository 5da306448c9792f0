//! The simulator's WeChat Pay over TCP, against docs/specs/wechatpay-v3.md:
//! the Authorization checks, each apply rule in the contract's order, the
//! idempotent resend, the per-second windows, signed answers in both modes,
//! the refund's life (PROCESSING → SUCCESS, CLOSED, ABNORMAL and its
//! resolution), the shared faults and the trade bill.

mod wxsim;

use std::time::Duration;

use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::wechatpay::AnswerMode;
use serde_json::json;
use wxsim::*;

fn processing_for(ms: u64) -> FaultConfig {
    FaultConfig {
        processing_for: Duration::from_millis(ms),
        ..FaultConfig::default()
    }
}

#[tokio::test]
async fn an_apply_is_processing_then_succeeds_and_every_answer_is_signed() {
    let wx = start(processing_for(300), |_| {}).await;
    let applied = wx.apply("R20261122|0002*A", 1, 250).await;
    assert_eq!(
        applied.status,
        200,
        "{}",
        String::from_utf8_lossy(&applied.body)
    );
    assert!(applied.verifies());
    assert_eq!(applied.header("Wechatpay-Serial"), Some(PUB_KEY_ID));
    assert_eq!(
        applied.header("Wechatpay-Signature-Type"),
        Some("WECHATPAY2-SHA256-RSA2048")
    );
    assert!(applied
        .header("Request-ID")
        .is_some_and(|id| !id.is_empty()));
    let refund = applied.json();
    let refund_id = refund["refund_id"].as_str().unwrap().to_owned();
    assert_eq!(refund_id.len(), 29);
    assert!(refund_id.starts_with("503") && refund_id.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(refund["status"], "PROCESSING");
    assert_eq!(refund["out_refund_no"], "R20261122|0002*A");
    assert_eq!(refund["out_trade_no"], "T1");
    assert_eq!(refund["transaction_id"], "W1");
    assert_eq!(refund["channel"], "ORIGINAL");
    assert_eq!(refund["amount"]["refund"], 250);
    assert_eq!(refund["amount"]["total"], 1000);
    assert!(refund["amount"]["refund"].is_u64());
    assert!(refund["create_time"].as_str().unwrap().ends_with("+08:00"));
    assert!(refund.get("success_time").is_none());

    tokio::time::sleep(Duration::from_millis(400)).await;
    // The path percent-encoded, the signature over it as sent.
    let queried = wx.query("R20261122%7C0002%2AA").await;
    assert_eq!(queried.status, 200);
    assert!(queried.verifies());
    let refund = queried.json();
    assert_eq!(refund["status"], "SUCCESS");
    assert_eq!(refund["refund_id"], refund_id.as_str());
    assert!(refund["success_time"].as_str().unwrap().ends_with("+08:00"));
    let ledger = wx.sim.ledger();
    let held = ledger.refund("R20261122|0002*A").unwrap();
    assert_eq!(
        (held.status, held.amount_fen),
        (RefundState::Succeeded, 250)
    );
    assert_eq!(held.gateway_refund_id, refund_id);
    assert_eq!(
        wx.query("NEVER").await.said(),
        (404, "RESOURCE_NOT_EXISTS".into())
    );
}

#[tokio::test]
async fn the_body_rules_are_param_errors() {
    let wx = start(FaultConfig::default(), |_| {}).await;
    let unsent = wx
        .send("POST", "/v3/refund/domestic/refunds", "{", Break::default())
        .await;
    assert_eq!(unsent.said(), (400, "PARAM_ERROR".into()));
    assert!(
        unsent.verifies(),
        "errors to an authenticated request are signed"
    );
    let mut cases = vec![
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "amount": {"refund": 100.0, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "amount": {"refund": 1e2, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "amount": {"refund": "100", "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "amount": {"refund": 0, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "amount": {"refund": 1, "total": 1000, "currency": "USD"}}),
        json!({"out_refund_no": "R1", "amount": {"refund": 1, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R 1", "out_trade_no": "T1", "amount": {"refund": 1, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "funds_account": "UNSETTLED", "amount": {"refund": 1, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": "R1", "out_trade_no": "T1", "notify_url": "https://a.example/n?x=1", "amount": {"refund": 1, "total": 1000, "currency": "CNY"}}),
        json!({"out_refund_no": 1, "out_trade_no": "T1", "amount": {"refund": 1, "total": 1000, "currency": "CNY"}}),
    ];
    let mut long = body("R1", 1, 1, 1000);
    long["reason"] = json!("退".repeat(81));
    cases.push(long);
    for case in cases {
        assert_eq!(
            wx.apply_body(&case).await.said(),
            (400, "PARAM_ERROR".into()),
            "{case}"
        );
    }
    let mut eighty = body("R1", 1, 1, 1000);
    eighty["reason"] = json!("退".repeat(80));
    assert_eq!(wx.apply_body(&eighty).await.status, 200);
    let plain = reqwest::Client::new()
        .post(format!("{}/v3/refund/domestic/refunds", wx.base))
        .header(
            "Authorization",
            wx.authorization(
                "POST",
                "/v3/refund/domestic/refunds",
                "{}",
                Break::default(),
            ),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400, "no Content-Type: application/json");
    assert_eq!(wx.sim.ledger().refunds.len(), 1);
}

#[tokio::test]
async fn the_ledger_rules_answer_the_contracts_codes_in_order() {
    let wx = start(FaultConfig::default(), |c| c.balance_fen = Some(1800)).await;
    let said = |reply: wxsim::Reply| reply.said();
    let invalid = (400, "INVALID_REQUEST".to_owned());
    assert_eq!(
        said(wx.apply("R1", 9, 1).await),
        (404, "RESOURCE_NOT_EXISTS".into())
    );
    assert_eq!(
        said(wx.apply("R1", 6, 1).await),
        (404, "RESOURCE_NOT_EXISTS".into())
    );
    let mut both = body("R1", 1, 1, 1000);
    both["transaction_id"] = json!("W2");
    assert_eq!(said(wx.apply_body(&both).await), invalid);
    both["transaction_id"] = json!("W1");
    assert_eq!(
        wx.apply_body(&both).await.status,
        200,
        "both ids of one order"
    );
    assert_eq!(
        said(wx.apply_body(&body("R2", 2, 1, 999)).await),
        invalid,
        "total"
    );
    assert_eq!(
        said(wx.apply("R2", 7, 1).await),
        invalid,
        "paid 400 days ago"
    );
    assert_eq!(
        said(wx.apply("R2", 1, 1000).await),
        invalid,
        "over the refundable 999"
    );
    assert_eq!(wx.apply("R2", 1, 999).await.status, 200);
    // The balance: 1800 less the 1000 held leaves 800.
    assert_eq!(
        said(wx.apply("R3", 2, 801).await),
        (403, "NOT_ENOUGH".into())
    );
    assert_eq!(wx.apply("R3", 2, 800).await.status, 200);
    let ledger = wx.sim.ledger();
    assert_eq!(ledger.refunds.len(), 3);
    assert!(ledger.ids.iter().all(|id| id.created <= 1));
}

#[tokio::test]
async fn an_order_takes_fifty_refunds_then_no_more() {
    let wx = start(FaultConfig::default(), |_| {}).await;
    for i in 0..50 {
        assert_eq!(
            wx.apply(&format!("R{i}"), 1, 1).await.status,
            200,
            "refund {i}"
        );
    }
    assert_eq!(
        wx.apply("R50", 1, 1).await.said(),
        (400, "INVALID_REQUEST".into())
    );
}

#[tokio::test]
async fn one_orders_refunds_are_the_gap_apart_and_a_resend_comes_first() {
    let wx = start(processing_for(0), |c| c.order_gap = Duration::from_secs(60)).await;
    let first = wx.apply("R1", 1, 100).await;
    assert_eq!(first.status, 200);
    let too_soon = wx.apply("R2", 1, 100).await;
    assert_eq!(too_soon.said(), (429, "FREQUENCY_LIMITED".into()));
    assert!(too_soon.verifies());
    assert_eq!(wx.apply("R3", 2, 100).await.status, 200, "another order");
    // The same id and content: the refund as it is now (already SUCCESS), whatever the gap.
    let again = wx.apply("R1", 1, 100).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "SUCCESS");
    assert_eq!(again.json()["refund_id"], first.json()["refund_id"]);
    // Another amount, or another order, under a known id.
    assert_eq!(
        wx.apply("R1", 1, 101).await.said(),
        (400, "INVALID_REQUEST".into())
    );
    assert_eq!(
        wx.apply("R1", 2, 100).await.said(),
        (400, "INVALID_REQUEST".into())
    );
    let ledger = wx.sim.ledger();
    let id = ledger.id("R1").unwrap();
    assert_eq!((id.submissions, id.created), (4, 1));
    assert!(ledger.refund("R2").is_none());
}

#[tokio::test]
async fn the_windows_answer_frequency_limited() {
    let wx = start(FaultConfig::default(), |c| {
        c.apply_qps = 3;
        c.query_qps = 4;
    })
    .await;
    let mut applies = Vec::new();
    for i in 0..10 {
        applies.push(wx.apply(&format!("R{i}"), 1 + i % 5, 1).await);
    }
    // Ten within a second or two: at most two windows of three.
    let limited: Vec<_> = applies.iter().filter(|r| r.status == 429).collect();
    assert!(limited.len() >= 4, "{} limited", limited.len());
    assert!(limited.iter().all(|r| r.code() == "FREQUENCY_LIMITED"));
    assert!(limited.iter().all(|r| r.header("Retry-After") == Some("1")));
    let mut queries = 0;
    for _ in 0..12 {
        queries += u32::from(wx.query("R0").await.status == 429);
    }
    assert!(queries >= 4, "{queries} queries limited");
    // The ledger counts applies and queries apart, and the 429s it gave.
    let traffic = wx.sim.ledger().wechatpay;
    assert_eq!((traffic.applies, traffic.queries), (10, 12));
    assert_eq!(
        traffic.frequency_limited,
        limited.len() as u64 + u64::from(queries)
    );
    assert!(traffic.max_applies_in_one_second >= 3 && traffic.max_queries_in_one_second >= 4);
}

#[tokio::test]
async fn bad_applies_beyond_the_budget_are_frequency_limited() {
    let wx = start(FaultConfig::default(), |c| c.bad_qps = 2).await;
    let mut codes = Vec::new();
    for i in 0..10 {
        codes.push(wx.apply(&format!("R{i}"), 9, 1).await.said());
    }
    let limited = codes.iter().filter(|(s, _)| *s == 429).count();
    let refused = codes.iter().filter(|(s, _)| *s == 404).count();
    assert!(limited >= 6 && refused <= 4, "{codes:?}");
    assert_eq!(
        wx.query("R0").await.status,
        404,
        "queries have no bad budget"
    );
}

#[tokio::test]
async fn a_wrong_serial_clock_or_signature_is_an_unsigned_sign_error() {
    let wx = start(FaultConfig::default(), |_| {}).await;
    let target = "/v3/refund/domestic/refunds/R1";
    for broken in [
        Break {
            serial: Some("F5765756002FDD78"),
            ..Break::default()
        },
        // 310 s, not 301: the timestamp is stamped in whole seconds before
        // the request leaves and checked on arrival, so on a loaded machine
        // a second or more between the two made 301 s ahead read as 300.
        Break {
            skew: -310,
            ..Break::default()
        },
        Break {
            skew: 310,
            ..Break::default()
        },
        Break {
            signed_target: Some("/v3/refund/domestic/refunds/R2"),
            ..Break::default()
        },
    ] {
        let reply = wx.send("GET", target, "", broken).await;
        assert_eq!(reply.said(), (401, "SIGN_ERROR".into()), "{broken:?}");
        assert!(reply.header("Wechatpay-Signature").is_none());
    }
    let near = wx
        .send(
            "GET",
            target,
            "",
            Break {
                skew: -290,
                ..Break::default()
            },
        )
        .await;
    assert_eq!(near.status, 404, "within 300 s");
    let merchant = Break {
        mchid: Some("1234567891"),
        ..Break::default()
    };
    let unknown = wx.send("GET", target, "", merchant).await;
    assert_eq!(unknown.said(), (404, "MCH_NOT_EXISTS".into()));
    assert!(unknown.header("Wechatpay-Signature").is_none());
    // Signed over the decoded id while the encoded one was sent.
    let decoded = Break {
        signed_target: Some("/v3/refund/domestic/refunds/R|1"),
        ..Break::default()
    };
    let reply = wx
        .send("GET", "/v3/refund/domestic/refunds/R%7C1", "", decoded)
        .await;
    assert_eq!(reply.said(), (401, "SIGN_ERROR".into()));
}

#[tokio::test]
async fn certificate_mode_names_the_certificate_and_faults_spoil_the_signature() {
    let wx = start(FaultConfig::default(), |c| {
        c.answer_mode = AnswerMode::Certificate
    })
    .await;
    let reply = wx.apply("R1", 1, 1).await;
    assert_eq!(reply.header("Wechatpay-Serial"), Some("9AD59953ADF1BABB"));
    assert!(reply.verifies());
    wx.sim.set_faults(FaultConfig {
        bad_sign_rate: 1.0,
        ..FaultConfig::default()
    });
    assert!(!wx.query("R1").await.verifies());
    wx.sim.set_faults(FaultConfig {
        stale_answer_rate: 1.0,
        ..FaultConfig::default()
    });
    let stale = wx.query("R1").await;
    assert!(stale.verifies(), "stale, yet correctly signed");
    let ts: i64 = stale
        .header("Wechatpay-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let age = jiff::Timestamp::now().as_second() - ts;
    assert!((599..=605).contains(&age), "{age} s old");
}

#[tokio::test]
async fn an_abnormal_refund_turns_success_when_resolved_and_a_closed_one_frees_its_amount() {
    let faults = FaultConfig {
        abnormal_rate: 1.0,
        ..FaultConfig::default()
    };
    let wx = start(faults, |_| {}).await;
    assert_eq!(wx.apply("R1", 1, 1000).await.status, 200);
    let abnormal = wx.query("R1").await.json();
    assert_eq!(abnormal["status"], "ABNORMAL");
    assert!(abnormal.get("success_time").is_none());
    assert_eq!(
        wx.sim.ledger().refund("R1").unwrap().status,
        RefundState::Abnormal
    );
    assert_eq!(
        wx.apply("R2", 1, 1).await.said(),
        (400, "INVALID_REQUEST".into())
    );
    assert_eq!(wx.resolve("R9").await, 404);
    assert_eq!(wx.resolve("R1").await, 200);
    assert_eq!(wx.resolve("R1").await, 409, "no longer abnormal");
    let resolved = wx.query("R1").await.json();
    assert_eq!(resolved["status"], "SUCCESS");
    assert_eq!(resolved["channel"], "OTHER_BALANCE");
    assert!(resolved["success_time"].is_string());
    assert_eq!(
        wx.sim.ledger().refund("R1").unwrap().status,
        RefundState::Succeeded
    );

    wx.sim.set_faults(FaultConfig {
        fail_refund_rate: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(wx.apply("R3", 2, 1000).await.status, 200);
    assert_eq!(wx.query("R3").await.json()["status"], "CLOSED");
    wx.sim.set_faults(FaultConfig::default());
    assert_eq!(
        wx.apply("R4", 2, 1000).await.status,
        200,
        "a closed refund holds nothing"
    );
    assert_eq!(
        wx.sim.ledger().refund("R3").unwrap().status,
        RefundState::Failed
    );

    wx.sim.set_faults(FaultConfig {
        abnormal_rate: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(wx.apply("R5", 3, 10).await.status, 200);
    assert!(!wx.sim.resolve_abnormal("R4"), "R4 succeeded");
    assert!(wx.sim.resolve_abnormal("R5"), "in-process, as the endpoint");
    assert_eq!(wx.query("R5").await.json()["channel"], "OTHER_BALANCE");
}

#[tokio::test]
async fn the_shared_faults_keep_the_ledger_right() {
    let wx = start(FaultConfig::default(), |_| {}).await;
    let set = |faults: FaultConfig| wx.sim.set_faults(faults);
    set(FaultConfig {
        fail_rate: 1.0,
        ..FaultConfig::default()
    });
    let lost = wx.apply("R1", 1, 100).await;
    assert_eq!(lost.said(), (500, "SYSTEM_ERROR".into()));
    assert!(lost.verifies());
    set(FaultConfig::default());
    assert_eq!(wx.query("R1").await.status, 200, "recorded before the 500");
    set(FaultConfig {
        busy_rate: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(
        wx.apply("R2", 2, 100).await.said(),
        (429, "FREQUENCY_LIMITED".into())
    );
    set(FaultConfig {
        contradict: true,
        ..FaultConfig::default()
    });
    assert_eq!(wx.apply("R3", 3, 100).await.status, 500);
    assert_eq!(wx.apply("R3", 3, 100).await.status, 500);
    assert_eq!(
        wx.query("R3").await.said(),
        (404, "RESOURCE_NOT_EXISTS".into())
    );
    set(FaultConfig {
        lie_rate: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(
        wx.apply("R4", 4, 100).await.said(),
        (403, "NOT_ENOUGH".into())
    );
    assert_eq!(wx.query("R4").await.status, 404);
    set(FaultConfig {
        mismatch_rate: 1.0,
        mismatch_field: Some("amount.refund".into()),
        ..FaultConfig::default()
    });
    let mismatched = wx.query("R1").await;
    assert!(mismatched.verifies());
    assert_eq!(mismatched.json()["amount"]["refund"], 101);
    set(FaultConfig {
        pad_rate: 1.0,
        ..FaultConfig::default()
    });
    let padded = wx.query("R1").await;
    assert!(padded.body.contains(&b'\n') && padded.verifies());
    let ledger = wx.sim.ledger();
    assert_eq!(ledger.refunds.len(), 3, "R1, R3, R4; not R2");
    assert!(ledger.ids.iter().all(|id| id.created <= 1));
}

/// Beijing's date `days` from today, as `bill_date` writes it.
fn beijing_day(days: i64) -> String {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .date();
    today
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// Applies for the REFUND bill of `day`, gzipped.
async fn apply_bill(wx: &Wx, day: &str) -> Reply {
    let target = format!("/v3/bill/tradebill?bill_date={day}&bill_type=REFUND&tar_type=GZIP");
    wx.send("GET", &target, "", Break::default()).await
}

/// Downloads what a bill answer offers: (status, bytes as received).
async fn download(wx: &Wx, offered: &Reply) -> Reply {
    let url = offered.json()["download_url"].as_str().unwrap().to_owned();
    let target = &url[url.find("/v3/").unwrap()..];
    wx.send("GET", target, "", Break::default()).await
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(bytes))
}

#[tokio::test]
async fn the_refund_bill_is_the_ledgers_and_its_hash_matches_in_both_layouts() {
    for (layout, columns, summary) in [
        (
            bulkrefund::sim::wechatpay::BillLayout::New,
            29,
            "`2,`0.00,`12.35,`0.00,`0.00000,`0.00,`12.35",
        ),
        (
            bulkrefund::sim::wechatpay::BillLayout::Old,
            26,
            "`2,`0.00,`12.35,`0.00,`0.00000",
        ),
    ] {
        let wx = start(FaultConfig::default(), |c| {
            c.bill_same_day = true;
            c.bill_layout = layout;
        })
        .await;
        assert_eq!(wx.apply("R1", 1, 1000).await.status, 200);
        assert_eq!(wx.apply("R|2", 2, 235).await.status, 200);
        let offered = apply_bill(&wx, &beijing_day(0)).await;
        assert_eq!(
            offered.status,
            200,
            "{}",
            String::from_utf8_lossy(&offered.body)
        );
        assert!(offered.verifies());
        let answer = offered.json();
        assert_eq!(answer["hash_type"], "SHA1");
        let file = download(&wx, &offered).await;
        assert_eq!(file.status, 200);
        assert!(
            file.header("Wechatpay-Signature").is_none(),
            "downloads are unsigned"
        );
        let bill = gunzip(&file.body);
        assert_eq!(sha1_hex(&bill), answer["hash_value"].as_str().unwrap());
        let text = String::from_utf8(bill).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert_eq!(text.matches("\r\n").count(), 5);
        assert_eq!(text.matches('\n').count(), 5, "CRLF only");
        let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
        assert_eq!(lines[0].split(',').count(), columns, "{layout:?}");
        for line in &lines[1..3] {
            assert_eq!(line[1..].split(",`").count(), columns, "{line}");
        }
        assert!(lines[1].contains(",`R1,`10.00,`"), "{}", lines[1]);
        assert!(lines[2].contains(",`R|2,`2.35,`"), "{}", lines[2]);
        assert!(lines[1].contains(",`1234567890,`0,`,`W1,`T1,`"));
        assert!(lines[3].starts_with("总交易单数,"));
        assert_eq!(lines[4], summary);
    }
}

#[tokio::test]
async fn the_bill_refuses_days_not_ready_too_old_or_empty_and_stale_urls() {
    let wx = start(FaultConfig::default(), |c| {
        c.bill_url_ttl = Duration::from_millis(200);
    })
    .await;
    assert_eq!(wx.apply("R1", 1, 1).await.status, 200);
    let said = |reply: Reply| reply.said();
    let today = beijing_day(0);
    assert_eq!(
        said(apply_bill(&wx, &today).await),
        (400, "STATEMENT_CREATING".into())
    );
    assert_eq!(
        said(apply_bill(&wx, &beijing_day(1)).await),
        (400, "STATEMENT_CREATING".into())
    );
    assert_eq!(
        said(apply_bill(&wx, &beijing_day(-91)).await),
        (400, "INVALID_REQUEST".into())
    );
    assert_eq!(
        said(apply_bill(&wx, &beijing_day(-1)).await),
        (400, "NO_STATEMENT_EXIST".into())
    );
    assert_eq!(
        said(apply_bill(&wx, "2026-13-01").await),
        (400, "PARAM_ERROR".into())
    );

    let wx = start(FaultConfig::default(), |c| {
        c.bill_same_day = true;
        c.bill_url_ttl = Duration::from_millis(200);
    })
    .await;
    assert_eq!(wx.apply("R1", 1, 1).await.status, 200);
    let offered = apply_bill(&wx, &today).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        download(&wx, &offered).await.said(),
        (400, "INVALID_REQUEST".into())
    );
    // Another merchant's URL.
    let other = Break {
        mchid: Some("1234567899"),
        ..Break::default()
    };
    let offered = apply_bill(&wx, &today).await;
    let url = offered.json()["download_url"].as_str().unwrap().to_owned();
    let target = &url[url.find("/v3/").unwrap()..];
    let stolen = wx.send("GET", target, "", other).await;
    assert_eq!(stolen.said(), (403, "NO_AUTH".into()));
    // Without tar_type the file comes as it is.
    let target = format!("/v3/bill/tradebill?bill_date={today}&bill_type=REFUND");
    let plain = wx.send("GET", &target, "", Break::default()).await;
    let file = download(&wx, &plain).await;
    assert!(file.body.starts_with("\u{feff}交易时间".as_bytes()));
    assert_eq!(
        sha1_hex(&file.body),
        plain.json()["hash_value"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_redirect_leads_elsewhere_after_the_refund_was_recorded() {
    let wx = start(FaultConfig::default(), |_| {}).await;
    wx.sim.set_faults(FaultConfig {
        redirect_rate: 1.0,
        ..FaultConfig::default()
    });
    // reqwest follows redirects by default: the signed request lands elsewhere.
    let followed = wx.apply("R1", 1, 100).await;
    assert_eq!(followed.status, 200);
    assert!(!followed.verifies(), "elsewhere answers unsigned");
    let ledger = wx.sim.ledger();
    assert_eq!(ledger.elsewhere_requests, 1);
    assert_eq!(ledger.refunds.len(), 1);
}
