//! The simulated Alipay gateway over real TCP, through a small signer of the
//! tests' own (`alisim`), not the client: the form and signature checks, the
//! ledger's rules with the contract's codes, `fund_change` `N` for a repeat,
//! partial refunds with a cumulative `refund_fee`, the query with and without
//! refund data, the daily bill's zip, and the shared faults.

#[path = "alisim/mod.rs"]
mod alisim;

use std::io::Read as _;
use std::time::Duration;

use alisim::{start, trade_no, APP_ID};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::sample_keys;
use serde_json::json;

fn code(code: &str, sub_code: &str) -> (String, String) {
    (code.to_owned(), sub_code.to_owned())
}

fn success() -> (String, String) {
    code("10000", "")
}

#[tokio::test]
async fn a_full_refund_then_its_repeat_answers_fund_change_n_and_moves_nothing() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    let done = ali.refund(1, "R1", "10.00").await;
    assert_eq!(
        (done.status, done.said()),
        (200, success()),
        "{}",
        done.body
    );
    assert!(done.verifies(), "{}", done.body);
    assert!(done.body.starts_with("{\"alipay_trade_refund_response\":{"));
    for (name, value) in [
        ("fund_change", "Y"),
        ("refund_fee", "10.00"),
        ("send_back_fee", "10.00"),
        ("out_trade_no", "T1"),
        ("trade_no", &trade_no(1)),
    ] {
        assert_eq!(done.field(name), value, "{name}");
    }
    // The same number and amount again: 10000, fund_change N, the same figures.
    let again = ali.refund(1, "R1", "10.00").await;
    assert_eq!(again.said(), success());
    assert!(again.verifies());
    assert_eq!(again.field("fund_change"), "N");
    assert_eq!(again.field("refund_fee"), "10.00");
    assert_eq!(again.field("gmt_refund_pay"), done.field("gmt_refund_pay"));
    // The same number with another amount.
    let other = ali.refund(1, "R1", "9.00").await;
    assert_eq!(other.said(), code("40004", "ACQ.DISCORDANT_REPEAT_REQUEST"));
    assert!(other.verifies());
    // A new number on the fully refunded trade: closed.
    let closed = ali.refund(1, "R2", "0.01").await;
    assert_eq!(closed.said(), code("40004", "ACQ.TRADE_HAS_CLOSE"));
    let ledger = ali.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1);
    let refund = ledger.refund("R1").unwrap();
    assert_eq!(refund.status, RefundState::Succeeded);
    assert_eq!(refund.amount_fen, 1000);
    // Alipay gives a refund no id of its own: the trade's stands in.
    assert_eq!(refund.gateway_refund_id, trade_no(1));
    let id = ledger.id("R1").unwrap();
    assert_eq!((id.submissions, id.created), (3, 1));
}

#[tokio::test]
async fn three_partial_refunds_of_one_trade_report_the_cumulative_refund_fee() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    for (number, yuan, total) in [
        ("P1", "3.00", "3.00"),
        ("P2", "2.5", "5.50"),
        ("P3", "4.50", "10.00"),
    ] {
        let reply = ali.refund(2, number, yuan).await;
        assert_eq!(reply.said(), success(), "{number}: {}", reply.body);
        assert_eq!(reply.field("fund_change"), "Y");
        assert_eq!(reply.field("refund_fee"), total, "{number}");
    }
    // Each query answers its own part, not the trade's total.
    for (number, amount) in [("P1", "3.00"), ("P2", "2.50"), ("P3", "4.50")] {
        let found = ali.query(2, number).await;
        assert!(found.verifies());
        assert_eq!(found.said(), success());
        assert_eq!(found.field("out_request_no"), number);
        assert_eq!(found.field("refund_amount"), amount);
        assert_eq!(found.field("refund_status"), "REFUND_SUCCESS");
        assert_eq!(found.field("total_amount"), "10.00");
        assert!(!found.field("gmt_refund_pay").is_empty());
    }
    // A repeat of the second part: N, with the trade's total so far.
    let repeat = ali.refund(2, "P2", "2.50").await;
    assert_eq!(
        (repeat.field("fund_change"), repeat.field("refund_fee")),
        ("N".into(), "10.00".into())
    );
    assert_eq!(ali.sim.ledger().refunds.len(), 3);
}

