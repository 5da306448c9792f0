//! A second person's approval (issue 21, item 4), as the real binary against
//! the simulator: a batch over the profile's `approve_over_yuan` is recorded
//! and waits. `run` exits 4 (nothing lost, `resume` later) and sends nothing;
//! `resume` and `--allow-over-limit` send nothing either; `status` names the
//! person who recorded it; `approve` by that same OS user is refused (exit 2)
//! and the refusal recorded; `approve` by another OS user releases it, and
//! `resume` then pays each refund exactly once. A batch under the limit is
//! sent at once.
//!
//! Another OS user: the binary runs through `runuser -u nobody --`, which
//! needs root (as on CI). Not root: the test says it skipped, on one line of
//! stderr, or fails when `BULKREFUND_REQUIRE_REAL=1`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bulkrefund::journal::sqlite::approvals::os_user;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// The limits of the scenario: a batch over 25.00 yuan waits; 28.00 is the
/// most a batch may send without `--allow-over-limit`.
fn limited() -> Profiles {
    Profiles::default()
        .set("leshua", "approve_over_yuan = \"25\"")
        .set("leshua", "max_batch_yuan = 28")
}

/// Whether this process may run the binary as another OS user; says why
/// not (or fails, where a skip is not allowed).
fn other_user_available() -> bool {
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 {
        return true;
    }
    if std::env::var("BULKREFUND_REQUIRE_REAL").as_deref() == Ok("1") {
        panic!("approval by another OS user needs root (runuser), and BULKREFUND_REQUIRE_REAL=1");
    }
    eprintln!("skipped: approval by another OS user runs the binary through runuser (not root)");
    false
}

/// Lets `nobody` write the journal: its directory and its files (the
/// journal, its `-wal` and `-shm`, the lock's note), nothing else.
fn open_to_everyone(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() && name.starts_with("journal.db") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
    }
}

