//! The team chaos harness behind `scripts/team-chaos`: a 20,000-row Leshua
//! batch started by three `run` processes at once on one PostgreSQL journal
//! (a server of its own, as the tests start one: tests/pg/server.rs), an
//! overlapping second batch started later, random processes killed with
//! SIGKILL at seeded random moments (12 by default) and started again, then
//! `resume` from one more process and the verdict (tests/common/team.rs).
//! Exits 1 on any discrepancy.
//! `cargo run --release --example team_chaos -- [--rows N] [--overlap N] [--new-rows N] [--kills N] [--seed N] [--rate N] [--lease-ms N] [--binary PATH] [--logs DIR]`

#[path = "harness/args.rs"]
mod args;
#[path = "../tests/common/chaos_checks.rs"]
#[allow(dead_code)]
mod chaos_checks;
#[path = "../tests/common/journal_at.rs"]
#[allow(dead_code)]
mod journal_at;
#[path = "../tests/pg/server.rs"]
mod server;
#[path = "../tests/pg/tables.rs"]
#[allow(dead_code)]
mod tables;
#[path = "../tests/common/team.rs"]
mod team;
#[path = "../tests/pg/twin.rs"]
mod twin;

/// What tests/pg/twin.rs takes from the tests' common module.
mod common {
    pub use super::journal_at::PgJournalAt;
}

use std::time::Duration;

use args::{flag, value};
use bulkrefund::journal::postgres::outside_async;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    let rows = flag("--rows", 20_000);
    let rate = flag("--rate", 200) as u32;
    let (overlap, new_rows) = (flag("--overlap", rows / 4), flag("--new-rows", rows / 10));
    // About how long the sending takes at the rate: 2.5 requests a refund
    // (a poll for most, queries after the faults) measured at full size
    // (27,000 refunds in 350 s at 200/s); the kills and the second batch fall within it.
    let expected = Duration::from_secs_f64((rows + new_rows) as f64 * 2.5 / f64::from(rate));
    let kills = flag("--kills", 12) as u32;
    let gap = expected / (kills + 2);
    let team = team::Team {
        rows,
        overlap,
        new_rows,
        processes: 3,
        kills,
        kill_gap: (gap / 3, gap * 5 / 3),
        second_after: expected / 4,
        seed: flag("--seed", 1),
        rate,
        lease_ms: flag("--lease-ms", 2_000),
        // `--binary`: a copy of its own, which no later build replaces mid-run.
        binary: value("--binary").map_or_else(
            || exe.parent().unwrap().parent().unwrap().join("bulkrefund"),
            Into::into,
        ),
        logs: value("--logs").map(Into::into),
        limit: expected * 4 + Duration::from_secs(300),
    };
    if let Some(logs) = &team.logs {
        std::fs::create_dir_all(logs).expect("--logs: a directory");
    }
    let twin = outside_async(|| twin::Twin::start("scripts/team-chaos"))
        .expect("PostgreSQL's server binaries (initdb, pg_ctl) are needed");
    let pg = outside_async(|| twin.for_world("alice"));
    let report = team::run(&team, pg, |line| println!("{line}")).await;
    let passed = report.discrepancies.is_empty() && report.verdict.starts_with("verdict: PASS");
    // The server stops when its twin is dropped: before the process exits.
    outside_async(|| drop(twin));
    std::process::exit(if passed { 0 } else { 1 });
}