#[tokio::test]
async fn over_the_refundable_rest_and_the_same_number_on_two_trades() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    assert_eq!(ali.refund(3, "X1", "6.00").await.said(), success());
    let over = ali.refund(3, "X2", "5.00").await;
    assert_eq!(
        over.said(),
        code("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR")
    );
    assert!(over.verifies());
    // `out_request_no` is unique within its trade only.
    assert_eq!(ali.refund(4, "X1", "6.00").await.said(), success());
    let ledger = ali.sim.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created <= 1));
}

#[tokio::test]
async fn the_ledger_rules_answer_the_contracts_codes() {
    let ali = start(FaultConfig::default(), |c| c.balance_fen = Some(1500)).await;
    let missing = ali.refund(99, "N1", "1.00").await;
    assert_eq!(missing.said(), code("40004", "ACQ.TRADE_NOT_EXIST"));
    assert!(missing.verifies());
    assert_eq!(missing.field("refund_fee"), "0.00");
    assert_eq!(
        ali.refund(8, "N2", "1.00").await.said(),
        code("40004", "ACQ.TRADE_STATUS_ERROR")
    );
    assert_eq!(
        ali.refund(6, "N3", "1.00").await.said(),
        code("40004", "ACQ.TRADE_HAS_CLOSE")
    );
    assert_eq!(
        ali.refund(7, "N4", "1.00").await.said(),
        code("40004", "ACQ.TRADE_HAS_FINISHED")
    );
    // Another app's trade does not exist for this app.
    assert_eq!(
        ali.refund(9, "N5", "1.00").await.said(),
        code("40004", "ACQ.TRADE_NOT_EXIST")
    );
    for bad in ["0.00", "1.001", "-1.00", "1e2", ""] {
        let reply = ali.refund(1, "N6", bad).await;
        assert_eq!(
            reply.said(),
            code("40004", "ACQ.INVALID_PARAMETER"),
            "{bad}"
        );
    }
    let untyped = ali
        .call(
            "alipay.trade.refund",
            &json!({"out_trade_no": "T1", "out_request_no": "N7", "refund_amount": 1}),
        )
        .await;
    assert_eq!(untyped.said(), code("40004", "ACQ.INVALID_PARAMETER"));
    // Without out_request_no the number is the out_trade_no, and the amount must be the total.
    let partial = ali
        .call(
            "alipay.trade.refund",
            &json!({"out_trade_no": "T1", "refund_amount": "1.00"}),
        )
        .await;
    assert_eq!(
        partial.said(),
        code("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
    );
    // By trade_no, which wins over out_trade_no.
    let by_trade_no =
        json!({"trade_no": trade_no(1), "out_trade_no": "T99", "refund_amount": "10.00"});
    let whole = ali.call("alipay.trade.refund", &by_trade_no).await;
    assert_eq!(whole.said(), success(), "{}", whole.body);
    assert_eq!(
        ali.sim.ledger().refund("T1").map(|r| r.amount_fen),
        Some(1000)
    );
    // The balance (15.00) less what was refunded (10.00) is too little.
    let poor = ali.refund(2, "N8", "6.00").await;
    assert_eq!(poor.said(), code("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH"));
    // A top-up one fen short is not enough; lifting the limit is.
    let topped = ali
        .http
        .post(format!("{}/__sim/alipay/balance", ali.sim.base_url()))
        .body(r#"{"balance_fen": 1599}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(topped.status(), 200);
    assert_eq!(
        ali.refund(2, "N8", "6.00").await.said(),
        code("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH")
    );
    ali.sim.set_alipay_balance(None);
    assert_eq!(ali.refund(2, "N8", "6.00").await.said(), success());
    assert_eq!(ali.sim.ledger().refunds.len(), 2);
}

#[tokio::test]
async fn refunds_of_one_trade_closer_than_the_gap_are_a_system_error_recording_nothing() {
    let ali = start(FaultConfig::default(), |c| {
        c.trade_gap = Duration::from_millis(600)
    })
    .await;
    assert_eq!(ali.refund(1, "G1", "1.00").await.said(), success());
    let soon = ali.refund(1, "G2", "1.00").await;
    assert_eq!(soon.said(), code("40004", "ACQ.SYSTEM_ERROR"));
    // A repeat of a done refund is answered before the gap.
    assert_eq!(ali.refund(1, "G1", "1.00").await.field("fund_change"), "N");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ali.refund(1, "G2", "1.00").await.said(), success());
    assert_eq!(ali.sim.ledger().refunds.len(), 2);
}

#[tokio::test]
async fn the_query_answers_a_bare_success_when_no_such_refund_was_executed() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    let none = ali.query(1, "Q1").await;
    assert!(none.verifies());
    let all = none.json();
    assert_eq!(
        serde_json::to_string(&all["alipay_trade_fastpay_refund_query_response"]).unwrap(),
        r#"{"code":"10000","msg":"Success"}"#
    );
    assert_eq!(ali.refund(1, "Q1", "2.00").await.said(), success());
    let found = ali.query(1, "Q1").await;
    assert_eq!(found.field("refund_amount"), "2.00");
    // Another trade, or another number: not found.
    assert_eq!(
        ali.query(2, "Q1")
            .await
            .member()
            .as_object()
            .map(|o| o.len()),
        Some(2)
    );
    let unknown_trade = ali.query(99, "Q1").await;
    assert_eq!(unknown_trade.said(), code("40004", "ACQ.TRADE_NOT_EXIST"));
    let no_number = ali
        .call(
            "alipay.trade.fastpay.refund.query",
            &json!({"out_trade_no": "T1"}),
        )
        .await;
    assert_eq!(no_number.said(), code("40004", "ACQ.INVALID_PARAMETER"));
}

