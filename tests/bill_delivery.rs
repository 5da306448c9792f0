//! Bills the simulator delivers damaged (`POST /__sim/bill-delivery-fault`),
//! fetched over TCP: a hash that does not match, a gzip cut short, a
//! decompression bomb, another merchant's bill, a URL already expired. Each
//! is a clear `BillError` and nothing is returned; once the fault is cleared
//! the same source fetches the bill. The caps are lowered to 8 MiB so that a
//! bomb is refused without inflating half a GiB.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bulkrefund::gateway::alipay::bill_fetch::AlipayBills;
use bulkrefund::gateway::alipay::client::AlipaySettings;
use bulkrefund::gateway::bill::{BillError, BillSource, Caps, FetchedBill};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner, RsaVerifier};
use bulkrefund::gateway::wechatpay::bill_fetch::WechatpayBills;
use bulkrefund::gateway::wechatpay::client::{system_clock, WechatpaySettings};
use bulkrefund::gateway::wechatpay::verify::AnswerKeys;
use bulkrefund::gateway::{Gateway, Outcome};
use bulkrefund::sim::{self, sample_keys, SimConfig, SimHandle};
use common::*;
use jiff::civil::Date;
use serde_json::json;

/// The sample Alipay account's PID (the simulator's `#账号` is it and `0156`).
const PID: &str = "2088123456789012";

const SMALL: Caps = Caps {
    plain: 8 << 20,
    zipped: 8 << 20,
    inflated: 8 << 20,
};

async fn start() -> SimHandle {
    let mut config = SimConfig::with_sample_keys(Orders::standard().into());
    config.wechatpay.bill_same_day = true;
    config.alipay.bill_same_day = true;
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    sim.clock()
        .freeze("2026-11-22T10:00:00+08:00".parse().unwrap());
    sim
}

fn day() -> Date {
    "2026-11-22".parse().unwrap()
}

/// The sample merchant's WeChat bill source, its caps lowered.
fn wechat_bills(sim: &SimHandle) -> WechatpayBills {
    use bulkrefund::sim::wechatpay::{SAMPLE_MERCHANT_SERIAL, SAMPLE_PUBLIC_KEY_ID};
    let keys = AnswerKeys {
        public_key_id: SAMPLE_PUBLIC_KEY_ID.into(),
        public_key: RsaVerifier::from_pem(sample_keys::WECHATPAY_PUBLIC_KEY).unwrap(),
        certificates: Vec::new(),
    };
    WechatpayBills::new(WechatpaySettings {
        base_url: sim.base_url().parse().unwrap(),
        mchid: WECHATPAY_MERCHANT.into(),
        serial_no: SAMPLE_MERCHANT_SERIAL.into(),
        signer: RsaSigner::from_pem(
            sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
            RsaDigest::Sha256,
        )
        .unwrap(),
        keys: Arc::new(keys),
        timeout: Duration::from_secs(10),
        clock: system_clock(),
    })
    .with_caps(SMALL)
}

/// The sample app's Alipay bill source, checking the sample PID, its caps lowered.
fn alipay_bills(sim: &SimHandle) -> AlipayBills {
    use bulkrefund::gateway::alipay::{client, keys};
    let gateway_url = format!("{}{}", sim.base_url(), sim::alipay::GATEWAY_PATH);
    let settings = AlipaySettings {
        gateway_url: gateway_url.parse().unwrap(),
        app_id: ALIPAY_APP_ID.into(),
        signer: keys::private_key(sample_keys::ALIPAY_APP_PRIVATE_KEY).unwrap(),
        alipay_key: Arc::new(keys::public_key(sample_keys::ALIPAY_PUBLIC_KEY).unwrap()),
        app_auth_token: None,
        timeout: Duration::from_secs(10),
        clock: client::system_clock(),
    };
    AlipayBills::new(settings, Some(PID.into())).with_caps(SMALL)
}

async fn deliver(sim: &SimHandle, gateway: &str, fault: Option<&str>) {
    let reply = reqwest::Client::new()
        .post(format!("{}/__sim/bill-delivery-fault", sim.base_url()))
        .body(json!({"gateway": gateway, "fault": fault}).to_string())
        .send()
        .await
        .unwrap();
    let status = reply.status();
    assert_eq!(status, 200, "{}", reply.text().await.unwrap());
}

