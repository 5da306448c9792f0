//! Bills fetched over TCP from the simulator through a profile's bill source
//! (`Profile::bills`), each compared with the refunds the simulator's ledger
//! holds: WeChat Pay's REFUND bill (signed apply, download, SHA-1) and
//! Alipay's zip; a day without a bill, a bill not made yet, a profile whose
//! Alipay `pid` is another merchant's, and a gateway with no bill API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bulkrefund::config::Config;
use bulkrefund::gateway::bill::{read_file, BillError, BillSource, BillStatus, FetchedBill};
use bulkrefund::gateway::{Gateway, GatewayKind, Outcome};
use bulkrefund::money::Fen;
use bulkrefund::sim::wechatpay::BillLayout;
use bulkrefund::sim::{self, sample_keys, SimConfig, SimHandle};
use common::*;
use jiff::civil::Date;

/// The sample Alipay account's PID (the simulator's `#账号` is it and `0156`).
const PID: &str = "2088123456789012";

struct Setup {
    _dir: tempfile::TempDir,
    sim: SimHandle,
    config: Config,
}

/// A simulator that serves today's bills, and the sample profiles aimed at it.
async fn start(profiles: Profiles) -> Setup {
    start_tuned(profiles, |_| {}).await
}

async fn start_tuned(profiles: Profiles, tune: impl FnOnce(&mut SimConfig)) -> Setup {
    let mut config = SimConfig::with_sample_keys(Orders::standard().into());
    config.wechatpay.bill_same_day = true;
    config.wechatpay.order_gap = Duration::ZERO;
    config.alipay.bill_same_day = true;
    tune(&mut config);
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let path = profiles.write(dir.path(), &sim.base_url());
    let config = Config::load(&path).unwrap();
    Setup {
        _dir: dir,
        sim,
        config,
    }
}

impl Setup {
    fn bills(&self, profile: &str) -> Arc<dyn BillSource> {
        self.config.profile(profile).unwrap().bills().unwrap()
    }
}

/// Freezes the simulator's wall clock at `at` (RFC 3339): the moment its
/// refunds succeed and the "today" of its bills.
fn freeze(setup: &Setup, at: &str) {
    setup.sim.clock().freeze(at.parse().unwrap());
}

fn day(text: &str) -> Date {
    text.parse().unwrap()
}

/// (refund id, gateway refund id, order id, gateway order id, fen, status,
/// success time) of a bill's rows.
type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    u64,
    BillStatus,
    Option<jiff::Timestamp>,
);

fn rows(fetched: &FetchedBill) -> Vec<Row> {
    fetched
        .bill
        .rows
        .iter()
        .map(|r| {
            (
                r.refund_id.clone(),
                r.gateway_refund_id.clone(),
                r.order_id.clone(),
                r.gateway_order_id.clone(),
                r.fen.0,
                r.status.clone(),
                r.success_at,
            )
        })
        .collect()
}

fn at(utc: &str) -> Option<jiff::Timestamp> {
    Some(utc.parse().unwrap())
}

async fn make_refunds(client: &dyn Gateway, refunds: &[bulkrefund::gateway::RefundOrder]) {
    for refund in refunds {
        let sent = client.submit(refund).await;
        assert!(
            matches!(sent.outcome, Outcome::Succeeded(_) | Outcome::Processing(_)),
            "{:?}",
            sent.outcome
        );
    }
}

#[tokio::test]
async fn a_wechat_bill_is_fetched_with_the_ledgers_refunds() {
    wechat_bill_with_the_ledgers_refunds(BillLayout::New).await;
}

/// The older 26-column layout ("普通结算" merchants) reads to the same rows.
#[tokio::test]
async fn a_wechat_bill_in_the_old_layout_is_fetched_alike() {
    wechat_bill_with_the_ledgers_refunds(BillLayout::Old).await;
}

