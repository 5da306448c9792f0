//! A team's journal in PostgreSQL, end to end: the real binary with
//! `--journal postgres://…` against the simulator and a real server the test
//! starts (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist). A stalled process (SIGSTOP) loses its refund to a query by
//! another and its late write is fenced off; a batch over the approval limit
//! waits for a second role; a SQLite journal copied to PostgreSQL tells the
//! same story in `status`, `show` and `export`.

mod common;

#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::postgres::outside_async;
use bulkrefund::sim::faults::FaultConfig;
use common::*;
use twin::{Twin, OWNER, OWNER_PASSWORD};

/// Waits for `ready`, checked every 10 ms, for at most `limit`: true once it held.
async fn until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// One column of every row `sql` selects from the world's journal.
fn column(world: &World, sql: &str) -> Vec<String> {
    world
        .journal_rows(sql)
        .into_iter()
        .map(|mut row| row.remove(0).unwrap_or_default())
        .collect()
}

fn signal(child: &tokio::process::Child, signal: libc::c_int) {
    let pid = child.id().expect("still running") as libc::pid_t;
    // SAFETY: a signal to our own child, whose pid we hold.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_process_is_taken_over_by_a_query_and_its_late_write_fenced_off() {
    let Some(twin) = outside_async(|| {
        Twin::start("a_stalled_process_is_taken_over_by_a_query_and_its_late_write_fenced_off")
    }) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 1, "S");
    // Every answer takes 1.5 s: the run is stopped while it waits for one.
    let faults = FaultConfig {
        latency_ms: Some((1_500, 1_500)),
        ..FaultConfig::default()
    };
    let mut world = World::start(orders, faults).await;
    world.pg = Some(outside_async(|| twin.for_world("alice")));
    let batch = batch.to_str().unwrap();
    let mut stalled = world.command(&["run", batch, "--profile", "leshua"]);
    stalled
        .env("BULKREFUND_LEASE_MS", "1000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stalled = stalled.spawn().unwrap();
    // Its request reached the gateway (counted as it arrives, 1.5 s before
    // the gateway acts on it and answers): the run now waits for the answer.
    assert!(
        until(Duration::from_secs(20), || world.ledger().requests == 1).await,
        "the run never sent its refund"
    );
    signal(&stalled, libc::SIGSTOP);
    // Its lease lapses on the server's clock while it is stopped.
    let lapsed = "SELECT CAST(lease_until_ms < (extract(epoch from clock_timestamp()) * 1000)::bigint AS TEXT)
                  FROM refunds WHERE state = 'in_flight'";
    assert!(
        until(Duration::from_secs(20), || column(&world, lapsed)
            == ["true"])
        .await,
        "{:?}",
        column(&world, lapsed)
    );
    // Another process takes it over: a query settles it, nothing is sent again.
    let mut taking_over = world.command(&["resume"]);
    taking_over.env("BULKREFUND_LEASE_MS", "1000");
    let resumed = taking_over.output().await.unwrap();
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{said}");
    let ledger = world.ledger();
    assert_eq!((ledger.ids[0].submissions, ledger.ids[0].created), (1, 1));
    let kinds = "SELECT kind FROM attempts ORDER BY id";
    assert_eq!(column(&world, kinds), ["query"]);
    assert_eq!(column(&world, "SELECT state FROM refunds"), ["succeeded"]);
    let events = column(&world, "SELECT why FROM events ORDER BY id");
    // The stalled process wakes: its answer comes, and its write is fenced off.
    signal(&stalled, libc::SIGCONT);
    let woke = stalled.wait_with_output().await.unwrap();
    let woke_said = String::from_utf8_lossy(&woke.stderr);
    assert!(
        woke_said.contains("another process took it over"),
        "{woke_said}"
    );
    let ledger = world.ledger();
    assert_eq!((ledger.ids[0].submissions, ledger.ids[0].created), (1, 1));
    assert_eq!(column(&world, kinds), ["query"]);
    assert_eq!(column(&world, "SELECT state FROM refunds"), ["succeeded"]);
    assert_eq!(column(&world, "SELECT why FROM events ORDER BY id"), events);
}

