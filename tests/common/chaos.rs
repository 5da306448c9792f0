//! The chaos harness: a batch against a simulator with every fault on, the real
//! binary killed with SIGKILL at seeded random moments, `resume` after each, and
//! then the simulator's ledger checked against the journal and the results
//! file: nothing created twice, nothing lost, every status equal to the ledger's.
//! `scripts/chaos` runs it at full size; `tests/chaos.rs` runs a short variant.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::{self, generate, SimConfig};

pub struct Chaos {
    pub rows: u64,
    pub kills: u32,
    pub seed: u64,
    /// The `bulkrefund` binary to run and kill.
    pub binary: PathBuf,
}

pub struct Report {
    pub discrepancies: Vec<String>,
    pub verdict: String,
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        latency_ms: Some((1, 10)),
        rate_limit: Some(600),
        fail_rate: 0.05,
        busy_rate: 0.02,
        drop_rate: 0.05,
        bad_sign_rate: 0.05,
        processing_for: Duration::from_millis(300),
        fail_refund_rate: 0.1,
        seed: Some(seed),
        ..FaultConfig::default()
    }
}

/// Whether `run` got as far as recording the whole batch.
fn imported(journal: &Path) -> bool {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    conn.query_row(
        "SELECT COUNT(*) > 0 FROM batches WHERE imported_at IS NOT NULL",
        [],
        |r| r.get(0),
    )
    .unwrap_or(false)
}

/// Runs the harness; `say` gets one line per kill, then the verdict.
pub async fn run(chaos: &Chaos, mut say: impl FnMut(&str)) -> Report {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let batch = dir.path().join("chaos.csv");
    let orders = dir.path().join("chaos-orders.csv");
    generate::write_batch(GatewayKind::Leshua, chaos.rows, "X", &batch, Some(&orders))
        .expect("a generated batch");
    let mut sim_config =
        SimConfig::with_sample_keys(sim::ledger::read_orders(&orders).expect("orders"));
    sim_config.faults = faults(chaos.seed);
    let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts");
    let keys = generate::write_sample_keys(dir.path()).expect("the sample keys are written");
    let config = dir.path().join("bulkrefund.toml");
    std::fs::write(
        &config,
        generate::simulator_config(&sim.base_url(), &keys, 1000, 32),
    )
    .unwrap();
    let journal = dir.path().join("journal.db");
    let command = |final_run: bool| {
        let mut command = tokio::process::Command::new(&chaos.binary);
        if imported(&journal) {
            command.args([
                "resume",
                "--poll-for",
                if final_run { "120s" } else { "60s" },
            ]);
        } else {
            command.args(["run", batch.to_str().unwrap(), "--profile", "leshua"]);
        }
        command
            .arg("--config")
            .arg(&config)
            .arg("--journal")
            .arg(&journal)
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        command
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(chaos.seed);
    for kill in 1..=chaos.kills {
        let name = if imported(&journal) { "resume" } else { "run" };
        let mut child = command(false).spawn().expect("the binary starts");
        let delay = Duration::from_millis(rng.gen_range(30..700));
        tokio::select! {
            status = child.wait() => {
                let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
                say(&format!("kill {kill:>2}: {name} ended by itself (exit {code}) before {} ms", delay.as_millis()));
            }
            _ = tokio::time::sleep(delay) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let ledger = sim.ledger();
                say(&format!(
                    "kill {kill:>2}: {name} killed (SIGKILL) after {:>3} ms; the simulator has seen {} requests and holds {} refunds",
                    delay.as_millis(), ledger.requests, ledger.refunds.len()
                ));
            }
        }
    }
    let mut last_exit = -1;
    for _ in 0..10 {
        let status = command(true).status().await.expect("the binary runs");
        last_exit = status.code().unwrap_or(-1);
        if matches!(last_exit, 0 | 3) {
            break;
        }
    }
    let discrepancies = check(&batch, &journal, &sim.ledger(), last_exit);
    let ledger = sim.ledger();
    let succeeded = ledger
        .refunds
        .iter()
        .filter(|r| r.status == RefundState::Succeeded)
        .count();
    let verdict = if discrepancies.is_empty() {
        format!(
            "verdict: PASS: {} rows after {} kills; {} refunds created, each once ({succeeded} succeeded, {} failed); none lost; every status equals the ledger's",
            chaos.rows, chaos.kills, ledger.refunds.len(), ledger.refunds.len() - succeeded
        )
    } else {
        format!("verdict: FAIL: {} discrepancies", discrepancies.len())
    };
    for discrepancy in discrepancies.iter().take(20) {
        say(&format!("  {discrepancy}"));
    }
    say(&verdict);
    sim.stop().await;
    Report {
        discrepancies,
        verdict,
    }
}

