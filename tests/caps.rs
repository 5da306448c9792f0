//! The profile's caps (`max_refund_yuan`, `max_batch_yuan`) cover exactly what
//! a command will send, and every command that sends obeys them (issue 18,
//! points 3, 4 and 5), as the real binary against the simulator: the plan
//! counts refunds an earlier, killed run recorded and never sent; `validate`
//! refuses what `run` refuses; `retry` and `resume` refuse (exit 2, nothing
//! sent) unless `--allow-over-limit`.

mod common;

use std::path::Path;

use bulkrefund::batch::{scan, CheckedBatch, ReadOptions};
use bulkrefund::config::Config;
use bulkrefund::journal::import::{self, BatchMeta};
use bulkrefund::journal::Journal;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Records `batch` in the journal and sends nothing: what a run killed right
/// after its import leaves.
fn record_without_sending(world: &World, batch: &Path) {
    let config = Config::load(&world.config).unwrap();
    let profile = config.profile("leshua").unwrap();
    let rows = CheckedBatch::open(
        batch,
        &ReadOptions::default(),
        profile.spec(),
        profile.row_defaults(),
    )
    .unwrap();
    let meta = BatchMeta {
        file_name: batch.display().to_string(),
        file_hash: format!("{} (recorded by the test)", batch.display()),
        profile: "leshua".into(),
        gateway: profile.gateway,
        merchant_id: profile.merchant_id.clone(),
        header: vec![],
        input_path: None,
        results_path: None,
        results_bom: false,
    };
    let mut journal = Journal::open(&world.journal()).unwrap();
    import::import(&mut journal, &meta, rows, || false, |_| {}).unwrap();
}