/// `bulkrefund approve --batch N` as the OS user `nobody`. The journal and
/// the time zone are given, so the configuration (and its keys) is not read.
async fn approve_as_nobody(world: &World, batch: &str) -> Output {
    open_to_everyone(world.dir.path());
    let output = tokio::process::Command::new("runuser")
        .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_bulkrefund")])
        .args([
            "approve",
            "--batch",
            batch,
            "--timezone",
            "UTC",
            "--journal",
        ])
        .arg(world.journal())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn nothing_sent(world: &World, when: &str) {
    let ledger = world.ledger();
    assert_eq!(ledger.requests, 0, "{when}: no request reached the gateway");
    assert!(ledger.refunds.is_empty(), "{when}: {:?}", ledger.refunds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_waits_for_a_second_person() {
    if !other_user_available() {
        return;
    }
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 2000),
        FaultConfig::default(),
        limited(),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2000"])
        .write(world.dir.path(), "month-end.csv");
    let arg = batch.to_str().unwrap();
    let me = os_user();
    let waits = format!("batch 1 waits for approval by someone other than {me}");
    assert_eq!(me.key, format!("uid:{}", unsafe { libc::getuid() }));

    // Over max_batch_yuan too: refused outright without --allow-over-limit.
    let refused = world.bulkrefund(&["run", arg, "--profile", "leshua"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    // --allow-over-limit passes the cap, never the approval: recorded, held.
    let run = world
        .bulkrefund(&["run", arg, "--profile", "leshua", "--allow-over-limit"])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains(&waits), "{}", run.stderr);
    assert!(
        run.stderr.contains("`bulkrefund approve --batch 1`"),
        "{}",
        run.stderr
    );
    nothing_sent(&world, "run --allow-over-limit");

    for args in [
        &["resume"][..],
        &["resume", "--allow-over-limit"],
        &["resume", "--batch", "1", "--allow-over-limit"],
    ] {
        let resumed = world.bulkrefund(args).await;
        assert_eq!(resumed.code, 4, "{args:?}: {}", resumed.stderr);
        assert!(resumed.stderr.contains(&waits), "{}", resumed.stderr);
        nothing_sent(&world, &format!("{args:?}"));
    }

    let status = world.bulkrefund(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains(&waits), "{}", status.stdout);
    assert!(status.stdout.contains("`bulkrefund approve --batch 1`"));

    // The person who recorded it cannot approve it; the refusal is kept.
    let own = world.bulkrefund(&["approve", "--batch", "1"]).await;
    assert_eq!(own.code, 2, "{}", own.stderr);
    assert!(
        own.stderr
            .contains(&format!("refused: {me} recorded batch 1, and")),
        "{}",
        own.stderr
    );
    let resumed = world.bulkrefund(&["resume", "--allow-over-limit"]).await;
    assert_eq!(resumed.code, 4, "{}", resumed.stderr);
    nothing_sent(&world, "after the refused self-approval");
    let shown = world.bulkrefund(&["show", "P1"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stdout.contains(&waits), "{}", shown.stdout);
    assert!(
        shown
            .stdout
            .contains(&format!("refused   {me}: {me} recorded this batch")),
        "{}",
        shown.stdout
    );

    let detail = world.bulkrefund(&["status", "--batch", "1"]).await;
    assert!(detail.stdout.contains(&waits), "{}", detail.stdout);
    assert!(
        detail.stdout.contains(&format!("refused   {me}: ")),
        "{}",
        detail.stdout
    );
    let json = world.bulkrefund(&["status", "--format", "json"]).await;
    let listed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let waiting = &listed["waiting_for_approval"];
    assert_eq!(waiting.as_array().map(Vec::len), Some(1), "{waiting}");
    assert_eq!(waiting[0]["recorded_by"], me.name.as_str());
    assert_eq!(waiting[0]["recorded_by_key"], me.key.as_str());
    assert_eq!(waiting[0]["fen"], 3000);
    let csv = world.bulkrefund(&["status", "--format", "csv"]).await;
    let last_cells = |csv: &str| -> Vec<String> {
        let row = csv.lines().nth(1).unwrap_or_default();
        row.rsplitn(4, ',').take(3).map(str::to_owned).collect()
    };
    assert_eq!(
        last_cells(&csv.stdout),
        ["", me.name.as_str(), "waiting"],
        "{}",
        csv.stdout
    );

    // Another OS user approves it.
    let approved = approve_as_nobody(&world, "1").await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    // What is approved is shown before it is recorded: the same figures.
    let seen = format!("batch 1 ({arg}), recorded by {me} at ");
    let figures = "2 refunds, 30.00 yuan to send, over approve_over_yuan = 25.00";
    assert!(
        approved.stderr.contains(&format!("approving {seen}")) && approved.stderr.contains(figures),
        "{}",
        approved.stderr
    );
    assert!(
        approved.stderr.contains("batch 1 approved by nobody (uid:"),
        "{}",
        approved.stderr
    );
    nothing_sent(&world, "approval alone sends nothing");
    let again = approve_as_nobody(&world, "1").await;
    assert_eq!(again.code, 2, "approved already: {}", again.stderr);

    let resumed = world.bulkrefund(&["resume", "--allow-over-limit"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let ledger = world.ledger();
    let mut paid: Vec<(&str, u64)> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r.amount_fen))
        .collect();
    paid.sort();
    assert_eq!(paid, [("P1", 1000), ("P2", 2000)]);
    assert!(ledger
        .ids
        .iter()
        .all(|id| id.created == 1 && id.submissions == 1));
    let csv = world.bulkrefund(&["status", "--format", "csv"]).await;
    assert_eq!(
        last_cells(&csv.stdout),
        ["nobody", me.name.as_str(), "approved"],
        "{}",
        csv.stdout
    );
    let status = world.bulkrefund(&["status"]).await;
    assert!(
        !status.stdout.contains("waits for approval"),
        "{}",
        status.stdout
    );

    let shown = world.bulkrefund(&["show", "P2"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for said in [
        format!("refused   {me}: {me} recorded this batch: it needs a second person"),
        "approved  nobody (uid:".to_owned(),
        format!("a second person approved what it was shown: {seen}"),
        figures.to_owned(),
        "pending -> pending: batch 1 approved by nobody (uid:".to_owned(),
    ] {
        assert!(
            shown.stdout.contains(&said),
            "{said:?} in\n{}",
            shown.stdout
        );
    }
    assert!(
        !shown.stdout.contains("waits for approval"),
        "{}",
        shown.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_under_the_limit_is_sent_at_once_and_needs_no_approval() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 1500),
        FaultConfig::default(),
        limited(),
    )
    .await;
    // 25.00 yuan: at the limit, not over it.
    let batch = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,1500"])
        .write(world.dir.path(), "small.csv");
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("waits for approval"), "{}", run.stderr);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created == 1));

    let approve = world.bulkrefund(&["approve", "--batch", "1"]).await;
    assert_eq!(approve.code, 2, "{}", approve.stderr);
    assert!(
        approve.stderr.contains("batch 1 needs no approval"),
        "{}",
        approve.stderr
    );
    let missing = world.bulkrefund(&["approve", "--batch", "9"]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("There is no batch 9 in the journal"),
        "{}",
        missing.stderr
    );
}

/// Over `approve_over_yuan` (25.00) and under `max_batch_yuan` (40.00).
fn approval_below_the_cap() -> Profiles {
    Profiles::default()
        .set("leshua", "approve_over_yuan = \"25\"")
        .set("leshua", "max_batch_yuan = 40")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_approval_and_under_the_cap_waits_and_user_variables_change_no_one() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 2000),
        FaultConfig::default(),
        approval_below_the_cap(),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2000"])
        .write(world.dir.path(), "month-end.csv");
    // No --allow-over-limit: the caps pass; the confirmation is --yes (no terminal).
    let run = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    let me = os_user();
    let waits = format!("batch 1 waits for approval by someone other than {me}");
    assert!(run.stderr.contains(&waits), "{}", run.stderr);
    nothing_sent(&world, "run over approve_over_yuan");

    // The same OS user, whatever $USER and $LOGNAME say: refused.
    let mut command = world.command(&["approve", "--batch", "1"]);
    command
        .env("USER", "someone-else")
        .env("LOGNAME", "someone-else");
    let output = command.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("refused: {me} recorded batch 1")),
        "{stderr}"
    );
    assert!(!stderr.contains("someone-else"), "{stderr}");
    let resumed = world.bulkrefund(&["resume"]).await;
    assert_eq!(resumed.code, 4, "{}", resumed.stderr);
    assert!(resumed.stderr.contains(&waits), "{}", resumed.stderr);
    nothing_sent(&world, "after the refusal");
}

