//! One rate per gateway merchant across processes, kept in a PostgreSQL
//! journal (engine/pg_ledger.rs, journal/postgres/rate.rs), against a real
//! server each test starts (tests/pg/server.rs; skipped, saying so, where no
//! server binaries exist): three ledgers on three connections, as three
//! processes would hold them, asking for slots of one key at once, never
//! have more than the rate granted in any second of the server's clock, and
//! together use the rate (also as three real processes: this test binary
//! run three times); keys of another merchant, another kind of call or
//! another gateway keep buckets of their own.

use std::os::unix::fs::PermissionsExt;

use bulkrefund::engine::pg_ledger::{bucket_key, interval_us, PgRateLedger};
use bulkrefund::engine::rate_ledger::{CallKind, RateKey, RateLedger, RateQuota};
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::postgres::{grants, schema, ConfiguredSecret, Passfile, PgJournal};
use bulkrefund::secret::SecretRef;

#[path = "pg/server.rs"]
mod server;
use server::PgServer;

const DB: &str = "journal";
const OWNER_PASSWORD: &str = "owner-pw-3a9b";
const ALICE_PASSWORD: &str = "alice-pw-61c0";
const SECOND_US: i64 = 1_000_000;

/// The team's setup (docs/postgres.md): the journal's owner migrates and
/// grants the group role; alice, a member of it, is who the ledgers log in as.
fn journal(server: &PgServer) {
    server.exec(
        "postgres",
        &format!(
            "CREATE ROLE bulkrefund_owner LOGIN PASSWORD '{OWNER_PASSWORD}';
             CREATE ROLE {operator} NOLOGIN;
             CREATE ROLE alice LOGIN PASSWORD '{ALICE_PASSWORD}';
             GRANT {operator} TO alice;",
            operator = grants::OPERATOR_ROLE,
        ),
    );
    server.exec(
        "postgres",
        &format!("CREATE DATABASE {DB} OWNER bulkrefund_owner"),
    );
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    schema::migrate(&mut owner).unwrap();
    owner.batch_execute(&grants::operator_grants()).unwrap();
}

/// A ledger on a connection of its own. Made outside async code, as the
/// driver's connection is (it runs a runtime of its own).
fn ledger(server: &PgServer) -> PgRateLedger {
    PgRateLedger::new(server.client("alice", ALICE_PASSWORD, DB))
}

/// Runs the asking part of a test on a runtime of two threads.
fn on_runtime<T>(asking: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(asking)
}

fn key(gateway: GatewayKind, merchant: &str, calls: CallKind) -> RateKey {
    RateKey {
        gateway,
        merchant_id: merchant.into(),
        calls,
    }
}

/// The most slots in any window of `span_us` that begins at a slot.
fn busiest(slots: &[i64], span_us: i64) -> usize {
    slots
        .iter()
        .enumerate()
        .map(|(i, &start)| slots[i..].partition_point(|&s| s < start + span_us))
        .max()
        .unwrap_or(0)
}

/// Asks `ledger` for blocks of `key` as a process would, the next block
/// when the last slot of the one before is due, until it holds a slot
/// `seconds` after its first answer; returns its slots on the server's clock.
async fn use_the_rate(ledger: PgRateLedger, key: RateKey, rate: u32, seconds: i64) -> Vec<i64> {
    let quota = RateQuota::of(rate);
    let mut granted = Vec::new();
    let mut until = None;
    loop {
        let (slots, received) = ledger
            .grant_on_server_clock(&key, quota, ledger.block(quota))
            .await
            .unwrap();
        let until = *until.get_or_insert(slots.now_us + seconds * SECOND_US);
        let last = *slots.slots_us.last().expect("a block of slots");
        granted.extend(&slots.slots_us);
        if last >= until {
            return granted;
        }
        let due = bulkrefund::engine::pg_ledger::local_instant(received, slots.now_us, last);
        tokio::time::sleep_until(due).await;
    }
}

