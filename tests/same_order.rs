//! Refunds of one order reach the gateway one at a time, in input order: the
//! next is sent only once the previous one is final (and, with
//! `same_order_gap`, that long after). Against the simulator's ledger.

mod common;

use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

const ORDERS: usize = 20;

/// Each order refunded in full early in the file and by 0.01 thirty lines later.
fn full_then_small() -> BatchFile {
    let mut batch = BatchFile::leshua();
    for i in 1..=ORDERS {
        batch = batch.row(&format!("F{i},O{i},1000"));
    }
    for i in 1..=10 {
        batch = batch.row(&format!("X{i},OX{i},100"));
    }
    for i in 1..=ORDERS {
        batch = batch.row(&format!("S{i},O{i},1"));
    }
    batch
}

/// O1..O20 of 10 yuan and OX1..OX10 of 1 yuan.
fn orders() -> Orders {
    let orders = (1..=ORDERS).fold(Orders::new(), |o, i| o.leshua(&format!("O{i}"), 1000));
    (1..=10).fold(orders, |o, i| o.leshua(&format!("OX{i}"), 100))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_refund_of_an_order_waits_for_the_earlier_one() {
    // Busy answers and latency scramble the timing: sent together, the small
    // refund would often reach the gateway first and the full one then fail.
    let world = World::start(
        orders(),
        FaultConfig {
            busy_rate: 0.3,
            latency_ms: Some((1, 30)),
            seed: Some(7),
            ..FaultConfig::default()
        },
    )
    .await;
    let batch = full_then_small().write(world.dir.path(), "orders.csv");
    let options = RunOptions {
        max_attempts: Some(12),
        ..quick()
    };
    let outcome = world.run(&batch, "leshua", options).await;
    assert_eq!(outcome.exit_code, 3, "the small refunds fail");
    let ledger = world.ledger();
    for i in 1..=ORDERS {
        assert_eq!(
            ledger.refund(&format!("F{i}")).map(|r| r.status),
            Some(RefundState::Succeeded),
            "the full refund of O{i}, asked first, is paid"
        );
        assert!(
            ledger.refund(&format!("S{i}")).is_none(),
            "S{i} is refused: nothing is left of O{i}"
        );
    }
    for row in world
        .results(&batch)
        .iter()
        .filter(|r| r["merchant_refund_id"].starts_with('S'))
    {
        assert_eq!(row["status"], "failed");
        assert_eq!(row["error_code"], "'-20023");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_order_gap_keeps_a_pause_between_refunds_of_one_order() {
    let profiles = Profiles::default().set("leshua", "same_order_gap = \"700ms\"");
    let world = World::with_profiles(orders(), FaultConfig::default(), profiles).await;
    let batch = BatchFile::leshua()
        .rows(["A1,O1,300", "B1,OX1,100", "A2,O1,300", "A3,O1,300"])
        .write(world.dir.path(), "gap.csv");
    let outcome = world.run(&batch, "leshua", quick()).await;
    assert_eq!(outcome.exit_code, 0);
    let rows = world.results(&batch);
    let at = |id: &str, column: &str| {
        let row = rows.iter().find(|r| r["merchant_refund_id"] == id).unwrap();
        row[column].parse::<jiff::Timestamp>().unwrap()
    };
    for (earlier, later) in [("A1", "A2"), ("A2", "A3")] {
        let gap = at(later, "first_sent_at").duration_since(at(earlier, "finished_at"));
        assert!(
            gap >= jiff::SignedDuration::from_millis(700),
            "{later} was sent {gap} after {earlier} finished"
        );
    }
    // Another order's refund is not held back by them.
    assert!(at("B1", "first_sent_at") < at("A2", "first_sent_at"));
}