/// A batch over alice's profile's approval limit waits for bob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_limit_waits_for_a_second_role() {
    let Some(twin) =
        outside_async(|| Twin::start("a_batch_over_the_limit_waits_for_a_second_role"))
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "A");
    let profiles = Profiles::default().set("leshua", "approve_over_yuan = \"1\"");
    let mut world = World::with_profiles(orders, FaultConfig::default(), profiles).await;
    let (alice, bob) = outside_async(|| (twin.for_world("alice"), twin.for_world("bob")));
    world.pg = Some(alice);
    let batch = batch.to_str().unwrap();
    let ran = world
        .bulkrefund(&["run", batch, "--profile", "leshua"])
        .await;
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("waits for approval by someone other than alice"),
        "{}",
        ran.stderr
    );
    assert!(world.ledger().ids.is_empty(), "nothing is sent before");
    let own = world.bulkrefund(&["approve", "--batch", "1"]).await;
    assert_eq!(own.code, 2, "{}", own.stderr);
    let resumed = world.bulkrefund(&["resume"]).await;
    assert_eq!(resumed.code, 4, "{}", resumed.stderr);
    assert!(world.ledger().ids.is_empty(), "nothing is sent before");
    let alice = world.pg.replace(bob).unwrap();
    let approved = world.bulkrefund(&["approve", "--batch", "1"]).await;
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    world.pg = Some(alice);
    let resumed = world.bulkrefund(&["resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let ledger = world.ledger();
    assert_eq!(ledger.ids.len(), 3);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    let trail = column(
        &world,
        "SELECT person || ' ' || verdict FROM approvals ORDER BY id",
    );
    assert_eq!(trail, ["alice refused", "bob approved"]);
}

/// What `status`, `show` and `export` say of a journal: the same words and
/// figures whichever store holds it (the line naming the journal aside).
async fn story(world: &World, refunds: &[String], out: &Path) -> Vec<String> {
    let mut said = Vec::new();
    let mut asks: Vec<Vec<String>> = vec![
        vec!["status".into()],
        vec!["status".into(), "--batch".into(), "1".into()],
        vec!["status".into(), "--batch".into(), "2".into()],
        vec!["status".into(), "--format".into(), "json".into()],
    ];
    for refund in refunds {
        asks.push(vec!["show".into(), refund.clone()]);
        asks.push(vec![
            "show".into(),
            refund.clone(),
            "--format".into(),
            "json".into(),
        ]);
    }
    for ask in asks {
        let args: Vec<&str> = ask.iter().map(String::as_str).collect();
        let output = world.bulkrefund(&args).await;
        said.push(format!(
            "{ask:?} exit {}\n{}{}",
            output.code, output.stdout, output.stderr
        ));
    }
    let _ = std::fs::remove_file(out);
    let exported = world
        .bulkrefund(&["export", "--out", out.to_str().unwrap()])
        .await;
    said.push(format!(
        "export exit {}\n{}",
        exported.code,
        std::fs::read_to_string(out).unwrap_or_default()
    ));
    said
}

#[test]
fn a_copied_journal_tells_the_same_story_on_both() {
    let Some(twin) = Twin::start("a_copied_journal_tells_the_same_story_on_both") else {
        return;
    };
    let (runtime, mut world) = rich::source_journal();
    let refunds: Vec<String> = column(&world, "SELECT refund_id FROM refunds ORDER BY id");
    assert!(refunds.len() >= 10, "{refunds:?}");
    let out = world.path("export.csv");
    let on_sqlite = runtime.block_on(story(&world, &refunds, &out));
    let mut copy = world.command(&[
        "journal",
        "copy",
        "--to",
        &twin.url(OWNER),
        "--password-env",
        "OWNER_PASSWORD",
    ]);
    copy.env("OWNER_PASSWORD", OWNER_PASSWORD);
    let copied = runtime.block_on(async { copy.output().await }).unwrap();
    assert_eq!(
        copied.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    world.pg = Some(twin.for_world("alice"));
    let on_postgres = runtime.block_on(story(&world, &refunds, &out));
    assert_eq!(on_sqlite.len(), on_postgres.len());
    for (sqlite, postgres) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(sqlite, postgres);
    }
    assert!(
        on_sqlite.iter().any(|s| s.contains("review"))
            && on_sqlite.iter().any(|s| s.contains("abnormal")),
        "the story holds a refund in review and an abnormal one"
    );
}

/// `journal = "postgres://…"` and `journal_password = { env = … }` in the
/// configuration: every command uses that journal; a wrong password is
/// refused, naming the role and never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_names_the_journal_and_its_password() {
    let Some(twin) =
        outside_async(|| Twin::start("the_configuration_names_the_journal_and_its_password"))
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 2, "P");
    let world = World::start(orders, FaultConfig::default()).await;
    let text = std::fs::read_to_string(&world.config).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "journal = \"{}\"\njournal_password = {{ env = \"ALICE_PW\" }}\n{text}",
            twin.url("alice")
        ),
    )
    .unwrap();
    let bulkrefund = |password: &str, args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"));
        command
            .args(args)
            .arg("--config")
            .arg(&world.config)
            .env("ALICE_PW", password)
            .env("PGPASSFILE", "/nonexistent")
            .stdin(Stdio::null());
        command
    };
    let ran = bulkrefund(
        "alice-pw",
        &[
            "run",
            batch.to_str().unwrap(),
            "--profile",
            "leshua",
            "--yes",
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let ledger = world.ledger();
    assert_eq!(ledger.ids.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    // Nothing was written beside the configuration: the journal is PostgreSQL's.
    assert!(!world.journal().exists());
    assert!(!world.path("bulkrefund.db").exists());
    let recorded: i64 = outside_async(|| {
        twin.superuser()
            .query_one(
                "SELECT COUNT(*) FROM refunds WHERE state = 'succeeded'",
                &[],
            )
            .unwrap()
            .get(0)
    });
    assert_eq!(recorded, 2);
    let wrong = "not-alices-pw-9f3";
    let refused = bulkrefund(wrong, &["status"]).output().await.unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("role 'alice'"), "{said}");
    assert!(!said.contains(wrong), "{said}");
}

/// A machine whose clock runs an hour ahead of the server's dates and
/// schedules by the server's: its first poll falls due two seconds after
/// the server says the refund was accepted, not an hour and two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_whose_clock_is_an_hour_ahead_keeps_the_servers_time() {
    let Some(twin) = outside_async(|| {
        Twin::start("a_machine_whose_clock_is_an_hour_ahead_keeps_the_servers_time")
    }) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "C");
    // Every refund is still processing when first polled or not (300 ms).
    let faults = FaultConfig {
        processing_for: Duration::from_millis(300),
        ..FaultConfig::default()
    };
    let mut world = World::start(orders, faults).await;
    world.pg = Some(outside_async(|| twin.for_world("alice")));
    let mut run = world.command(&["run", batch.to_str().unwrap(), "--profile", "leshua"]);
    run.env("BULKREFUND_TEST_CLOCK_SKEW_MS", "3600000");
    // Leshua's first poll is 2 s after acceptance: a run on this machine's
    // clock would wait an hour for it.
    let ran = tokio::time::timeout(Duration::from_secs(90), run.output())
        .await
        .expect("the run waited for polls dated by this machine's clock, an hour ahead")
        .unwrap();
    let said = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(0), "{said}");
    // The machine's clock was read an hour off: the test tests something.
    assert!(
        said.contains("BULKREFUND_TEST_CLOCK_SKEW_MS: this machine's clock is read 3600000 ms off"),
        "{said}"
    );
    let ledger = world.ledger();
    assert!(ledger.ids.iter().all(|id| id.created == 1), "{ledger:?}");
    assert_eq!(
        column(&world, "SELECT state FROM refunds"),
        ["succeeded"; 3]
    );
    // Every attempt is dated by the server's clock (within a minute of it),
    // as the events are.
    let off_the_servers_clock = "SELECT CAST(COUNT(*) AS TEXT) FROM attempts
        WHERE abs(extract(epoch from (CAST(at AS timestamptz) - clock_timestamp()))) > 60";
    assert_eq!(column(&world, off_the_servers_clock), ["0"]);
    assert_ne!(
        column(&world, "SELECT CAST(COUNT(*) AS TEXT) FROM attempts"),
        ["0"]
    );
}

