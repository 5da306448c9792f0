//! Retry chains belong to the refund, and a new id is derived only after the
//! gateway confirms the old one failed or never existed. Against the simulator:
//! the ledger proves no refund was paid twice.

mod common;

use std::path::Path;
use std::time::Duration;

use bulkrefund::commands::retry;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

fn fail_every_refund() -> FaultConfig {
    every_refund_fails()
}

/// Marks refunds `failed` in the journal behind the engine's back: a failure
/// misread, as by a bug nobody has found yet.
fn misrecord_as_failed(journal: &Path, refund_ids: &[&str]) {
    let conn = rusqlite::Connection::open(journal).unwrap();
    for id in refund_ids {
        let changed = conn
            .execute(
                "UPDATE refunds SET state = 'failed', error_code = '-20001', ever_created = 0 WHERE refund_id = ?1",
                [id],
            )
            .unwrap();
        assert_eq!(changed, 1, "{id}");
    }
}

fn state_of(journal: &Path, refund_id: &str) -> String {
    let conn = rusqlite::Connection::open(journal).unwrap();
    conn.query_row(
        "SELECT state FROM refunds WHERE refund_id = ?1",
        [refund_id],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_listed_by_two_batches_is_retried_once() {
    let work = tempfile::tempdir().unwrap();
    let (a, orders) = generated(work.path(), GatewayKind::Leshua, 5, "A");
    let world = World::start(orders, fail_every_refund()).await;
    assert_eq!(world.run(&a, "leshua", quick()).await.exit_code, 3);
    // b.csv repeats a.csv's refunds: batch 2's rows name the same refunds.
    let b = work.path().join("b.csv");
    std::fs::copy(&a, &b).unwrap();
    assert_eq!(world.run(&b, "leshua", quick()).await.exit_code, 3);
    world.sim.set_faults(FaultConfig::default());

    let first = world.retry(1, true).await.expect("batch 1 is retried");
    assert_eq!(first.exit_code, 0);
    // Batch 2 names the same refunds: each already has a retry, which succeeded.
    let plan = world.plan(2, true);
    assert!(plan.send.is_empty(), "{plan:?}");
    assert_eq!(plan.skipped.len(), 5);
    assert_eq!(
        plan.skipped[0],
        (
            "AR000000001".to_owned(),
            "already retried as AR000000001R2, succeeded".to_owned()
        )
    );
    assert!(
        world.retry(2, true).await.is_none(),
        "nothing is sent again"
    );

    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 10, "5 failed refunds, 5 retries");
    for i in 1..=5 {
        let root = format!("AR{i:09}");
        assert_eq!(ledger.refund(&root).unwrap().status, RefundState::Failed);
        assert_eq!(
            ledger.refund(&format!("{root}R2")).unwrap().status,
            RefundState::Succeeded
        );
        assert!(ledger.refund(&format!("{root}R3")).is_none(), "never R3");
    }
    // Both batches' results report the chain's head.
    for batch in [&a, &b] {
        let rows = world.results(batch);
        assert!(
            rows.iter().all(|r| r["status"] == "succeeded"),
            "{batch:?}: {rows:?}"
        );
    }
    // The journal itself refuses a second retry of the same refund.
    let root: i64 = rusqlite::Connection::open(world.journal())
        .unwrap()
        .query_row(
            "SELECT id FROM refunds WHERE refund_id = 'AR000000001'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut journal = bulkrefund::journal::Journal::open(&world.journal()).unwrap();
    let second = bulkrefund::journal::chain::RetryStart {
        refund: root,
        new_id: Some("AR000000001R3".into()),
        why: "a second retry".into(),
    };
    let error = journal.start_retries(1, &[second]).unwrap_err().to_string();
    assert!(error.contains("already has a retry"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_misread_is_caught_by_the_gateway_before_a_new_id() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 4, "Q");
    let world = World::start(orders, FaultConfig::default()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 0);
    // The gateway paid all four; the journal wrongly says two of them failed.
    misrecord_as_failed(&world.journal(), &["QR000000001", "QR000000003"]);
    let plan = world.plan(1, true);
    assert_eq!(
        plan.send.len(),
        2,
        "from the journal alone, two look failed"
    );
    assert!(world.retry(1, true).await.is_none(), "nothing is sent");
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 4, "no refund was paid twice");
    assert!(ledger.id("QR000000001R2").is_none());
    // The journal now says what the gateway says, and the results follow.
    assert_eq!(state_of(&world.journal(), "QR000000001"), "succeeded");
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_still_processing_is_followed_not_replaced() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Lianshang, 2, "S");
    let world = World::start(
        orders,
        FaultConfig {
            processing_for: Duration::from_millis(1500),
            ..FaultConfig::default()
        },
    )
    .await;
    let outcome = world
        .run(
            &batch,
            "lianshang",
            RunOptions {
                poll_for: Duration::ZERO,
                ..quick()
            },
        )
        .await;
    assert_eq!(outcome.exit_code, 4, "left processing");
    misrecord_as_failed(&world.journal(), &["S-R000000001"]);
    assert!(world.retry(1, true).await.is_none());
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.id("S-R000000001R2").is_none());
    // The retry followed it to its end instead.
    assert_eq!(state_of(&world.journal(), "S-R000000001"), "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_cannot_be_verified_skips_the_refund() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "U");
    let world = World::start(orders, fail_every_refund()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
    world.sim.set_faults(FaultConfig {
        bad_sign_rate: 1.0,
        ..FaultConfig::default()
    });
    // Nothing could be confirmed, so nothing was retried: an error (exit 1), not a success.
    let request = retry::RetryRequest {
        batch: 1,
        new_ids: true,
        yes: true,
        allow_over_limit: false,
    };
    let error = retry::run(&world.app(quick()), request)
        .await
        .map(|_| ())
        .unwrap_err();
    let nothing = error
        .downcast_ref::<retry::NothingConfirmed>()
        .expect("nothing confirmed");
    assert_eq!(nothing.count, 3, "{error:#}");
    let plan_after = world.plan(1, true);
    assert_eq!(
        plan_after.send.len(),
        3,
        "still failed, still retryable later"
    );
    assert_eq!(world.ledger().refunds.len(), 3, "nothing new was created");
    // With answers that verify, the gateway confirms the failures and the retries go.
    world.sim.set_faults(FaultConfig::default());
    assert_eq!(world.retry(1, true).await.unwrap().exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 6);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_retry_checks_every_earlier_link() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 2, "L");
    let world = World::start(orders, fail_every_refund()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
    assert_eq!(
        world.retry(1, true).await.unwrap().exit_code,
        3,
        "R2 failed too"
    );
    world.sim.set_faults(FaultConfig::default());
    let third = world.retry(1, true).await.expect("R3 is sent");
    assert_eq!(third.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 6);
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let queries = |id: &str| -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM attempts a JOIN refunds f ON f.id = a.refund
             WHERE f.refund_id = ?1 AND a.kind = 'query'",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    for i in 1..=2 {
        let root = format!("LR{i:09}");
        assert_eq!(
            ledger.refund(&format!("{root}R3")).unwrap().status,
            RefundState::Succeeded
        );
        assert_eq!(ledger.id(&root).unwrap().submissions, 1);
        // The root was asked about before R2 and again before R3; R2 before R3.
        assert_eq!(queries(&root), 2, "{root}");
        assert!(queries(&format!("{root}R2")) >= 1, "{root}R2");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_listing_a_refund_reports_how_it_ended() {
    let work = tempfile::tempdir().unwrap();
    let (a, orders) = generated(work.path(), GatewayKind::Leshua, 3, "E");
    let world = World::start(orders, fail_every_refund()).await;
    assert_eq!(world.run(&a, "leshua", quick()).await.exit_code, 3);
    let b = work.path().join("b.csv");
    std::fs::copy(&a, &b).unwrap();
    assert_eq!(world.run(&b, "leshua", quick()).await.exit_code, 3);
    // The retries are still refunding when the retry's run stops polling.
    world.sim.set_faults(FaultConfig {
        processing_for: Duration::from_secs(1),
        ..FaultConfig::default()
    });
    let stop_polling = RunOptions {
        poll_for: Duration::ZERO,
        ..quick()
    };
    let retried = world
        .retry_with(2, true, stop_polling)
        .await
        .expect("the retries are sent");
    assert_eq!(retried.exit_code, 4, "still processing");
    for batch in [&a, &b] {
        let rows = world.results(batch);
        assert!(rows.iter().all(|r| r["status"] == "processing"), "{rows:?}");
    }
    // Another run that lists them follows them to their end: every batch that
    // lists them says so, batch 1 included, though it had finished long ago.
    let c = work.path().join("c.csv");
    std::fs::copy(&a, &c).unwrap();
    assert_eq!(world.run(&c, "leshua", quick()).await.exit_code, 0);
    for batch in [&a, &b, &c] {
        let rows = world.results(batch);
        assert!(
            rows.iter().all(|r| r["status"] == "succeeded"),
            "{batch:?}: {rows:?}"
        );
    }
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 6);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

/// Issue 18, point 2: a gateway that paid `D1` but answered a signed -20023,
/// then said -5019 ("no refund") to the query before the retry. A new id
/// would pay the refund twice; the same id cannot (the gateway's idempotency
/// holds even when its answers lie), so `--new-ids` resends `D1` itself, and
/// the plan says so and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_the_gateway_says_never_existed_is_resent_under_its_own_id() {
    // The order could pay the refund twice: only the ids keep it from it.
    let world = World::start(
        Orders::new().leshua("T1", 2000),
        FaultConfig {
            lies: 2,
            ..FaultConfig::default()
        },
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["D1,T1,1000"])
        .write(world.dir.path(), "lie.csv");
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
    assert_eq!(state_of(&world.journal(), "D1"), "failed");
    assert_eq!(
        world.ledger().refund("D1").unwrap().status,
        RefundState::Succeeded
    );

    let retried = world
        .bulkrefund(&["retry", "--batch", "1", "--failed", "--new-ids", "--yes"])
        .await;
    assert_eq!(retried.code, 0, "{}", retried.stderr);
    let said: Vec<&str> = retried.stderr.lines().collect();
    assert_eq!(said[0], "retry of batch 1 will send 1 refunds, 10.00 yuan:");
    assert_eq!(
        said[1],
        "  under the same id (the gateway says it has no refund with this id: sent again under the same id, \
         never a new one (if the gateway were wrong, its idempotency still keeps the payer from being paid twice)):"
    );
    assert_eq!(
        said[2],
        format!(
            "    {:<40} {:>14} yuan   was failed: -20023 refundable balance too low",
            "D1", "10.00"
        )
    );
    let ledger = world.ledger();
    assert!(ledger.id("D1R2").is_none(), "no new id was derived");
    assert_eq!(ledger.refunds.len(), 1, "paid once");
    assert_eq!(ledger.id("D1").unwrap().created, 1);
    // The resend met "already exists", and the query after it the truth.
    assert_eq!(state_of(&world.journal(), "D1"), "succeeded");
}