/// Two refunds either side of Beijing's midnight: each in its own day's bill.
async fn wechat_bill_with_the_ledgers_refunds(layout: BillLayout) {
    let setup = start_tuned(Profiles::default(), |c| c.wechatpay.bill_layout = layout).await;
    let client = wechatpay_client(
        &setup.sim,
        sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    freeze(&setup, "2026-11-22T23:59:58+08:00");
    make_refunds(&client, &[wechatpay_refund("R-1", "T1", "W1", 250, 1000)]).await;
    freeze(&setup, "2026-11-23T00:00:01+08:00");
    make_refunds(&client, &[wechatpay_refund("R-2", "T2", "W2", 1000, 1000)]).await;
    let ledger = setup.sim.ledger();
    let held = |id: &str| Some(ledger.refund(id).unwrap().gateway_refund_id.clone());
    let bills = setup.bills("wechatpay");
    let first = bills.fetch(day("2026-11-22")).await.unwrap();
    let second = bills.fetch(day("2026-11-23")).await.unwrap();
    assert_eq!(
        (rows(&first), rows(&second)),
        (
            vec![(
                "R-1".into(),
                held("R-1"),
                Some("T1".into()),
                Some("W1".into()),
                250,
                BillStatus::Succeeded,
                at("2026-11-22T15:59:58Z"),
            )],
            vec![(
                "R-2".into(),
                held("R-2"),
                Some("T2".into()),
                Some("W2".into()),
                1000,
                BillStatus::Succeeded,
                at("2026-11-22T16:00:01Z"),
            )]
        )
    );
    let amounts: Vec<(&str, u64)> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r.amount_fen))
        .collect();
    assert_eq!(amounts, vec![("R-1", 250), ("R-2", 1000)]);
    let bill = &first.bill;
    assert_eq!(bill.merchant_id.as_deref(), Some(WECHATPAY_MERCHANT));
    assert_eq!(
        (bill.totals.count, bill.totals.fen),
        (Some(1), Some(Fen(250)))
    );
    // The kept file is the decompressed bill, as WeChat Pay hashed it.
    assert_eq!(first.raw_extension, "csv");
    assert!(first.raw.starts_with("\u{feff}交易时间,".as_bytes()));
    let text = String::from_utf8_lossy(&first.raw);
    let columns = text.lines().next().unwrap().split(',').count();
    assert_eq!(columns, if layout == BillLayout::New { 29 } else { 26 });
    assert_eq!(
        &read_file(GatewayKind::Wechatpay, &first.raw, day("2026-11-22")).unwrap(),
        bill
    );
}

/// Two refunds either side of Beijing's midnight: each in its own day's bill.
#[tokio::test]
async fn an_alipay_bill_is_fetched_with_the_ledgers_refunds() {
    let setup = start(Profiles::default().set("alipay", &format!("pid = \"{PID}\""))).await;
    let client = alipay_client(
        &setup.sim,
        sample_keys::ALIPAY_APP_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    let (t1, t2) = (alipay_trade_no("T1"), alipay_trade_no("T2"));
    freeze(&setup, "2026-11-22T23:59:58+08:00");
    make_refunds(&client, &[alipay_refund("A-1", "T1", &t1, 250)]).await;
    freeze(&setup, "2026-11-23T00:00:01+08:00");
    make_refunds(&client, &[alipay_refund("A-2", "T2", &t2, 999)]).await;
    let bills = setup.bills("alipay");
    let first = bills.fetch(day("2026-11-22")).await.unwrap();
    let second = bills.fetch(day("2026-11-23")).await.unwrap();
    assert_eq!(
        (rows(&first), rows(&second)),
        (
            vec![(
                "A-1".into(),
                Some(t1.clone()),
                Some("T1".into()),
                Some(t1),
                250,
                BillStatus::Succeeded,
                at("2026-11-22T15:59:58Z"),
            )],
            vec![(
                "A-2".into(),
                Some(t2.clone()),
                Some("T2".into()),
                Some(t2),
                999,
                BillStatus::Succeeded,
                at("2026-11-22T16:00:01Z"),
            )]
        )
    );
    let ledger = setup.sim.ledger();
    let amounts: Vec<(&str, u64)> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r.amount_fen))
        .collect();
    assert_eq!(amounts, vec![("A-1", 250), ("A-2", 999)]);
    let bill = &second.bill;
    assert_eq!(bill.merchant_id.as_deref(), Some("20881234567890120156"));
    assert_eq!(
        (bill.totals.count, bill.totals.fen),
        (Some(1), Some(Fen(999)))
    );
    assert_eq!(second.raw_extension, "csv.zip");
    assert!(second.raw.starts_with(b"PK\x03\x04"));
    assert_eq!(
        &read_file(GatewayKind::Alipay, &second.raw, day("2026-11-23")).unwrap(),
        bill
    );
}

