//! `bulkrefund reconcile` fetching the day's bill through WeChat Pay's API
//! from the simulator (the real binary): every refund of a run matched, exit
//! 0, the raw bill kept beside the report and its SHA-256 recorded; a bill
//! the gateway has not made yet (`STATEMENT_CREATING`) is exit 1 with nothing
//! recorded.

mod common;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days::gateway_zone;
use bulkrefund::sim::{self, SimConfig};
use common::*;

/// A world whose WeChat Pay simulator serves today's bill at once or not.
async fn world(rows: u64, same_day: bool) -> (World, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (generated, orders) = generated(dir.path(), GatewayKind::Wechatpay, rows, "WA");
    let mut config = SimConfig::with_sample_keys(orders);
    config.wechatpay.bill_same_day = same_day;
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let config = Profiles::default().write(dir.path(), &sim.base_url());
    (
        World {
            dir,
            sim,
            config,
            pg: None,
        },
        generated,
    )
}

fn reconciliations(journal: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare("SELECT source, raw_sha256 FROM reconciliations ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_days_wechat_bill_fetched_matches_every_refund_of_the_run() {
    let (w, batch) = world(6, true).await;
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "wechatpay"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let today = gateway_zone()
        .day_of(&bulkrefund::journal::now_text())
        .unwrap()
        .to_string();
    let out = w.path("day.csv");
    let args = [
        "reconcile",
        "--profile",
        "wechatpay",
        "--date",
        &today,
        "--out",
        out.to_str().unwrap(),
    ];
    let done = w.bulkrefund(&args).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    let report = std::fs::read_to_string(&out).unwrap();
    let outcomes: Vec<&str> = report
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("#summary"))
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(outcomes, ["matched"; 6], "{report}");
    let kept = w.path(&format!("{today}.wechatpay.bill.csv"));
    let raw = std::fs::read(&kept).unwrap();
    assert_eq!(
        reconciliations(&w.journal()),
        [("api".to_owned(), sha256_hex(&raw))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_not_made_yet_is_exit_1_and_nothing_is_recorded() {
    let (w, batch) = world(2, false).await;
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "wechatpay"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let today = gateway_zone()
        .day_of(&bulkrefund::journal::now_text())
        .unwrap()
        .to_string();
    let out = w.path("day.csv");
    let args = [
        "reconcile",
        "--profile",
        "wechatpay",
        "--date",
        &today,
        "--out",
        out.to_str().unwrap(),
    ];
    let refused = w.bulkrefund(&args).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("not ready"), "{}", refused.stderr);
    assert!(!out.exists());
    assert!(reconciliations(&w.journal()).is_empty());
    // Leshua has no bill API: a usage error that says to give the file.
    let leshua = w
        .bulkrefund(&["reconcile", "--profile", "leshua", "--date", &today])
        .await;
    assert_eq!(leshua.code, 2, "{}", leshua.stderr);
    assert!(leshua.stderr.contains("--file"), "{}", leshua.stderr);
}