#[tokio::test]
async fn a_bad_signature_unknown_app_or_bad_form_is_an_unsigned_refusal_recording_nothing() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    let biz = json!({"out_trade_no": "T1", "out_request_no": "S1", "refund_amount": "1.00"});
    let mut forged = ali.parameters("alipay.trade.refund", &biz);
    let other = RsaSigner::from_pem(sample_keys::LIANSHANG_PRIVATE_KEY, RsaDigest::Sha256).unwrap();
    ali.sign_with(&other, &mut forged);
    let refused = ali.post(&forged).await;
    assert_eq!(refused.said(), code("40002", "isv.invalid-signature"));
    assert!(!refused.is_signed());
    assert!(refused
        .body
        .starts_with("{\"alipay_trade_refund_response\":"));
    // Signed, then a parameter changed.
    let mut changed = ali.parameters("alipay.trade.refund", &biz);
    ali.sign(&mut changed);
    changed.insert(
        "biz_content".into(),
        biz.to_string().replace("1.00", "9.00"),
    );
    assert_eq!(
        ali.post(&changed).await.said(),
        code("40002", "isv.invalid-signature")
    );
    // `sign_type` is signed too.
    let mut no_type = ali.parameters("alipay.trade.refund", &biz);
    no_type.remove("sign_type");
    ali.sign(&mut no_type);
    no_type.insert("sign_type".into(), "RSA2".into());
    assert_eq!(
        ali.post(&no_type).await.said(),
        code("40002", "isv.invalid-signature")
    );
    let mut unknown = ali.parameters("alipay.trade.refund", &biz);
    unknown.insert("app_id".into(), "2021000000000001".into());
    ali.sign(&mut unknown);
    assert_eq!(
        ali.post(&unknown).await.said(),
        code("40002", "isv.invalid-app-id")
    );
    let mut gbk = ali.parameters("alipay.trade.refund", &biz);
    gbk.insert("charset".into(), "GBK".into());
    ali.sign(&mut gbk);
    assert_eq!(
        ali.post(&gbk).await.said(),
        code("40002", "isv.invalid-charset")
    );
    let mut stamp = ali.parameters("alipay.trade.refund", &biz);
    stamp.insert("timestamp".into(), "1764600000".into());
    ali.sign(&mut stamp);
    assert_eq!(
        ali.post(&stamp).await.said(),
        code("40002", "isv.invalid-timestamp")
    );
    let mut unsigned = ali.parameters("alipay.trade.refund", &biz);
    unsigned.remove("sign");
    assert_eq!(
        ali.post(&unsigned).await.said(),
        code("40001", "isv.missing-signature")
    );
    let mut method = ali.parameters("alipay.trade.pay", &biz);
    ali.sign(&mut method);
    let unknown_method = ali.post(&method).await;
    assert_eq!(unknown_method.said(), code("40002", "isv.invalid-method"));
    assert!(unknown_method.body.starts_with("{\"error_response\":"));
    let ledger = ali.sim.ledger();
    assert!(ledger.refunds.is_empty());
    assert!(
        ledger.ids.is_empty(),
        "a refused request is not a submission"
    );
    // The same signed parameters in a GET's query string are taken.
    let mut good = ali.parameters("alipay.trade.refund", &biz);
    ali.sign(&mut good);
    assert_eq!(ali.get(&good).await.said(), success());
}