#[test]
fn three_processes_together_never_exceed_the_rate_and_use_it() {
    let Some(server) = PgServer::start("pg_rate::three_processes_together") else {
        return;
    };
    journal(&server);
    let rate = 50;
    let shared = key(GatewayKind::Leshua, "M-100", CallKind::Requests);
    let ledgers: Vec<PgRateLedger> = (0..3).map(|_| ledger(&server)).collect();
    let each = on_runtime(async {
        let runs: Vec<_> = ledgers
            .into_iter()
            .map(|ledger| tokio::spawn(use_the_rate(ledger, shared.clone(), rate, 3)))
            .collect();
        let mut each = Vec::new();
        for run in runs {
            each.push(run.await.unwrap());
        }
        each
    });
    let mut all = Vec::new();
    for granted in each {
        assert!(granted.len() >= 5, "each process was granted slots");
        all.extend(granted);
    }
    all.sort_unstable();
    let interval = interval_us(rate);
    assert!(
        all.windows(2).all(|w| w[1] - w[0] >= interval),
        "no two slots, whoever holds them, closer than {interval} µs: {all:?}"
    );
    // Every window that begins at a slot: a second, and a second plus the
    // send window's slack, as one process's send window promises.
    assert!(busiest(&all, SECOND_US) <= rate as usize, "{all:?}");
    assert!(busiest(&all, SECOND_US + 5_000) <= rate as usize, "{all:?}");
    let seconds = (all[all.len() - 1] - all[0]) as f64 / SECOND_US as f64;
    assert!(seconds >= 3.0, "{seconds} s");
    assert!(
        all.len() as f64 >= 0.9 * f64::from(rate) * seconds,
        "{} slots in {seconds:.3} s at a rate of {rate}",
        all.len()
    );
}

