//! `bulkrefund journal copy --to postgres://…` against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries exist):
//! a journal with retry chains, a refund in review and an abnormal one is
//! copied and every table's rows, all columns, are the same on both sides; a
//! target that already holds a batch is refused and left as it was; a copy
//! whose proof finds a difference is rolled back, naming the difference; the
//! password is never said, even when it is wrong.

mod common;

use std::path::Path;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::postgres::{grants, schema};
use bulkrefund::sim::faults::FaultConfig;
use common::*;

#[path = "pg/server.rs"]
mod server;
use server::PgServer;

const DB: &str = "journal";
const OWNER: &str = "bulkrefund_owner";
const OWNER_PASSWORD: &str = "owner-pw-c0py-91ab";

/// The tables copied, each with the order its rows are compared in.
const TABLES: &[(&str, &str)] = &[
    ("batches", "id"),
    ("imports", "id"),
    ("refunds", "id"),
    ("batch_rows", "batch_id, line"),
    ("attempts", "id"),
    ("events", "id"),
    ("reconciliations", "id"),
    (
        "reconciliation_rows",
        "reconciliation, refund_id, outcome, note",
    ),
    ("approvals", "id"),
];

/// An empty PostgreSQL journal owned by `OWNER`.
fn empty_journal(server: &PgServer) {
    server.exec(
        "postgres",
        &format!(
            "CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}'; CREATE ROLE {} NOLOGIN;",
            grants::OPERATOR_ROLE
        ),
    );
    server.exec("postgres", &format!("CREATE DATABASE {DB} OWNER {OWNER}"));
    let mut owner = server.client(OWNER, OWNER_PASSWORD, DB);
    schema::migrate(&mut owner).unwrap();
    owner.batch_execute(&grants::operator_grants()).unwrap();
}

/// A journal made against the simulator: batch 1's five refunds all failed
/// and were retried under new ids (retry chains), then one refund is put in
/// review and one made abnormal in the file, as the states a gateway's
/// contradiction and WeChat Pay's abnormal answer leave.
/// The runtime is returned with the world: the simulator runs on it. The
/// tests themselves are not async: the `postgres` client (the test's and the
/// binary's) must not be used inside a runtime.
fn source_journal() -> (tokio::runtime::Runtime, World) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let world = runtime.block_on(async {
        let (world, batch) =
            World::with_generated(GatewayKind::Leshua, 5, "K", every_refund_fails()).await;
        assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
        world.sim.set_faults(FaultConfig::default());
        let retried = world.retry(1, true).await.expect("batch 1 is retried");
        assert_eq!(retried.exit_code, 0);
        world
    });
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let chains: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM refunds WHERE retry_of IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(chains, 5, "every refund of batch 1 has a retry");
    // The file's states, set behind the engine's back (the copy copies rows;
    // which state they hold matters only to the figures).
    conn.execute_batch(
        "UPDATE refunds SET state = 'review', error_code = 'BR_CONTRADICTION'
             WHERE id = (SELECT MAX(id) FROM refunds);
         UPDATE refunds SET state = 'abnormal', error_code = 'ABNORMAL'
             WHERE id = (SELECT MAX(id) - 1 FROM refunds);",
    )
    .unwrap();
    other_tables(&conn);
    (runtime, world)
}

/// Rows in the tables a run leaves empty (an unfinished import, a
/// reconciliation with a row, a refusal), their text holding what COPY's
/// text format must escape: a tab, a newline, a carriage return, a backslash.
fn other_tables(conn: &rusqlite::Connection) {
    let awkward = "a\ttab\tand\na newline,\r\nCRLF, a \\ backslash, \\N and 退款";
    conn.execute(
        "INSERT INTO imports (id, file_name, file_hash, input_path, profile, started_at)
         VALUES (7, ?1, 'h', NULL, 'leshua', '2026-12-01T00:00:00Z')",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO reconciliations (id, profile, gateway, merchant_id, bill_date, source,
             raw_path, raw_sha256, neighbours, reconciled_at, bill_count, bill_fen, matched,
             amount_differs, status_differs, not_in_journal, missing_from_bill,
             unresolved_not_in_bill, expected_count, expected_fen)
         VALUES (3, 'leshua', 'leshua', '0000000018', '2026-12-01', 'api', NULL, 's', ?1,
             '2026-12-02T00:00:00Z', 1, 8019, 1, 0, 0, 0, 0, 0, 1, 8019)",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO reconciliation_rows (reconciliation, outcome, refund_id, refund, bill_day,
             bill_line, gateway_refund_id, journal_status, bill_status, journal_fen, bill_fen,
             bill_success_at, note)
         VALUES (3, 'matched', 'KR000000001R2', 6, '2026-12-01', 2, NULL, 'succeeded',
             'SUCCESS', 8019, 8019, NULL, ?1)",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
         VALUES (1, '2026-12-02T00:00:00Z', 'uid:1000', 'alice', 'refused', ?1)",
        [awkward],
    )
    .unwrap();
}

fn copy_to(world: &World, url: &str, password: &str) -> std::process::Output {
    let mut command = world.command(&["journal", "copy", "--to", url, "--password-env", "PGPW"]);
    command
        .env("PGPW", password)
        .env("PGPASSFILE", "/nonexistent");
    let command = command.as_std_mut();
    command.output().unwrap()
}

/// Every row of `table`, every column as text (NULL as None), in `order`.
fn sqlite_rows(journal: &Path, table: &str, order: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let columns = sqlite_columns(&conn, table);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM {table} ORDER BY {order}",
            columns.join(", ")
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                        rusqlite::types::ValueRef::Text(t) => {
                            Some(String::from_utf8(t.to_vec()).unwrap())
                        }
                        other => panic!("{table}: {other:?}"),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn sqlite_columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    let names = stmt.query_map([table], |r| r.get(0)).unwrap();
    names.collect::<Result<_, _>>().unwrap()
}