#[tokio::test]
async fn calls_over_the_second_are_call_limited() {
    let ali = start(FaultConfig::default(), |c| c.qps = 3).await;
    let mut said = Vec::new();
    for n in 1..=8 {
        said.push(ali.query(1, &format!("L{n}")).await.said());
    }
    // The window may turn over between calls: at least one is limited.
    assert!(
        said.contains(&code("40005", "isv.method-call-limited")),
        "{said:?}"
    );
    assert_eq!(said[0], success());
}

fn beijing_date(days: i64) -> String {
    let day = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .date();
    day.checked_add(jiff::Span::new().days(days))
        .unwrap()
        .to_string()
}

/// (GBK-decoded name, GBK-decoded text) of every entry of a zip.
fn unzip_gbk(zip: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            let decode = |b: &[u8]| {
                let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(b);
                assert!(!had_errors);
                text.into_owned()
            };
            (decode(file.name_raw()), decode(&bytes))
        })
        .collect()
}

#[tokio::test]
async fn the_daily_bill_is_a_gbk_zip_of_the_ledgers_day_and_its_url_expires() {
    let ali = start(FaultConfig::default(), |c| {
        c.bill_same_day = true;
        c.bill_url_ttl = Duration::from_millis(800);
    })
    .await;
    assert_eq!(ali.refund(2, "B1", "3.00").await.said(), success());
    assert_eq!(ali.refund(2, "B2", "2.00").await.said(), success());
    let offered = ali.bill_url(&beijing_date(0)).await;
    assert_eq!(offered.said(), success(), "{}", offered.body);
    assert!(offered.verifies());
    let url = offered.field("bill_download_url");
    let (status, zip) = ali.download(&url).await;
    assert_eq!(status, 200);
    let files = unzip_gbk(&zip);
    assert_eq!(files.len(), 2);
    let compact = beijing_date(0).replace('-', "");
    assert_eq!(
        files[0].0,
        format!("20881234567890120156_{compact}_业务明细.csv")
    );
    assert_eq!(
        files[1].0,
        format!("20881234567890120156_{compact}_业务明细(汇总).csv")
    );
    let detail = &files[0].1;
    let lines: Vec<&str> = detail.split("\r\n").collect();
    assert_eq!(lines[0], "#支付宝业务明细查询");
    assert!(lines[3].contains("业务明细列表"));
    assert_eq!(lines[4], bulkrefund::sim::alipay::DETAIL_HEADER);
    let rows: Vec<Vec<&str>> = lines[5..]
        .iter()
        .take_while(|l| !l.starts_with('#'))
        .map(|l| l.split(',').collect())
        .collect();
    assert!(rows.iter().all(|r| r.len() == 25));
    // T5, paid today, and the two refunds of T2.
    assert_eq!(rows.len(), 3, "{detail}");
    assert_eq!(
        (rows[0][1], rows[0][2], rows[0][11]),
        ("T5\t", "交易", "10.00")
    );
    let refunds: Vec<(&str, &str, &str)> = rows[1..].iter().map(|r| (r[0], r[11], r[21])).collect();
    let t2 = format!("{}\t", trade_no(2));
    assert_eq!(
        refunds,
        [
            (t2.as_str(), "-3.00", "B1\t"),
            (t2.as_str(), "-2.00", "B2\t")
        ]
    );
    assert!(detail.contains("#交易合计：1笔，商家实收共10.00元"));
    assert!(detail.contains("#退款合计：2笔，商家实收退款共-5.00元"));
    assert!(lines.iter().any(|l| l.contains("业务明细列表结束")));
    // The URL dies after its time.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(ali.download(&url).await.0, 404);
}

