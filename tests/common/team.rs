//! Three processes, one PostgreSQL journal: the team chaos harness behind
//! `scripts/team-chaos` (examples/team_chaos.rs) and tests/pg_team.rs. A
//! Leshua batch is started by three `run`s of the real binary at once; a
//! while later one more `run` starts a second batch whose rows repeat some
//! of the first's (the same refund ids on the same orders) and add new ones.
//! Random processes are killed with SIGKILL at seeded random moments, each
//! started again at once with its same command; once all have ended,
//! `resume` from one more process settles what is left. Then the
//! simulator's ledger is checked against the journal and both results
//! files: each refund created at most once, every status the ledger's,
//! every input row in the journal and in its batch's results file with that
//! status, and the busiest second at the simulator within the merchant's
//! rate (set on the profile; the simulator's own limit is off, its other
//! faults on).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::{self, generate, SimConfig};

use super::chaos_checks::{journal_refunds, statuses_against_ledger};
use super::journal_at::{JournalAt, PgJournalAt};

pub struct Team {
    /// Rows of the first batch.
    pub rows: u64,
    /// Its last rows that the second batch repeats.
    pub overlap: u64,
    /// Rows of the second batch no earlier batch names.
    pub new_rows: u64,
    /// `run`s of the first batch started at once.
    pub processes: usize,
    /// SIGKILLs, each of a random running process.
    pub kills: u32,
    /// The pause before each kill: at random within this range.
    pub kill_gap: (Duration, Duration),
    /// When the second batch's `run` starts, after the first ones.
    pub second_after: Duration,
    pub seed: u64,
    /// The merchant's rate (requests per second), set on the profile.
    pub rate: u32,
    /// `BULKREFUND_LEASE_MS` of every process.
    pub lease_ms: u64,
    /// The `bulkrefund` binary to run and kill.
    pub binary: PathBuf,
    /// Where each process's standard error goes (`p<slot>-<start>.log`);
    /// discarded when `None`.
    pub logs: Option<PathBuf>,
    /// How long the processes may take, all together, before the harness
    /// gives up on them.
    pub limit: Duration,
}

pub struct Report {
    pub discrepancies: Vec<String>,
    pub verdict: String,
}

/// Every fault of the chaos harness's Leshua simulator except its rate limit:
/// the limit under test is the merchant's own, kept by the processes.
fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        latency_ms: Some((1, 10)),
        rate_limit: None,
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

/// One process slot: a command, run again after each kill until it ends by itself.
struct Slot {
    name: String,
    args: Vec<String>,
    child: Option<tokio::process::Child>,
    starts: u32,
    /// Its exit codes, each time it ended by itself.
    exits: Vec<i32>,
}

/// The batches, the simulator, the configuration and the journal.
struct Stage {
    dir: tempfile::TempDir,
    first: PathBuf,
    second: PathBuf,
    config: PathBuf,
    journal: JournalAt,
    sim: sim::SimHandle,
}