/// The status `show` gives a refund.
async fn status_of(world: &World, refund: &str) -> String {
    let json = world
        .bulkrefund(&["show", refund, "--format", "json"])
        .await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let shown: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    shown["refunds"][0]["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_batch_stops_its_sends_not_the_polls_of_an_earlier_batch() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 3000),
        FaultConfig {
            // P1 is created and stays processing a moment: the run stops polling first.
            processing_for: std::time::Duration::from_secs(1),
            ..FaultConfig::default()
        },
        approval_below_the_cap(),
    )
    .await;
    let first = BatchFile::leshua()
        .row("P1,T1,1000")
        .write(world.dir.path(), "first.csv");
    let run = world
        .bulkrefund(&[
            "run",
            first.to_str().unwrap(),
            "--profile",
            "leshua",
            "--poll-for",
            "0s",
        ])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(status_of(&world, "P1").await, "processing");

    // The same refund again, with a new one over approve_over_yuan: held.
    let again = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,3000"])
        .write(world.dir.path(), "again.csv");
    let run = world
        .bulkrefund(&[
            "run",
            again.to_str().unwrap(),
            "--profile",
            "leshua",
            "--poll-for",
            "0s",
        ])
        .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("batch 2 waits for approval"),
        "{}",
        run.stderr
    );

    // resume polls P1 until it is final; P2, held, is never sent.
    let resumed = world.bulkrefund(&["resume"]).await;
    assert_eq!(resumed.code, 4, "P2 still waits: {}", resumed.stderr);
    assert_eq!(status_of(&world, "P1").await, "succeeded");
    assert_eq!(status_of(&world, "P2").await, "pending");
    let ledger = world.ledger();
    let paid: Vec<(&str, u64)> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r.amount_fen))
        .collect();
    assert_eq!(paid, [("P1", 1000)]);
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
}