#[test]
fn each_merchant_call_kind_and_gateway_keeps_its_own_bucket() {
    let Some(server) = PgServer::start("pg_rate::each_merchant_call_kind") else {
        return;
    };
    journal(&server);
    let quota = RateQuota::of(50);
    let interval = interval_us(50);
    let busy = key(GatewayKind::Wechatpay, "M-1", CallKind::Submits);
    let first = ledger(&server);
    let second = ledger(&server);
    let others = [
        key(GatewayKind::Wechatpay, "M-2", CallKind::Submits),
        key(GatewayKind::Wechatpay, "M-1", CallKind::Queries),
        key(GatewayKind::Leshua, "M-1", CallKind::Submits),
    ];
    on_runtime(async {
        // Ten seconds of the rate taken at once: the key is busy well past the test.
        let (taken, _) = first
            .grant_on_server_clock(&busy, quota, 500)
            .await
            .unwrap();
        assert_eq!(taken.slots_us.len(), 500);
        assert!(taken.slots_us[0] <= taken.now_us);
        for other in &others {
            let (slots, _) = second.grant_on_server_clock(other, quota, 2).await.unwrap();
            let first_slot = slots.slots_us[0];
            assert!(
                first_slot <= slots.now_us,
                "{other}: now, not behind {busy}"
            );
            assert_eq!(slots.slots_us, vec![first_slot, first_slot + interval]);
        }
        // The busy key, asked from another connection, follows on from its own slots.
        let (next, _) = second.grant_on_server_clock(&busy, quota, 1).await.unwrap();
        assert_eq!(next.slots_us, vec![taken.slots_us[499] + interval]);
    });

    let mut buckets: Vec<String> = server
        .superuser(DB)
        .query("SELECT key FROM rate_buckets ORDER BY key", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut expected: Vec<String> = others.iter().chain([&busy]).map(bucket_key).collect();
    expected.sort();
    buckets.sort();
    assert_eq!(buckets, expected);
}

/// Through the engine's seam, on a journal opened as a command opens it: a block of the size the engine asks for, as
/// instants of this process's clock, in order and an interval apart.
#[test]
fn the_engine_gets_blocks_on_its_own_clock() {
    let Some(server) = PgServer::start("pg_rate::the_engine_gets_blocks") else {
        return;
    };
    journal(&server);
    // Opened as a command would open it: the URL, the password from a file secret.
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("alice.pw");
    std::fs::write(&password, ALICE_PASSWORD).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = SecretRef::File {
        file: "alice.pw".into(),
    };
    let secret = ConfiguredSecret {
        reference: &file,
        dir: dir.path(),
    };
    let opened = PgJournal::open(&server.url("alice", DB), Some(secret), &Passfile::Nowhere);
    let ledger = PgRateLedger::on_journal(opened.unwrap_or_else(|e| panic!("{e}")));
    let quota = RateQuota::of(50);
    let shared = key(GatewayKind::Alipay, "2088-1", CallKind::Requests);
    assert_eq!(ledger.block(quota), 5);
    on_runtime(async {
        let before = tokio::time::Instant::now();
        let slots = ledger.grant(&shared, quota, 5).await.unwrap();
        let after = tokio::time::Instant::now();
        assert_eq!(slots.len(), 5);
        let interval = std::time::Duration::from_micros(interval_us(50) as u64);
        assert!(
            slots.windows(2).all(|w| w[1] - w[0] == interval),
            "{slots:?}"
        );
        // An idle key's first slot is now: within the round trip.
        assert!(slots[0] <= after, "{slots:?} after {after:?}");
        assert!(slots[0] + interval > before, "{slots:?} before {before:?}");
        assert!(ledger.grant(&shared, quota, 0).await.unwrap().is_empty());
    });
}

/// Where a helper process finds the server and writes its slots.
const HELPER_SOCKET: &str = "BULKREFUND_PG_RATE_SOCKET";
const HELPER_OUT: &str = "BULKREFUND_PG_RATE_OUT";

/// The same through three real processes: this test binary run three times,
/// each running [`one_process_of_three`] alone, all at once.
#[test]
fn three_real_processes_together_never_exceed_the_rate() {
    let Some(server) = PgServer::start("pg_rate::three_real_processes") else {
        return;
    };
    journal(&server);
    let outs = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..3)
        .map(|n| {
            let out = outs.path().join(format!("slots-{n}"));
            let child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "one_process_of_three",
                    "--nocapture",
                ])
                .env(HELPER_SOCKET, server.socket_dir())
                .env(HELPER_OUT, &out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            (child, out)
        })
        .collect();
    let mut all = Vec::new();
    for (mut child, out) in children {
        assert!(child.wait().unwrap().success(), "a helper process failed");
        let text = std::fs::read_to_string(&out).unwrap();
        let granted: Vec<i64> = text.lines().map(|line| line.parse().unwrap()).collect();
        assert!(granted.len() >= 5, "each process was granted slots");
        all.extend(granted);
    }
    all.sort_unstable();
    let rate = 50;
    assert!(all.windows(2).all(|w| w[1] - w[0] >= interval_us(rate)));
    assert!(busiest(&all, SECOND_US) <= rate as usize, "{all:?}");
    assert!(busiest(&all, SECOND_US + 5_000) <= rate as usize, "{all:?}");
    let seconds = (all[all.len() - 1] - all[0]) as f64 / SECOND_US as f64;
    assert!(
        all.len() as f64 >= 0.9 * f64::from(rate) * seconds,
        "{} slots in {seconds:.3} s at a rate of {rate}",
        all.len()
    );
}

/// One of [`three_real_processes_together_never_exceed_the_rate`]'s
/// processes: uses the rate of the shared key for three seconds and writes
/// its slots, one a line. Does nothing when not run by it.
#[test]
#[ignore = "a helper process of three_real_processes_together_never_exceed_the_rate"]
fn one_process_of_three() {
    let (Some(socket), Some(out)) = (
        std::env::var_os(HELPER_SOCKET),
        std::env::var_os(HELPER_OUT),
    ) else {
        return;
    };
    let client = postgres::Config::new()
        .host_path(socket)
        .user("alice")
        .password(ALICE_PASSWORD)
        .dbname(DB)
        .connect(postgres::NoTls)
        .unwrap();
    let shared = key(GatewayKind::Leshua, "M-100", CallKind::Requests);
    let granted = on_runtime(use_the_rate(PgRateLedger::new(client), shared, 50, 3));
    let lines: Vec<String> = granted.iter().map(i64::to_string).collect();
    std::fs::write(out, lines.join("\n")).unwrap();
}
