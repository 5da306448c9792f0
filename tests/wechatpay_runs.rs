//! Whole runs against the simulated WeChat Pay over TCP, each checked against
//! the simulator's ledger, the results file and the exit code: a merchant
//! balance too low for some refunds (403 `NOT_ENOUGH`, then a top-up and
//! `retry --failed` under the same ids), an apply that breaks a business rule
//! (400 `INVALID_REQUEST`, settled by one query), a refund WeChat closed
//! (its id used up: only `--new-ids` sends it again), and answers the client must
//! not believe (a forged signature, a stale timestamp, an unknown serial) in
//! a run. The abnormal state end to end is `src/commands/wechatpay_abnormal.rs`
//! (it needs the journal's test-only `make_due`).

mod common;

use std::collections::{BTreeSet, HashMap};

use bulkrefund::gateway::{GatewayKind, Outcome};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Results rows by refund id.
fn by_id(rows: Vec<HashMap<String, String>>) -> HashMap<String, HashMap<String, String>> {
    rows.into_iter()
        .map(|row| (row["out_refund_no"].clone(), row))
        .collect()
}

/// 300 refunds: 295 of 100 fen, and 5 (rows 1, 75, 150, 225, 300) of 40,000
/// fen against orders paid that much. Returns the batch, the orders and the
/// ids of the 5 large ones.
fn balance_batch() -> (BatchFile, Orders, Vec<String>) {
    let (mut batch, mut orders, mut large) = (BatchFile::wechatpay(), Orders::new(), Vec::new());
    for i in 1..=300u32 {
        let (id, order) = (format!("R{i:03}"), format!("T{i:03}"));
        let fen = if [1, 75, 150, 225, 300].contains(&i) {
            large.push(id.clone());
            40_000
        } else {
            100
        };
        batch = batch.row(&format!("{id},{order},W{order},{fen},{fen}"));
        orders = orders.wechatpay(&order, &format!("W{order}"), fen);
    }
    (batch, orders, large)
}

/// A merchant balance of 30,000 fen: the 295 small refunds (29,500) always
/// fit, each large one never does, whatever order the refunds arrive in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_enough_on_5_of_300_then_a_top_up_and_retry_failed_sends_the_same_ids() {
    let (batch, orders, large) = balance_batch();
    let world = World::start(orders, FaultConfig::default()).await;
    world.sim.set_wechatpay_balance(Some(30_000));
    let batch = batch.write(world.dir.path(), "balance.csv");
    let outcome = world.run(&batch, "wechatpay", quick()).await;
    assert_eq!(outcome.exit_code, 3, "5 failed");
    let rows = by_id(world.results(&batch));
    assert_eq!(rows.len(), 300);
    let failed: BTreeSet<&String> = rows
        .values()
        .filter(|r| r["status"] == "failed")
        .map(|r| &r["out_refund_no"])
        .collect();
    assert_eq!(failed, large.iter().collect(), "exactly the 5 large ones");
    for id in &large {
        assert_eq!(rows[id]["error_code"], "NOT_ENOUGH", "{:?}", rows[id]);
        assert_eq!(rows[id]["gateway_refund_id"], "");
    }
    assert!(rows
        .values()
        .all(|r| r["status"] == "failed" || r["status"] == "succeeded"));
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 295);
    assert_results_match_ledger(&world.results(&batch), "out_refund_no", &ledger);

    // Topped up: `retry --failed` (no --new-ids) resends the same 5 ids.
    world.sim.set_wechatpay_balance(Some(30_000 + 5 * 40_000));
    let plan = world.plan(1, false);
    assert_eq!((plan.send.len(), plan.skipped.len()), (5, 0));
    assert!(plan.send.iter().all(|p| p.new_id.is_none()));
    let retried = world.retry(1, false).await.expect("the 5 are sent");
    assert_eq!(retried.exit_code, 0);
    let ledger = world.ledger();
    let inputs: BTreeSet<String> = (1..=300).map(|i| format!("R{i:03}")).collect();
    let created: BTreeSet<String> = ledger.refunds.iter().map(|r| r.refund_id.clone()).collect();
    assert_eq!(created, inputs, "one refund per input id, no derived id");
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
    for id in &ledger.ids {
        let twice = large.contains(&id.refund_id);
        assert_eq!(id.created, 1, "{}", id.refund_id);
        assert_eq!(id.submissions, 1 + u32::from(twice), "{}", id.refund_id);
    }
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&rows, "out_refund_no", &ledger);
}