fn pg_rows(
    client: &mut postgres::Client,
    table: &str,
    columns: &[String],
    order: &str,
) -> Vec<Vec<Option<String>>> {
    // Aliased: an output column named as the table's would be what ORDER BY sorts (as text).
    let list: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c}::text AS column_{i}"))
        .collect();
    client
        .query(
            &format!("SELECT {} FROM {table} ORDER BY {order}", list.join(", ")),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (0..columns.len()).map(|i| r.get(i)).collect())
        .collect()
}

fn pg_count(server: &PgServer, table: &str) -> i64 {
    let mut client = server.superuser(DB);
    client
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_copy_holds_every_row_of_every_table_and_proves_it() {
    let Some(server) = PgServer::start("a_copy_holds_every_row_of_every_table_and_proves_it")
    else {
        return;
    };
    empty_journal(&server);
    let (_runtime, world) = source_journal();
    let output = copy_to(&world, &server.url(OWNER, DB), OWNER_PASSWORD);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("proven"), "{stderr}");
    assert!(
        stderr.contains("review"),
        "the proof's table names each state: {stderr}"
    );
    assert!(!stderr.contains(OWNER_PASSWORD));

    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let mut client = server.superuser(DB);
    let mut states = std::collections::BTreeSet::new();
    for (table, order) in TABLES {
        let columns = sqlite_columns(&conn, table);
        let ours = sqlite_rows(&world.journal(), table, order);
        let theirs = pg_rows(&mut client, table, &columns, order);
        assert!(!ours.is_empty(), "the journal holds rows in {table}");
        assert_eq!(ours, theirs, "table {table}");
        if *table == "refunds" {
            let state = columns.iter().position(|c| c == "state").unwrap();
            states.extend(ours.iter().map(|r| r[state].clone().unwrap()));
        }
    }
    for state in ["succeeded", "failed", "review", "abnormal"] {
        assert!(
            states.contains(state),
            "the journal holds a {state} refund: {states:?}"
        );
    }
    // New ids continue past the copied ones.
    for (table, order) in TABLES.iter().filter(|(_, order)| *order == "id") {
        let next: i64 = client
            .query_one(
                &format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', '{order}')) \
                     - (SELECT MAX(id) FROM {table})"
                ),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(next, 1, "{table}");
    }

    // A second copy into the now non-empty journal: refused, nothing changed.
    let before: Vec<i64> = TABLES.iter().map(|(t, _)| pg_count(&server, t)).collect();
    let again = copy_to(&world, &server.url(OWNER, DB), OWNER_PASSWORD);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not empty") && stderr.contains("nothing was copied"),
        "{stderr}"
    );
    let after: Vec<i64> = TABLES.iter().map(|(t, _)| pg_count(&server, t)).collect();
    assert_eq!(before, after);
}

#[test]
fn a_proof_that_fails_rolls_the_copy_back() {
    let Some(server) = PgServer::start("a_proof_that_fails_rolls_the_copy_back") else {
        return;
    };
    empty_journal(&server);
    // A fault in the target: one refund's amount changes as it is inserted
    // (refund 6, batch 1's first retry, which succeeded: an intent refunded).
    server.exec(
        DB,
        "CREATE FUNCTION shave() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.id = 6 THEN NEW.amount_fen := NEW.amount_fen + 1; END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER shave BEFORE INSERT ON refunds FOR EACH ROW EXECUTE FUNCTION shave();",
    );
    let (_runtime, world) = source_journal();
    let output = copy_to(&world, &server.url(OWNER, DB), OWNER_PASSWORD);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rolled back"), "{stderr}");
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let (succeeded, fen): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), SUM(amount_fen) FROM refunds WHERE batch_id = 1 AND state = 'succeeded'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let state: String = conn
        .query_row("SELECT state FROM refunds WHERE id = 6", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "succeeded");
    let both = format!(
        "SQLite {succeeded} rows, {fen} fen, PostgreSQL {succeeded} rows, {} fen",
        fen + 1
    );
    for named in [
        format!("batch 1, refunds by state 'succeeded': {both}"),
        format!("batch 1, intents by state 'succeeded': {both}"),
        // The figure built from money_rules.rs's REFUNDED.
        format!("batch 1, intents refunded: {both}"),
    ] {
        assert!(stderr.contains(&named), "{named} in {stderr}");
    }
    assert_eq!(stderr.matches(" fen, PostgreSQL ").count(), 3, "{stderr}");
    for (table, _) in TABLES {
        assert_eq!(
            pg_count(&server, table),
            0,
            "{table} is empty after the rollback"
        );
    }
}

#[test]
fn a_wrong_password_is_never_said() {
    let Some(server) = PgServer::start("a_wrong_password_is_never_said") else {
        return;
    };
    empty_journal(&server);
    let (_runtime, world) = source_journal();
    let wrong = "wrong-pw-4e7b-secret";
    let output = copy_to(&world, &server.url(OWNER, DB), wrong);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(stderr.contains(OWNER), "the role is named: {stderr}");
    for text in [&stderr, &stdout] {
        assert!(
            !text.contains(wrong) && !text.contains(OWNER_PASSWORD),
            "{text}"
        );
    }
    assert_eq!(pg_count(&server, "batches"), 0);

    // A password written in the URL is refused before anything connects.
    let in_url = format!(
        "postgres://{OWNER}:{OWNER_PASSWORD}@/{DB}?host={}",
        server.socket_dir().display()
    );
    let output = copy_to(&world, &in_url, OWNER_PASSWORD);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains(OWNER_PASSWORD), "{stderr}");
    assert_eq!(pg_count(&server, "batches"), 0);
}
