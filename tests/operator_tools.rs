//! The operator's everyday tools, as the real binary: the gateway's days for
//! an export, one refund's story with `show`, and the look before `run` pays.

mod common;

use std::process::Stdio;
use std::time::Duration;

use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// Moves a refund's gateway success time, as if the gateway had said so.
fn succeeded_at(world: &World, refund_id: &str, utc: &str) {
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let changed = conn
        .execute(
            "UPDATE refunds SET gateway_success_at = ?2 WHERE refund_id = ?1",
            [refund_id, utc],
        )
        .unwrap();
    assert_eq!(changed, 1, "{refund_id}");
}

fn export_ids(path: &std::path::Path) -> Vec<(String, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| !r[0].starts_with('#'))
        .map(|r| (r[2].to_owned(), r[19].to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_november_export_ends_at_the_gateways_midnight_whatever_the_zone_shown() {
    let world = World::start(
        Orders::new().leshua("T1", 1000).leshua("T2", 2000),
        FaultConfig::default(),
    )
    .await;
    let config = std::fs::read_to_string(&world.config).unwrap();
    std::fs::write(
        &world.config,
        format!("timezone = \"Asia/Shanghai\"\n{config}"),
    )
    .unwrap();
    let batch = BatchFile::leshua()
        .rows(["LATE,T1,1000", "NEXT,T2,2000"])
        .write(world.dir.path(), "month-end.csv");
    assert_eq!(
        world
            .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
            .await
            .code,
        0
    );
    // The gateway's success times: 23:30 on 30 November and 00:10 on
    // 1 December, Beijing time.
    succeeded_at(&world, "LATE", "2026-11-30T15:30:00.000Z");
    succeeded_at(&world, "NEXT", "2026-11-30T16:10:00.000Z");
    let november = world.path("november.csv");
    let out = world
        .bulkrefund(&[
            "export",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--out",
            november.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("times in Asia/Shanghai"),
        "{}",
        out.stderr
    );
    assert_eq!(
        export_ids(&november),
        [("LATE".to_owned(), "2026-11-30T23:30:00+08:00".to_owned())]
    );
    let december = world.path("december.csv");
    world
        .bulkrefund(&[
            "export",
            "--since",
            "2026-12-01",
            "--out",
            december.to_str().unwrap(),
        ])
        .await;
    assert_eq!(
        export_ids(&december),
        [("NEXT".to_owned(), "2026-12-01T00:10:00+08:00".to_owned())]
    );
    // --timezone outranks the configuration for the times shown, never for
    // the day a refund counts for: in UTC both succeeded in November, yet
    // the gateway's November holds LATE only.
    let utc = world.path("utc.csv");
    world
        .bulkrefund(&[
            "export",
            "--timezone",
            "UTC",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--out",
            utc.to_str().unwrap(),
        ])
        .await;
    assert_eq!(
        export_ids(&utc),
        [("LATE".to_owned(), "2026-11-30T15:30:00+00:00".to_owned())]
    );
    // An extension the export does not know is refused, nothing written.
    let ods = world.path("november.ods");
    let refused = world
        .bulkrefund(&["export", "--out", ods.to_str().unwrap()])
        .await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains(".xlsx"), "{}", refused.stderr);
    assert!(!ods.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_tells_a_refund_that_went_unknown_then_processing_then_succeeded() {
    let world = World::start(
        Orders::new().leshua("T1", 1000),
        FaultConfig {
            // The refund is recorded, then the connection closes: unknown.
            drop_rate: 1.0,
            // The query finds it processing; a later poll, succeeded.
            processing_for: Duration::from_millis(300),
            ..FaultConfig::default()
        },
    )
    .await;
    let batch = BatchFile::leshua()
        .row("S1,T1,1000")
        .write(world.dir.path(), "one.csv");
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(world.ledger().ids[0].submissions, 1);

    let json = world.bulkrefund(&["show", "S1", "--format", "json"]).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let shown: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let refund = &shown["refunds"][0];
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["amount_fen"], 1000);
    assert_eq!(refund["order_id"], "T1");
    assert_eq!(refund["listed_by"][0]["batch"], 1);
    assert_eq!(refund["listed_by"][0]["line"], 2);
    let states: Vec<&str> = refund["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    let journal_states: Vec<String> = {
        let conn = rusqlite::Connection::open(world.journal()).unwrap();
        let mut stmt = conn
            .prepare("SELECT to_state FROM events ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(states, journal_states, "every transition the journal holds");
    let unknown = states.iter().position(|s| *s == "unknown").unwrap();
    let processing = states.iter().position(|s| *s == "processing").unwrap();
    assert!(unknown < processing, "{states:?}");
    assert_eq!(states.last(), Some(&"succeeded"));
    let attempts = refund["attempts"].as_array().unwrap();
    let kinds: Vec<&str> = attempts
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "submit");
    assert!(kinds[1..].iter().all(|k| *k == "query"), "{kinds:?}");
    assert!(
        kinds.len() >= 3,
        "a query found it processing, a later one succeeded: {kinds:?}"
    );
    assert!(
        attempts[0]["http_status"].is_null(),
        "no answer to the submit"
    );
    assert_eq!(attempts[1]["http_status"], 200);
    assert!(attempts.iter().all(|a| a["latency_ms"].is_u64()));
    let recorded: i64 = rusqlite::Connection::open(world.journal())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM attempts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attempts.len() as i64, recorded, "every attempt");

    // As a table, and as CSV: one line per transition or attempt.
    let table = world.bulkrefund(&["show", "S1"]).await;
    assert!(
        table.stdout.contains("chain: *S1 (succeeded)"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("unknown -> "), "{}", table.stdout);
    let csv = world.bulkrefund(&["show", "S1", "--format", "csv"]).await;
    assert_eq!(
        csv.stdout.lines().count(),
        1 + states.len() + attempts.len(),
        "{}",
        csv.stdout
    );
    let missing = world.bulkrefund(&["show", "NOPE"]).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no refund \"NOPE\""),
        "{}",
        missing.stderr
    );
}

/// `run` as a script would call it: no terminal, and no `--yes` unless given.
async fn run_without_terminal(world: &World, batch: &std::path::Path, more: &[&str]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .args(more)
        .arg("--config")
        .arg(&world.config)
        .arg("--journal")
        .arg(world.journal())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn batches_recorded(world: &World) -> usize {
    world.read_journal().batches().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_shows_its_plan_and_sends_only_when_told() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 2500),
        FaultConfig::default(),
        Profiles::default()
            .set("leshua", "max_batch_yuan = 30")
            .set("leshua", "max_refund_yuan = \"25.00\""),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2500"])
        .write(world.dir.path(), "plan.csv");
    let small = BatchFile::leshua()
        .rows(["P2,T2,2500"])
        .write(world.dir.path(), "small.csv");

    // No terminal, no --yes: the plan is shown, nothing is recorded or sent.
    let refused = run_without_terminal(&world, &small, &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("to send:   1 refunds, 25.00 yuan"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("largest:   25.00 yuan (line 2)"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("merchant "), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("gateway 127.0.0.1:"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("pass --yes"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "messages go to stderr");
    assert_eq!(world.ledger().requests, 0, "nothing sent");
    assert_eq!(
        batches_recorded(&world),
        0,
        "nothing recorded: resume sends nothing"
    );

    // Over max_batch_yuan (35.00 > 30), even with --yes: refused before sending.
    let over = run_without_terminal(&world, &batch, &["--yes"]).await;
    assert_eq!(over.code, 2, "{}", over.stderr);
    assert!(
        over.stderr.contains("more than max_batch_yuan = 30.00"),
        "{}",
        over.stderr
    );
    assert!(
        !over.stderr.contains("max_refund_yuan"),
        "25.00 is not over 25.00"
    );
    assert!(
        over.stderr.contains("--allow-over-limit"),
        "{}",
        over.stderr
    );
    assert_eq!(world.ledger().requests, 0);
    assert_eq!(batches_recorded(&world), 0);
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(world.ledger().requests, 0, "{}", resume.stderr);

    // --allow-over-limit sends it.
    let sent = run_without_terminal(&world, &batch, &["--yes", "--allow-over-limit"]).await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert_eq!(world.ledger().refunds.len(), 2);

    // The same file again: its earlier batch is named, and without --yes
    // nothing more is recorded.
    let again = run_without_terminal(&world, &batch, &[]).await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("this file was run before, byte for byte: batch 1"),
        "{}",
        again.stderr
    );
    assert_eq!(batches_recorded(&world), 1);
    let requests = world.ledger().requests;
    let with_yes = run_without_terminal(&world, &batch, &["--yes", "--allow-over-limit"]).await;
    assert_eq!(with_yes.code, 0, "{}", with_yes.stderr);
    assert_eq!(batches_recorded(&world), 2);
    assert_eq!(
        world.ledger().requests,
        requests,
        "its refunds are not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_hold_only_json_and_tell_each_refunds_story() {
    let world = World::start(
        Orders::new().leshua("T1", 1000).leshua("T2", 2000),
        FaultConfig {
            processing_for: Duration::from_millis(200),
            ..FaultConfig::default()
        },
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["J1,T1,1000", "J2,T2,2000"])
        .write(world.dir.path(), "logged.csv");
    let run = world
        .bulkrefund(&[
            "run",
            batch.to_str().unwrap(),
            "--profile",
            "leshua",
            "--log-format",
            "json",
            "-v",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    // The summary is there too, as JSON messages.
    assert!(lines.iter().any(|l| l["fields"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("refunded "))));
    // Each refund's transitions, in a span naming it and its batch.
    for id in ["J1", "J2"] {
        let transitions: Vec<(&str, &str)> = lines
            .iter()
            .filter(|l| l["fields"]["message"] == "transition" && l["span"]["refund_id"] == id)
            .map(|l| {
                assert_eq!(l["span"]["batch"], 1);
                (
                    l["fields"]["from"].as_str().unwrap(),
                    l["fields"]["to"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            transitions,
            [("pending", "processing"), ("processing", "succeeded")],
            "{id}"
        );
        assert!(lines.iter().any(|l| l["fields"]["message"] == "attempt"
            && l["span"]["refund_id"] == id
            && l["span"]["step"] == "submit"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbk_batch_gets_results_excel_reads_unless_no_bom() {
    let world = World::start(
        Orders::new().leshua("T1", 1000).leshua("T2", 1000),
        FaultConfig::default(),
    )
    .await;
    let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
    let first = world.write(
        "gbk.csv",
        gbk("merchant_refund_id,third_order_id,refund_amount,备注\nG1,T1,1000,月末退款\n"),
    );
    let second = world.write(
        "gbk-no-bom.csv",
        gbk("merchant_refund_id,third_order_id,refund_amount,备注\nG2,T2,1000,月末退款\n"),
    );
    let run = |batch: std::path::PathBuf, more: &'static [&'static str]| {
        let world = &world;
        async move {
            let mut args = vec!["run", batch.to_str().unwrap(), "--profile", "leshua"];
            args.extend(more);
            world.bulkrefund(&args).await
        }
    };
    assert_eq!(run(first.clone(), &[]).await.code, 0);
    assert_eq!(run(second.clone(), &["--no-bom"]).await.code, 0);
    let bytes = |path: &str| std::fs::read(world.path(path)).unwrap();
    let with_bom = bytes("gbk.results.csv");
    assert!(with_bom.starts_with("\u{feff}merchant_refund_id".as_bytes()));
    assert!(String::from_utf8(with_bom).unwrap().contains("月末退款"));
    assert!(bytes("gbk-no-bom.results.csv").starts_with(b"merchant_refund_id"));
    // A rewrite by resume keeps the choice.
    std::fs::remove_file(world.path("gbk.results.csv")).unwrap();
    let journal = rusqlite::Connection::open(world.journal()).unwrap();
    journal
        .execute("UPDATE batches SET finished_at = NULL", [])
        .unwrap();
    drop(journal);
    assert_eq!(world.bulkrefund(&["resume", "--batch", "1"]).await.code, 0);
    assert!(bytes("gbk.results.csv").starts_with("\u{feff}".as_bytes()));
}