/// Every way the journal, the results file and the ledger could disagree.
fn check(
    batch: &Path,
    journal: &Path,
    ledger: &sim::ledger::LedgerSnapshot,
    last_exit: i32,
) -> Vec<String> {
    let mut problems = Vec::new();
    if !matches!(last_exit, 0 | 3) {
        problems.push(format!(
            "the last resume exited {last_exit}: something is still unresolved"
        ));
    }
    let input: Vec<String> = csv::Reader::from_path(batch)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect();
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut journal_refunds: HashMap<String, (String, Option<String>, bool)> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT refund_id, state, gateway_refund_id, ever_created FROM refunds")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
    {
        let (id, state, gateway_id, created) = row.unwrap();
        journal_refunds.insert(id, (state, gateway_id, created));
    }
    let ledger_refunds: HashMap<&str, &sim::ledger::LedgerRefund> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r))
        .collect();
    for id in ledger.ids.iter().filter(|id| id.created > 1) {
        problems.push(format!("{} was created {} times", id.refund_id, id.created));
    }
    let input_ids: HashSet<&str> = input.iter().map(String::as_str).collect();
    for refund in &ledger.refunds {
        if !input_ids.contains(refund.refund_id.as_str()) {
            problems.push(format!(
                "the gateway holds {} which no row asked for",
                refund.refund_id
            ));
        }
    }
    for id in &input {
        let Some((state, gateway_id, created)) = journal_refunds.get(id) else {
            problems.push(format!("{id} was lost: it is not in the journal"));
            continue;
        };
        match (state.as_str(), ledger_refunds.get(id.as_str())) {
            ("succeeded", Some(r)) if r.status == RefundState::Succeeded => {}
            ("failed", Some(r)) if r.status == RefundState::Failed => {}
            ("failed", None) if !created => {}
            (state, found) => problems.push(format!(
                "{id}: the journal says {state}, the ledger {:?}",
                found.map(|r| r.status)
            )),
        }
        if let (Some(r), Some(gateway_id)) = (ledger_refunds.get(id.as_str()), gateway_id) {
            if &r.gateway_refund_id != gateway_id {
                problems.push(format!(
                    "{id}: gateway id {gateway_id} in the journal, {} at the gateway",
                    r.gateway_refund_id
                ));
            }
        }
    }
    let results_path = batch.with_file_name("chaos.results.csv");
    match csv::Reader::from_path(&results_path) {
        Err(e) => problems.push(format!("no results file: {e}")),
        Ok(mut reader) => {
            let header = reader.headers().unwrap().clone();
            let column = |name: &str| header.iter().position(|h| h == name).unwrap();
            let (id_col, status_col) = (column("merchant_refund_id"), column("status"));
            let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            if rows.len() != input.len() {
                problems.push(format!(
                    "the results file has {} rows for {} input rows",
                    rows.len(),
                    input.len()
                ));
            }
            for row in rows {
                let id = &row[id_col];
                let expected = journal_refunds
                    .get(id)
                    .map(|(s, _, _)| s.as_str())
                    .unwrap_or("missing");
                if &row[status_col] != expected {
                    problems.push(format!(
                        "{id}: the results file says {}, the journal {expected}",
                        &row[status_col]
                    ));
                }
            }
        }
    }
    problems
}
