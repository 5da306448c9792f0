//! The gateway's own times, end to end over the simulator: a WeChat Pay run
//! records, for each refund, the `success_time` and `create_time` the
//! simulator's answers give (read here from a query of our own, signed and
//! parsed apart from bulkrefund's client), and the export places each refund
//! on the Beijing day of that success time, saying the gateway's clock did.

mod common;

use std::collections::HashMap;

use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner};
use bulkrefund::gateway::wechatpay::wire::{authorization, query_path, Credentials};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::sample_keys;
use bulkrefund::sim::wechatpay::SAMPLE_MERCHANT_SERIAL;
use common::*;
use jiff::Timestamp;

/// The simulator's own answer about `out_refund_no`: (success_time, create_time).
async fn answered_times(world: &World, out_refund_no: &str) -> (Timestamp, Timestamp) {
    let signer = RsaSigner::from_pem(
        sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        RsaDigest::Sha256,
    )
    .unwrap();
    let credentials = Credentials {
        mchid: WECHATPAY_MERCHANT,
        serial_no: SAMPLE_MERCHANT_SERIAL,
        signer: &signer,
    };
    let path = query_path(out_refund_no);
    let now = Timestamp::now().as_second();
    let auth = authorization(
        &credentials,
        "GET",
        &path,
        now,
        "gatewaytimesnonce0001",
        b"",
    );
    let body = reqwest::Client::new()
        .get(format!("{}{path}", world.sim.base_url()))
        .header("Authorization", auth)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["status"], "SUCCESS", "{answer}");
    let time = |field: &str| {
        answer[field]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap()
    };
    (time("success_time"), time("create_time"))
}

/// Each refund's gateway times as the journal holds them.
fn journal_times(world: &World) -> HashMap<String, (Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let mut stmt = conn
        .prepare("SELECT refund_id, gateway_success_at, gateway_created_at FROM refunds")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_run_records_the_times_the_gateway_gave() {
    let ids = ["R1", "R2", "R3"];
    let mut orders = Orders::new();
    let mut batch = BatchFile::wechatpay();
    for (i, id) in ids.iter().enumerate() {
        let order = format!("T{i}");
        orders = orders.wechatpay(&order, &format!("W{order}"), 500);
        batch = batch.row(&format!("{id},{order},W{order},{},500", 100 + i));
    }
    let world = World::start(orders, FaultConfig::default()).await;
    let batch = batch.write(world.dir.path(), "times.csv");
    assert_eq!(world.run(&batch, "wechatpay", quick()).await.exit_code, 0);
    let recorded = journal_times(&world);
    let out = world.path("all.csv");
    let exported = world
        .bulkrefund(&["export", "--out", out.to_str().unwrap()])
        .await;
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&out)
        .unwrap();
    let header = reader.headers().unwrap().clone();
    let rows: HashMap<String, HashMap<String, String>> = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| !r[0].starts_with('#'))
        .map(|r| {
            let row: HashMap<String, String> = header
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect();
            (row["refund_id"].clone(), row)
        })
        .collect();
    let beijing = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    for id in ids {
        let (success, created) = answered_times(&world, id).await;
        let (success_at, created_at) = &recorded[id];
        let read = |t: &Option<String>| t.as_deref().map(|t| t.parse::<Timestamp>().unwrap());
        assert_eq!(read(success_at), Some(success), "{id}");
        assert_eq!(read(created_at), Some(created), "{id}");
        let row = &rows[id];
        let day = success.to_zoned(beijing.clone()).date().to_string();
        assert_eq!(row["day"], day, "{id}");
        assert_eq!(row["day_basis"], "gateway", "{id}");
        assert_eq!(
            row["gateway_success_at"].parse::<Timestamp>().unwrap(),
            success,
            "{id}"
        );
    }
    // `show` gives the gateway's times, labelled as its own, beside bulkrefund's.
    let (success, created) = answered_times(&world, "R1").await;
    let zone = bulkrefund::zone::Zone::named("Asia/Shanghai").unwrap();
    let shown = |at: Timestamp| zone.show(&bulkrefund::zone::journal_time(at));
    let show = world
        .bulkrefund(&["show", "R1", "--timezone", "Asia/Shanghai"])
        .await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    let line = show
        .stdout
        .lines()
        .find(|l| l.starts_with("  times: "))
        .unwrap_or_else(|| panic!("{}", show.stdout));
    assert!(
        line.ends_with(&format!(
            "(bulkrefund's clock); gateway's own: created {}, succeeded {}",
            shown(created),
            shown(success)
        )),
        "{line}"
    );
    let json = world
        .bulkrefund(&["show", "R1", "--format", "json", "--timezone", "UTC"])
        .await;
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let refund = &json["refunds"][0];
    let utc = |field: &str| {
        refund[field]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap()
    };
    assert_eq!(utc("gateway_success_at"), success);
    assert_eq!(utc("gateway_created_at"), created);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.ends_with("#by_day_note,days: the gateway's success time in Asia/Shanghai\n"),
        "{text}"
    );
}