/// A run killed while its refunds are processing leaves them claimed under
/// its lease: a resume from another process cannot poll them yet, and says
/// who holds them and until when, not that the gateway has not answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_says_which_process_holds_what_it_could_not_finish() {
    let Some(twin) =
        outside_async(|| Twin::start("a_resume_says_which_process_holds_what_it_could_not_finish"))
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "H");
    let faults = FaultConfig {
        processing_for: Duration::from_secs(600),
        ..FaultConfig::default()
    };
    let mut world = World::start(orders, faults).await;
    world.pg = Some(outside_async(|| twin.for_world("alice")));
    let mut run = world.command(&["run", batch.to_str().unwrap(), "--profile", "leshua"]);
    run.stdout(Stdio::null()).stderr(Stdio::null());
    let mut run = run.spawn().unwrap();
    let states = "SELECT state FROM refunds ORDER BY id";
    assert!(
        until(Duration::from_secs(20), || column(&world, states)
            == ["processing"; 3])
        .await,
        "{:?}",
        column(&world, states)
    );
    signal(&run, libc::SIGKILL);
    run.wait().await.unwrap();
    let owner = column(&world, "SELECT DISTINCT claim_owner FROM refunds");
    assert_eq!(owner.len(), 1, "{owner:?}");
    let resumed = world
        .command(&["resume", "--poll-for", "1s"])
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&format!(
            "3 of them are claimed by another process ({}) until ",
            owner[0]
        )),
        "{said}"
    );
    assert!(
        said.contains("`bulkrefund resume` after then takes them over"),
        "{said}"
    );
    assert!(!said.contains("the gateway has not said"), "{said}");
    let ledger = world.ledger();
    assert!(ledger.ids.iter().all(|id| id.created == 1), "{ledger:?}");
}