/// The top-up over HTTP: `POST /__sim/wechatpay/balance`.
#[tokio::test]
async fn the_balance_is_set_over_http() {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let client = wechatpay_client(
        &sim,
        bulkrefund::sim::sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        std::time::Duration::from_secs(5),
    );
    let post = |body: &'static str| {
        let url = format!("{}/__sim/wechatpay/balance", sim.base_url());
        async move {
            let reply = reqwest::Client::new()
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    };
    assert_eq!(
        post(r#"{"balance_fen": 99}"#).await,
        (200, r#"{"balance_fen":99}"#.into())
    );
    let refund = wechatpay_refund("R1", "T1", "W1", 100, 1000);
    let outcome = bulkrefund::gateway::Gateway::submit(&client, &refund)
        .await
        .outcome;
    assert!(
        matches!(&outcome, Outcome::Failed { code, .. } if code == "NOT_ENOUGH"),
        "{outcome:?}"
    );
    assert_eq!(post(r#"{"balance_fen": "a lot"}"#).await.0, 400);
    assert_eq!(post(r#"{"balance_fen": null}"#).await.0, 200);
    let outcome = bulkrefund::gateway::Gateway::submit(&client, &refund)
        .await
        .outcome;
    assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}");
    let ledger = sim.ledger();
    assert_eq!(
        ledger.id("R1").map(|id| (id.submissions, id.created)),
        Some((2, 1))
    );
}

/// The attempts of one refund: (kind, outcome).
fn attempts_of(all: &[(String, String, String)], id: &str) -> Vec<(String, String)> {
    all.iter()
        .filter(|(refund, _, _)| refund == id)
        .map(|(_, kind, outcome)| (kind.clone(), outcome.clone()))
        .collect()
}

/// 400 `INVALID_REQUEST` is settled by the one query the client makes: V1
/// (the wrong order total) is unknown to WeChat, so failed, one submit, nothing
/// created; K1 already names a refund of another amount, so the query finds
/// that refund and its echo sends the row to review; G3 is paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_request_is_settled_by_one_query() {
    let world = World::start(Orders::standard(), FaultConfig::default()).await;
    let key = bulkrefund::sim::sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY;
    let client = wechatpay_client(&world.sim, key, std::time::Duration::from_secs(5));
    let earlier = wechatpay_refund("K1", "T2", "W2", 100, 1000);
    let outcome = bulkrefund::gateway::Gateway::submit(&client, &earlier)
        .await
        .outcome;
    assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}");
    let before = world.ledger().requests;
    let batch = BatchFile::wechatpay()
        .rows(["V1,T1,W1,100,999", "K1,T2,W2,200,1000", "G3,T3,W3,300,1000"])
        .write(world.dir.path(), "invalid.csv");
    let outcome = world.run(&batch, "wechatpay", quick()).await;
    assert_eq!(outcome.exit_code, 3, "V1 failed, K1 in review");
    let rows = by_id(world.results(&batch));
    let said = |id: &str| {
        let row = &rows[id];
        (
            row["status"].as_str(),
            row["error_code"].as_str(),
            row["gateway_refund_id"].as_str(),
        )
    };
    assert_eq!(said("V1"), ("failed", "INVALID_REQUEST", ""));
    assert_eq!(said("K1").0, "review");
    assert_eq!(said("K1").1, "BR_MISMATCH");
    assert!(
        rows["K1"]["error_message"].contains("amount.refund"),
        "{:?}",
        rows["K1"]
    );
    assert_eq!(said("G3").0, "succeeded");
    let ledger = world.ledger();
    // V1: applied, queried; K1: applied, queried; G3: applied.
    assert_eq!(ledger.requests - before, 5);
    assert_eq!(
        ledger.id("V1").map(|id| (id.submissions, id.created)),
        Some((1, 0))
    );
    assert!(ledger.refund("V1").is_none());
    assert_eq!(
        ledger.id("K1").map(|id| (id.submissions, id.created)),
        Some((2, 1))
    );
    let k1 = ledger.refund("K1").unwrap();
    assert_eq!((k1.amount_fen, k1.status), (100, RefundState::Succeeded));
    let all = world.attempts();
    let v1 = attempts_of(&all, "V1");
    assert_eq!(v1.len(), 1, "{v1:?}");
    assert_eq!(v1[0].0, "submit");
    assert!(
        v1[0].1.starts_with("failed") && v1[0].1.contains("INVALID_REQUEST"),
        "{v1:?}"
    );
    let k1 = attempts_of(&all, "K1");
    assert_eq!(k1.len(), 1, "{k1:?}");
    assert_eq!(k1[0].0, "submit");
    assert_eq!(
        k1[0].1,
        "review: the answer is not about this refund: amount.refund is 100, not 200; never believed"
    );
}

/// Answers signed ten minutes ago or with a wrong signature (5% each of 200
/// refunds: both kinds occur whatever the arrival order), in a run: each
/// is unknown, never believed; the refund is queried next (never sent blind);
/// every row ends as the ledger says, and a row is succeeded only after a
/// believed answer said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_badly_signed_answers_in_a_run_are_never_believed() {
    let unbelievable = FaultConfig {
        stale_answer_rate: 0.05,
        bad_sign_rate: 0.05,
        seed: Some(5),
        ..FaultConfig::default()
    };
    let (world, batch) =
        World::with_generated(GatewayKind::Wechatpay, 200, "S", unbelievable).await;
    let outcome = world.run(&batch, "wechatpay", quick()).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 200);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&rows, "out_refund_no", &ledger);
    let all = world.attempts();
    let unbelieved = |outcome: &str| outcome.contains("not trusted");
    let stale = all
        .iter()
        .filter(|(_, _, o)| unbelieved(o) && o.contains("the system clock"))
        .count();
    let forged = all
        .iter()
        .filter(|(_, _, o)| unbelieved(o) && o.contains("wechatpay_public_key"))
        .count();
    assert!(
        stale > 0 && forged > 0,
        "stale {stale}, forged {forged}: {all:?}"
    );
    for pair in all.windows(2) {
        let ((id, _, outcome), (next_id, next_kind, _)) = (&pair[0], &pair[1]);
        if unbelieved(outcome) {
            assert!(outcome.starts_with("unknown: "), "{outcome}");
            assert_eq!((next_id, next_kind.as_str()), (id, "query"), "{pair:?}");
        }
    }
    for row in &rows {
        let id = &row["out_refund_no"];
        let last = all.iter().rfind(|(refund, _, _)| refund == id).unwrap();
        assert!(last.2.starts_with("succeeded"), "{last:?}");
    }
}