#[tokio::test]
async fn the_bill_of_today_a_future_day_or_an_empty_day_does_not_exist() {
    let ali = start(FaultConfig::default(), |_| {}).await;
    assert_eq!(ali.refund(1, "B1", "1.00").await.said(), success());
    for day in [beijing_date(0), beijing_date(1), beijing_date(-3)] {
        let reply = ali.bill_url(&day).await;
        assert_eq!(reply.said(), code("40004", "isp.bill_not_exist"), "{day}");
        assert!(reply.verifies());
    }
    let month = ali.bill_url("2026-11").await;
    assert_eq!(month.said(), code("40004", "isv.invalid-parameter"));
}

#[tokio::test]
async fn fund_change_n_for_a_refund_not_executed_is_settled_by_the_query() {
    let faults = FaultConfig {
        fund_change_n_rate: 1.0,
        ..FaultConfig::default()
    };
    let ali = start(faults, |_| {}).await;
    let n = ali.refund(1, "F1", "4.00").await;
    assert_eq!((n.said(), n.field("fund_change")), (success(), "N".into()));
    assert!(n.verifies());
    assert!(ali.sim.ledger().refunds.is_empty());
    // The query finds nothing: the refund goes out again under the same number.
    assert_eq!(
        ali.query(1, "F1")
            .await
            .member()
            .as_object()
            .map(|o| o.len()),
        Some(2)
    );
    ali.sim.set_faults(FaultConfig::default());
    let y = ali.refund(1, "F1", "4.00").await;
    assert_eq!(y.field("fund_change"), "Y");
    assert_eq!(ali.query(1, "F1").await.field("refund_amount"), "4.00");
    let ledger = ali.sim.ledger();
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(
        ledger.id("F1").map(|id| (id.submissions, id.created)),
        Some((2, 1))
    );
}

