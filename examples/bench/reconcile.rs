//! `scripts/bench --only reconcile`: a day of 100,000 Leshua refunds run
//! against the simulator, then `bulkrefund reconcile` of that day against the
//! simulator's portal statement of it (`--file`): the bill read, every refund
//! matched against the journal, the report written and the reconciliation
//! recorded. Its time and peak RSS are the reconcile process's own.

use std::path::Path;
use std::process::Command;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::clock::beijing;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::generate::LESHUA_MERCHANT;

pub async fn section(dir: &Path, scale: impl Fn(u64) -> u64, table: &mut Vec<String>) {
    let rows = scale(100_000);
    let (batch, config, sim) =
        super::prepare(dir, GatewayKind::Leshua, rows, "RC", FaultConfig::default()).await;
    let journal = dir.join("RC.db");
    super::run_batch_into(&super::binary(), &batch, &journal, &config, "leshua", &[]).await;
    // The simulator's day is the refunds' day (a run across Beijing midnight
    // would split them: then the figures below say so by their counts).
    let day = beijing(sim.clock().now()).date().to_string();
    let url = format!(
        "{}/__sim/statement/leshua?merchant_id={LESHUA_MERCHANT}&date={day}",
        sim.base_url()
    );
    let statement = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    sim.stop().await;
    let bill = dir.join(format!("{day}.leshua.statement.csv"));
    std::fs::write(&bill, &statement).unwrap();

    let report = dir.join("RC-reconcile.csv");
    let mut command = Command::new(super::binary());
    command
        .args(["reconcile", "--profile", "leshua", "--date", &day, "--file"])
        .arg(&bill)
        .arg("--out")
        .arg(&report)
        .arg("--config")
        .arg(&config)
        .arg("--journal")
        .arg(&journal);
    let run = super::measured(command).await;
    assert_eq!(run.exit, 0, "reconcile failed:\n{}", run.stderr);
    let matched = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("matched,"))
        .count();
    table.push(format!(
        "| reconcile: a day of {rows} Leshua refunds against the portal statement ({:.1} MiB), read, matched, reported and recorded | **{:.1} s**; peak RSS **{:.1} MiB**; {matched} matched | — |",
        statement.len() as f64 / (1024.0 * 1024.0),
        run.wall.as_secs_f64(),
        run.peak_rss_mib,
    ));
    let _ = std::fs::remove_file(&journal);
}