async fn refund(client: &dyn Gateway, refund: bulkrefund::gateway::RefundOrder) {
    let sent = client.submit(&refund).await;
    assert!(
        matches!(sent.outcome, Outcome::Succeeded(_) | Outcome::Processing(_)),
        "{:?}",
        sent.outcome
    );
}

/// The refused fetch's message; a fetch that returned a bill fails the test.
fn refused(fetched: Result<FetchedBill, BillError>) -> String {
    match fetched {
        Err(BillError::Refused(why)) => why,
        Err(other) => panic!("not refused: {other}"),
        Ok(fetched) => panic!("a bill was returned: {:?}", fetched.bill),
    }
}

#[tokio::test]
async fn wechat_bills_delivered_damaged_are_refused() {
    let sim = start().await;
    let client = wechatpay_client(
        &sim,
        sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    refund(&client, wechatpay_refund("R-1", "T1", "W1", 250, 1000)).await;
    let bills = wechat_bills(&sim);

    deliver(&sim, "wechatpay", Some("bad_hash")).await;
    let why = refused(bills.fetch(day()).await);
    assert!(
        why.starts_with("the bill's SHA-1 ") && why.ends_with(": discarded"),
        "{why}"
    );

    deliver(&sim, "wechatpay", Some("truncated")).await;
    let why = refused(bills.fetch(day()).await);
    assert!(
        why.starts_with("the gzipped bill is damaged or cut short"),
        "{why}"
    );

    deliver(&sim, "wechatpay", Some("zip_bomb")).await;
    assert_eq!(
        refused(bills.fetch(day()).await),
        "the gzipped bill, inflated, is larger than 8 MiB: not read"
    );

    deliver(&sim, "wechatpay", Some("other_merchant")).await;
    let why = refused(bills.fetch(day()).await);
    assert!(
        why.starts_with("a bill of another merchant: its 商户号 is ")
            && why.ends_with(&format!(
                "this profile's merchant_id is \"{WECHATPAY_MERCHANT}\""
            )),
        "{why}"
    );

    deliver(&sim, "wechatpay", Some("expired_url")).await;
    match bills.fetch(day()).await {
        Err(BillError::Fetch(why)) => assert_eq!(
            why,
            "the download URL expired, twice: WeChat Pay's bill URL lives 30 s; try again"
        ),
        other => panic!("{other:?}"),
    }

    deliver(&sim, "wechatpay", None).await;
    let fetched = bills.fetch(day()).await.unwrap();
    let ids: Vec<&str> = fetched
        .bill
        .rows
        .iter()
        .map(|r| r.refund_id.as_str())
        .collect();
    assert_eq!(ids, ["R-1"]);
}

#[tokio::test]
async fn alipay_bills_delivered_damaged_are_refused() {
    let sim = start().await;
    let client = alipay_client(
        &sim,
        sample_keys::ALIPAY_APP_PRIVATE_KEY,
        Duration::from_secs(5),
    );
    refund(
        &client,
        alipay_refund("A-1", "T1", &alipay_trade_no("T1"), 250),
    )
    .await;
    let bills = alipay_bills(&sim);

    deliver(&sim, "alipay", Some("zip_bomb")).await;
    let why = refused(bills.fetch(day()).await);
    assert!(
        why.starts_with("the bill zip, inflated up to its entry ")
            && why.ends_with(", is larger than 8 MiB: not read"),
        "{why}"
    );

    deliver(&sim, "alipay", Some("other_merchant")).await;
    let why = refused(bills.fetch(day()).await);
    assert!(
        why.starts_with("a bill of another merchant: its #账号 is ")
            && why.ends_with(&format!("this profile's pid is \"{PID}\"")),
        "{why}"
    );

    deliver(&sim, "alipay", Some("expired_url")).await;
    match bills.fetch(day()).await {
        Err(BillError::Fetch(why)) => assert_eq!(
            why,
            "the download URL expired, twice: Alipay's bill URL lives 30 s; try again"
        ),
        other => panic!("{other:?}"),
    }

    deliver(&sim, "alipay", None).await;
    let fetched = bills.fetch(day()).await.unwrap();
    let ids: Vec<&str> = fetched
        .bill
        .rows
        .iter()
        .map(|r| r.refund_id.as_str())
        .collect();
    assert_eq!(ids, ["A-1"]);
}
