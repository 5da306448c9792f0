//! Exit codes and words that must not mislead (issue 18, points 14 and 15),
//! as the real binary against the simulator: `resume` exits 3 while refunds
//! are in review; `retry` that could not reach the gateway and retried
//! nothing exits 1 and says why; `-q` silences warnings too; `retry`'s
//! refunds not retried for one reason are grouped by error code.

mod common;

use std::process::Stdio;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_exits_3_while_refunds_are_in_review() {
    let world = World::start(
        Orders::new().leshua("T1", 1000),
        FaultConfig {
            mismatch_rate: 1.0,
            mismatch_field: Some("refund_amount".into()),
            ..FaultConfig::default()
        },
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["V1,T1,1000"])
        .write(world.dir.path(), "review.csv");
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let requests = world.ledger().requests;
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 3, "{}", resume.stderr);
    assert!(
        resume.stderr.lines().any(|line| line
            == "1 refunds are in review (a verified answer about another refund): `bulkrefund status` \
                shows them; `bulkrefund resume --review` asks the gateway about each once"),
        "{}",
        resume.stderr
    );
    assert_eq!(world.ledger().requests, requests, "left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_that_cannot_reach_the_gateway_exits_1() {
    let (world, batch) =
        World::with_generated(GatewayKind::Leshua, 2, "W", every_refund_fails()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
    // The same profiles, aimed at a port nobody listens on.
    let elsewhere = tempfile::tempdir().unwrap();
    let config = Profiles::default().write(elsewhere.path(), "http://127.0.0.1:1");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["retry", "--batch", "1", "--failed", "--new-ids", "--yes"])
        .arg("--config")
        .arg(&config)
        .arg("--journal")
        .arg(world.journal())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with(
            "Error: the gateway could not confirm how 2 refunds ended (could not confirm with the gateway that WR000000001 failed (could not connect"
        ),
        "{stderr}"
    );
    assert!(
        last.ends_with(
            "so nothing was retried; they are still failed: run `bulkrefund retry --batch 1 --failed --new-ids` again once the gateway answers"
        ),
        "{stderr}"
    );
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2, "nothing new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_silences_warnings() {
    let world = World::start(Orders::new().leshua("T1", 1000), FaultConfig::default()).await;
    let batch = BatchFile::leshua()
        .rows(["Q1,T1,1000"])
        .write(world.dir.path(), "quiet.csv");
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 0);
    // As if a run had died with Q1 in flight: resume queries it, and warns.
    let in_flight = || {
        let conn = rusqlite::Connection::open(world.journal()).unwrap();
        conn.execute(
            "UPDATE refunds SET state = 'in_flight' WHERE refund_id = 'Q1'",
            [],
        )
        .unwrap();
    };
    in_flight();
    let loud = world.bulkrefund(&["resume"]).await;
    assert_eq!(loud.code, 0, "{}", loud.stderr);
    assert!(
        loud.stderr
            .contains("1 refunds were in flight when an earlier run stopped; they will be queried"),
        "{}",
        loud.stderr
    );
    in_flight();
    let quiet = world.bulkrefund(&["-q", "resume"]).await;
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "", "errors only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_groups_the_refunds_it_cannot_resend_by_error_code() {
    let (world, batch) =
        World::with_generated(GatewayKind::Leshua, 5, "G", every_refund_fails()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
    let retry = world
        .bulkrefund(&["retry", "--batch", "1", "--failed", "--yes"])
        .await;
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    let lines: Vec<&str> = retry.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "one line for five refunds:\n{}",
        retry.stderr
    );
    assert_eq!(lines[0], "retry of batch 1 will send 0 refunds, 0.00 yuan:");
    assert_eq!(
        lines[1],
        "not retried: the gateway created it and it ended failed: its id cannot be used again; retry with --new-ids:"
    );
    assert!(lines[2].starts_with("  failed      "), "{}", lines[2]);
    assert!(
        lines[2].contains("  e.g. GR000000001, GR000000002, GR000000003"),
        "{}",
        lines[2]
    );
}

/// Issue 18 review, item 4: a query the gateway refuses (a wrong key) says
/// nothing about the refund: nothing retried, exit 1, and the words say the
/// gateway refused the queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_whose_queries_the_gateway_refuses_exits_1() {
    let world = World::start(
        Orders::new().leshua("T1", 1000).leshua("T2", 1000),
        every_refund_fails(),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["F1,T1,1000", "F2,T2,1000"])
        .write(world.dir.path(), "refused.csv");
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    world.sim.set_faults(FaultConfig {
        wrong_key: true,
        ..FaultConfig::default()
    });
    let retry = world
        .bulkrefund(&["retry", "--batch", "1", "--failed", "--new-ids", "--yes"])
        .await;
    assert_eq!(retry.code, 1, "{}", retry.stderr);
    assert_eq!(
        retry.stderr.lines().last(),
        Some(
            "Error: the gateway refused the queries about 2 refunds (the gateway refused the query \
             itself (-20006: the gateway cannot verify our signature: the trade key is probably \
             wrong (check trade_key)): not retried), so nothing was retried; they are still failed: \
             once the profile is fixed, run `bulkrefund retry --batch 1 --failed --new-ids` again"
        ),
        "{}",
        retry.stderr
    );
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2, "nothing new");
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
}

/// Issue 18 review, item 6: the plan says what the gateway answered about a
/// refund it never created: refused when sent, or (asked since) no such refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_says_what_the_gateway_answered_about_a_refund_never_created() {
    let world = World::start(Orders::new().leshua("T1", 1000), FaultConfig::default()).await;
    // More than the order: the gateway refuses it, and creates nothing.
    let batch = BatchFile::leshua()
        .rows(["N1,T1,5000"])
        .write(world.dir.path(), "never.csv");
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let plan_lines =
        |stderr: &str| -> Vec<String> { stderr.lines().take(2).map(str::to_owned).collect() };
    // No terminal and no --yes: the plan, then nothing sent (exit 2).
    let plain = world
        .bulkrefund(&["retry", "--batch", "1", "--failed"])
        .await;
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    assert_eq!(
        plan_lines(&plain.stderr),
        [
            "retry of batch 1 will send 1 refunds, 50.00 yuan:",
            "  under the same id (the gateway refused it when it was sent: nothing was created; sent again under its own id):",
        ]
    );
    // --new-ids asks the gateway first: it has no such refund.
    let asked = world
        .bulkrefund(&["retry", "--batch", "1", "--failed", "--new-ids"])
        .await;
    assert_eq!(asked.code, 2, "{}", asked.stderr);
    let again = world
        .bulkrefund(&["retry", "--batch", "1", "--failed"])
        .await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert_eq!(
        plan_lines(&again.stderr),
        [
            "retry of batch 1 will send 1 refunds, 50.00 yuan:",
            "  under the same id (the gateway says it has no such refund: sent again under its own id):",
        ]
    );
    assert_eq!(world.ledger().id("N1").unwrap().submissions, 1);
}
