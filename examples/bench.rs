//! The benchmark harness behind `scripts/bench`: starts simulators on
//! 127.0.0.1 in this process, runs the release `bulkrefund` binary against them
//! as a child (so its wall time, CPU time and peak RSS are its own), and prints
//! a markdown table. `cargo run --release --example bench -- [--quick]
//! [--only SECTION (throughput, rate, adaptive, wechatpay, reconcile, million, rsa, scale)] [--baseline BINARY]`: with `--baseline`, the throughput
//! section also runs an older build's binary on the same batch, alternating
//! with this one, so before and after are measured in one run on one machine.
//! With `--journal postgres` a temporary PostgreSQL server (fsync on) is
//! started: the throughput section also runs the same batch on a PostgreSQL
//! journal in every round, alternating with SQLite, and the million runs on
//! PostgreSQL; `--pg-profile` adds the server's statement profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkrefund::gateway::leshua::{LeshuaClient, LeshuaSettings};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner};
use bulkrefund::gateway::{Gateway, GatewayKind, RefundOrder};
use bulkrefund::secret::Secret;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::{self, generate, sample_keys, SimConfig, SimHandle};
use pg_journal::{JournalAt, PgBench};

#[path = "bench/pg_journal.rs"]
mod pg_journal;
#[path = "bench/pg_profile.rs"]
mod pg_profile;
#[path = "bench/pg_runs.rs"]
mod pg_runs;
#[path = "../tests/pg/server.rs"]
mod pg_server;
#[path = "bench/pg_watch.rs"]
mod pg_watch;
#[path = "bench/reconcile.rs"]
mod reconcile;
#[path = "bench/wechatpay.rs"]
mod wechatpay;

const CONCURRENCY: usize = 64;

/// What a child process cost.
#[derive(Clone)]
struct Measured {
    wall: Duration,
    cpu: Duration,
    peak_rss_mib: f64,
    exit: i32,
    stderr: String,
}

/// The high-water mark of a live process's own address space, in KiB. Unlike a
/// child's `ru_maxrss`, which also counts the parent's memory it was spawned
/// from, `VmHWM` starts afresh at exec.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs a command to completion: CPU time from wait4, peak RSS sampled from VmHWM.
// The child is reaped by wait4 (which also reads its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn measure(command: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 on our own child's pid fills `status` and `usage`.
    let usage = unsafe {
        assert_eq!(
            libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr()),
            child.id() as i32
        );
        usage.assume_init()
    };
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak_kib = sampler.join().unwrap();
    let seconds = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Measured {
        wall: started.elapsed(),
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss_mib: peak_kib as f64 / 1024.0,
        // A process killed by a signal (an abort after a panic) failed too.
        exit: if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            libc::WEXITSTATUS(status)
        },
        stderr,
    }
}

/// [`measure`] off the async runtime's threads.
async fn measured(mut command: Command) -> Measured {
    tokio::task::spawn_blocking(move || measure(&mut command))
        .await
        .unwrap()
}

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("bulkrefund")
}

