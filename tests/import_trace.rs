//! A killed import leaves a trace (issue 18, point 19). The import records a
//! batch in one transaction, so a kill in the middle records nothing of it;
//! the attempt itself is committed first. Here the attempt is recorded as the
//! import records it, and the process "dies" right after (nothing more is
//! done): `resume` and `status` name the file, say to run it again, and do
//! not exit 0 until it has been.

mod common;

use bulkrefund::journal::import::BatchMeta;
use bulkrefund::journal::Journal;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

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
             was recorded or sent. Run it again: `bulkrefund run {file} --profile leshua`"
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
             and nothing of it was recorded or sent. Run it again: `bulkrefund run {file} --profile leshua`"
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
