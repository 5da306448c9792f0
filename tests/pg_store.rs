//! The PostgreSQL store behind the journal's trait, against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist), compared with the SQLite store on the same journal.

mod common;

#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use bulkrefund::journal::records::RetryStart;
use bulkrefund::journal::State;
use twin::Twin;

#[test]
fn a_copied_journal_answers_the_same_on_both_stores() {
    let Some(twin) = Twin::start("a_copied_journal_answers_the_same_on_both_stores") else {
        return;
    };
    let (_runtime, world) = rich::source_journal();
    twin.copy_into_pg(&world.journal());
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
    let sqlite = bulkrefund::journal::Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    assert_eq!(pg.person().unwrap().name, "alice");
    assert_eq!(
        format!("{:?}", sqlite.batches_waiting().unwrap()),
        format!("{:?}", pg.batches_waiting().unwrap())
    );
    let now = pg.clock_ms().unwrap();
    let here = jiff::Timestamp::now().as_millisecond();
    assert!(
        (now - here).abs() < 60_000,
        "the server's clock {now}, ours {here}"
    );
}

/// A failed refund already retried under a new id cannot be retried again
/// under its own id (two operators' retries, one of each kind, would send
/// both): refused, nothing changed. SQLite's lock serialises the two; here
/// the row lock and the check do.
#[test]
fn a_refund_retried_under_a_new_id_is_not_retried_again_under_its_own() {
    let Some(twin) =
        Twin::start("a_refund_retried_under_a_new_id_is_not_retried_again_under_its_own")
    else {
        return;
    };
    let (_runtime, world) = rich::source_journal();
    twin.copy_into_pg(&world.journal());
    let mut pg = twin.pg();
    let root: i64 = twin
        .superuser()
        .query_one(
            "SELECT retry_of FROM refunds WHERE retry_of IS NOT NULL ORDER BY id LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(pg.refund(root).unwrap().state, State::Failed);
    let again = RetryStart {
        refund: root,
        new_id: None,
        why: "retried again under its own id".into(),
    };
    let refused = pg.start_retries(1, &[again]).unwrap_err();
    assert!(
        refused.to_string().contains("already has a retry"),
        "{refused}"
    );
    assert_eq!(pg.refund(root).unwrap().state, State::Failed);
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
}
