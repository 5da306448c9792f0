//! The chaos harness: a batch of one gateway (`Chaos::gateway`, its sample
//! profile) against a simulator with every fault on, the real
//! binary killed with SIGKILL at seeded random moments: first while it imports
//! (the journal must then hold no batch or the whole batch), then while it
//! sends, with `resume` after each; then rounds of `retry --new-ids`, each
//! killed at a random moment or not, settled by `resume`. Last, the simulator's
//! ledger is checked against the journal and the results file: nothing created
//! twice, no refund paid by two links of its chain, nothing lost, every status
//! equal to the ledger's. `scripts/chaos` runs it at full size (Leshua;
//! `--gateway wechatpay`: WeChat Pay, with its abnormal refunds and stale
//! answers among the faults; `--gateway alipay`: Alipay, with answers that
//! say `fund_change` `N` for refunds it never made); the
//! conformance suite (tests/conformance/kills.rs) runs a short variant per gateway.
//! On either journal ([`run_on`]): a SQLite file, or with `--journal postgres`
//! a PostgreSQL one, every command on it and every read of it through one
//! seam (journal_at.rs), asserting the same.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::{self, generate, SimConfig};

use super::chaos_checks::{batch_heads, journal_refunds, statuses_against_ledger};
use super::journal_at::{JournalAt, PgJournalAt};

pub struct Chaos {
    /// The gateway the batch goes to (its simulator, its sample profile).
    pub gateway: GatewayKind,
    pub rows: u64,
    pub kills: u32,
    pub seed: u64,
    /// The `bulkrefund` binary to run and kill.
    pub binary: PathBuf,
    /// Kills aimed at the import, before any other.
    pub import_kills: u32,
    /// Rounds of `retry --failed --new-ids`, each killed at a random moment or not.
    pub retry_rounds: u32,
}

pub struct Report {
    pub discrepancies: Vec<String>,
    pub verdict: String,
}

fn faults(gateway: GatewayKind, seed: u64) -> FaultConfig {
    // WeChat's own: refunds the payer's card refuses (`abnormal`), and
    // answers with a ten-minute-old timestamp, which must be refused as stale.
    let wechatpay = gateway == GatewayKind::Wechatpay;
    // Alipay's own: a success that moved no money (`fund_change` `N`) for a
    // refund it never made; only the query may settle it.
    let alipay = gateway == GatewayKind::Alipay;
    FaultConfig {
        abnormal_rate: if wechatpay { 0.02 } else { 0.0 },
        stale_answer_rate: if wechatpay { 0.05 } else { 0.0 },
        fund_change_n_rate: if alipay { 0.05 } else { 0.0 },
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

/// (batches, batch rows) in the journal.
fn recorded(journal: &JournalAt) -> (i64, i64) {
    (
        journal.number("SELECT CAST(COUNT(*) AS TEXT) FROM batches"),
        journal.number("SELECT CAST(COUNT(*) AS TEXT) FROM batch_rows"),
    )
}

/// Whether `run` got as far as recording the whole batch.
fn imported(journal: &JournalAt) -> bool {
    journal.number("SELECT CAST(COUNT(*) AS TEXT) FROM batches WHERE imported_at IS NOT NULL") > 0
}

/// The harness's world: the batch, the simulator and the journal.
struct World<'a> {
    chaos: &'a Chaos,
    batch: PathBuf,
    config: PathBuf,
    journal: JournalAt,
    sim: sim::SimHandle,
}

impl World<'_> {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.chaos.binary);
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        self.journal.give_to(&mut command);
        command
    }

    /// `run` until the batch is recorded, `resume` after.
    fn next(&self, final_run: bool) -> tokio::process::Command {
        if imported(&self.journal) {
            let poll = if final_run { "120s" } else { "60s" };
            self.command(&["resume", "--quiet", "--poll-for", poll])
        } else {
            self.command(&[
                "run",
                self.batch.to_str().unwrap(),
                "--profile",
                self.chaos.gateway.as_str(),
                "--quiet",
                "--yes",
            ])
        }
    }

    /// Starts `run` and waits (30 s at most) until it has opened the
    /// journal, just before the import's one transaction, so that a kill
    /// soon after lands in the import. On SQLite `run` writes the lock's
    /// holder note then; on PostgreSQL its role's connection appears.
    async fn spawn_until_open(&self) -> tokio::process::Child {
        let opened_since = match &self.journal {
            JournalAt::Sqlite(file) => {
                let note = bulkrefund::journal::lock::holder_note_path(file);
                let _ = std::fs::remove_file(&note);
                Opened::Note(note)
            }
            JournalAt::Postgres(pg) => Opened::Connection {
                role: role_of(&pg.url),
                since: self.journal.rows("SELECT CAST(clock_timestamp() AS TEXT)")[0][0]
                    .clone()
                    .expect("the server's clock"),
            },
        };
        let mut child = self.next(false).spawn().expect("the binary starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !opened_since.seen(&self.journal)
            && std::time::Instant::now() < deadline
            && child.try_wait().ok().flatten().is_none()
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        child
    }

    /// Runs `command`, killed with SIGKILL after `delay` unless it ends first.
    async fn run_or_kill(
        &self,
        mut command: tokio::process::Command,
        delay: Duration,
    ) -> Option<i32> {
        let mut child = command.spawn().expect("the binary starts");
        tokio::select! {
            status = child.wait() => Some(status.ok().and_then(|s| s.code()).unwrap_or(-1)),
            _ = tokio::time::sleep(delay) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                None
            }
        }
    }

    /// `resume` until nothing is unresolved; the last exit code.
    async fn settle(&self) -> i32 {
        let mut last_exit = -1;
        for _ in 0..10 {
            let status = self.next(true).status().await.expect("the binary runs");
            last_exit = status.code().unwrap_or(-1);
            if matches!(last_exit, 0 | 3) {
                break;
            }
        }
        last_exit
    }
}

