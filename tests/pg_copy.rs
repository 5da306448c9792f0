//! `bulkrefund journal copy --to postgres://…` against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries exist):
//! a journal with retry chains, a refund in review and an abnormal one is
//! copied and every table's rows, all columns, are the same on both sides; a
//! target that already holds a batch is refused and left as it was; a copy
//! whose proof finds a difference is rolled back, naming the difference; the
//! password is never said, even when it is wrong.

mod common;

use bulkrefund::journal::postgres::{grants, schema};
use common::*;

#[path = "pg/server.rs"]
mod server;
use server::PgServer;
#[path = "pg/tables.rs"]
mod tables;
use tables::{pg_rows, sqlite_columns, sqlite_rows, TABLES};
#[path = "pg/rich.rs"]
mod rich;
use rich::source_journal;

const DB: &str = "journal";
const OWNER: &str = "bulkrefund_owner";
const OWNER_PASSWORD: &str = "owner-pw-c0py-91ab";

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

fn copy_to(world: &World, url: &str, password: &str) -> std::process::Output {
    let mut command = world.command(&["journal", "copy", "--to", url, "--password-env", "PGPW"]);
    command
        .env("PGPW", password)
        .env("PGPASSFILE", "/nonexistent");
    let command = command.as_std_mut();
    command.output().unwrap()
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