/// Answers under a serial the profile does not know (the simulator answers
/// in certificate mode; the profile has only the public key): the run stops
/// with nothing reported succeeded; with the certificate configured, `resume`
/// settles every row as the ledger says, each refund created once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_under_an_unknown_serial_stop_the_run_and_are_never_believed() {
    use bulkrefund::sim::wechatpay::AnswerMode;
    let dir = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(dir.path(), GatewayKind::Wechatpay, 40, "C");
    let mut config = bulkrefund::sim::SimConfig::with_sample_keys(orders);
    config.wechatpay.answer_mode = AnswerMode::Certificate;
    let sim = bulkrefund::sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = Profiles::default().write(dir.path(), &sim.base_url());
    let world = World {
        dir,
        sim,
        config,
        pg: None,
    };
    let outcome = world.run(&batch, "wechatpay", quick()).await;
    assert_eq!(outcome.exit_code, 1);
    let stopped = outcome.report.stopped.expect("the run says why it stopped");
    assert!(stopped.contains("wechatpay_public_key_id"), "{stopped}");
    let rows = world.results(&batch);
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r["status"] != "succeeded"), "{rows:?}");
    let ledger = world.ledger();
    assert!(!ledger.refunds.is_empty(), "the applies were recorded");
    assert!(ledger.ids.iter().all(|id| id.created <= 1));

    let certificate = world.write(
        "platform.crt.pem",
        bulkrefund::sim::sample_keys::WECHATPAY_CERTIFICATE,
    );
    let setting = format!(
        "platform_certificates = [{{ file = \"{}\" }}]",
        certificate.display()
    );
    Profiles::default()
        .set("wechatpay", &setting)
        .write(world.dir.path(), &world.sim.base_url());
    let resumed = world.resume(quick()).await;
    assert_eq!(resumed.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 40);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&rows, "out_refund_no", &ledger);
}

/// A refund WeChat closed has used its id: `retry --failed` alone sends
/// nothing, `retry --failed --new-ids` sends each under a derived id against
/// the same order (the simulator's and the profile's gap between one order's
/// refunds shortened to 1 s), and the ledger holds each input id once, closed,
/// and each derived id once, paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_refund_needs_a_new_id() {
    let dir = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(dir.path(), GatewayKind::Wechatpay, 5, "X");
    let mut config = bulkrefund::sim::SimConfig::with_sample_keys(orders);
    config.wechatpay.order_gap = std::time::Duration::from_secs(1);
    config.faults = every_refund_fails();
    let sim = bulkrefund::sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = Profiles::default()
        .set("wechatpay", "same_order_gap = \"1s\"")
        .write(dir.path(), &sim.base_url());
    let world = World {
        dir,
        sim,
        config,
        pg: None,
    };
    let outcome = world.run(&batch, "wechatpay", quick()).await;
    assert_eq!(outcome.exit_code, 3);
    let rows = world.results(&batch);
    assert!(rows
        .iter()
        .all(|r| r["status"] == "failed" && r["error_code"] == "CLOSED"));
    assert!(world.retry(1, false).await.is_none(), "the ids are used up");
    world.sim.set_faults(FaultConfig::default());
    let retried = world.retry(1, true).await.expect("new ids are sent");
    assert_eq!(retried.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 10);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    for row in &rows {
        let id = &row["out_refund_no"];
        let first = ledger.refund(id).unwrap();
        let second = ledger.refund(&format!("{id}R2")).unwrap();
        assert_eq!(first.status, RefundState::Failed);
        assert_eq!(second.status, RefundState::Succeeded);
        assert_eq!(first.order_id, second.order_id);
        assert_eq!(ledger.id(id).unwrap().submissions, 1, "never resent");
    }
}
