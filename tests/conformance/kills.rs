//! The conformance case of SIGKILL mid-run: a short run of the chaos harness
//! (`tests/common/chaos.rs`) for the gateway: kills while the batch is
//! imported and while it is sent, rounds of `retry --new-ids`, then the
//! ledger, the journal and the results file compared. `scripts/chaos` runs
//! the full size.

use crate::common::chaos::{self, Chaos};
use crate::fixture::Fixture;

pub async fn sigkill_mid_run_loses_and_doubles_nothing(fixture: &dyn Fixture) {
    let chaos = Chaos {
        gateway: fixture.kind(),
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
