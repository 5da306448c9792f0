//! A model-based test: random sequences of `run`, `run` of an overlapping file,
//! `retry --new-ids`, `resume`, SIGKILL at random moments and gateway faults,
//! on a small batch, through the real binary against the simulator (a gateway
//! that lies twice and one that contradicts itself among the faults), over
//! Leshua or WeChat Pay as each case draws (WeChat's own faults: refunds that
//! end `abnormal`, answers with a stale timestamp). After
//! each sequence the faults stop and `resume` settles what it can; then:
//! - no order is refunded beyond what the operator's rows ask (every order is
//!   paid ten times over, so the gateway's own balance rule hides nothing);
//! - each retry chain has at most one link the gateway did not fail;
//! - every status a results file reports is the ledger's (a refund in review
//!   is never believed, so it is exempt); an abnormal refund is neither paid
//!   nor failed: reported `abnormal` only, and it still holds its order's money.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bulkrefund::commands::app::default_results_path;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{LedgerSnapshot, RefundState};
use bulkrefund::sim::SimConfig;
use proptest::prelude::*;

use common::*;

#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;
use twin::Twin;

/// The operator's refunds: (id, order, fen). File A holds the first five, B the
/// last five: R4 and R5 are in both.
const INTENTS: [(&str, &str, u64); 8] = [
    ("R1", "O1", 1000),
    ("R2", "O2", 600),
    ("R3", "O2", 400),
    ("R4", "O3", 1000),
    ("R5", "O4", 500),
    ("R6", "O4", 500),
    ("R7", "O5", 1000),
    ("R8", "O6", 300),
];

const ORDER_PAID: u64 = 10 * 1000;

#[derive(Clone, Copy, Debug)]
enum File {
    A,
    B,
}

#[derive(Clone, Debug)]
enum Op {
    Run(File),
    Resume,
    Retry(i64),
    /// A run or resume killed (SIGKILL) after this many milliseconds.
    Killed(Box<Op>, u64),
}

/// Fault sets the gateway may be in during an operation.
fn faults(kind: u8, seed: u64) -> FaultConfig {
    let mut f = FaultConfig {
        latency_ms: Some((1, 8)),
        seed: Some(seed),
        ..FaultConfig::default()
    };
    match kind {
        0 => {}
        1 => {
            f.fail_refund_rate = 0.5;
            f.abnormal_rate = 0.3;
        }
        2 => {
            f.busy_rate = 0.2;
            f.fail_rate = 0.2;
            f.drop_rate = 0.2;
        }
        3 => {
            f.bad_sign_rate = 0.3;
            f.stale_answer_rate = 0.3;
        }
        4 => f.processing_for = Duration::from_millis(300),
        5 => f.mismatch_rate = 0.2,
        6 => {
            f.fail_refund_rate = 0.3;
            f.redirect_rate = 0.2;
            f.pad_rate = 0.3;
        }
        // The gateway lies twice: it pays, answers a signed refusal, and
        // then its queries say the refund does not exist.
        7 => f.lie_rate = 0.5,
        // It contradicts itself: 500 to each refund it records, "already
        // exists" to each resend, "no such refund" to each query.
        _ => f.contradict = true,
    }
    f
}

fn op() -> impl Strategy<Value = Op> {
    let plain = prop_oneof![
        Just(Op::Run(File::A)),
        Just(Op::Run(File::B)),
        Just(Op::Resume),
        (1i64..=3).prop_map(Op::Retry),
    ];
    prop_oneof![
        3 => plain.clone(),
        1 => (plain, 20u64..400).prop_map(|(op, ms)| match op {
            Op::Retry(_) => op,
            op => Op::Killed(Box::new(op), ms),
        }),
    ]
}

fn file(world: &World, file: File) -> PathBuf {
    world.path(match file {
        File::A => "a.csv",
        File::B => "b.csv",
    })
}

