//! Refunds of one order with `same_order_gap`: the next is sent that long
//! after the previous one is final, and another order's refund is not held
//! back. (That they go one at a time, in input order, is a conformance case:
//! tests/conformance/pacing.rs.)
mod common;

use bulkrefund::sim::faults::FaultConfig;
use common::*;

const ORDERS: usize = 20;

/// O1..O20 of 10 yuan and OX1..OX10 of 1 yuan.
fn orders() -> Orders {
    let orders = (1..=ORDERS).fold(Orders::new(), |o, i| o.leshua(&format!("O{i}"), 1000));
    (1..=10).fold(orders, |o, i| o.leshua(&format!("OX{i}"), 100))
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
