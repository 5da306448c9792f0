//! The real binary against an in-process simulator: killed with SIGKILL at
//! several points then resumed, interrupted with Ctrl-C, and the demo.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::SimHandle;
use common::*;

/// Waits until the simulator has seen at least `requests` requests.
async fn wait_for_requests(sim: &SimHandle, requests: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.ledger().requests < requests {
        assert!(
            Instant::now() < deadline,
            "the simulator never saw {requests} requests"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs `resume` until every refund is final (a resume may itself leave some unknown).
async fn resume_until_final(world: &World) -> i32 {
    for _ in 0..5 {
        let output = world
            .command(&["resume", "--poll-for", "30s"])
            .output()
            .await
            .unwrap();
        let code = output.status.code().unwrap();
        assert!(
            matches!(code, 0 | 3 | 4),
            "resume: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if code != 4 {
            return code;
        }
    }
    panic!("resume never finished");
}

fn in_flight_rows(journal: &Path) -> i64 {
    let conn = rusqlite::Connection::open(journal).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM refunds WHERE state = 'in_flight'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// A world with a generated Leshua batch of `rows` refunds its gateway knows.
async fn world(rows: u64, faults: FaultConfig) -> (World, PathBuf) {
    World::with_generated(GatewayKind::Leshua, rows, "K", faults).await
}

/// `run BATCH --profile leshua` and more flags, as the real binary.
fn run_command(w: &World, batch: &Path, more: &[&str]) -> tokio::process::Command {
    let mut args = vec!["run", batch.to_str().unwrap(), "--profile", "leshua"];
    args.extend(more);
    let mut command = w.command(&args);
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_then_resumed_every_refund_exactly_once() {
    for (seed, kill_after) in [(1, 5), (2, 60), (3, 150), (4, 260)] {
        let faults = FaultConfig {
            latency_ms: Some((2, 15)),
            fail_rate: 0.05,
            drop_rate: 0.05,
            busy_rate: 0.05,
            processing_for: Duration::from_millis(200),
            seed: Some(seed),
            ..FaultConfig::default()
        };
        let (w, batch) = world(200, faults).await;
        let mut child = run_command(&w, &batch, &["--rate", "300"]).spawn().unwrap();
        wait_for_requests(&w.sim, kill_after).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let code = resume_until_final(&w).await;
        assert_eq!(code, 0, "kill after {kill_after} requests");
        assert_eq!(in_flight_rows(&w.journal()), 0);
        let ledger = w.ledger();
        assert_eq!(
            ledger.refunds.len(),
            200,
            "kill after {kill_after}: every refund created once"
        );
        let rows = w.results(&batch);
        assert_eq!(rows.len(), 200);
        assert!(
            rows.iter().all(|r| r["status"] == "succeeded"),
            "kill after {kill_after}"
        );
        assert_results_match_ledger(&rows, "merchant_refund_id", &ledger);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_interrupt_settles_in_flight_and_exits_4() {
    let (w, batch) = world(
        300,
        FaultConfig {
            latency_ms: Some((40, 60)),
            ..FaultConfig::default()
        },
    )
    .await;
    let child = run_command(&w, &batch, &["--rate", "60"]).spawn().unwrap();
    wait_for_requests(&w.sim, 30).await;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGINT) };
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        in_flight_rows(&w.journal()),
        0,
        "every request in flight was settled"
    );
    let ledger = w.ledger();
    let rows = w.results(&batch);
    assert_eq!(rows.len(), 300);
    assert_results_match_ledger(&rows, "merchant_refund_id", &ledger);
    let succeeded = rows.iter().filter(|r| r["status"] == "succeeded").count();
    assert_eq!(
        succeeded,
        ledger.refunds.len(),
        "the results hold exactly what the gateway created"
    );
    assert!(succeeded < 300 && rows.iter().any(|r| r["status"] == "pending"));
    assert_eq!(resume_until_final(&w).await, 0);
    let rows = w.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    assert!(w.ledger().ids.iter().all(|id| id.submissions == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_journal_is_refused() {
    let (w, batch) = world(
        100,
        FaultConfig {
            latency_ms: Some((50, 50)),
            ..FaultConfig::default()
        },
    )
    .await;
    let first = run_command(&w, &batch, &["--rate", "20"]).spawn().unwrap();
    wait_for_requests(&w.sim, 2).await;
    let second = w.command(&["resume"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "in use by another bulkrefund process (pid {} on host",
            first.id().unwrap()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn demo_exits_0_and_prints_the_summary() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["demo"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let refunded: Vec<Vec<&str>> = stderr
        .lines()
        .filter(|l| l.starts_with("  refunded "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        refunded,
        [
            ["refunded", "29", "827.79", "yuan"],
            ["refunded", "29", "1,118.76", "yuan"],
            ["refunded", "12", "220.17", "yuan"],
            ["refunded", "12", "752.79", "yuan"]
        ],
        "{stderr}"
    );
    assert!(stderr.contains("0 created twice"), "{stderr}");
    assert!(stderr.contains("results: "), "{stderr}");
    let results = stderr
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap();
    assert!(Path::new(results).exists());
    // The month as one page, beside the results, with the money above.
    let dir = Path::new(results).parent().unwrap();
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..80]);
    assert!(
        page.contains("2,919.51"),
        "the refunded of all four batches"
    );
    assert!(
        stderr.contains(&format!(
            "report written to {}",
            dir.join("report.html").display()
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_batches_and_details_one() {
    let (w, batch) = world(12, FaultConfig::default()).await;
    let run = run_command(&w, &batch, &[]).output().await.unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let status = |args: &'static [&'static str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"));
        command
            .args(args)
            .arg("--journal")
            .arg(w.journal())
            .arg("--config")
            .arg(&w.config);
        command.output().unwrap()
    };
    let list = status(&["status"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.status.code(), Some(0));
    assert!(
        text.contains("batch 1  ") && text.contains("profile leshua"),
        "{text}"
    );
    let total: u64 = (1..=12u64).map(|i| 100 + (i * 7919) % 100_000).sum();
    // For a person: the thousands grouped (the CSV keeps plain yuan).
    let yuan = bulkrefund::money::Fen(total).grouped();
    assert!(yuan.contains(','), "{yuan}");
    assert!(
        text.contains(&format!("refunded 12 ({yuan} yuan)")),
        "{text}"
    );
    let detail = status(&["status", "--batch", "1"]);
    let text = String::from_utf8_lossy(&detail.stdout);
    assert!(
        text.contains("results: ") && text.contains("paid by this batch"),
        "{text}"
    );
    assert!(!text.contains("rows that did not succeed"), "{text}");
    assert_eq!(status(&["status", "--batch", "9"]).status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_the_import_leaves_no_rows_recorded_and_nothing_sent() {
    let (w, batch) = world(60_000, FaultConfig::default()).await;
    let mut child = run_command(&w, &batch, &[]).spawn().unwrap();
    // The import is one transaction: its pages reach the WAL as it goes.
    let wal = PathBuf::from(format!("{}-wal", w.journal().display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) < 2 << 20 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        assert!(Instant::now() < deadline, "the import never grew the WAL");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let sent_before_kill = w.ledger().requests;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let conn = rusqlite::Connection::open(w.journal()).unwrap();
    let (batches, rows): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM batches), (SELECT COUNT(*) FROM batch_rows)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    assert!(
        (batches, rows) == (0, 0) || (batches, rows) == (1, 60_000),
        "a batch is recorded whole or not at all: {batches} batches, {rows} rows"
    );
    if batches == 0 {
        assert_eq!(sent_before_kill, 0);
        // Nothing was recorded, so nothing is sent; but the attempt was, apart:
        // resume names the file to run again and does not exit 0 (issue 18, point 19).
        let output = w.command(&["resume"]).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "Error: the import of '{}' (profile leshua, started ",
                batch.display()
            )) && stderr.contains("Run it again: `bulkrefund run "),
            "{stderr}"
        );
        assert_eq!(w.ledger().requests, 0);
    }
}

/// A pipe whose reading end is already closed: every write to it fails (EPIPE),
/// as after `| head` has exited.
fn closed_pipe() -> (std::io::PipeWriter, std::io::PipeWriter) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let second = writer.try_clone().unwrap();
    (writer, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_stop_sending_whatever_stdout_and_stderr_are() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let (w, batch) = world(
            200,
            FaultConfig {
                latency_ms: Some((40, 60)),
                ..FaultConfig::default()
            },
        )
        .await;
        let (stdout, stderr) = closed_pipe();
        let mut child = run_command(&w, &batch, &["--rate", "20", "--concurrency", "4", "-v"])
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        wait_for_requests(&w.sim, 10).await;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id().unwrap() as i32, signal) };
        let at_signal = w.ledger().requests;
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(4), "signal {signal}: {status:?}");
        let after = w.ledger().requests - at_signal;
        assert!(
            after <= 4,
            "signal {signal}: at most the requests in flight finish, not {after}"
        );
        assert_eq!(in_flight_rows(&w.journal()), 0);
        let rows = w.results(&batch);
        assert_results_match_ledger(&rows, "merchant_refund_id", &w.ledger());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stdout_and_stderr_never_crash_a_command() {
    let (w, batch) = world(12, FaultConfig::default()).await;
    // A run whose stderr (and stdout) is closed finishes its work.
    let (stdout, stderr) = closed_pipe();
    let status = run_command(&w, &batch, &["-v"])
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let rows = w.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    // `status | head`: a closed stdout ends it quietly, with exit 0.
    for args in [
        &["status"][..],
        &["status", "--batch", "1"],
        &["status", "--format", "json"],
        &["status", "--batch", "1", "--format", "csv"],
        &["show", "KR000000001", "--format", "json"],
        &["show", "KR000000001"],
        &["export", "--out", "-"],
    ] {
        let (stdout, _) = closed_pipe();
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
            .args(args)
            .arg("--config")
            .arg(&w.config)
            .arg("--journal")
            .arg(w.journal())
            .stdout(stdout)
            .stderr(Stdio::piped())
            // Not `output()`, which would put its own pipe on stdout.
            .spawn()
            .unwrap()
            .wait_with_output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
    // `demo 2>&1 | head`.
    let (stdout, stderr) = closed_pipe();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["demo"])
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["resume", "-vv", "--journal"])
        .arg(dir.path().join("none.db"))
        .arg("--config")
        .arg(dir.path().join("none.toml"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// Issue 18, point 15: Ctrl-C twice during the import. Without `--yes` and
/// without a terminal the run can only import (then it would refuse), so
/// every interruption lands in the import: nothing is in flight, and nothing
/// must be said to be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_twice_during_the_import_speaks_of_no_requests_in_flight() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let (w, batch) = world(60_000, FaultConfig::default()).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .arg("--config")
        .arg(&w.config)
        .arg("--journal")
        .arg(w.journal())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let wal = PathBuf::from(format!("{}-wal", w.journal().display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) < 2 << 20 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended first"
        );
        assert!(Instant::now() < deadline, "the import never grew the WAL");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let pid = child.id().unwrap() as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut said = Vec::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        let first = line.starts_with("interrupted");
        said.push(line);
        if first {
            // The second, once the first was heard (it may find the run gone).
            unsafe { libc::kill(pid, libc::SIGINT) };
        }
    }
    let status = child.wait().await.unwrap();
    let said = said.join("\n");
    assert_eq!(status.code(), Some(4), "{said}");
    assert!(
        said.contains(
            "interrupted during the import: nothing of this batch is recorded or sent (interrupt again to stop at once; then run the file again)"
        ),
        "{said}"
    );
    assert!(!said.contains("in flight"), "{said}");
    assert_eq!(w.ledger().requests, 0);
    let batches: i64 = rusqlite::Connection::open(w.journal())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!(batches, 0, "nothing recorded");
}
