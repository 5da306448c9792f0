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
