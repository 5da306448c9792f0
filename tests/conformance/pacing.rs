//! The conformance cases about when requests leave: refunds of one order go
//! one at a time, in input order, and a busy answer pauses the whole profile
//! for the `Retry-After` it carries. They assert the ledger and the journal's
//! own record of when each request left, never a wall-time bound: a loaded
//! machine can only make the gaps longer.

use bulkrefund::options::RunOptions;
use bulkrefund::sim::ledger::RefundState;

use crate::answers::faults;
use crate::common::*;
use crate::fixture::Fixture;

const ORDERS: usize = 20;

/// Each order refunded in full early in the file and by 0.01 thirty lines
/// later, O1..O20 of 10 yuan and OX1..OX10 of 1 yuan.
fn full_then_small(fixture: &dyn Fixture) -> (BatchFile, Orders) {
    let (mut batch, mut orders) = (fixture.batch(), Orders::new());
    for i in 1..=ORDERS {
        batch = batch.row(&fixture.row(&format!("F{i}"), &format!("O{i}"), 1000, 1000));
        orders = fixture.paid_order(orders, &format!("O{i}"), 1000);
    }
    for i in 1..=10 {
        batch = batch.row(&fixture.row(&format!("X{i}"), &format!("OX{i}"), 100, 100));
        orders = fixture.paid_order(orders, &format!("OX{i}"), 100);
    }
    for i in 1..=ORDERS {
        batch = batch.row(&fixture.row(&format!("S{i}"), &format!("O{i}"), 1, 1000));
    }
    (batch, orders)
}

pub async fn refunds_of_one_order_go_in_input_order(fixture: &dyn Fixture) {
    // Busy answers and latency scramble the timing: sent together, the small
    // refund would often reach the gateway first and the full one then fail.
    let scrambled = faults(|f| {
        f.busy_rate = 0.3;
        f.latency_ms = Some((1, 30));
        f.seed = Some(7);
    });
    let (batch, orders) = full_then_small(fixture);
    let world = World::with_profiles(orders, scrambled, fixture.profiles()).await;
    let batch = batch.write(world.dir.path(), "orders.csv");
    // Room for the busy answers: a refused refund costs WeChat two requests
    // (the apply and the query that settles its INVALID_REQUEST), each may be
    // busy, and refusals beyond 6 a second are answered 429 (one run's
    // unluckiest small refund took 11 attempts).
    let options = RunOptions {
        max_attempts: Some(24),
        ..quick()
    };
    let outcome = world.run(&batch, fixture.profile(), options).await;
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
    let rows = world.results(&batch);
    let small = rows
        .iter()
        .filter(|r| r[fixture.id_column()].starts_with('S'));
    assert_eq!(small.clone().count(), ORDERS);
    for row in small {
        assert_eq!(row["status"], "failed");
        assert_eq!(row["error_code"], fixture.over_refund_code());
    }
}

/// Every attempt as the journal holds it, in the order they left:
/// (refund, when it left in ms, latency in ms, HTTP status).
fn attempts_in_order(world: &World) -> Vec<(i64, i64, i64, Option<u16>)> {
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let mut stmt = conn
        .prepare("SELECT refund, at, latency_ms, http_status FROM attempts ORDER BY at, id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let at: String = r.get(1)?;
            let at = at.parse::<jiff::Timestamp>().unwrap().as_millisecond();
            Ok((r.get(0)?, at, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

/// One request in flight at a time, every answer busy, the busy answers
/// (503, or the gateway's 429) carrying `Retry-After: 1`: after each the next
/// request, whichever refund it is for, leaves at least a second after that
/// answer came back.
pub async fn busy_answers_pause_the_profile(fixture: &dyn Fixture) {
    let busy = faults(|f| {
        f.busy_rate = 1.0;
        f.retry_after_secs = Some(1);
        f.seed = Some(2);
    });
    let scratch = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(scratch.path(), fixture.kind(), 3, "Z");
    let world = World::with_profiles(orders, busy, Profiles::default().pace(2000, 1)).await;
    let two = RunOptions {
        max_attempts: Some(2),
        ..quick()
    };
    let outcome = world.run(&batch, fixture.profile(), two).await;
    assert_eq!(outcome.exit_code, 3, "busy until the attempts ran out");
    let ledger = world.ledger();
    assert!(ledger.refunds.is_empty() && ledger.ids.is_empty());
    assert_eq!(ledger.requests, 3 * 2);
    let attempts = attempts_in_order(&world);
    assert_eq!(attempts.len(), 6);
    let busy = fixture.busy_status();
    let paused: Vec<_> = attempts
        .windows(2)
        .filter(|pair| pair[0].3 == Some(busy))
        .collect();
    assert!(!paused.is_empty(), "no {busy} among {attempts:?}");
    assert!(
        paused.iter().any(|pair| pair[0].0 != pair[1].0),
        "a pause held back another refund: {attempts:?}"
    );
    for pair in paused {
        let (answered, next) = (pair[0].1 + pair[0].2, pair[1].1);
        // The journal's times are whole milliseconds, truncated.
        assert!(
            next + 2 >= answered + 1000,
            "the next request left {} ms after a {busy} asking for 1 s: {pair:?}",
            next - answered
        );
    }
}
