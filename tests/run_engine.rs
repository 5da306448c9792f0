//! `run` and `resume` in-process against the simulator over TCP: exact results
//! files checked against the simulator's ledger.

mod common;

use std::time::Duration;

use bulkrefund::commands::app::default_results_path;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_row_batches_all_succeed_in_input_order() {
    let work = tempfile::tempdir().unwrap();
    let (leshua, mut orders) = generated(work.path(), GatewayKind::Leshua, 1000, "A");
    let (lianshang, more) = generated(work.path(), GatewayKind::Lianshang, 1000, "B");
    orders.extend(more);
    let world = World::start(orders, FaultConfig::default()).await;
    for (batch, profile, id_column) in [
        (&leshua, "leshua", "merchant_refund_id"),
        (&lianshang, "lianshang", "out_refund_id"),
    ] {
        let outcome = world.run(batch, profile, quick()).await;
        assert_eq!(outcome.exit_code, 0);
        let results = default_results_path(batch);
        let header = csv::Reader::from_path(&results)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let input = csv::Reader::from_path(batch)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let mut expected: Vec<&str> = input.iter().collect();
        expected.extend(bulkrefund::report::results::ADDED_COLUMNS);
        assert_eq!(
            header.iter().collect::<Vec<_>>(),
            expected,
            "input columns (unknown ones too) come first"
        );
        let rows = read_results(&results);
        assert_eq!(rows.len(), 1000);
        let lines: Vec<u64> = rows.iter().map(|r| r["line"].parse().unwrap()).collect();
        assert_eq!(lines, (2..=1001).collect::<Vec<u64>>(), "input order");
        assert!(rows
            .iter()
            .all(|r| r["status"] == "succeeded" && r["attempts"] == "1"));
        assert_results_match_ledger(&rows, id_column, &world.ledger());
    }
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2000);
    assert!(ledger
        .ids
        .iter()
        .all(|id| id.submissions == 1 && id.created == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_and_every_row_ends_as_the_ledger_says() {
    let work = tempfile::tempdir().unwrap();
    let (leshua, mut orders) = generated(work.path(), GatewayKind::Leshua, 300, "F");
    let (lianshang, more) = generated(work.path(), GatewayKind::Lianshang, 300, "G");
    orders.extend(more);
    let faults = FaultConfig {
        fail_rate: 0.1,
        busy_rate: 0.1,
        drop_rate: 0.1,
        bad_sign_rate: 0.1,
        rate_limit: Some(400),
        processing_for: Duration::from_millis(300),
        fail_refund_rate: 0.2,
        seed: Some(42),
        ..FaultConfig::default()
    };
    let world = World::start(orders, faults).await;
    let engine = RunOptions {
        max_attempts: Some(30),
        ..quick()
    };
    for (batch, profile, id_column) in [
        (&leshua, "leshua", "merchant_refund_id"),
        (&lianshang, "lianshang", "out_refund_id"),
    ] {
        let outcome = world.run(batch, profile, engine.clone()).await;
        let rows = world.results(batch);
        assert_eq!(rows.len(), 300);
        assert_results_match_ledger(&rows, id_column, &world.ledger());
        // With attempts to spare, every row ends final: what the ledger holds.
        assert!(
            rows.iter()
                .all(|r| r["status"] == "succeeded" || r["status"] == "failed"),
            "{:?}",
            outcome.batches
        );
        assert_eq!(
            outcome.exit_code, 3,
            "some refunds end failed (fail_refund_rate)"
        );
        let failed = rows.iter().filter(|r| r["status"] == "failed").count();
        assert!(failed > 20 && failed < 120, "{failed} failed");
    }
    let ledger = world.ledger();
    assert_eq!(
        ledger.refunds.len(),
        600,
        "every refund was created exactly once"
    );
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status != RefundState::Processing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_after_a_partial_failure_sends_nothing_settled() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 40, "P");
    // Refunds stay processing longer than the first run polls for.
    let world = World::start(
        orders,
        FaultConfig {
            processing_for: Duration::from_millis(2500),
            ..FaultConfig::default()
        },
    )
    .await;
    let first = world
        .run(
            &batch,
            "leshua",
            RunOptions {
                poll_for: Duration::ZERO,
                ..quick()
            },
        )
        .await;
    assert_eq!(first.exit_code, 4, "left processing: resume or re-run");
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "processing"));
    assert_results_match_ledger(&rows, "merchant_refund_id", &world.ledger());
    // The same file again: nothing is submitted again; the processing ones are polled to the end.
    let second = world.run(&batch, "leshua", quick()).await;
    assert_eq!(second.exit_code, 0);
    let ledger = world.ledger();
    assert!(
        ledger.ids.iter().all(|id| id.submissions == 1),
        "nothing was sent twice"
    );
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&rows, "merchant_refund_id", &ledger);
    // A third run of the finished file sends nothing at all.
    let before = world.ledger().requests;
    let third = world.run(&batch, "leshua", quick()).await;
    assert_eq!(third.exit_code, 0);
    assert_eq!(world.ledger().requests, before);
    assert_eq!(third.report.requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_queried_never_resent_blindly() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 50, "U");
    // Every refund is recorded, then answered 500: each must be learned by a query.
    let world = World::start(
        orders,
        FaultConfig {
            fail_rate: 1.0,
            ..FaultConfig::default()
        },
    )
    .await;
    let outcome = world.run(&batch, "leshua", quick()).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert!(
        ledger.ids.iter().all(|id| id.submissions == 1),
        "a query, not a resend, settled each"
    );
    let rows = world.results(&batch);
    assert!(rows
        .iter()
        .all(|r| r["status"] == "succeeded" && r["attempts"] == "2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finishes_what_a_run_left_and_rewrites_results() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Lianshang, 20, "S");
    let world = World::start(
        orders,
        FaultConfig {
            processing_for: Duration::from_millis(1500),
            ..FaultConfig::default()
        },
    )
    .await;
    let first = world
        .run(
            &batch,
            "lianshang",
            RunOptions {
                poll_for: Duration::ZERO,
                ..quick()
            },
        )
        .await;
    assert_eq!(first.exit_code, 4);
    let resumed = world.resume(quick()).await;
    assert_eq!(resumed.exit_code, 0);
    assert_eq!(resumed.batches.len(), 1);
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&rows, "out_refund_id", &world.ledger());
    let again = world.resume(quick()).await;
    assert_eq!((again.exit_code, again.report.requests), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excel_results_start_with_a_bom() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "X");
    let world = World::start(orders, FaultConfig::default()).await;
    let outcome = world
        .run(
            &batch,
            "leshua",
            RunOptions {
                excel: true,
                ..quick()
            },
        )
        .await;
    assert_eq!(outcome.exit_code, 0);
    let bytes = std::fs::read(default_results_path(&batch)).unwrap();
    assert!(
        bytes.starts_with("\u{feff}merchant_refund_id,".as_bytes()),
        "{:?}",
        &bytes[..20]
    );
}