/// What shows that a process has opened the journal.
enum Opened {
    /// SQLite: the lock's holder note.
    Note(PathBuf),
    /// PostgreSQL: a connection of the journal's role, started since `since`
    /// (the server's clock, as text).
    Connection { role: String, since: String },
}

impl Opened {
    fn seen(&self, journal: &JournalAt) -> bool {
        match self {
            Opened::Note(note) => note.exists(),
            Opened::Connection { role, since } => {
                journal.number(&format!(
                    "SELECT CAST(COUNT(*) AS TEXT) FROM pg_stat_activity
                     WHERE usename = '{role}' AND backend_start >= CAST('{since}' AS timestamptz)"
                )) > 0
            }
        }
    }
}

/// The role of a journal URL (`postgres://role@/db?host=…`).
pub fn role_of(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest);
    after
        .split(['@', ':', '/'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Runs the harness on a SQLite journal; `say` gets one line per kill and
/// round, then the verdict.
pub async fn run(chaos: &Chaos, say: impl FnMut(&str)) -> Report {
    run_on(chaos, None, say).await
}

/// Runs the harness on `pg` (a PostgreSQL journal, empty), or on a SQLite
/// journal in the harness's directory when `None`.
pub async fn run_on(chaos: &Chaos, pg: Option<PgJournalAt>, mut say: impl FnMut(&str)) -> Report {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let batch = dir.path().join("chaos.csv");
    let orders = dir.path().join("chaos-orders.csv");
    generate::write_batch(chaos.gateway, chaos.rows, "X", &batch, Some(&orders))
        .expect("a generated batch");
    let mut sim_config =
        SimConfig::with_sample_keys(sim::ledger::read_orders(&orders).expect("orders"));
    sim_config.faults = faults(chaos.gateway, chaos.seed);
    // Retries with new ids refund an order again: WeChat's minute between two
    // refunds of one order would make each round wait a minute (off here and
    // in the profile, below); refunds are polled every second, not WeChat's
    // minute, so that the harness ends in test time.
    sim_config.wechatpay.order_gap = Duration::ZERO;
    sim_config.alipay.trade_gap = Duration::ZERO;
    let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the simulator starts");
    let keys = generate::write_sample_keys(dir.path()).expect("the sample keys are written");
    let mut text = generate::simulator_config(&sim.base_url(), &keys, 1000, 32);
    // WeChat's profile is the file's last section: these lines are its own.
    let last = text.rfind("\n[profiles.").expect("profiles");
    assert!(text[last..].starts_with("\n[profiles.wechatpay]"));
    text.push_str("same_order_gap = \"0s\"\npoll_schedule = [\"1s\"]\n");
    // Alipay's too (its 3 s between one trade's refunds, its polls).
    let alipay = "\n[profiles.alipay]\n";
    let at = text.find(alipay).expect("an alipay profile") + alipay.len();
    text.insert_str(at, "same_order_gap = \"0s\"\npoll_schedule = [\"1s\"]\n");
    let config = dir.path().join("bulkrefund.toml");
    std::fs::write(&config, text).unwrap();
    let world = World {
        chaos,
        batch,
        config,
        journal: match pg {
            Some(pg) => JournalAt::Postgres(Box::new(pg)),
            None => JournalAt::Sqlite(dir.path().join("journal.db")),
        },
        sim,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(chaos.seed);
    let mut discrepancies = Vec::new();
    for kill in 1..=chaos.import_kills {
        if imported(&world.journal) {
            say(&format!(
                "import kill {kill}: none: the batch was recorded whole by an earlier run"
            ));
            break;
        }
        let mut child = world.spawn_until_open().await;
        // Within the import's usual length (about a millisecond per 200 rows
        // on SQLite; PostgreSQL's, over a socket, is longer).
        let per_ms = if world.journal.sqlite_file().is_some() {
            200
        } else {
            20
        };
        let delay = rng.gen_range(0..=(chaos.rows / per_ms).max(1));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let _ = child.start_kill();
        let _ = child.wait().await;
        let (batches, rows) = recorded(&world.journal);
        let requests = world.sim.ledger().requests;
        let holds = match (batches, rows) {
            (0, 0) => "no batch".to_owned(),
            (1, rows) if rows as u64 == chaos.rows => format!("the whole batch ({rows} rows)"),
            (batches, rows) => {
                discrepancies.push(format!(
                    "import kill {kill}: the journal holds {batches} batches and {rows} rows of {}",
                    chaos.rows
                ));
                format!("{batches} batches, {rows} rows: PART OF A BATCH")
            }
        };
        if batches == 0 && requests > 0 {
            discrepancies.push(format!(
                "import kill {kill}: {requests} requests sent for a batch never recorded"
            ));
        }
        say(&format!(
            "import kill {kill}: run killed {delay} ms after it opened the journal to import; the journal holds {holds}; the simulator has seen {requests} requests"
        ));
    }
    for kill in 1..=chaos.kills {
        let name = if imported(&world.journal) {
            "resume"
        } else {
            "run"
        };
        let delay = Duration::from_millis(rng.gen_range(30..700));
        match world.run_or_kill(world.next(false), delay).await {
            Some(code) => say(&format!(
                "kill {kill:>2}: {name} ended by itself (exit {code}) before {} ms",
                delay.as_millis()
            )),
            None => {
                let ledger = world.sim.ledger();
                say(&format!(
                    "kill {kill:>2}: {name} killed (SIGKILL) after {:>3} ms; the simulator has seen {} requests and holds {} refunds",
                    delay.as_millis(), ledger.requests, ledger.refunds.len()
                ));
            }
        }
    }
    let mut last_exit = world.settle().await;
    // 1 on SQLite; on PostgreSQL an identity a killed import used is gone.
    let batch_id = the_batch(&world.journal).to_string();
    for round in 1..=chaos.retry_rounds {
        let retry = world.command(&[
            "retry",
            "--batch",
            &batch_id,
            "--failed",
            "--new-ids",
            "--yes",
            "--quiet",
        ]);
        // `retry` asks the gateway about each failed refund before it makes a
        // new id. Over WeChat each busy answer (429) pauses the profile for
        // its `Retry-After` second, and at 2 % of 300 queries/s that is most
        // seconds: 500 refunds took 12 s and more to confirm, and kills
        // within 1.5 or 6 s ended every round before its first new id.
        let slow = if chaos.gateway == GatewayKind::Wechatpay {
            12
        } else {
            1
        };
        // On PostgreSQL, kills within 1.5 s, and within 6 s (seed 1), ended
        // every round of 500 before its first new id (SQLite had made 425 by
        // 1.26 s): its confirming and recording take longer.
        let slow = if world.journal.sqlite_file().is_some() {
            slow
        } else {
            slow * 12
        };
        let delay = Duration::from_millis(rng.gen_range(20..1500 * slow));
        let how = match world.run_or_kill(retry, delay).await {
            Some(code) => format!("ended by itself (exit {code})"),
            None => format!("killed (SIGKILL) after {} ms", delay.as_millis()),
        };
        last_exit = world.settle().await;
        let ledger = world.sim.ledger();
        say(&format!(
            "retry round {round}: retry --new-ids {how}; after resume the simulator holds {} refunds",
            ledger.refunds.len()
        ));
    }
    discrepancies.extend(check(&world, last_exit));
    let ledger = world.sim.ledger();
    let count = |state| ledger.refunds.iter().filter(|r| r.status == state).count();
    let (succeeded, abnormal) = (count(RefundState::Succeeded), count(RefundState::Abnormal));
    let verdict = if discrepancies.is_empty() {
        format!(
            "verdict: PASS: {} rows after {} import kills, {} kills and {} retry rounds; {} refunds created, each once ({succeeded} succeeded, {abnormal} abnormal, {} failed); at most one link of each chain not failed; none lost; every status equals the ledger's",
            chaos.rows, chaos.import_kills, chaos.kills, chaos.retry_rounds, ledger.refunds.len(), ledger.refunds.len() - succeeded - abnormal
        )
    } else {
        format!("verdict: FAIL: {} discrepancies", discrepancies.len())
    };
    for discrepancy in discrepancies.iter().take(20) {
        say(&format!("  {discrepancy}"));
    }
    say(&verdict);
    world.sim.stop().await;
    Report {
        discrepancies,
        verdict,
    }
}

/// The input id a refund id serves: itself, or the id a retry derived it
/// from (`R123R2` → `R123`: retries always derive from the chain's first id).
fn root_of<'a>(refund_id: &'a str, input_ids: &HashSet<&str>) -> Option<&'a str> {
    if input_ids.contains(refund_id) {
        return Some(refund_id);
    }
    let (root, n) = refund_id.rsplit_once('R')?;
    (n.bytes().all(|b| b.is_ascii_digit()) && input_ids.contains(root)).then_some(root)
}

/// The batch's id: the journal holds only it.
fn the_batch(journal: &JournalAt) -> i64 {
    journal.number("SELECT CAST(MIN(id) AS TEXT) FROM batches")
}

/// Every way the journal, the results file and the ledger could disagree.
fn check(world: &World, last_exit: i32) -> Vec<String> {
    let mut problems = Vec::new();
    if !matches!(last_exit, 0 | 3) {
        problems.push(format!(
            "the last resume exited {last_exit}: something is still unresolved"
        ));
    }
    let ledger = world.sim.ledger();
    let input: Vec<String> = csv::Reader::from_path(&world.batch)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect();
    let input_ids: HashSet<&str> = input.iter().map(String::as_str).collect();
    let journal_refunds = journal_refunds(&world.journal);
    for id in ledger.ids.iter().filter(|id| id.created > 1) {
        problems.push(format!("{} was created {} times", id.refund_id, id.created));
    }
    let mut holding: HashMap<&str, Vec<&str>> = HashMap::new();
    for refund in &ledger.refunds {
        let Some(root) = root_of(&refund.refund_id, &input_ids) else {
            problems.push(format!(
                "the gateway holds {} which no row asked for",
                refund.refund_id
            ));
            continue;
        };
        if refund.status != RefundState::Failed {
            holding.entry(root).or_default().push(&refund.refund_id);
        }
    }
    for (root, links) in holding {
        if links.len() > 1 {
            problems.push(format!("{root} is paid by more than one link: {links:?}"));
        }
    }
    for id in &input {
        if !journal_refunds.contains_key(id) {
            problems.push(format!("{id} was lost: it is not in the journal"));
        }
    }
    problems.extend(statuses_against_ledger(&journal_refunds, &ledger));
    // Each results row reports the head of its refund's chain, as the journal holds it.
    let heads = batch_heads(&world.journal, the_batch(&world.journal));
    let results_path = world.batch.with_file_name("chaos.results.csv");
    match csv::Reader::from_path(&results_path) {
        Err(e) => problems.push(format!("no results file: {e}")),
        Ok(mut reader) => {
            let header = reader.headers().unwrap().clone();
            let column = |name: &str| header.iter().position(|h| h == name).unwrap();
            // The input's columns come first: the refund id is the first.
            let (id_col, status_col, line_col) = (0, column("status"), column("line"));
            let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            if rows.len() != input.len() {
                problems.push(format!(
                    "the results file has {} rows for {} input rows",
                    rows.len(),
                    input.len()
                ));
            }
            for row in rows {
                let line: u64 = row[line_col].parse().unwrap_or(0);
                let expected = heads.get(&line).map(String::as_str).unwrap_or("missing");
                if &row[status_col] != expected {
                    problems.push(format!(
                        "{}: the results file says {}, the journal {expected}",
                        &row[id_col], &row[status_col]
                    ));
                }
            }
        }
    }
    problems
}
