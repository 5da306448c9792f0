//! What bulkrefund writes, as the real binary: results files and exports
//! written through a fresh temporary file (never through a name a link was
//! planted at), the journal whole in one file at every clean end and copied
//! safely by `journal backup`, and an export's period checked.

mod common;

use std::path::Path;

use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// A world where `run` has paid two Leshua refunds from `batch.csv` (its
/// gateway knows a third order, T3).
async fn paid_world() -> World {
    let world = World::start(
        Orders::new()
            .leshua("T1", 1000)
            .leshua("T2", 2000)
            .leshua("T3", 3000),
        FaultConfig::default(),
    )
    .await;
    let batch = BatchFile::leshua()
        .rows(["R1,T1,1000", "R2,T2,2000"])
        .write(world.dir.path(), "batch.csv");
    let out = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    world
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// The export's refund ids, in order.
fn exported_ids(path: &Path) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| !r[0].starts_with('#'))
        .map(|r| r[2].to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_never_writes_through_a_link_planted_at_its_partial_name() {
    let world = paid_world().await;
    let journal = world.journal();
    let before = bytes(&journal);
    let out = world.path("nov.csv");
    // A symlink, then a hard link, at the name the export used to write through.
    let plants: [fn(&Path, &Path) -> std::io::Result<()>; 2] = [
        |target, at| std::os::unix::fs::symlink(target, at),
        |target, at| std::fs::hard_link(target, at),
    ];
    for plant in plants {
        let partial = world.path("nov.csv.partial");
        plant(&journal, &partial).unwrap();
        let export = world
            .bulkrefund(&["export", "--out", out.to_str().unwrap()])
            .await;
        assert_eq!(export.code, 0, "{}", export.stderr);
        assert_eq!(bytes(&journal), before, "the journal is untouched");
        assert_eq!(exported_ids(&out), ["R1", "R2"]);
        assert!(std::fs::symlink_metadata(&partial).is_ok(), "left alone");
        std::fs::remove_file(&partial).unwrap();
    }
    // The XLSX export too.
    std::os::unix::fs::symlink(&world.config, world.path("nov.xlsx.partial")).unwrap();
    let config = text(&world.config);
    let xlsx = world.path("nov.xlsx");
    let export = world
        .bulkrefund(&["export", "--out", xlsx.to_str().unwrap()])
        .await;
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert_eq!(text(&world.config), config);
    assert!(bytes(&xlsx).starts_with(b"PK"), "a zip: the workbook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_file_never_writes_through_a_link_nor_over_an_input_named_like_it() {
    let world = World::start(
        Orders::new()
            .leshua("T1", 1000)
            .leshua("T2", 2000)
            .leshua("T3", 3000),
        FaultConfig::default(),
    )
    .await;
    let config = text(&world.config);
    let batch = BatchFile::leshua()
        .rows(["R1,T1,1000"])
        .write(world.dir.path(), "batch.csv");
    std::os::unix::fs::symlink(&world.config, world.path("batch.results.csv.partial")).unwrap();
    let out = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        text(&world.config),
        config,
        "the configuration is untouched"
    );
    assert!(text(&world.path("batch.results.csv")).contains("R1,T1,1000,2,succeeded,"));
    // An input whose name is the results file's plus `.partial`.
    let second = BatchFile::leshua().rows(["R2,T2,2000"]);
    let input = second.write(world.dir.path(), "out.csv.partial");
    let results = world.path("out.csv");
    let out = world
        .bulkrefund(&[
            "run",
            input.to_str().unwrap(),
            "--profile",
            "leshua",
            "--out",
            results.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(text(&input), second.text(), "the input survives");
    assert!(text(&results).contains("R2,T2,2000,2,succeeded,"));
    // A hard link to the configuration at the results' old partial name.
    std::fs::hard_link(&world.config, world.path("third.results.csv.partial")).unwrap();
    let third = BatchFile::leshua()
        .rows(["R3,T3,3000"])
        .write(world.dir.path(), "third.csv");
    let out = world
        .bulkrefund(&["run", third.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(text(&world.config), config);
    let paid: u64 = world.ledger().refunds.iter().map(|r| r.amount_fen).sum();
    assert_eq!(paid, 6000, "each refund paid once");
}

fn refunds_in(path: &Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT COUNT(*) FROM refunds", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_clean_end_the_journal_file_alone_holds_every_refund() {
    let world = paid_world().await;
    let journal = world.journal();
    // Another program reading the journal (`status` in another terminal):
    // SQLite's own checkpoint on close does not happen while it is open.
    let reader =
        rusqlite::Connection::open_with_flags(&journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let before: i64 = reader
        .query_row("SELECT COUNT(*) FROM refunds", [], |row| row.get(0))
        .unwrap();
    assert_eq!(before, 2);
    let batch = BatchFile::leshua()
        .rows(["R3,T3,3000"])
        .write(world.dir.path(), "second.csv");
    let out = world
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let wal =
        std::fs::metadata(bulkrefund::paths::with_suffix(&journal, "-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the log is empty");
    let copy = world.path("copy.db");
    std::fs::copy(&journal, &copy).unwrap();
    assert_eq!(
        refunds_in(&copy),
        3,
        "a copy of the file alone has every refund"
    );
    drop(reader);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_backup_copies_the_last_commit_while_another_holds_the_journal() {
    let world = paid_world().await;
    let journal = world.journal();
    // Another bulkrefund holds the lock, and a commit lives in the log only.
    let _held = bulkrefund::journal::Journal::open(&journal).unwrap();
    let writer = rusqlite::Connection::open(&journal).unwrap();
    writer
        .execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             UPDATE refunds SET error_message = 'in the log' WHERE refund_id = 'R1';
             BEGIN IMMEDIATE;
             UPDATE refunds SET error_message = 'not committed' WHERE refund_id = 'R2';",
        )
        .unwrap();
    let copy = world.path("backup.db");
    let out = world
        .bulkrefund(&["journal", "backup", copy.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "backed up the journal '{}' to '{}': 2 refunds",
            journal.display(),
            copy.display()
        )
    );
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let messages: Vec<Option<String>> = conn
        .prepare("SELECT error_message FROM refunds ORDER BY refund_id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(messages, [Some("in the log".to_owned()), None]);
    drop(conn);
    assert!(
        bulkrefund::journal::Journal::open_read_only(&copy)
            .unwrap()
            .is_some(),
        "the copy is a journal"
    );
    // An existing file is never replaced, nor is the journal's log.
    let before = bytes(&copy);
    let again = world
        .bulkrefund(&["journal", "backup", copy.to_str().unwrap()])
        .await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert_eq!(
        again.stderr.trim(),
        format!(
            "Error: '{}' already exists: a backup never replaces a file; give a new name",
            copy.display()
        )
    );
    assert_eq!(bytes(&copy), before);
    let wal = bulkrefund::paths::with_suffix(&journal, "-wal");
    let onto_log = world
        .bulkrefund(&["journal", "backup", wal.to_str().unwrap()])
        .await;
    assert_eq!(onto_log.code, 2, "{}", onto_log.stderr);
    assert!(
        onto_log.stderr.contains("the journal's -wal file"),
        "{}",
        onto_log.stderr
    );
    writer.execute_batch("ROLLBACK").unwrap();
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_period_says_what_the_journal_holds_and_a_backwards_one_is_refused() {
    let world = paid_world().await;
    succeeded_at(&world, "R1", "2026-12-01T10:00:00.000Z");
    succeeded_at(&world, "R2", "2026-12-03T10:00:00.000Z");
    let out = world.path("november.csv");
    let export = |since: &'static str, until: &'static str| {
        let out = out.clone();
        let world = &world;
        async move {
            world
                .bulkrefund(&[
                    "export",
                    "--timezone",
                    "UTC",
                    "--since",
                    since,
                    "--until",
                    until,
                    "--out",
                    out.to_str().unwrap(),
                ])
                .await
        }
    };
    let november = export("2026-11-01", "2026-11-30").await;
    assert_eq!(november.code, 0, "{}", november.stderr);
    assert_eq!(
        november.stderr.lines().last(),
        Some(
            "Note: the export holds no refund in 2026-11-01 to 2026-11-30 (the gateway's days, \
             Asia/Shanghai); the journal's refunds count for the gateway's days from 2026-12-01 \
             to 2026-12-03"
        ),
        "{}",
        november.stderr
    );
    assert!(exported_ids(&out).is_empty(), "written, empty");
    std::fs::remove_file(&out).unwrap();
    let backwards = export("2026-12-31", "2026-12-01").await;
    assert_eq!(backwards.code, 2, "{}", backwards.stderr);
    assert_eq!(
        backwards.stderr.trim(),
        "Error: --since 2026-12-31 is not before --until 2026-12-01: the period is backwards \
         (--since is its first day, --until its last)"
    );
    assert!(!out.exists(), "nothing written");
    let december = export("2026-12-01", "2026-12-01").await;
    assert_eq!(december.code, 0, "{}", december.stderr);
    assert!(!december.stderr.contains("Note:"), "{}", december.stderr);
    assert_eq!(exported_ids(&out), ["R1"]);
}

#[test]
fn man_pages_are_never_written_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("bulkrefund.toml");
    std::fs::write(&precious, "journal = \"j.db\"\n").unwrap();
    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    std::os::unix::fs::symlink(&precious, pages.join("bulkrefund-run.1")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["man", "--dir", pages.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&precious), "journal = \"j.db\"\n");
    let run = pages.join("bulkrefund-run.1");
    assert!(std::fs::symlink_metadata(&run).unwrap().is_file());
    assert!(
        text(&run).starts_with(".ie \\n(.g .ds Aq \\(aq"),
        "{}",
        text(&run)
    );
    assert!(pages.join("bulkrefund-journal-backup.1").exists());
}
