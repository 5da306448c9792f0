//! A short run of the chaos harness: a few SIGKILLs at seeded random moments
//! with every simulator fault on, then the ledger, journal and results compared.
//! `scripts/chaos` runs the full size (5,000 rows, 20+ kills).

mod common;

use common::chaos::{self, Chaos};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_random_kills_lose_and_double_nothing() {
    let chaos = Chaos {
        gateway: bulkrefund::gateway::GatewayKind::Leshua,
        rows: 300,
        kills: 4,
        seed: 11,
        binary: env!("CARGO_BIN_EXE_bulkrefund").into(),
        import_kills: 2,
        retry_rounds: 2,
    };
    let report = chaos::run(&chaos, |line| eprintln!("{line}")).await;
    assert!(
        report.discrepancies.is_empty(),
        "{}\n{:#?}",
        report.verdict,
        report.discrepancies
    );
    assert!(report.verdict.starts_with("verdict: PASS"));
}
