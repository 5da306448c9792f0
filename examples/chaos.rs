//! The chaos harness behind `scripts/chaos`: 5,000 refunds with every fault on,
//! the release binary killed with SIGKILL at seeded random moments (20 times by
//! default), `resume` after each, then the verdict. Exits 1 on any discrepancy.
//! `--journal postgres` starts a PostgreSQL server of its own (as the tests
//! do: tests/pg/server.rs) and runs every command on a journal there.
//! `cargo run --release --example chaos -- [--gateway NAME] [--rows N] [--kills N] [--seed N] [--journal sqlite|postgres] [--binary PATH]`

// Shared with the tests: not every caller uses every part.
#[path = "harness/args.rs"]
mod args;
#[path = "../tests/common/chaos.rs"]
#[allow(dead_code)]
mod chaos;
#[path = "../tests/common/chaos_checks.rs"]
mod chaos_checks;
#[path = "../tests/common/journal_at.rs"]
mod journal_at;
#[path = "../tests/pg/server.rs"]
mod server;
#[path = "../tests/pg/tables.rs"]
#[allow(dead_code)]
mod tables;
#[path = "../tests/pg/twin.rs"]
mod twin;

/// What tests/pg/twin.rs takes from the tests' common module.
mod common {
    pub use super::journal_at::PgJournalAt;
}

use args::{flag, value};
use bulkrefund::journal::postgres::outside_async;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let exe = std::env::current_exe().expect("the harness knows where it is");
    let gateway = value("--gateway").map_or(bulkrefund::gateway::GatewayKind::Leshua, |name| {
        bulkrefund::gateway::GatewayKind::parse(&name)
            .unwrap_or_else(|| panic!("--gateway: no gateway {name:?}"))
    });
    let chaos = chaos::Chaos {
        gateway,
        rows: flag("--rows", 5_000),
        kills: flag("--kills", 20) as u32,
        seed: flag("--seed", 1),
        // `--binary`: a copy of its own, which no later build replaces mid-run.
        binary: value("--binary").map_or_else(
            || exe.parent().unwrap().parent().unwrap().join("bulkrefund"),
            Into::into,
        ),
        import_kills: flag("--import-kills", 5) as u32,
        retry_rounds: flag("--retry-rounds", 4) as u32,
    };
    let twin = match value("--journal").as_deref() {
        None | Some("sqlite") => None,
        Some("postgres") => {
            let twin = outside_async(|| twin::Twin::start("scripts/chaos --journal postgres"));
            Some(twin.expect("PostgreSQL's server binaries (initdb, pg_ctl) are needed"))
        }
        Some(other) => panic!("--journal: sqlite or postgres, not {other:?}"),
    };
    let pg = twin
        .as_ref()
        .map(|twin| outside_async(|| twin.for_world("alice")));
    if pg.is_some() {
        println!("journal: PostgreSQL (a server of this run's own, as role alice)");
    }
    let report = chaos::run_on(&chaos, pg, |line| println!("{line}")).await;
    let passed = report.discrepancies.is_empty() && report.verdict.starts_with("verdict: PASS");
    // The server stops when its twin is dropped: before the process exits.
    outside_async(|| drop(twin));
    std::process::exit(if passed { 0 } else { 1 });
}
