//! The Leshua and Lianshang portal statements: the exact CSV of a small
//! ledger's day (a success, a refund still processing, a failure, portal
//! refunds at 23:59:58 and 00:00:01, three bill faults), in UTF-8 and GBK.

use bulkrefund::sim::faults::FaultConfig;
use serde_json::json;

use super::common;
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