async fn simulator(orders: &Path, faults: FaultConfig) -> SimHandle {
    let mut config = SimConfig::with_sample_keys(sim::ledger::read_orders(orders).unwrap());
    config.faults = faults;
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn write_config(dir: &Path, base_url: &str) -> PathBuf {
    let keys = generate::write_sample_keys(dir).unwrap();
    let path = dir.join("bulkrefund.toml");
    std::fs::write(
        &path,
        generate::simulator_config(base_url, &keys, 100_000, CONCURRENCY as u32),
    )
    .unwrap();
    path
}

/// A batch of `rows` refunds and a simulator that knows their orders.
async fn prepare(
    dir: &Path,
    gateway: GatewayKind,
    rows: u64,
    prefix: &str,
    faults: FaultConfig,
) -> (PathBuf, PathBuf, SimHandle) {
    let batch = dir.join(format!("{prefix}.csv"));
    let orders = dir.join(format!("{prefix}-orders.csv"));
    generate::write_batch(gateway, rows, prefix, &batch, Some(&orders)).unwrap();
    let sim = simulator(&orders, faults).await;
    let config = write_config(dir, &sim.base_url());
    (batch, config, sim)
}

async fn run_batch(batch: &Path, config: &Path, profile: &str, extra: &[&str]) -> Measured {
    run_batch_into(
        &binary(),
        batch,
        &batch.with_extension("db"),
        config,
        profile,
        extra,
    )
    .await
}

/// True when `binary run` takes `--yes`.
fn accepts_yes(binary: &Path) -> bool {
    Command::new(binary)
        .args(["run", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--yes"))
}

async fn run_batch_into(
    binary: &Path,
    batch: &Path,
    journal: &Path,
    config: &Path,
    profile: &str,
    extra: &[&str],
) -> Measured {
    let journal = JournalAt::file(journal);
    run_batch_at(binary, batch, &journal, config, profile, extra).await
}

/// `binary run` of `batch` on `journal`, a SQLite file or a PostgreSQL URL.
async fn run_batch_at(
    binary: &Path,
    batch: &Path,
    journal: &JournalAt,
    config: &Path,
    profile: &str,
    extra: &[&str],
) -> Measured {
    let mut command = Command::new(binary);
    command
        .args([
            "run",
            batch.to_str().unwrap(),
            "--profile",
            profile,
            // No --quiet: the summary (requests/s, where the in-flight limit
            // settled) is read from stderr; off a terminal nothing is drawn.
            "--config",
        ])
        .arg(config);
    journal.apply(&mut command);
    command
        // Builds from before "a look before paying" have no --yes (nor ask).
        .args(accepts_yes(binary).then_some("--yes"))
        .args(extra);
    let measured = measured(command).await;
    assert_eq!(
        measured.exit, 0,
        "bulkrefund run failed:\n{}",
        measured.stderr
    );
    measured
}

/// The engine's own "N requests in Xs (R requests/s)" line.
fn reported_rate(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("requests/s)"))
        .expect("a summary line");
    let inside = line.rsplit_once('(').unwrap().1;
    inside.split_whitespace().next().unwrap().parse().unwrap()
}

/// The same signed refund requests from a bare client loop: no journal, no CSV.
async fn bare_loop(sim: &SimHandle, rows: u64, prefix: &str) -> Duration {
    let client = Arc::new(
        LeshuaClient::new(LeshuaSettings {
            base_url: sim.base_url().parse().unwrap(),
            merchant_id: generate::LESHUA_MERCHANT.into(),
            trade_key: Secret::new(sample_keys::LESHUA_TRADE_KEY.trim()),
            notify_url: None,
            timeout: Duration::from_secs(10),
        })
        .unwrap(),
    );
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=rows {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        let order = RefundOrder {
            refund_id: format!("{prefix}R{i:09}"),
            amount: bulkrefund::money::Fen(100 + (i * 7919) % 100_000),
            fields: [("third_order_id".to_string(), format!("{prefix}O{i:09}"))]
                .into_iter()
                .collect(),
            gateway_refund_id: None,
        };
        tasks.spawn(async move {
            let attempt = client.submit(&order).await;
            drop(permit);
            assert!(
                matches!(attempt.outcome, bulkrefund::gateway::Outcome::Succeeded(_)),
                "{attempt:?}"
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    started.elapsed()
}

/// Signatures per second of one core with the 2048-bit sample key.
fn signing_loop() -> f64 {
    let signer =
        RsaSigner::from_pem(sample_keys::LIANSHANG_PRIVATE_KEY, RsaDigest::Sha256).unwrap();
    let text = "appid=app01&client_user_id=finance&coin_type=lianshang_coin&out_refund_id=B-R000000001&refund_cash_amount=100";
    let n = 500;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(signer.sign(std::hint::black_box(text)));
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// A file's size with its SQLite companions (`-wal`, `-shm`), in MiB.
fn journal_mib(journal: &Path) -> f64 {
    let size = |suffix: &str| {
        let mut name = journal.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    };
    (size("") + size("-wal") + size("-shm")) as f64 / (1024.0 * 1024.0)
}

/// A million refunds end to end: `run` against the simulator with no limit,
/// then `status` and `export` of the journal it left; on a PostgreSQL
/// journal when `pg` is given, with what the server spent.
async fn million(dir: &Path, rows: u64, table: &mut Vec<String>, pg: Option<&PgBench>) {
    let (batch, config, sim) =
        prepare(dir, GatewayKind::Leshua, rows, "MR", FaultConfig::default()).await;
    const DB: &str = "bench_million";
    let (run, journal, server) = match pg {
        None => {
            let journal = JournalAt::file(&dir.join("MR.db"));
            let run = run_batch_at(&binary(), &batch, &journal, &config, "leshua", &[]).await;
            (run, journal, None)
        }
        Some(pg) => {
            table.push(format!(
                "| the PostgreSQL server of the million | {} | honest: fsync on |",
                pg.describe()
            ));
            let done = pg_runs::run_on_pg(pg, DB, &batch, &config, rows, "million").await;
            let journal = done.journal.clone();
            let run = done.run.clone();
            (run, journal, Some(done))
        }
    };
    assert_eq!(sim.ledger().refunds.len() as u64, rows);
    sim.stop().await;
    let (on, size) = match pg {
        None => ("", journal_mib(&journal.arg)),
        Some(pg) => (" on PostgreSQL", pg.database_mib(DB)),
    };
    table.push(format!(
        "| {rows} refunds end to end{on}: `run` (import, send, results file), no rate limit, no latency | **{:.1} s** ({:.0} refunds/s), {:.2} CPU s per 1,000; peak RSS **{:.1} MiB**; journal {:.0} MiB | ≤ 100 MiB |",
        run.wall.as_secs_f64(),
        rows as f64 / run.wall.as_secs_f64(),
        run.cpu.as_secs_f64() * 1000.0 / rows as f64,
        run.peak_rss_mib,
        size,
    ));
    if let Some(done) = &server {
        table.push(format!(
            "| that run on PostgreSQL | the engine: {}; the server: peak PSS **{:.1} MiB** (RSS summed {:.1} MiB), {} processes at most; {:.2} CPU s per 1,000 refunds; {} | — |",
            pg_runs::engine_summary(&done.run.stderr),
            done.server.peak_pss_mib,
            done.server.peak_rss_mib,
            done.server.peak_processes,
            done.server.cpu.as_secs_f64() * 1000.0 / rows as f64,
            done.counters.per_refund(rows),
        ));
        table.extend(done.statements.iter().cloned());
    }
    let reads: [(&str, Vec<String>); 3] = [
        ("status", vec!["status".into()]),
        (
            "status --batch 1",
            vec!["status".into(), "--batch".into(), "1".into()],
        ),
        (
            "export (CSV)",
            vec![
                "export".into(),
                "--out".into(),
                dir.join("MR-export.csv").display().to_string(),
            ],
        ),
    ];
    for (label, args) in reads {
        let mut command = Command::new(binary());
        command.args(&args);
        journal.apply(&mut command);
        let watch = pg.map(|pg| pg_watch::Watch::start(pg.postmaster_pid()));
        let read = measured(command).await;
        assert_eq!(read.exit, 0, "{label}: {}", read.stderr);
        let server = match watch {
            Some(watch) => {
                let used = tokio::task::spawn_blocking(move || watch.stop())
                    .await
                    .unwrap();
                format!(
                    "; the server: {:.2} CPU s, peak PSS {:.1} MiB",
                    used.cpu.as_secs_f64(),
                    used.peak_pss_mib
                )
            }
            None => String::new(),
        };
        table.push(format!(
            "| `{label}` of that journal{on} | **{:.1} s**; peak RSS {:.1} MiB{server} | — |",
            read.wall.as_secs_f64(),
            read.peak_rss_mib
        ));
    }
    match pg {
        None => {
            let _ = std::fs::remove_file(&journal.arg);
        }
        Some(pg) => pg.drop_journal(DB),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only throughput|rate|rsa|scale` runs one section.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wanted = |section: &str| only.as_deref().is_none_or(|o| o == section);
    // `--rounds N`: rounds of the throughput section (default 3; its figures are medians).
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |n| n.parse().expect("--rounds takes a number"));
    // `--baseline BINARY`: an older build, measured beside this one.
    let baseline = args
        .iter()
        .position(|a| a == "--baseline")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    // `--journal postgres`: a temporary PostgreSQL server for the sections
    // that measure a PostgreSQL journal (throughput, million); `--pg-profile`
    // adds its statement profile.
    let pg = match args
        .iter()
        .position(|a| a == "--journal")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
    {
        None | Some("sqlite") => None,
        Some("postgres") => {
            let pg = PgBench::start(args.iter().any(|a| a == "--pg-profile"));
            eprintln!("{}", pg.describe());
            Some(pg)
        }
        Some(other) => panic!("--journal takes sqlite or postgres, not {other}"),
    };
    let scale = |n: u64| if quick { n / 10 } else { n };
    let dir = tempfile::tempdir().unwrap();
    let mut table = vec![
        "| measure | result | target |".to_owned(),
        "|---|---|---|".to_owned(),
    ];

    // Throughput, and the loopback ceiling on a fresh simulator with the same orders.
    if wanted("throughput") {
        // The machine is shared: each pair (bulkrefund, then the bare loop, each on
        // a fresh simulator) runs `rounds` times and the median ratio is reported.
        let rows = scale(100_000);
        let (batch, config, sim) = prepare(
            dir.path(),
            GatewayKind::Leshua,
            rows,
            "T",
            FaultConfig::default(),
        )
        .await;
        sim.stop().await;
        let orders = dir.path().join("T-orders.csv");
        let mut pairs = Vec::new();
        let mut before = Vec::new();
        let mut ceilings = Vec::new();
        let mut pg_pairs = Vec::new();
        let mut sqlite_cpu = Vec::new();
        for round in 0..rounds {
            // The baseline runs first in odd rounds, so neither build always
            // meets a warmer machine.
            let mut run_baseline = async |label: &str| {
                let Some(old) = &baseline else { return };
                let sim = simulator(&orders, FaultConfig::default()).await;
                let config = write_config(dir.path(), &sim.base_url());
                let journal = dir.path().join(format!("B-{round}-{label}.db"));
                let run = run_batch_into(old, &batch, &journal, &config, "leshua", &[]).await;
                assert_eq!(sim.ledger().refunds.len() as u64, rows);
                sim.stop().await;
                let throughput = rows as f64 / run.wall.as_secs_f64();
                eprintln!("round {round}: baseline {throughput:.0} refunds/s");
                before.push((throughput, run, round));
            };
            if round % 2 == 1 {
                run_baseline("first").await;
            }
            // PostgreSQL, like the baseline, runs first in odd rounds.
            let mut pg_run = None;
            if let (Some(pg), 1) = (&pg, round % 2) {
                pg_run = Some(pg_runs::throughput_run(pg, dir.path(), &batch, rows, round).await);
            }
            let sim = simulator(&orders, FaultConfig::default()).await;
            let config = write_config(dir.path(), &sim.base_url());
            let journal = dir.path().join(format!("T-{round}.db"));
            let run = run_batch_into(&binary(), &batch, &journal, &config, "leshua", &[]).await;
            assert_eq!(sim.ledger().refunds.len() as u64, rows);
            sim.stop().await;
            let fresh = simulator(&orders, FaultConfig::default()).await;
            let bare = bare_loop(&fresh, rows, "T").await;
            fresh.stop().await;
            let throughput = rows as f64 / run.wall.as_secs_f64();
            let ceiling = rows as f64 / bare.as_secs_f64();
            eprintln!(
                "round {round}: {throughput:.0} refunds/s, bare {ceiling:.0}/s, ratio {:.2}",
                throughput / ceiling
            );
            if let (Some(pg), 0) = (&pg, round % 2) {
                pg_run = Some(pg_runs::throughput_run(pg, dir.path(), &batch, rows, round).await);
            }
            if let Some(pg) = pg_run {
                sqlite_cpu.push(run.cpu.as_secs_f64() * 1000.0 / rows as f64);
                pg_pairs.push(pg_runs::Pair {
                    sqlite: throughput,
                    sqlite_sending: reported_rate(&run.stderr),
                    pg,
                });
            }
            pairs.push((throughput / ceiling, throughput, ceiling, run));
            ceilings.push(ceiling);
            if round % 2 == 0 {
                run_baseline("second").await;
            }
        }
        if let Some(old) = &baseline {
            let median = |mut values: Vec<f64>| {
                values.sort_by(f64::total_cmp);
                values[values.len() / 2]
            };
            let after: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            let old_runs: Vec<f64> = before.iter().map(|b| b.0).collect();
            let cpu = |runs: Vec<&Measured>| {
                median(
                    runs.iter()
                        .map(|r| r.cpu.as_secs_f64() * 1000.0 / rows as f64)
                        .collect(),
                )
            };
            // Each build's throughput over the bare loop of the same round.
            let old_ratios: Vec<f64> = before.iter().map(|b| b.0 / ceilings[b.2]).collect();
            let new_ratios: Vec<f64> = pairs.iter().map(|p| p.0).collect();
            let list = |values: &[f64], digits: usize| {
                values
                    .iter()
                    .map(|v| format!("{v:.digits$}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            table.push(format!(
                "| before / after, same batch, alternating (median of {rounds}): `{}` vs this build | before **{:.0}** refunds/s ({}), bare-loop ratio **{:.2}** ({}), {:.3} CPU s per 1,000; after **{:.0}** refunds/s ({}), bare-loop ratio **{:.2}** ({}), {:.3} CPU s per 1,000 | ratio ≥ 0.7, CPU halved |",
                old.display(),
                median(old_runs.clone()),
                list(&old_runs, 0),
                median(old_ratios.clone()),
                list(&old_ratios, 2),
                cpu(before.iter().map(|b| &b.1).collect()),
                median(after.clone()),
                list(&after, 0),
                median(new_ratios.clone()),
                list(&new_ratios, 2),
                cpu(pairs.iter().map(|p| &p.3).collect()),
            ));
            // The same over the sending alone: the engine's own requests/s
            // (its summary line), the import before it and the results file after it aside.
            let old_sending: Vec<f64> = before
                .iter()
                .map(|b| reported_rate(&b.1.stderr) / ceilings[b.2])
                .collect();
            let new_sending: Vec<f64> = pairs
                .iter()
                .map(|p| reported_rate(&p.3.stderr) / p.2)
                .collect();
            table.push(format!(
                "| the same, while sending only (import and results file aside): requests/s over the bare loop's | before **{:.2}** ({}); after **{:.2}** ({}) | ≥ 0.7 |",
                median(old_sending.clone()),
                list(&old_sending, 2),
                median(new_sending.clone()),
                list(&new_sending, 2),
            ));
        }
        let _ = config;
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ratios: Vec<String> = pairs.iter().map(|p| format!("{:.2}", p.0)).collect();
        let (ratio, throughput, ceiling, run) = &pairs[pairs.len() / 2];
        table.push(format!(
            "| throughput: {rows} Leshua refunds, no rate limit, no latency, concurrency {CONCURRENCY} (median of {rounds}) | **{throughput:.0} refunds/s** end to end, import included ({:.1} s); {:.2} CPU s per 1,000 refunds; peak RSS {:.1} MiB | ≥ 5,000/s |",
            run.wall.as_secs_f64(),
            run.cpu.as_secs_f64() * 1000.0 / rows as f64,
            run.peak_rss_mib
        ));
        table.push(format!(
            "| loopback ceiling: the same {rows} signed requests from a bare client loop | {ceiling:.0} requests/s; bulkrefund / bare = **{ratio:.2}** ({rounds} rounds: {}) | ≥ 0.5 |",
            ratios.join(", ")
        ));
        if let Some(pg) = &pg {
            table.extend(pg_runs::comparison_rows(pg, &pg_pairs, rows, &sqlite_cpu));
        }
        eprintln!("throughput done");
    }

    // Rate accuracy with latency.
    if wanted("rate") {
        let rows = scale(6_000);
        let faults = FaultConfig {
            latency_ms: Some((50, 50)),
            ..FaultConfig::default()
        };
        let (batch, config, sim) =
            prepare(dir.path(), GatewayKind::Leshua, rows, "A", faults).await;
        let run = run_batch(
            &batch,
            &config,
            "leshua",
            &["--rate", "200", "--concurrency", "32"],
        )
        .await;
        let ledger = sim.ledger();
        sim.stop().await;
        table.push(format!(
        "| rate accuracy: --rate 200, 50 ms latency, {rows} rows | achieved {:.1} requests/s = **{:.3}** of 200; busiest one-second window: **{}** requests | ≥ 0.98, ≤ 200 |",
        reported_rate(&run.stderr),
        reported_rate(&run.stderr) / 200.0,
        ledger.max_requests_in_one_second
    ));
        eprintln!("rate done");
    }

    // Adaptive concurrency: only a rate is set; the engine finds the in-flight
    // limit the gateway's latency needs.
    if wanted("adaptive") {
        for (latency, label) in [
            ((50, 50), "50 ms"),
            ((20, 300), "20..300 ms"),
            ((300, 300), "300 ms"),
        ] {
            for rate in [100u32, 200] {
                let rows = scale(u64::from(rate) * 20);
                let faults = FaultConfig {
                    latency_ms: Some(latency),
                    ..FaultConfig::default()
                };
                let prefix = format!("AD{rate}L{}x{}", latency.0, latency.1);
                let (batch, config, sim) =
                    prepare(dir.path(), GatewayKind::Leshua, rows, &prefix, faults).await;
                // No concurrency in the profile: the limit is the engine's to find.
                let text = std::fs::read_to_string(&config).unwrap();
                let text: String = text
                    .lines()
                    .filter(|l| !l.starts_with("concurrency"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(&config, text).unwrap();
                let run =
                    run_batch(&batch, &config, "leshua", &["--rate", &rate.to_string()]).await;
                let ledger = sim.ledger();
                sim.stop().await;
                let steady = ledger.steady.per_second().unwrap_or(0.0);
                let whole = ledger.whole.per_second().unwrap_or(0.0);
                let settled = run
                    .stderr
                    .lines()
                    // "leshua merchant 0000000018 (profile leshua): …": one line per merchant.
                    .find_map(|l| l.split_once(" (profile leshua): ").map(|(_, pace)| pace))
                    .unwrap_or("?")
                    .to_owned();
                table.push(format!(
                    "| adaptive: --rate {rate}, {label} latency, no concurrency set, {rows} rows | first request to last **{:.3}** of the rate; after the first second **{:.3}** ({steady:.1}/s); busiest one-second window **{}**; {settled} | ≥ 0.99, ≤ {rate} |",
                    whole / f64::from(rate),
                    steady / f64::from(rate),
                    ledger.max_requests_in_one_second,
                ));
                eprintln!("adaptive {rate} {label} done");
            }
        }
    }

    if wanted("wechatpay") {
        wechatpay::section(dir.path(), scale, &mut table).await;
    }

    if wanted("reconcile") {
        reconcile::section(dir.path(), scale, &mut table).await;
        eprintln!("reconcile done");
    }

    if wanted("million") {
        million(dir.path(), scale(1_000_000), &mut table, pg.as_ref()).await;
        eprintln!("million done");
    }

    // RSA-signed Lianshang refunds against one core's signing rate.
    if wanted("rsa") {
        let rows = scale(20_000);
        let (batch, config, sim) = prepare(
            dir.path(),
            GatewayKind::Lianshang,
            rows,
            "S",
            FaultConfig::default(),
        )
        .await;
        let run = run_batch(&batch, &config, "lianshang", &[]).await;
        sim.stop().await;
        let signs = tokio::task::spawn_blocking(signing_loop).await.unwrap();
        table.push(format!(
        "| RSA: {rows} Lianshang refunds, 2048-bit key (SHA-256) | **{:.0} refunds/s**; a bare signing loop on one core: {signs:.0} signatures/s | — |",
        rows as f64 / run.wall.as_secs_f64()
    ));
        eprintln!("rsa done");
    }

    // Scale: validate and import a million rows.
    if wanted("scale") {
        let rows = scale(1_000_000);
        let big = dir.path().join("M.csv");
        generate::write_batch(GatewayKind::Leshua, rows, "M", &big, None).unwrap();
        // validate reads no key but checks the profile: any configuration will do.
        let config = write_config(dir.path(), "http://127.0.0.1:9");
        let mut command = Command::new(binary());
        command
            .args([
                "validate",
                big.to_str().unwrap(),
                "--profile",
                "leshua",
                "--config",
            ])
            .arg(&config)
            .arg("--journal")
            .arg(dir.path().join("none.db"));
        let validate = measured(command).await;
        assert_eq!(validate.exit, 0, "{}", validate.stderr);
        table.push(format!(
            "| scale: validate {rows} rows | **{:.1} s**; peak RSS **{:.1} MiB** | < 100 MiB |",
            validate.wall.as_secs_f64(),
            validate.peak_rss_mib
        ));
        let kept = dir.path().join("M.db");
        let mut command = Command::new(binary().parent().unwrap().join("examples/import_million"));
        command.arg(rows.to_string()).arg(&kept);
        let import = measured(command).await;
        table.push(format!(
            "| scale: import {rows} rows into a new journal (dedupe, one transaction) | **{:.1} s**; peak RSS {:.1} MiB | < 60 s |",
            import.wall.as_secs_f64(),
            import.peak_rss_mib
        ));
        for format in ["csv", "xlsx"] {
            let mut command = Command::new(binary());
            command
                .args(["export", "--format", format, "--out"])
                .arg(dir.path().join(format!("export.{format}")))
                .arg("--journal")
                .arg(&kept);
            let export = measured(command).await;
            assert_eq!(export.exit, 0, "{}", export.stderr);
            table.push(format!(
                "| scale: export {rows} refunds as {format} | **{:.1} s**; peak RSS **{:.1} MiB** | streamed |",
                export.wall.as_secs_f64(),
                export.peak_rss_mib
            ));
        }
    }
    if let Some(pg) = pg.as_ref().filter(|pg| pg.profiling) {
        let log = std::env::temp_dir().join("bench-pg-server.log");
        pg.keep_log(&log);
        eprintln!(
            "the PostgreSQL server's log (slow plans): {}",
            log.display()
        );
    }
    println!("{}", table.join("\n"));
}