#[tokio::test]
async fn a_day_without_refunds_is_an_empty_bill_and_tomorrow_is_not_ready() {
    let setup = start(Profiles::default()).await;
    freeze(&setup, "2026-11-22T10:00:00+08:00");
    let today = day("2026-11-22");
    let wechat = setup.bills("wechatpay");
    let empty = wechat.fetch(today).await.unwrap();
    assert_eq!(empty.bill.rows, vec![]);
    assert_eq!(
        (empty.bill.totals.count, empty.bill.totals.fen),
        (Some(0), Some(Fen(0)))
    );
    let tomorrow = today.tomorrow().unwrap();
    match wechat.fetch(tomorrow).await {
        Err(BillError::NotReady { date, why }) => {
            assert_eq!(date, tomorrow);
            assert!(why.contains("STATEMENT_CREATING"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let alipay = setup.bills("alipay").fetch(tomorrow).await.unwrap();
    assert_eq!(alipay.bill.rows, vec![]);
    assert_eq!(alipay.bill.totals.count, Some(0));
}

#[tokio::test]
async fn an_alipay_bill_of_another_pid_is_refused() {
    let setup = start(Profiles::default().set("alipay", "pid = \"2088123456789013\"")).await;
    let client = alipay_client(
        &setup.sim,
        sample_keys::ALIPAY_APP_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    freeze(&setup, "2026-11-22T10:00:00+08:00");
    make_refunds(
        &client,
        &[alipay_refund("A-1", "T1", &alipay_trade_no("T1"), 250)],
    )
    .await;
    match setup.bills("alipay").fetch(day("2026-11-22")).await {
        Err(BillError::Refused(why)) => assert_eq!(
            why,
            "a bill of another merchant: its #账号 is \"20881234567890120156\", this profile's pid is \"2088123456789013\""
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn leshua_and_lianshang_have_no_bill_api() {
    let setup = start(Profiles::default()).await;
    for profile in ["leshua", "lianshang"] {
        match setup.config.profile(profile).unwrap().bills() {
            Err(BillError::NoApi { gateway }) => assert_eq!(gateway, profile),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{profile} has a bill source"),
        }
    }
}

/// A URL that dies before it is fetched is asked for once more, then the
/// fetch fails saying so; nothing is returned.
#[tokio::test]
async fn a_download_url_that_expired_twice_is_a_fetch_error() {
    let setup = start_tuned(Profiles::default(), |c| {
        c.wechatpay.bill_url_ttl = Duration::ZERO;
        c.alipay.bill_url_ttl = Duration::ZERO;
    })
    .await;
    freeze(&setup, "2026-11-22T10:00:00+08:00");
    let wechat = wechatpay_client(
        &setup.sim,
        sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    make_refunds(&wechat, &[wechatpay_refund("R-1", "T1", "W1", 250, 1000)]).await;
    let alipay = alipay_client(
        &setup.sim,
        sample_keys::ALIPAY_APP_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    make_refunds(
        &alipay,
        &[alipay_refund("A-1", "T1", &alipay_trade_no("T1"), 250)],
    )
    .await;
    for (profile, gateway) in [("wechatpay", "WeChat Pay"), ("alipay", "Alipay")] {
        match setup.bills(profile).fetch(day("2026-11-22")).await {
            Err(BillError::Fetch(why)) => assert_eq!(
                why,
                format!(
                    "the download URL expired, twice: {gateway}'s bill URL lives 30 s; try again"
                )
            ),
            other => panic!("{profile}: {other:?}"),
        }
    }
}

/// A portal statement as the simulator serves it (`GET /__sim/statement/…`).
async fn statement(setup: &Setup, gateway: &str, merchant: &str, date: &str, gbk: bool) -> Vec<u8> {
    let mut url = format!(
        "{}/__sim/statement/{gateway}?merchant_id={merchant}&date={date}",
        setup.sim.base_url()
    );
    if gbk {
        url.push_str("&encoding=gbk");
    }
    let reply = reqwest::get(url).await.unwrap();
    assert_eq!(reply.status(), 200);
    reply.bytes().await.unwrap().to_vec()
}

/// The portal statements the simulator makes (UTF-8 and GBK) read to the
/// ledger's refunds, each on its Beijing day.
#[tokio::test]
async fn the_simulators_portal_statements_read_to_the_ledgers_refunds() {
    let setup = start(Profiles::default()).await;
    let leshua = sample_leshua_client(&setup.sim);
    let lianshang = lianshang_client(&setup.sim);
    freeze(&setup, "2026-11-22T23:59:58+08:00");
    make_refunds(&leshua, &[leshua_refund("LR1", "T1", 250)]).await;
    make_refunds(&lianshang, &[lianshang_refund("LSR1", "T1", "WK1", 300)]).await;
    freeze(&setup, "2026-11-23T00:00:01+08:00");
    make_refunds(&leshua, &[leshua_refund("LR2", "T2", 1000)]).await;
    let ledger = setup.sim.ledger();
    let held = |id: &str| Some(ledger.refund(id).unwrap().gateway_refund_id.clone());
    let late = at("2026-11-22T15:59:58Z");
    for gbk in [false, true] {
        let bytes = statement(&setup, "leshua", LESHUA_MERCHANT, "2026-11-22", gbk).await;
        let bill = read_file(GatewayKind::Leshua, &bytes, day("2026-11-22")).unwrap();
        assert_eq!(bill.merchant_id.as_deref(), Some(LESHUA_MERCHANT));
        let fetched = FetchedBill {
            raw: bytes,
            raw_extension: "csv",
            bill,
        };
        assert_eq!(
            rows(&fetched),
            vec![(
                "LR1".into(),
                held("LR1"),
                Some("T1".into()),
                Some("L1".into()),
                250,
                BillStatus::Succeeded,
                late
            )],
            "gbk {gbk}"
        );
        let bytes = statement(&setup, "lianshang", LIANSHANG_MERCHANT, "2026-11-22", gbk).await;
        let bill = read_file(GatewayKind::Lianshang, &bytes, day("2026-11-22")).unwrap();
        assert_eq!(bill.merchant_id.as_deref(), Some(LIANSHANG_MERCHANT));
        let fetched = FetchedBill {
            raw: bytes,
            raw_extension: "csv",
            bill,
        };
        assert_eq!(
            rows(&fetched),
            vec![(
                "LSR1".into(),
                held("LSR1"),
                Some("T1".into()),
                Some("WK1".into()),
                300,
                BillStatus::Succeeded,
                late
            )],
            "gbk {gbk}"
        );
    }
    let bytes = statement(&setup, "leshua", LESHUA_MERCHANT, "2026-11-23", false).await;
    let bill = read_file(GatewayKind::Leshua, &bytes, day("2026-11-23")).unwrap();
    let ids: Vec<(&str, Option<jiff::Timestamp>)> = bill
        .rows
        .iter()
        .map(|r| (r.refund_id.as_str(), r.success_at))
        .collect();
    assert_eq!(ids, vec![("LR2", at("2026-11-22T16:00:01Z"))]);
}