impl Stage {
    async fn new(team: &Team, pg: PgJournalAt) -> Stage {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let all = dir.path().join("all.csv");
        let orders = dir.path().join("orders.csv");
        let total = team.rows + team.new_rows;
        generate::write_batch(GatewayKind::Leshua, total, "X", &all, Some(&orders))
            .expect("a generated batch");
        let text = std::fs::read_to_string(&all).unwrap();
        let mut lines = text.lines();
        let header = lines.next().expect("a header");
        let rows: Vec<&str> = lines.collect();
        let write = |name: &str, rows: &[&str]| {
            let path = dir.path().join(name);
            let mut body = format!("{header}\n");
            rows.iter().for_each(|row| {
                body.push_str(row);
                body.push('\n');
            });
            std::fs::write(&path, body).unwrap();
            path
        };
        let first = write("first.csv", &rows[..team.rows as usize]);
        let repeated = (team.rows - team.overlap.min(team.rows)) as usize;
        let second = write("second.csv", &rows[repeated..]);
        let mut sim_config =
            SimConfig::with_sample_keys(sim::ledger::read_orders(&orders).expect("orders"));
        sim_config.faults = faults(team.seed);
        let sim = sim::start(sim_config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the simulator starts");
        let keys = generate::write_sample_keys(dir.path()).expect("the sample keys are written");
        let text = generate::simulator_config(&sim.base_url(), &keys, team.rate, 32);
        let config = dir.path().join("bulkrefund.toml");
        std::fs::write(&config, text).unwrap();
        Stage {
            dir,
            first,
            second,
            config,
            journal: JournalAt::Postgres(Box::new(pg)),
            sim,
        }
    }

    fn spawn(&self, team: &Team, slot: &mut Slot) {
        let mut command = tokio::process::Command::new(&team.binary);
        command
            .args(&slot.args)
            .arg("--config")
            .arg(&self.config)
            .env("BULKREFUND_LEASE_MS", team.lease_ms.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        slot.starts += 1;
        command.stderr(match &team.logs {
            Some(dir) => {
                let log = dir.join(format!("{}-{}.log", slot.name, slot.starts));
                std::fs::File::create(log).map_or(Stdio::null(), Stdio::from)
            }
            None => Stdio::null(),
        });
        self.journal.give_to(&mut command);
        slot.child = Some(command.spawn().expect("the binary starts"));
    }

    fn run_args(&self, batch: &Path) -> Vec<String> {
        let batch = batch.to_str().unwrap().to_owned();
        ["run", &batch, "--profile", "leshua", "--quiet", "--yes"]
            .map(str::to_owned)
            .to_vec()
    }
}

/// Reaps the slots whose process ended by itself.
fn reap(slots: &mut [Slot]) {
    for slot in slots {
        if let Some(child) = &mut slot.child {
            if let Ok(Some(status)) = child.try_wait() {
                slot.exits.push(status.code().unwrap_or(-1));
                slot.child = None;
            }
        }
    }
}

/// Runs the harness on `pg` (an empty PostgreSQL journal); `say` gets one
/// line per kill, then the verdict.
pub async fn run(team: &Team, pg: PgJournalAt, mut say: impl FnMut(&str)) -> Report {
    let stage = Stage::new(team, pg).await;
    let mut rng = StdRng::seed_from_u64(team.seed);
    let started = Instant::now();
    let mut slots: Vec<Slot> = (1..=team.processes)
        .map(|n| Slot {
            name: format!("p{n}"),
            args: stage.run_args(&stage.first),
            child: None,
            starts: 0,
            exits: Vec::new(),
        })
        .collect();
    slots.push(Slot {
        name: format!("p{}", team.processes + 1),
        args: stage.run_args(&stage.second),
        child: None,
        starts: 0,
        exits: Vec::new(),
    });
    let second = slots.len() - 1;
    for slot in &mut slots[..second] {
        stage.spawn(team, slot);
    }
    say(&format!(
        "{} processes run first.csv ({} rows) at once; at {:.1} s one more runs second.csv ({} rows: {} of first.csv's, {} new); rate {}/s, lease {} ms",
        team.processes,
        team.rows,
        team.second_after.as_secs_f64(),
        team.overlap + team.new_rows,
        team.overlap,
        team.new_rows,
        team.rate,
        team.lease_ms
    ));
    let mut discrepancies = Vec::new();
    let landed = kill_at_random(team, &stage, &mut slots, &mut rng, started, &mut say).await;
    if landed < team.kills {
        discrepancies.push(format!(
            "only {landed} of {} kills landed: every process had ended",
            team.kills
        ));
    }
    let deadline = started + team.limit;
    while slots.iter().any(|s| s.child.is_some()) && Instant::now() < deadline {
        reap(&mut slots);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for slot in &mut slots {
        if let Some(mut child) = slot.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
            discrepancies.push(format!(
                "{} ({}) was still running after {} s",
                slot.name,
                slot.args[1],
                team.limit.as_secs()
            ));
        }
    }
    let sending = started.elapsed();
    for slot in &slots {
        say(&format!(
            "{} ({} {}): started {} times, ended by itself with exit {:?}",
            slot.name, slot.args[0], slot.args[1], slot.starts, slot.exits
        ));
    }
    let last_exit = settle(team, &stage).await;
    say(&format!(
        "resume from one more process: exit {last_exit}, {:.1} s after the start",
        started.elapsed().as_secs_f64()
    ));
    discrepancies.extend(check(team, &stage, last_exit));
    let ledger = stage.sim.ledger();
    let succeeded = ledger
        .refunds
        .iter()
        .filter(|r| r.status == RefundState::Succeeded)
        .count();
    let verdict = if discrepancies.is_empty() {
        format!(
            "verdict: PASS: {} + {} rows, {} processes at once and one more, {landed} kills, then resume; {} refunds created, each once ({succeeded} succeeded); every status equals the ledger's; every row in the journal and its results file; {} requests, the busiest second {} ≤ rate {}; sending took {:.1} s",
            team.rows,
            team.overlap + team.new_rows,
            team.processes,
            ledger.refunds.len(),
            ledger.requests,
            ledger.max_requests_in_one_second,
            team.rate,
            sending.as_secs_f64()
        )
    } else {
        format!("verdict: FAIL: {} discrepancies", discrepancies.len())
    };
    for discrepancy in discrepancies.iter().take(20) {
        say(&format!("  {discrepancy}"));
    }
    say(&verdict);
    stage.sim.stop().await;
    drop(stage.dir);
    Report {
        discrepancies,
        verdict,
    }
}

/// `team.kills` kills, each after a random pause, of a random running
/// process, restarted at once; the second batch's `run` starts when its time
/// comes. How many kills landed (none once every process has ended).
async fn kill_at_random(
    team: &Team,
    stage: &Stage,
    slots: &mut [Slot],
    rng: &mut StdRng,
    started: Instant,
    say: &mut impl FnMut(&str),
) -> u32 {
    let second = slots.len() - 1;
    let mut landed = 0;
    for kill in 1..=team.kills {
        let pause = rng.gen_range(team.kill_gap.0..=team.kill_gap.1);
        let at = Instant::now() + pause;
        while Instant::now() < at {
            if slots[second].starts == 0 && started.elapsed() >= team.second_after {
                stage.spawn(team, &mut slots[second]);
            }
            reap(slots);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        reap(slots);
        let running: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].child.is_some())
            .collect();
        if running.is_empty() && slots[second].starts > 0 {
            say(&format!("kill {kill:>2}: none: every process has ended"));
            continue;
        }
        let Some(&victim) = running.get(rng.gen_range(0..running.len().max(1))) else {
            continue;
        };
        let slot = &mut slots[victim];
        let mut child = slot.child.take().expect("running");
        let _ = child.start_kill();
        let _ = child.wait().await;
        landed += 1;
        let ledger = stage.sim.ledger();
        say(&format!(
            "kill {kill:>2} at {:>5.1} s: {} ({} {}, start {}) killed (SIGKILL) and started again; the simulator has seen {} requests and holds {} refunds",
            started.elapsed().as_secs_f64(),
            slot.name,
            slot.args[0],
            slot.args[1].rsplit('/').next().unwrap_or_default(),
            slot.starts,
            ledger.requests,
            ledger.refunds.len()
        ));
        stage.spawn(team, slot);
    }
    if slots[second].starts == 0 {
        while started.elapsed() < team.second_after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stage.spawn(team, &mut slots[second]);
    }
    landed
}

/// `resume` from one more process until nothing is unresolved; its last exit code.
async fn settle(team: &Team, stage: &Stage) -> i32 {
    let mut last_exit = -1;
    for start in 1..=10 {
        let mut slot = Slot {
            name: "resume".into(),
            args: ["resume", "--quiet", "--poll-for", "120s"]
                .map(str::to_owned)
                .to_vec(),
            child: None,
            starts: start - 1,
            exits: Vec::new(),
        };
        stage.spawn(team, &mut slot);
        let status = slot.child.take().unwrap().wait().await;
        last_exit = status.ok().and_then(|s| s.code()).unwrap_or(-1);
        if matches!(last_exit, 0 | 3) {
            break;
        }
    }
    last_exit
}

/// The input rows' refund ids of a batch file.
fn input_ids(batch: &Path) -> Vec<String> {
    csv::Reader::from_path(batch)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect()
}

/// Every way the journal, the results files and the ledger could disagree,
/// and the busiest second over the rate.
fn check(team: &Team, stage: &Stage, last_exit: i32) -> Vec<String> {
    let mut problems = Vec::new();
    if !matches!(last_exit, 0 | 3) {
        problems.push(format!(
            "the last resume exited {last_exit}: something is still unresolved"
        ));
    }
    let ledger = stage.sim.ledger();
    for id in ledger.ids.iter().filter(|id| id.created > 1) {
        problems.push(format!("{} was created {} times", id.refund_id, id.created));
    }
    if ledger.max_requests_in_one_second > u64::from(team.rate) {
        problems.push(format!(
            "the simulator saw {} requests in one second, over the merchant's rate of {}",
            ledger.max_requests_in_one_second, team.rate
        ));
    }
    let journal = journal_refunds(&stage.journal);
    let (first, second) = (input_ids(&stage.first), input_ids(&stage.second));
    let asked: HashSet<&str> = first.iter().chain(&second).map(String::as_str).collect();
    for refund in &ledger.refunds {
        if !asked.contains(refund.refund_id.as_str()) {
            problems.push(format!(
                "the gateway holds {} which no row asked for",
                refund.refund_id
            ));
        }
    }
    for id in &asked {
        if !journal.contains_key(*id) {
            problems.push(format!("{id} was lost: it is not in the journal"));
        }
    }
    problems.extend(statuses_against_ledger(&journal, &ledger));
    for (batch, ids) in [(&stage.first, &first), (&stage.second, &second)] {
        problems.extend(results_against_journal(batch, ids, &journal));
    }
    problems
}

/// Every row of `batch`'s results file must report the state the journal
/// holds for its refund (checked against the ledger above), and the file
/// must hold every input row, in order.
fn results_against_journal(
    batch: &Path,
    ids: &[String],
    journal: &std::collections::HashMap<String, super::chaos_checks::JournalRefund>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let name = batch.file_name().unwrap().to_string_lossy();
    let path = batch.with_extension("results.csv");
    let mut reader = match csv::Reader::from_path(&path) {
        Ok(reader) => reader,
        Err(e) => return vec![format!("{name}: no results file: {e}")],
    };
    let header = reader.headers().unwrap().clone();
    let status = header.iter().position(|h| h == "status").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let written: Vec<&str> = rows.iter().map(|row| &row[0]).collect();
    if written != ids.iter().map(String::as_str).collect::<Vec<_>>() {
        problems.push(format!(
            "{name}: the results file has {} rows, not the input's {} in order",
            rows.len(),
            ids.len()
        ));
    }
    for row in &rows {
        let expected = journal.get(&row[0]).map_or("missing", |r| r.0.as_str());
        if &row[status] != expected {
            problems.push(format!(
                "{name}: {}: the results file says {}, the journal {expected}",
                &row[0], &row[status]
            ));
        }
    }
    problems
}
