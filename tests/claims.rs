//! A run whose refund another process took over while its request was in
//! flight: the late answer is fenced off (nothing of it recorded, a count in
//! the engine's report). The run then waits for the other process's lease on
//! the refund; when it runs out (that process died), the run recovers the
//! refund and settles it by a query, never by a second send.

mod common;

use std::time::Duration;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use common::*;
use rusqlite::{Connection, OpenFlags};

/// Another process's claim on the refund in flight, as it would take it
/// once this one's lease lapsed, under a lease of its own that runs out in
/// half a second (that process then dies): true once taken.
fn take_over_the_refund_in_flight(journal: &std::path::Path) -> bool {
    // Never creates the journal: the run does.
    let Ok(conn) = Connection::open_with_flags(journal, OpenFlags::SQLITE_OPEN_READ_WRITE) else {
        return false;
    };
    conn.execute(
        "UPDATE refunds SET claim_owner = 'elsewhere:2:other', claim_generation = claim_generation + 1,
             lease_until_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 500
         WHERE state = 'in_flight'",
        [],
    )
    .is_ok_and(|taken| taken == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_after_a_takeover_is_fenced_off_and_resume_queries() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 1, "C");
    let faults = FaultConfig {
        latency_ms: Some((1_500, 1_500)),
        ..FaultConfig::default()
    };
    let world = World::start(orders, faults).await;
    let journal = world.journal();
    // Within the answer's 1.5 s, or never (the run's report then says so).
    let take_over = async {
        for _ in 0..100 {
            if take_over_the_refund_in_flight(&journal) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (outcome, ()) = tokio::join!(world.run(&batch, "leshua", quick()), take_over);
    assert_eq!(outcome.report.fenced, 1);
    assert_eq!(outcome.exit_code, 0);
    // Sent once; its late answer was not recorded: the one attempt is the
    // query made once the other process's lease ran out.
    let ledger = world.ledger();
    assert_eq!((ledger.ids[0].submissions, ledger.ids[0].created), (1, 1));
    let attempts: Vec<String> = world.attempts().into_iter().map(|a| a.1).collect();
    assert_eq!(attempts, ["query"]);
    let (state, owner): (String, Option<String>) = Connection::open(&journal)
        .unwrap()
        .query_row("SELECT state, claim_owner FROM refunds", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!((state.as_str(), owner), ("succeeded", None));
    let whys: Vec<String> = Connection::open(&journal)
        .unwrap()
        .prepare("SELECT why FROM events ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        whys.iter()
            .any(|w| w == bulkrefund::journal::fence::LAPSED_IN_FLIGHT),
        "{whys:?}"
    );
    let rows = world.results(&batch);
    assert_eq!(rows[0]["status"], "succeeded");
    // Nothing is left for `resume`.
    let resumed = world.resume(quick()).await;
    assert_eq!(resumed.exit_code, 0);
    assert_eq!(world.ledger().requests, ledger.requests);
}