/// The real binary doing `op` in `world`, with `gateway`'s sample profile.
fn command(world: &World, gateway: GatewayKind, op: &Op) -> tokio::process::Command {
    let batch;
    let args: Vec<&str> = match op {
        Op::Run(f) => {
            batch = file(world, *f);
            vec![
                "run",
                batch.to_str().unwrap(),
                "--profile",
                gateway.as_str(),
            ]
        }
        Op::Resume => vec!["resume"],
        Op::Retry(id) => {
            batch = PathBuf::from(id.to_string());
            let id = batch.to_str().unwrap();
            vec!["retry", "--batch", id, "--failed", "--new-ids", "--yes"]
        }
        Op::Killed(op, _) => return command(world, gateway, op),
    };
    let mut command = world.command(&args);
    command
        .args(["--poll-for", "3s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if world.pg.is_some() {
        // A killed process's claims on PostgreSQL hold for their lease (no
        // file lock proves it dead): a short one, so that the final resumes
        // (3 s of polling each) outlast it and take its refunds over. Its
        // live runs renew every third of it, and a write under a lapsed
        // claim is fenced off: the invariants hold either way.
        command.env("BULKREFUND_LEASE_MS", "1000");
    }
    command
}

async fn apply(world: &World, gateway: GatewayKind, op: &Op) {
    let mut child = command(world, gateway, op).spawn().unwrap();
    if let Op::Killed(_, ms) = op {
        tokio::select! {
            _ = child.wait() => {}
            _ = tokio::time::sleep(Duration::from_millis(*ms)) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    } else {
        let status = child.wait().await.unwrap();
        // 0 done, 1 stopped, 2 refused (a batch that does not exist yet), 3 some failed, 4 unresolved.
        assert!(matches!(status.code(), Some(0..=4)), "{op:?}: {status:?}");
    }
}

/// a.csv holds the first five intents, b.csv the last five.
fn write_files(world: &World, gateway: GatewayKind) {
    for (name, range) in [("a.csv", 0..5), ("b.csv", 3..8)] {
        let batch = match gateway {
            GatewayKind::Wechatpay => BatchFile::wechatpay(),
            _ => BatchFile::leshua(),
        };
        INTENTS[range]
            .iter()
            .fold(batch, |batch, (id, order, fen)| match gateway {
                GatewayKind::Wechatpay => batch.row(&format!("{id},{order},,{fen},{ORDER_PAID}")),
                _ => batch.row(&format!("{id},{order},{fen}")),
            })
            .write(world.dir.path(), name);
    }
}

/// The simulator with every order paid, and the sample profiles. WeChat's
/// minute between two refunds of one order is off, in the simulator and in
/// the profile (the intents refund orders twice, and retries again), and
/// its polls come every second, not after a minute.
async fn start(gateway: GatewayKind) -> World {
    let orders = (1..=6).fold(Orders::new(), |o, i| match gateway {
        GatewayKind::Wechatpay => o.wechatpay(&format!("O{i}"), &format!("WO{i}"), ORDER_PAID),
        _ => o.leshua(&format!("O{i}"), ORDER_PAID),
    });
    let mut config = SimConfig::with_sample_keys(orders.into());
    config.wechatpay.order_gap = Duration::ZERO;
    let sim = bulkrefund::sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let config = Profiles::default()
        .set("wechatpay", "same_order_gap = \"0s\"")
        .set("wechatpay", "poll_schedule = [\"1s\"]")
        .write(dir.path(), &sim.base_url());
    World {
        dir,
        sim,
        config,
        pg: None,
    }
}

/// The intent a refund id serves (`R2R3` serves `R2`).
fn intent_of(refund_id: &str) -> &str {
    match refund_id[1..].find('R') {
        Some(i) => &refund_id[..i + 1],
        None => refund_id,
    }
}

fn check_invariants(world: &World, ledger: &LedgerSnapshot) -> Result<(), String> {
    // The gateway holds money for a refund that succeeded, is still
    // processing, or is abnormal (it left the merchant and reached nobody).
    let holds = |status: RefundState| status != RefundState::Failed;
    let mut per_order: HashMap<&str, u64> = HashMap::new();
    let mut live_links: HashMap<&str, Vec<&str>> = HashMap::new();
    for refund in &ledger.refunds {
        if holds(refund.status) {
            *per_order.entry(refund.order_id.as_str()).or_default() += refund.amount_fen;
            live_links
                .entry(intent_of(&refund.refund_id))
                .or_default()
                .push(&refund.refund_id);
        }
    }
    for (order, paid) in &per_order {
        let asked: u64 = INTENTS
            .iter()
            .filter(|(_, o, _)| o == order)
            .map(|(_, _, fen)| fen)
            .sum();
        if *paid > asked {
            return Err(format!(
                "order {order}: {paid} fen refunded, the rows ask {asked}"
            ));
        }
    }
    for (intent, links) in &live_links {
        if links.len() > 1 {
            return Err(format!(
                "{intent}: more than one link not failed: {links:?}"
            ));
        }
    }
    // Every reported status is the ledger's, for the refund the row names now.
    let head_of = |batch: &str, line: &str| -> Option<String> {
        let batch: i64 = batch.parse().ok()?;
        let line: i64 = line.parse().ok()?;
        world
            .journal_rows(&format!(
                "SELECT f.refund_id FROM batch_rows r JOIN refunds f ON f.id = r.refund
                 WHERE r.batch_id = {batch} AND r.line = {line}"
            ))
            .pop()
            .and_then(|mut row| row.pop().flatten())
    };
    for file in [File::A, File::B] {
        let results = default_results_path(&self::file(world, file));
        if !results.exists() {
            continue;
        }
        for row in read_results(&results) {
            let status = row["status"].as_str();
            let Some(head) = head_of(&row["batch_id"], &row["line"]) else {
                continue;
            };
            let ledger_status = ledger.refund(&head).map(|r| r.status);
            let agrees = matches!(
                (status, ledger_status),
                ("review", _)
                    | ("succeeded", Some(RefundState::Succeeded))
                    | ("failed", Some(RefundState::Failed) | None)
                    | ("abnormal", Some(RefundState::Abnormal))
                    | ("processing", Some(RefundState::Processing))
                    | ("pending", None)
            );
            if !agrees {
                return Err(format!(
                    "{results:?} line {}: {head} reported {status}, the ledger has {ledger_status:?}",
                    row["line"]
                ));
            }
        }
    }
    Ok(())
}

/// `ops` on a fresh world, then the invariants; the world's journal is
/// PostgreSQL when `pg` is given, else its SQLite file.
async fn scenario(
    gateway: GatewayKind,
    ops: Vec<(Op, u8)>,
    seed: u64,
    pg: Option<PgJournalAt>,
) -> Result<(), String> {
    let mut world = start(gateway).await;
    world.pg = pg;
    write_files(&world, gateway);
    for (i, (op, fault)) in ops.iter().enumerate() {
        world.sim.set_faults(faults(*fault, seed + i as u64));
        apply(&world, gateway, op).await;
    }
    // The gateway calms down; resume settles what can be settled.
    world.sim.set_faults(FaultConfig::default());
    // An import killed midway is finished by running its file again, as resume says.
    for f in [File::A, File::B] {
        let name = file(&world, f).display().to_string();
        let left = !world
            .journal_rows(&format!(
                "SELECT CAST(id AS TEXT) FROM imports WHERE file_name = '{}'",
                name.replace('\'', "''")
            ))
            .is_empty();
        if left {
            apply(&world, gateway, &Op::Run(f)).await;
        }
    }
    let mut settled = false;
    for _ in 0..4 {
        let status = command(&world, gateway, &Op::Resume)
            .status()
            .await
            .unwrap();
        match status.code() {
            Some(4) => continue,
            // Settled: everything ended, some refunds failed or none.
            Some(0 | 3) => {}
            // No journal yet: every run was killed before it made one.
            Some(2)
                if world
                    .journal_rows("SELECT CAST(id AS TEXT) FROM batches")
                    .is_empty() => {}
            other => {
                return Err(format!(
                    "resume exited {other:?}: the journal could not be used"
                ))
            }
        }
        settled = true;
        break;
    }
    if !settled {
        return Err("resume never settled the journal".into());
    }
    let ran_whole = ops.iter().any(|(op, _)| matches!(op, Op::Run(_)));
    if ran_whole
        && world
            .journal_rows("SELECT CAST(id AS TEXT) FROM batches")
            .is_empty()
    {
        return Err("a run went to its end, yet the journal holds no batch".into());
    }
    retry_never_created(&world).await;
    let ledger = world.sim.ledger();
    if let Some(id) = ledger.ids.iter().find(|id| id.created > 1) {
        return Err(format!("{} created {} times", id.refund_id, id.created));
    }
    check_invariants(&world, &ledger)
}

/// `retry --failed` (same ids) of every batch: a refund the gateway refused
/// with a lie is failed, never created, and only a retry asks about it again.
async fn retry_never_created(world: &World) {
    let batches: Vec<String> = world
        .journal_rows("SELECT CAST(id AS TEXT) FROM batches")
        .into_iter()
        .filter_map(|mut row| row.pop().flatten())
        .collect();
    for batch in &batches {
        let mut retry = world.command(&["retry", "--batch", batch, "--failed", "--yes"]);
        retry
            .args(["--poll-for", "3s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let status = retry.status().await.unwrap();
        assert!(
            matches!(status.code(), Some(0..=4)),
            "retry {batch}: {status:?}"
        );
    }
}

/// Cases per `cargo test` (a longer soak: `BULKREFUND_MODEL_CASES=500 cargo test --test model`).
fn cases() -> u32 {
    std::env::var("BULKREFUND_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24)
}

/// Cases on a PostgreSQL journal per `cargo test` (each starts its own
/// server): `BULKREFUND_MODEL_PG_CASES`.
fn pg_cases() -> u32 {
    std::env::var("BULKREFUND_MODEL_PG_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8)
}

fn model_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_sequence_pays_twice_or_reports_what_the_gateway_did_not_say(
        wechatpay in any::<bool>(),
        ops in proptest::collection::vec((op(), 0u8..9), 2..9),
        seed in 0u64..1_000_000,
    ) {
        let gateway = if wechatpay { GatewayKind::Wechatpay } else { GatewayKind::Leshua };
        let verdict = model_runtime().block_on(scenario(gateway, ops.clone(), seed, None));
        prop_assert!(verdict.is_ok(), "{gateway:?} {ops:?} (seed {seed}): {}", verdict.unwrap_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: pg_cases(),
        max_shrink_iters: 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The same model, asserting the same, on a PostgreSQL journal.
    #[test]
    fn on_postgres_no_sequence_pays_twice_or_reports_what_the_gateway_did_not_say(
        wechatpay in any::<bool>(),
        ops in proptest::collection::vec((op(), 0u8..9), 2..9),
        seed in 0u64..1_000_000,
    ) {
        let gateway = if wechatpay { GatewayKind::Wechatpay } else { GatewayKind::Leshua };
        let Some(twin) = Twin::start("model on_postgres") else {
            return Ok(());
        };
        let pg = Some(twin.for_world("alice"));
        let verdict = model_runtime().block_on(scenario(gateway, ops.clone(), seed, pg));
        prop_assert!(verdict.is_ok(), "PostgreSQL {gateway:?} {ops:?} (seed {seed}): {}", verdict.unwrap_err());
    }
}

#[test]
fn the_intent_of_a_retry_is_its_root() {
    assert_eq!(intent_of("R2"), "R2");
    assert_eq!(intent_of("R2R3"), "R2");
    assert_eq!(intent_of("R12R2"), "R12");
    let ids: HashSet<&str> = INTENTS.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids.len(), INTENTS.len());
}

/// The sequence the model first failed on: a retry of batch 2 made R5R2 the
/// head for a.csv's finished batch too, and when R5R2 ended through another
/// run, a.results.csv kept reporting it pending.
#[test]
fn a_retry_reported_by_a_finished_batch_is_followed_there_too() {
    let ops = vec![
        (Op::Retry(1), 6),
        (Op::Killed(Box::new(Op::Run(File::A)), 356), 1),
        (Op::Killed(Box::new(Op::Run(File::B)), 61), 2),
        (Op::Run(File::A), 3),
        (Op::Retry(2), 6),
        (Op::Retry(2), 1),
        (Op::Retry(3), 1),
        (Op::Run(File::B), 0),
    ];
    model_runtime()
        .block_on(scenario(GatewayKind::Leshua, ops, 289_834, None))
        .unwrap();
}

/// A sequence the PostgreSQL model failed on: a run killed while its
/// refunds were processing left them claimed under its lease, and every
/// final resume ended its polling before the lease did (exit 4 four times).
#[test]
fn a_run_killed_while_its_refunds_process_is_taken_over_on_postgres() {
    let Some(twin) = Twin::start("a_run_killed_while_its_refunds_process_is_taken_over") else {
        return;
    };
    let ops = vec![
        (Op::Run(File::A), 0),
        (Op::Killed(Box::new(Op::Run(File::B)), 300), 4),
    ];
    let pg = Some(twin.for_world("alice"));
    model_runtime()
        .block_on(scenario(GatewayKind::Leshua, ops, 991_242, pg))
        .unwrap();
}
