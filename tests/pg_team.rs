//! Three processes, one PostgreSQL journal, at CI size: the team chaos
//! harness (tests/common/team.rs; `scripts/team-chaos` runs it at full size)
//! with 300 rows started by three `run`s at once, an overlapping second
//! batch, four SIGKILLs of random processes (each started again), then
//! `resume` from one more: each refund created once at the simulator, every
//! status the ledger's, every row in the journal and its results file, and
//! the busiest second within the merchant's rate. Against a real server the
//! test starts (tests/pg/server.rs; skipped, saying so, without one).

mod common;

#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use std::time::Duration;

use bulkrefund::journal::postgres::outside_async;
use common::team::{self, Team};
use twin::Twin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_journal_through_kills_and_pay_each_refund_once() {
    let Some(twin) = outside_async(|| {
        Twin::start("three_processes_share_one_journal_through_kills_and_pay_each_refund_once")
    }) else {
        return;
    };
    let team = Team {
        rows: 300,
        overlap: 100,
        new_rows: 60,
        processes: 3,
        kills: 4,
        kill_gap: (Duration::from_millis(150), Duration::from_millis(700)),
        second_after: Duration::from_millis(600),
        seed: 21,
        rate: 100,
        lease_ms: 1000,
        binary: env!("CARGO_BIN_EXE_bulkrefund").into(),
        logs: None,
        limit: Duration::from_secs(40),
    };
    let pg = outside_async(|| twin.for_world("alice"));
    let report = team::run(&team, pg, |line| eprintln!("{line}")).await;
    assert!(
        report.discrepancies.is_empty(),
        "{}\n{:#?}",
        report.verdict,
        report.discrepancies
    );
    assert!(report.verdict.starts_with("verdict: PASS"));
    outside_async(|| drop(twin));
}
