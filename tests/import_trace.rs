//! A killed import leaves a trace (issue 18, point 19). The import records a
//! batch in one transaction, so a kill in the middle records nothing of it;
//! the attempt itself is committed first. Here the attempt is recorded as the
//! import records it, and the process "dies" right after (nothing more is
//! done): `resume` and `status` name the file, say to run it again, and do
//! not exit 0 until it has been.

mod common;

use std::io::Write as _;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use bulkrefund::journal::import::BatchMeta;
use bulkrefund::journal::Journal;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// What an import killed before its transaction committed leaves: its trace.
fn killed_import(world: &World, batch: &Path) {
    let journal = Journal::open(&world.journal()).unwrap();
    journal
        .begin_import(&BatchMeta {
            file_name: batch.display().to_string(),
            file_hash: "the hash of the batch".into(),
            profile: "leshua".into(),
            gateway: bulkrefund::gateway::GatewayKind::Leshua,
            merchant_id: LESHUA_MERCHANT.into(),
            header: vec![],
            input_path: Some(std::fs::canonicalize(batch).unwrap().display().to_string()),
            results_path: None,
            results_bom: false,
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_and_status_name_an_import_that_was_killed() {
    let world = World::start(Orders::new().leshua("T1", 1000), FaultConfig::default()).await;
    let batch = BatchFile::leshua()
        .rows(["K1,T1,1000"])
        .write(world.dir.path(), "big.csv");
    let file = batch.display().to_string();
    {
        let journal = Journal::open(&world.journal()).unwrap();
        journal
            .begin_import(&BatchMeta {
                file_name: file.clone(),
                file_hash: "the hash of big.csv".into(),
                profile: "leshua".into(),
                gateway: bulkrefund::gateway::GatewayKind::Leshua,
                merchant_id: LESHUA_MERCHANT.into(),
                header: vec![],
                input_path: Some(std::fs::canonicalize(&batch).unwrap().display().to_string()),
                results_path: None,
                results_bom: false,
            })
            .unwrap();
        // Killed here: the import's transaction never committed.
    }
    let said_about_it = |line: &str| {
        line.starts_with(&format!(
            "Error: the import of '{file}' (profile leshua, started "
        )) && line.ends_with(&format!(
            ") never finished: the process was killed before it was recorded, so nothing of it \
             was recorded or sent. Run it again: `bulkrefund run {file} --profile leshua`; or, if \
             it is not to be run, forget it: `bulkrefund journal forget-import 1`"
        ))
    };

    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 4, "{}", resume.stderr);
    // After the engine's last progress line (nothing to do): the summary, then the trace.
    let lines: Vec<&str> = resume.stderr.lines().rev().take(2).collect();
    assert!(said_about_it(lines[0]), "{}", resume.stderr);
    assert!(lines[1].starts_with("0 requests in "), "{}", resume.stderr);
    assert!(!resume.stderr.contains("nothing was unresolved"));

    let status = world.bulkrefund(&["status"]).await;
    assert_eq!(status.code, 4, "{}", status.stderr);
    // status holds no lock: the import might be under way elsewhere, and it says so.
    assert_eq!(status.stderr.lines().count(), 1, "{}", status.stderr);
    let line = status.stderr.trim_end();
    assert!(
        line.starts_with(&format!(
            "Error: the import of '{file}' (profile leshua, started "
        )) && line.ends_with(&format!(
            ") has not finished: unless a bulkrefund is importing it now, the process was killed, \
             and nothing of it was recorded or sent. Run it again: `bulkrefund run {file} --profile leshua`; \
             or, if it is not to be run, forget it: `bulkrefund journal forget-import 1`"
        )),
        "{}",
        status.stderr
    );
    assert_eq!(status.stdout.lines().next(), Some("no batches yet"));
    let json = world.bulkrefund(&["status", "--format", "json"]).await;
    assert_eq!(json.code, 4, "{}", json.stderr);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["interrupted_imports"].as_array().unwrap().len(), 1);

    // Run again, the file is recorded and sent; the trace is gone with it.
    let run = world
        .bulkrefund(&["run", &file, "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(world.ledger().refunds.len(), 1);
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 0, "{}", resume.stderr);
    assert!(
        resume.stderr.contains("nothing was unresolved"),
        "{}",
        resume.stderr
    );
    assert_eq!(world.bulkrefund(&["status"]).await.code, 0);
}

/// Issue 18 review, item 2: an operator who answers "no" for a file has
/// decided about it: the trace of its killed import goes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_run_clears_the_trace_of_a_killed_import_of_its_file() {
    let world = World::start(Orders::new().leshua("T1", 1000), FaultConfig::default()).await;
    let batch = BatchFile::leshua()
        .rows(["K1,T1,1000"])
        .write(world.dir.path(), "big.csv");
    killed_import(&world, &batch);
    assert_eq!(world.bulkrefund(&["resume"]).await.code, 4);

    // A terminal to answer on, and "n" typed on it.
    let (mut typed, terminal) = {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two fresh descriptors; we own them from here.
        let made = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(made, 0, "openpty");
        // SAFETY: both descriptors were just opened and are owned by nobody else.
        unsafe {
            (
                std::fs::File::from_raw_fd(master),
                OwnedFd::from_raw_fd(slave),
            )
        }
    };
    typed.write_all(b"n\n").unwrap();
    let declined = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .arg("--config")
        .arg(&world.config)
        .arg("--journal")
        .arg(world.journal())
        .stdin(Stdio::from(terminal))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&declined.stderr);
    assert_eq!(declined.status.code(), Some(2), "{stderr}");
    // The answer is echoed on the terminal, not on stderr.
    assert_eq!(
        stderr.lines().last(),
        Some(
            "Send 1 refunds, 10.00 yuan? [y/N] Error: not confirmed: nothing was recorded or sent"
        ),
        "{stderr}"
    );
    assert_eq!(world.ledger().requests, 0);
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 0, "{}", resume.stderr);
    assert_eq!(world.bulkrefund(&["status"]).await.code, 0);
}