#[tokio::test]
async fn the_shared_faults_keep_the_ledger_right() {
    // --fail-rate: executed, then ACQ.SYSTEM_ERROR; the query finds it.
    let ali = start(
        FaultConfig {
            fail_rate: 1.0,
            ..FaultConfig::default()
        },
        |_| {},
    )
    .await;
    let failed = ali.refund(1, "E1", "1.00").await;
    assert_eq!(failed.said(), code("40004", "ACQ.SYSTEM_ERROR"));
    assert!(failed.verifies());
    assert_eq!(ali.query(1, "E1").await.field("refund_amount"), "1.00");
    // --busy-rate: 40005, nothing recorded.
    ali.sim.set_faults(FaultConfig {
        busy_rate: 1.0,
        ..FaultConfig::default()
    });
    let busy = ali.refund(1, "E2", "1.00").await;
    assert_eq!(busy.said(), code("40005", "isv.method-call-limited"));
    assert!(!busy.is_signed());
    assert_eq!(busy.retry_after.as_deref(), Some("1"));
    // --fail-refund-rate: the balance is too low, nothing recorded.
    ali.sim.set_faults(FaultConfig {
        fail_refund_rate: 1.0,
        ..FaultConfig::default()
    });
    assert_eq!(
        ali.refund(1, "E3", "1.00").await.said(),
        code("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH")
    );
    // --bad-sign-rate: a sign that does not verify.
    ali.sim.set_faults(FaultConfig {
        bad_sign_rate: 1.0,
        ..FaultConfig::default()
    });
    let forged = ali.query(1, "E1").await;
    assert!(forged.is_signed() && !forged.verifies());
    // --pad-rate: re-spaced, `sign` first, and it verifies over the bytes as sent.
    ali.sim.set_faults(FaultConfig {
        pad_rate: 1.0,
        ..FaultConfig::default()
    });
    let padded = ali.query(1, "E1").await;
    assert!(padded.body.starts_with("{\n  \"sign\""), "{}", padded.body);
    assert!(padded.verifies());
    // --mismatch-rate: correctly signed, about another amount.
    ali.sim.set_faults(FaultConfig {
        mismatch_rate: 1.0,
        mismatch_field: Some("refund_amount".into()),
        ..FaultConfig::default()
    });
    let other = ali.query(1, "E1").await;
    assert!(other.verifies());
    assert_eq!(other.field("refund_amount"), "1.01");
    // The refund answer's total below this refund: about another refund.
    let other = ali.refund(2, "E4", "1.00").await;
    assert_eq!(other.field("refund_fee"), "0.99");
    let ledger = ali.sim.ledger();
    let made: Vec<&str> = ledger
        .refunds
        .iter()
        .map(|r| r.refund_id.as_str())
        .collect();
    assert_eq!(made, ["E1", "E4"]);
    assert_eq!(ledger.id("E2").map(|id| id.created), None);
    assert_eq!(ledger.id("E3").map(|id| id.created), Some(0));
}

#[tokio::test]
async fn dropped_contradicted_and_wrong_key_answers_keep_the_ledger_right() {
    // --drop-rate: executed, the connection closed.
    let ali = start(
        FaultConfig {
            drop_rate: 1.0,
            ..FaultConfig::default()
        },
        |_| {},
    )
    .await;
    let mut dropped = ali.parameters(
        "alipay.trade.refund",
        &json!({"out_trade_no": "T3", "out_request_no": "E5", "refund_amount": "1.00"}),
    );
    ali.sign(&mut dropped);
    let sent = ali
        .http
        .post(&ali.url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&dropped)
                .finish(),
        )
        .send()
        .await;
    let body = match sent {
        Ok(response) => response.bytes().await.map(|b| b.to_vec()),
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "a dropped answer");
    // --contradict: HTTP 500 for the refund recorded, and the query denies it.
    ali.sim.set_faults(FaultConfig {
        contradict: true,
        ..FaultConfig::default()
    });
    assert_eq!(ali.refund(3, "E6", "1.00").await.status, 500);
    assert_eq!(
        ali.query(3, "E6")
            .await
            .member()
            .as_object()
            .map(|o| o.len()),
        Some(2)
    );
    // --wrong-key: every request fails its signature.
    ali.sim.set_faults(FaultConfig {
        wrong_key: true,
        ..FaultConfig::default()
    });
    assert_eq!(
        ali.query(3, "E5").await.said(),
        code("40002", "isv.invalid-signature")
    );
    let ledger = ali.sim.ledger();
    let made: Vec<&str> = ledger
        .refunds
        .iter()
        .map(|r| r.refund_id.as_str())
        .collect();
    assert_eq!(made, ["E5", "E6"]);
}

#[tokio::test]
async fn a_redirect_leads_elsewhere_after_the_refund_was_executed() {
    let ali = start(
        FaultConfig {
            redirect_rate: 1.0,
            ..FaultConfig::default()
        },
        |_| {},
    )
    .await;
    let moved = ali.refund(1, "D1", "1.00").await;
    assert_eq!(moved.status, 307);
    assert_eq!(ali.sim.ledger().refunds.len(), 1);
    let _ = APP_ID;
}
