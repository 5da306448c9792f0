//! The simulator's side of reconciliation, over TCP (docs/specs/statements.md,
//! "What the simulator provides"): the settable wall clock and the Beijing
//! day a refund's bill is, refunds made outside bulkrefund, bill faults,
//! bill delivery faults, and the Leshua and Lianshang portal statements.

mod alisim;
mod common;
mod wxsim;

use bulkrefund::sim::faults::FaultConfig;
use serde_json::json;

/// Freezes the simulator's wall clock at `now` (RFC 3339).
async fn freeze_wx(wx: &wxsim::Wx, now: &str) {
    let (status, answer) = wx
        .control("/__sim/clock", json!({"now": now, "frozen": true}))
        .await;
    assert_eq!(
        (status, answer["frozen"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
}

async fn freeze_ali(ali: &alisim::Ali, now: &str) {
    let (status, answer) = ali
        .control("/__sim/clock", json!({"now": now, "frozen": true}))
        .await;
    assert_eq!(
        (status, answer["frozen"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
}

/// (out_refund_no, 退款成功时间) of a WeChat bill's rows.
fn wx_ids(rows: &[wxsim::bills::WxBillRow]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| (r.out_refund_no.clone(), r.succeeded_at.clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn wechat_files_a_refund_by_the_beijing_day_of_the_clock_set() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    freeze_wx(&wx, "2026-11-30T23:59:58+08:00").await;
    assert_eq!(wx.apply("R-D", 1, 100).await.status, 200);
    freeze_wx(&wx, "2026-12-01T00:00:01+08:00").await;
    assert_eq!(wx.apply("R-D1", 2, 100).await.status, 200);
    // 07:59:59 Beijing is 23:59:59 UTC of the day before: Beijing's day counts.
    freeze_wx(&wx, "2026-12-01T23:59:59Z").await;
    assert_eq!(wx.apply("R-UTC", 3, 100).await.status, 200);
    let query = wx.query("R-D").await.json();
    assert_eq!(query["success_time"], "2026-11-30T23:59:58+08:00");
    assert_eq!(query["create_time"], "2026-11-30T23:59:58+08:00");
    // The bill of the day the clock is on is still being made.
    assert_eq!(
        wx.bill("2026-12-02").await,
        Err((400, "STATEMENT_CREATING".into()))
    );
    freeze_wx(&wx, "2026-12-03T10:00:00+08:00").await;
    assert_eq!(
        wx_ids(&wx.bill("2026-11-30").await.unwrap()),
        pairs(&[("R-D", "2026-11-30 23:59:58")])
    );
    assert_eq!(
        wx_ids(&wx.bill("2026-12-01").await.unwrap()),
        pairs(&[("R-D1", "2026-12-01 00:00:01")])
    );
    assert_eq!(
        wx_ids(&wx.bill("2026-12-02").await.unwrap()),
        pairs(&[("R-UTC", "2026-12-02 07:59:59")])
    );
    // Back to the machine's clock.
    let (status, answer) = wx.control("/__sim/clock", json!({"real": true})).await;
    assert_eq!((status, answer["real"].as_bool()), (200, Some(true)));
}

#[tokio::test]
async fn alipay_files_a_refund_by_the_beijing_day_of_the_clock_set() {
    let ali = alisim::start(FaultConfig::default(), |_| {}).await;
    freeze_ali(&ali, "2026-11-30T23:59:58+08:00").await;
    assert_eq!(ali.refund(1, "B-D", "1.00").await.field("code"), "10000");
    freeze_ali(&ali, "2026-12-01T00:00:01+08:00").await;
    let done = ali.refund(2, "B-D1", "1.00").await;
    assert_eq!(done.field("gmt_refund_pay"), "2026-12-01 00:00:01");
    freeze_ali(&ali, "2026-12-01T23:59:59Z").await;
    assert_eq!(ali.refund(3, "B-UTC", "1.00").await.field("code"), "10000");
    let not_yet = ali.bill("2026-12-02").await;
    assert_eq!(not_yet, Err(("40004".into(), "isp.bill_not_exist".into())));
    freeze_ali(&ali, "2026-12-03T10:00:00+08:00").await;
    let day = |bill: alisim::bills::AliBill| {
        bill.refunds
            .iter()
            .map(|r| (r.out_request_no.clone(), r.finished_at.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        day(ali.bill("2026-11-30").await.unwrap()),
        pairs(&[("B-D", "2026-11-30 23:59:58")])
    );
    assert_eq!(
        day(ali.bill("2026-12-01").await.unwrap()),
        pairs(&[("B-D1", "2026-12-01 00:00:01")])
    );
    assert_eq!(
        day(ali.bill("2026-12-02").await.unwrap()),
        pairs(&[("B-UTC", "2026-12-02 07:59:59")])
    );
}

#[tokio::test]
async fn the_clock_refuses_a_body_it_cannot_read() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    for body in [
        json!({"now": "2026-11-30 23:59:58"}),
        json!({"frozen": true}),
        json!({"real": true, "now": "2026-11-30T23:59:58+08:00"}),
    ] {
        let (status, answer) = wx.control("/__sim/clock", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn an_outside_refund_counts_against_the_order_and_shows_in_queries_and_bills() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    freeze_wx(&wx, "2026-11-30T10:00:00+08:00").await;
    let portal = |order: &str, id: &str, fen: u64| {
        json!({"gateway": "wechatpay", "merchant_id": wxsim::MCHID, "order": order,
               "refund_id": id, "amount_fen": fen})
    };
    let (status, made) = wx
        .control("/__sim/outside-refund", portal("T1", "PORTAL-1", 300))
        .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["success_time"], "2026-11-30T10:00:00+08:00");
    let refund_id = made["gateway_refund_id"].as_str().unwrap().to_owned();
    assert!(refund_id.starts_with("503") && refund_id.len() == 29);
    let query = wx.query("PORTAL-1").await;
    assert_eq!(query.status, 200);
    let object = query.json();
    assert_eq!(
        (
            &object["status"],
            &object["amount"]["refund"],
            &object["refund_id"]
        ),
        (&json!("SUCCESS"), &json!(300), &json!(refund_id))
    );
    // The order has 700 left: an apply of 701 is refused, 700 passes.
    assert_eq!(
        wx.apply("R1", 1, 701).await.said(),
        (400, "INVALID_REQUEST".into())
    );
    assert_eq!(wx.apply("R1", 1, 700).await.status, 200);
    // By the order's gateway id too.
    let (status, _) = wx
        .control("/__sim/outside-refund", portal("W2", "PORTAL-2", 1000))
        .await;
    assert_eq!(status, 200);
    for (body, reason) in [
        (
            portal("T2", "PORTAL-3", 1),
            "over the order's refundable balance",
        ),
        (portal("T3", "PORTAL-1", 1), "already used"),
        (portal("T8", "PORTAL-4", 1), "no order \"T8\" of merchant"),
        (portal("T6", "PORTAL-5", 1), "not paid"),
        (
            json!({"gateway": "paypal", "merchant_id": "1", "order": "T1", "refund_id": "X",
                "amount_fen": 1}),
            "no gateway",
        ),
        (
            json!({"gateway": "wechatpay", "order": "T1"}),
            "does not fit",
        ),
    ] {
        let (status, answer) = wx.control("/__sim/outside-refund", body).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(status == 400 && error.contains(reason), "{status} {answer}");
    }
    freeze_wx(&wx, "2026-12-01T10:00:00+08:00").await;
    let bill = wx.bill("2026-11-30").await.unwrap();
    let listed: Vec<(&str, &str, &str)> = bill
        .iter()
        .map(|r| {
            (
                r.out_refund_no.as_str(),
                r.applied.as_str(),
                r.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("PORTAL-1", "3.00", "SUCCESS"),
            ("R1", "7.00", "SUCCESS"),
            ("PORTAL-2", "10.00", "SUCCESS")
        ]
    );
    assert_eq!(bill[0].refund_id, refund_id);
}

#[tokio::test]
async fn an_outside_alipay_refund_shows_in_the_query_and_the_bill() {
    let ali = alisim::start(FaultConfig::default(), |_| {}).await;
    freeze_ali(&ali, "2026-11-30T10:00:00+08:00").await;
    let (status, made) = ali
        .control(
            "/__sim/outside-refund",
            json!({"gateway": "alipay", "merchant_id": alisim::APP_ID,
                   "order": alisim::trade_no(2), "refund_id": "P-1", "amount_fen": 250}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["gateway_refund_id"], alisim::trade_no(2));
    let query = ali.query(2, "P-1").await;
    assert_eq!(
        (query.field("refund_status"), query.field("refund_amount")),
        ("REFUND_SUCCESS".into(), "2.50".into())
    );
    assert_eq!(query.field("gmt_refund_pay"), "2026-11-30 10:00:00");
    freeze_ali(&ali, "2026-12-01T10:00:00+08:00").await;
    let bill = ali.bill("2026-11-30").await.unwrap();
    assert_eq!(
        bill.refunds,
        [alisim::bills::AliBillRow {
            trade_no: alisim::trade_no(2),
            out_request_no: "P-1".into(),
            amount: "-2.50".into(),
            finished_at: "2026-11-30 10:00:00".into(),
        }]
    );
}

#[tokio::test]
async fn bill_faults_change_later_wechat_bills_and_never_the_answers() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    freeze_wx(&wx, "2026-11-30T10:00:00+08:00").await;
    for (n, fen) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
        assert_eq!(wx.apply(&format!("R{n}"), n, fen).await.status, 200);
    }
    let fault = |body: serde_json::Value| wx.control("/__sim/bill-fault", body);
    for body in [
        json!({"gateway": "wechatpay", "refund_id": "R1", "omit": true}),
        json!({"gateway": "wechatpay", "refund_id": "R2", "amount_fen": 250}),
        json!({"gateway": "wechatpay", "refund_id": "R3", "status": "PROCESSING"}),
    ] {
        let (status, answer) = fault(body).await;
        assert_eq!(status, 200, "{answer}");
    }
    freeze_wx(&wx, "2026-12-01T10:00:00+08:00").await;
    let shown = |rows: Vec<wxsim::bills::WxBillRow>| {
        rows.into_iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.out_refund_no, r.refund, r.applied, r.status
                )
            })
            .collect::<Vec<String>>()
    };
    assert_eq!(
        shown(wx.bill("2026-11-30").await.unwrap()),
        [
            "R2 2.50 2.50 SUCCESS",
            "R3 3.00 3.00 PROCESSING",
            "R4 4.00 4.00 SUCCESS"
        ]
    );
    // Queries tell the truth.
    for (id, fen) in [("R1", 100), ("R2", 200), ("R3", 300)] {
        let answer = wx.query(id).await.json();
        assert_eq!(
            (&answer["status"], &answer["amount"]["refund"]),
            (&json!("SUCCESS"), &json!(fen)),
            "{id}"
        );
    }
    // Cleared, R1 is back in the next bill.
    let (status, answer) = fault(json!({"gateway": "wechatpay", "refund_id": "R1"})).await;
    assert_eq!((status, &answer["fault"]), (200, &json!(null)));
    let ids: Vec<String> = wx
        .bill("2026-11-30")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.out_refund_no)
        .collect();
    assert_eq!(ids, ["R1", "R2", "R3", "R4"]);
    for (body, reason) in [
        (
            json!({"gateway": "wechatpay", "refund_id": "R9", "omit": true}),
            "no refund \"R9\"",
        ),
        (
            json!({"gateway": "wechatpay", "refund_id": "R1", "omit": true, "amount_fen": 1}),
            "not several",
        ),
        (
            json!({"gateway": "wechatpay", "refund_id": "R1", "status": ""}),
            "not be empty",
        ),
        (
            json!({"gateway": "wechatpay", "refund_id": "R1", "colour": "red"}),
            "does not fit",
        ),
    ] {
        let (status, answer) = fault(body).await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(status == 400 && error.contains(reason), "{status} {answer}");
    }
}

#[tokio::test]
async fn bill_faults_change_later_alipay_bills_which_have_no_status() {
    let ali = alisim::start(FaultConfig::default(), |_| {}).await;
    freeze_ali(&ali, "2026-11-30T10:00:00+08:00").await;
    for n in 1..=3 {
        let done = ali.refund(n, &format!("B{n}"), &format!("{n}.00")).await;
        assert_eq!(done.field("code"), "10000");
    }
    let fault = |body: serde_json::Value| ali.control("/__sim/bill-fault", body);
    let (status, answer) =
        fault(json!({"gateway": "alipay", "refund_id": "B1", "status": "X"})).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "alipay bills have no status column");
    for body in [
        json!({"gateway": "alipay", "refund_id": "B1", "omit": true}),
        json!({"gateway": "alipay", "refund_id": "B2", "amount_fen": 250}),
    ] {
        assert_eq!(fault(body).await.0, 200);
    }
    freeze_ali(&ali, "2026-12-01T10:00:00+08:00").await;
    let bill = ali.bill("2026-11-30").await.unwrap();
    let shown: Vec<(&str, &str)> = bill
        .refunds
        .iter()
        .map(|r| (r.out_request_no.as_str(), r.amount.as_str()))
        .collect();
    assert_eq!(shown, [("B2", "-2.50"), ("B3", "-3.00")]);
    let query = ali.query(2, "B2").await;
    assert_eq!(query.field("refund_amount"), "2.00");
    assert_eq!(
        ali.query(1, "B1").await.field("refund_status"),
        "REFUND_SUCCESS"
    );
}

/// `POST path` to the simulator at `base`: (status, JSON answer).
async fn post(base: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The portal statement's (content type, bytes).
async fn statement(base: &str, query: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::get(format!("{base}/__sim/statement/{query}"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// Three refunds through the gateway at 09:00 of 2026-11-30 (one
/// succeeded, one still processing, one failed), two made in its portal at
/// 23:59:58 that day and 00:00:01 the next, and three bill faults.
async fn portal_day(sim: &bulkrefund::sim::SimHandle, gateway: &str, merchant: &str) {
    use bulkrefund::gateway::Gateway;
    let base = sim.base_url();
    let at = |now: &str| post(&base, "/__sim/clock", json!({"now": now, "frozen": true}));
    let client: Box<dyn Gateway> = if gateway == "leshua" {
        Box::new(common::sample_leshua_client(sim))
    } else {
        Box::new(common::lianshang_client(sim))
    };
    let refund = |id: &str, n: u32, fen: u64| match gateway {
        "leshua" => common::leshua_refund(id, &format!("T{n}"), fen),
        _ => common::lianshang_refund(id, &format!("T{n}"), &format!("WK{n}"), fen),
    };
    assert_eq!(at("2026-11-30T09:00:00+08:00").await.0, 200);
    for (id, n, fen, faults) in [
        ("R1", 1, 100, FaultConfig::default()),
        (
            "R2",
            2,
            200,
            FaultConfig {
                processing_for: std::time::Duration::from_secs(3600),
                ..FaultConfig::default()
            },
        ),
        ("R3", 3, 300, common::every_refund_fails()),
        ("R4", 4, 400, FaultConfig::default()),
    ] {
        sim.set_faults(faults);
        client.submit(&refund(id, n, fen)).await;
    }
    for (now, id, n, fen) in [
        ("2026-11-30T23:59:58+08:00", "门店退款-1", 5, 500),
        ("2026-12-01T00:00:01+08:00", "门店退款-2", 6, 600),
    ] {
        assert_eq!(at(now).await.0, 200);
        let portal = json!({"gateway": gateway, "merchant_id": merchant,
                            "order": format!("T{n}"), "refund_id": id, "amount_fen": fen});
        let (status, answer) = post(&base, "/__sim/outside-refund", portal).await;
        assert_eq!(status, 200, "{answer}");
    }
    let status = if gateway == "leshua" {
        "10"
    } else {
        "PROCESSING"
    };
    for fault in [
        json!({"gateway": gateway, "refund_id": "R1", "amount_fen": 150}),
        json!({"gateway": gateway, "refund_id": "R4", "omit": true}),
        json!({"gateway": gateway, "refund_id": "门店退款-1", "status": status}),
    ] {
        assert_eq!(post(&base, "/__sim/bill-fault", fault).await.0, 200);
    }
}

/// Checks the statement of 2026-11-30 in UTF-8 and GBK, and that the next
/// day's holds the refund made at 00:00:01 alone.
async fn check_statement(
    sim: &bulkrefund::sim::SimHandle,
    gateway: &str,
    merchant: &str,
    expected: &str,
    next_day: &str,
) {
    let base = sim.base_url();
    let query = format!("{gateway}?merchant_id={merchant}&date=2026-11-30");
    let (status, kind, utf8) = statement(&base, &query).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!(String::from_utf8(utf8).unwrap(), expected);
    let (status, kind, gbk) = statement(&base, &format!("{query}&encoding=gbk")).await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=gbk"));
    assert_eq!(gbk, encoding_rs::GBK.encode(expected).0.into_owned());
    assert_ne!(gbk, expected.as_bytes(), "GBK is not UTF-8 here");
    let next = format!("{gateway}?merchant_id={merchant}&date=2026-12-01");
    let (_, _, text) = statement(&base, &next).await;
    assert_eq!(String::from_utf8(text).unwrap(), next_day);
}

#[tokio::test]
async fn the_leshua_portal_statement_is_the_days_csv_in_utf8_and_gbk() {
    let sim = common::start_sim(common::Orders::standard(), FaultConfig::default()).await;
    portal_day(&sim, "leshua", "0000000018").await;
    let header = "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,leshua_order_id,refund_amount,status,refund_time\r\n";
    let expected = format!(
        "{header}\
         0000000018,R1,LR00000000000001,T1,L1,150,11,20261130090000\r\n\
         0000000018,R2,LR00000000000002,T2,L2,200,10,\r\n\
         0000000018,R3,LR00000000000003,T3,L3,300,12,20261130090000\r\n\
         0000000018,门店退款-1,LR00000000000005,T5,L5,500,10,20261130235958\r\n"
    );
    let next_day =
        format!("{header}0000000018,门店退款-2,LR00000000000006,T6,L6,600,11,20261201000001\r\n");
    check_statement(&sim, "leshua", "0000000018", &expected, &next_day).await;
}

#[tokio::test]
async fn the_lianshang_portal_statement_is_the_days_csv_in_utf8_and_gbk() {
    let sim = common::start_sim(common::Orders::standard(), FaultConfig::default()).await;
    portal_day(&sim, "lianshang", "pay001").await;
    let header = "merchant_id,appid,out_refund_id,wk_refund_id,out_trade_id,original_wk_trade_id,refund_cash_amount,refund_coin_amount,refund_currency,refund_status,refund_time\r\n";
    let expected = format!(
        "{header}\
         pay001,app01,R1,WKR00000000000001,T1,WK1,150,0,CNY,SUCCESS,20261130090000\r\n\
         pay001,app01,R2,WKR00000000000002,T2,WK2,200,0,CNY,PROCESSING,\r\n\
         pay001,app01,R3,WKR00000000000003,T3,WK3,300,0,CNY,FAIL,20261130090000\r\n\
         pay001,app01,门店退款-1,WKR00000000000005,T5,WK5,500,0,CNY,PROCESSING,20261130235958\r\n"
    );
    let next_day = format!("{header}pay001,app01,门店退款-2,WKR00000000000006,T6,WK6,600,0,CNY,SUCCESS,20261201000001\r\n");
    check_statement(&sim, "lianshang", "pay001", &expected, &next_day).await;
}

#[tokio::test]
async fn a_portal_statement_refuses_what_it_cannot_serve() {
    let sim = common::start_sim(common::Orders::standard(), FaultConfig::default()).await;
    let base = sim.base_url();
    for (query, status) in [
        ("wechatpay?merchant_id=1234567890&date=2026-11-30", 404),
        ("leshua?merchant_id=9999&date=2026-11-30", 404),
        ("leshua?merchant_id=0000000018", 400),
        ("leshua?merchant_id=0000000018&date=2026-11-3", 400),
        (
            "leshua?merchant_id=0000000018&date=2026-11-30&encoding=latin1",
            400,
        ),
    ] {
        assert_eq!(statement(&base, query).await.0, status, "{query}");
    }
    // A day with no refund: the header alone.
    let (status, _, empty) = statement(&base, "lianshang?merchant_id=pay001&date=2026-11-30").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(empty)
        .unwrap()
        .ends_with(",refund_status,refund_time\r\n"));
}

const MIB: u64 = 1 << 20;

/// How many bytes `reader` gives, read to its end or to `cap`.
fn inflated_len(reader: impl std::io::Read, cap: u64) -> u64 {
    std::io::copy(&mut reader.take(cap), &mut std::io::sink()).unwrap()
}

#[tokio::test]
async fn wechat_bill_delivery_faults_spoil_the_bytes_as_described() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    freeze_wx(&wx, "2026-11-30T10:00:00+08:00").await;
    assert_eq!(wx.apply("R1", 1, 100).await.status, 200);
    freeze_wx(&wx, "2026-12-01T10:00:00+08:00").await;
    let deliver = |fault: serde_json::Value| {
        wx.control(
            "/__sim/bill-delivery-fault",
            json!({"gateway": "wechatpay", "fault": fault}),
        )
    };
    let fetch = || async {
        let offered = wx.apply_bill("2026-11-30").await;
        assert_eq!(offered.status, 200);
        assert!(offered.verifies());
        let hash = offered.json()["hash_value"].as_str().unwrap().to_owned();
        let file = wx.download_bill(&offered).await;
        (hash, file)
    };
    let (honest_hash, honest) = fetch().await;
    assert_eq!(
        wxsim::bills::sha1_hex(&wxsim::bills::gunzip(&honest.body)),
        honest_hash
    );

    assert_eq!(deliver(json!("bad_hash")).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!(file.body, honest.body, "the file is the bill");
    assert_ne!(hash, honest_hash);
    assert_ne!(
        wxsim::bills::sha1_hex(&wxsim::bills::gunzip(&file.body)),
        hash
    );

    assert_eq!(deliver(json!("truncated")).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!(hash, honest_hash);
    assert_eq!(file.body, honest.body[..honest.body.len() / 2]);
    let mut cut = Vec::new();
    let read =
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file.body[..]), &mut cut);
    assert!(read.is_err(), "a cut gzip does not inflate");

    assert_eq!(deliver(json!("zip_bomb")).await.0, 200);
    let (_, file) = fetch().await;
    assert!(file.body.len() < MIB as usize, "{} bytes", file.body.len());
    let inflates = inflated_len(flate2::read::GzDecoder::new(&file.body[..]), 600 * MIB + 1);
    assert_eq!(inflates, 600 * MIB + 1, "past 600 MiB");
    let mut start = [0u8; 16];
    std::io::Read::read_exact(
        &mut flate2::read::GzDecoder::new(&file.body[..]),
        &mut start,
    )
    .unwrap();
    assert_eq!(&start, "\u{feff}交易时间,".as_bytes());

    assert_eq!(deliver(json!("other_merchant")).await.0, 200);
    let rows = wx.bill("2026-11-30").await.unwrap();
    assert_eq!(
        (rows[0].mchid.as_str(), rows[0].out_refund_no.as_str()),
        ("1900000109", "R1")
    );

    assert_eq!(deliver(json!("expired_url")).await.0, 200);
    let (_, file) = fetch().await;
    assert_eq!(file.said(), (400, "INVALID_REQUEST".into()));
    assert_eq!(deliver(json!("expired_url")).await.0, 200, "it stays");
    assert_eq!(fetch().await.1.said(), (400, "INVALID_REQUEST".into()));

    assert_eq!(deliver(json!(null)).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!((hash, file.body), (honest_hash, honest.body));
}

#[tokio::test]
async fn alipay_bill_delivery_faults_spoil_the_zip_as_described() {
    let ali = alisim::start(FaultConfig::default(), |_| {}).await;
    freeze_ali(&ali, "2026-11-30T10:00:00+08:00").await;
    assert_eq!(ali.refund(1, "B1", "1.00").await.field("code"), "10000");
    freeze_ali(&ali, "2026-12-01T10:00:00+08:00").await;
    let deliver = |fault: serde_json::Value| {
        ali.control(
            "/__sim/bill-delivery-fault",
            json!({"gateway": "alipay", "fault": fault}),
        )
    };
    let url = || async {
        let offered = ali.bill_url("2026-11-30").await;
        assert!(offered.verifies());
        offered.field("bill_download_url")
    };
    assert_eq!(deliver(json!("zip_bomb")).await.0, 200);
    let (status, zip) = ali.download(&url().await).await;
    assert_eq!(status, 200);
    assert!(zip.len() < MIB as usize, "{} bytes", zip.len());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let entry = archive.by_index(0).unwrap();
    let name = encoding_rs::GBK
        .decode_without_bom_handling(entry.name_raw())
        .0
        .into_owned();
    assert_eq!(name, "20881234567890120156_20261130_业务明细.csv");
    assert!(entry.size() > 600 * MIB, "{}", entry.size());
    assert_eq!(
        inflated_len(entry, 600 * MIB + 1),
        600 * MIB + 1,
        "past 600 MiB"
    );

    assert_eq!(deliver(json!("other_merchant")).await.0, 200);
    let bill = ali.bill("2026-11-30").await.unwrap();
    assert_eq!(bill.account_line, "#账号：[20889999999999990156]");
    assert_eq!(bill.refunds[0].out_request_no, "B1");

    assert_eq!(deliver(json!("expired_url")).await.0, 200);
    assert_eq!(ali.download(&url().await).await.0, 404);

    assert_eq!(deliver(json!(null)).await.0, 200);
    assert_eq!(
        ali.bill("2026-11-30").await.unwrap().account_line,
        "#账号：[20881234567890120156]"
    );
    for (gateway, fault, reason) in [
        ("alipay", "bad_hash", "WeChat Pay's"),
        ("alipay", "truncated", "WeChat Pay's"),
        ("leshua", "expired_url", "no bill API"),
        ("alipay", "gone", "no delivery fault"),
    ] {
        let (status, answer) = ali
            .control(
                "/__sim/bill-delivery-fault",
                json!({"gateway": gateway, "fault": fault}),
            )
            .await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(status == 400 && error.contains(reason), "{status} {answer}");
    }
}