/// Issue 18 review, item 2: a trace of a file the operator will not run is
/// cleared by `journal forget-import ID`, the id the messages give; the
/// command they give to run it again reads back in a shell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_import_clears_the_trace_of_a_file_not_to_be_run() {
    let world = World::start(Orders::new().leshua("T1", 1000), FaultConfig::default()).await;
    let batch = BatchFile::leshua()
        .rows(["K1,T1,1000"])
        .write(world.dir.path(), "nov 30's refunds.csv");
    killed_import(&world, &batch);
    let quoted = format!("'{}'", batch.display().to_string().replace('\'', r"'\''"));
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 4, "{}", resume.stderr);
    let last = resume.stderr.lines().last().unwrap();
    assert!(
        last.ends_with(&format!(
            "Run it again: `bulkrefund run {quoted} --profile leshua`; or, if it is not to be run, \
             forget it: `bulkrefund journal forget-import 1`"
        )),
        "{last}"
    );
    assert_eq!(world.bulkrefund(&["status"]).await.code, 4);

    let forget = world.bulkrefund(&["journal", "forget-import", "1"]).await;
    assert_eq!(forget.code, 0, "{}", forget.stderr);
    let said = forget.stderr.trim_end();
    assert!(
        said.starts_with(&format!(
            "forgot the import of '{}' (profile leshua, started ",
            batch.display()
        )) && said.ends_with("): nothing of it was recorded or sent"),
        "{said}"
    );
    let resume = world.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 0, "{}", resume.stderr);
    let status = world.bulkrefund(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let again = world.bulkrefund(&["journal", "forget-import", "1"]).await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert_eq!(
        again.stderr.trim_end(),
        "Error: no unfinished import 1 in the journal: `bulkrefund status` lists them"
    );
    assert_eq!(world.ledger().requests, 0);
}