/// What an older bulkrefund, which imported in chunks, left after a kill:
/// `batch` recorded up to line `up_to` (with the file's own hash, so that a
/// run of it finishes the import), and not marked imported.
fn record_half_imported(world: &World, batch: &Path, up_to: u64) {
    let config = Config::load(&world.config).unwrap();
    let profile = config.profile("leshua").unwrap();
    let read = ReadOptions::default();
    let scanned = scan(batch, &read, profile.spec(), profile.row_defaults()).unwrap();
    let rows = CheckedBatch::open(batch, &read, profile.spec(), profile.row_defaults()).unwrap();
    let meta = BatchMeta {
        file_name: batch.display().to_string(),
        file_hash: scanned.sha256.clone(),
        profile: "leshua".into(),
        gateway: profile.gateway,
        merchant_id: profile.merchant_id.clone(),
        header: scanned.header.clone(),
        input_path: None,
        results_path: None,
        results_bom: false,
    };
    let mut journal = Journal::open(&world.journal()).unwrap();
    import::import(&mut journal, &meta, rows, || false, |_| {}).unwrap();
    drop(journal);
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    conn.execute_batch(&format!(
        "UPDATE batches SET imported_at = NULL, finished_at = NULL;
         DELETE FROM batch_rows WHERE line > {up_to};
         DROP TRIGGER events_no_delete;
         DELETE FROM events WHERE refund IN (SELECT id FROM refunds WHERE line > {up_to});
         DELETE FROM refunds WHERE line > {up_to};"
    ))
    .unwrap();
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

fn capped(max_batch: &str, max_refund: &str) -> Profiles {
    Profiles::default()
        .set("leshua", &format!("max_batch_yuan = \"{max_batch}\""))
        .set("leshua", &format!("max_refund_yuan = \"{max_refund}\""))
}

/// The plan of a file naming P1 (10.00 yuan) and P2 (20.00 yuan), recorded
/// in batch 1 and never sent, and a new P3 (0.10 yuan), under caps of 25.00
/// a batch and 15.00 a refund: every refund that would leave, and both caps
/// it is over.
const EARLIER_P1_P2_AND_NEW_P3: [&str; 6] = [
    "  to send:   3 refunds, 30.10 yuan in all",
    "  new:       1 refunds, 0.10 yuan",
    "  earlier:   2 refunds, 30.00 yuan recorded before and not yet sent or settled (batch 1: 2 refunds, 30.00 yuan)",
    "  largest:   20.00 yuan (refund P2 of batch 1)",
    "  over the limit: 30.10 yuan in all, more than max_batch_yuan = 25.00",
    "  over the limit: a refund of 20.00 yuan (refund P2 of batch 1), more than max_refund_yuan = 15.00",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_and_the_caps_count_earlier_refunds_never_sent() {
    let world = World::with_profiles(
        Orders::new()
            .leshua("T1", 1000)
            .leshua("T2", 2000)
            .leshua("T3", 10),
        FaultConfig::default(),
        capped("25", "15.00"),
    )
    .await;
    let first = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2000"])
        .write(world.dir.path(), "first.csv");
    record_without_sending(&world, &first);
    // The second file names the two refunds never sent, and one new one of 0.10 yuan.
    let second = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2000", "P3,T3,10"])
        .write(world.dir.path(), "second.csv");
    let second_arg = second.to_str().unwrap();

    let refused = world
        .bulkrefund(&["run", second_arg, "--profile", "leshua"])
        .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let said = lines(&refused.stderr);
    for line in EARLIER_P1_P2_AND_NEW_P3 {
        assert!(said.contains(&line), "{line:?} in\n{}", refused.stderr);
    }
    assert_eq!(world.ledger().requests, 0, "nothing sent");
    assert_eq!(world.read_journal().batches().unwrap().len(), 1);

    // validate says what run would refuse, with run's exit code (point 5).
    let validated = world
        .bulkrefund(&["validate", second_arg, "--profile", "leshua"])
        .await;
    assert_eq!(validated.code, 2, "{}", validated.stdout);
    let said = lines(&validated.stdout);
    for line in [
        format!("  run would send:          {:>9} refunds, 30.10 yuan", 3),
        "    of which recorded earlier and not yet sent or settled: batch 1: 2 refunds, 30.00 yuan".into(),
        "  over the limit: 30.10 yuan in all, more than max_batch_yuan = 25.00".into(),
        "  over the limit: a refund of 20.00 yuan (refund P2 of batch 1), more than max_refund_yuan = 15.00".into(),
    ] {
        assert!(said.contains(&line.as_str()), "{line:?} in\n{}", validated.stdout);
    }
    let allowed = world
        .bulkrefund(&[
            "validate",
            second_arg,
            "--profile",
            "leshua",
            "--allow-over-limit",
        ])
        .await;
    assert_eq!(allowed.code, 0, "{}", allowed.stdout);

    // Allowed, all three leave, each once.
    let sent = world
        .bulkrefund(&[
            "run",
            second_arg,
            "--profile",
            "leshua",
            "--allow-over-limit",
        ])
        .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 3);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

/// Issue 18 review, item 1: an import an older bulkrefund left half done is
/// finished by a run of the same file, which then sends the rows recorded
/// back then too. The plan and the caps count them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finishing_an_older_unfinished_import_counts_the_rows_it_recorded() {
    let world = World::with_profiles(
        Orders::new()
            .leshua("T1", 1000)
            .leshua("T2", 2000)
            .leshua("T3", 10),
        FaultConfig::default(),
        capped("25", "15.00"),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,1000", "P2,T2,2000", "P3,T3,10"])
        .write(world.dir.path(), "half.csv");
    // Lines 2 and 3 (P1, P2) were recorded; P3 was not.
    record_half_imported(&world, &batch, 3);
    let arg = batch.to_str().unwrap();

    let refused = world.bulkrefund(&["run", arg, "--profile", "leshua"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let said = lines(&refused.stderr);
    for line in EARLIER_P1_P2_AND_NEW_P3 {
        assert!(said.contains(&line), "{line:?} in\n{}", refused.stderr);
    }
    assert_eq!(world.ledger().requests, 0, "nothing sent");
    // validate counts the same three.
    let validated = world
        .bulkrefund(&["validate", arg, "--profile", "leshua"])
        .await;
    assert_eq!(validated.code, 2, "{}", validated.stdout);
    let line = format!("  run would send:          {:>9} refunds, 30.10 yuan", 3);
    assert!(
        lines(&validated.stdout).contains(&line.as_str()),
        "{}",
        validated.stdout
    );

    let sent = world
        .bulkrefund(&["run", arg, "--profile", "leshua", "--allow-over-limit"])
        .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 3);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_run_agree_on_a_batch_over_its_cap() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 4000).leshua("T2", 3000),
        FaultConfig::default(),
        capped("62.11", "100"),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,4000", "P2,T2,2212"])
        .write(world.dir.path(), "batch.csv");
    let arg = batch.to_str().unwrap();
    let validated = world
        .bulkrefund(&["validate", arg, "--profile", "leshua"])
        .await;
    assert_eq!(validated.code, 2, "{}", validated.stdout);
    assert!(lines(&validated.stdout)
        .contains(&"  over the limit: 62.12 yuan in all, more than max_batch_yuan = 62.11"));
    let run = world.bulkrefund(&["run", arg, "--profile", "leshua"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(lines(&run.stderr)
        .contains(&"  over the limit: 62.12 yuan in all, more than max_batch_yuan = 62.11"));
    assert_eq!(world.ledger().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_obeys_the_caps() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 5000),
        every_refund_fails(),
        capped("1000", "10.00"),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,2000"])
        .write(world.dir.path(), "batch.csv");
    let arg = batch.to_str().unwrap();
    let run = world
        .bulkrefund(&["run", arg, "--profile", "leshua", "--allow-over-limit"])
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    world.sim.set_faults(FaultConfig::default());

    let retry = ["retry", "--batch", "1", "--failed", "--new-ids", "--yes"];
    let refused = world.bulkrefund(&retry).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        lines(&refused.stderr).contains(
            &"  over the limit: a refund of 20.00 yuan (refund P1), more than max_refund_yuan = 10.00"
        ),
        "{}",
        refused.stderr
    );
    // The plan says which refunds get a new id, and why.
    assert!(
        lines(&refused.stderr).contains(
            &"  under a new id (the gateway confirms it exists and failed: its id is used up, so a new one):"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was sent"),
        "{}",
        refused.stderr
    );
    let ledger = world.ledger();
    assert!(ledger.id("P1R2").is_none(), "no new id was sent");
    assert_eq!(ledger.id("P1").unwrap().submissions, 1);

    let allowed = world
        .bulkrefund(&[&retry[..], &["--allow-over-limit"][..]].concat())
        .await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let ledger = world.ledger();
    assert_eq!(
        ledger.refund("P1R2").unwrap().status,
        RefundState::Succeeded
    );
    assert_eq!(ledger.id("P1R2").unwrap().created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_obeys_the_caps_lowered_since_the_run() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 5000).leshua("T2", 5000),
        FaultConfig::default(),
        capped("30", "25"),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["P1,T1,2000", "P2,T2,1500"])
        .write(world.dir.path(), "batch.csv");
    record_without_sending(&world, &batch);

    let refused = world.bulkrefund(&["resume"]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        lines(&refused.stderr).contains(
            &"over the limit: batch 1: 2 refunds not yet sent or settled, 35.00 yuan in all, more than max_batch_yuan = 30.00"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was sent"),
        "{}",
        refused.stderr
    );
    assert_eq!(world.ledger().requests, 0);

    let allowed = world.bulkrefund(&["resume", "--allow-over-limit"]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

/// Issue 18 review, item 5: the queries before a retry corrected C1 (the
/// gateway paid it, then said it failed); the caps then refuse the retry.
/// The correction still reaches the results file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_refused_by_the_caps_keeps_the_corrections_its_queries_made() {
    let world = World::with_profiles(
        Orders::new().leshua("T1", 1000).leshua("T2", 1000),
        FaultConfig {
            lies: 1,
            ..FaultConfig::default()
        },
        capped("1000", "20.00"),
    )
    .await;
    // C1 is paid and answered "failed" (the one lie); C2, more than its order, is refused.
    let batch = BatchFile::leshua()
        .rows(["C1,T1,1000", "C2,T2,5000"])
        .write(world.dir.path(), "batch.csv");
    let arg = batch.to_str().unwrap();
    let run = world
        .bulkrefund(&["run", arg, "--profile", "leshua", "--allow-over-limit"])
        .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(world.results(&batch)[0]["status"], "failed");

    let refused = world
        .bulkrefund(&["retry", "--batch", "1", "--failed", "--new-ids", "--yes"])
        .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        lines(&refused.stderr).contains(
            &"  over the limit: a refund of 50.00 yuan (refund C2), more than max_refund_yuan = 20.00"
        ),
        "{}",
        refused.stderr
    );
    let ledger = world.ledger();
    let paid = ledger.refund("C1").unwrap();
    let rows = world.results(&batch);
    let row = |name: &str| rows[0][name].as_str();
    assert_eq!(
        (
            row("merchant_refund_id"),
            row("status"),
            row("gateway_refund_id"),
            row("refund_fen")
        ),
        ("C1", "succeeded", paid.gateway_refund_id.as_str(), "1000"),
        "{:?}",
        rows[0]
    );
    assert_eq!(rows[1]["status"], "failed");
    assert!(ledger.id("C2R2").is_none());
    assert_eq!(ledger.id("C2").unwrap().submissions, 1, "nothing sent");
}
