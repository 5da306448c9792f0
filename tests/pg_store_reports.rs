//! The PostgreSQL store's report reads against SQLite's on one journal: a
//! rich SQLite journal (tests/pg/rich.rs, enriched by
//! tests/pg_store_reports/journal.rs) copied into PostgreSQL as `journal
//! copy` copies it, then every read asked of both with every batch (and a
//! missing one) and many export filters, each field alone and together,
//! stopping after a few rows too: the answers must be equal, and not empty
//! where the journal holds something. A million rows stream through both
//! streamed reads with the process's peak memory growing by less than 100 MiB.

mod common;

#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

#[path = "pg_store_reports/exports.rs"]
mod exports;
#[path = "pg_store_reports/journal.rs"]
mod journal;
#[path = "pg_store_reports/million.rs"]
mod million;

use bulkrefund::journal::report_rows::{ExportFilter, ExportRow, ResultsRow};
use bulkrefund::journal::{Journal, JournalStore};
use common::World;
use twin::Twin;

/// The enriched journal in SQLite and its copy in PostgreSQL, both open.
pub struct Copied {
    pub twin: Twin,
    pub sqlite: Journal,
    pub pg: Journal,
    /// Where the SQLite journal is, with the simulator it was made against.
    pub world: World,
    _runtime: tokio::runtime::Runtime,
}

/// The twin for `test`, the enriched journal made and copied (or `None`:
/// no server here, said so).
fn copied(test: &str) -> Option<Copied> {
    let twin = Twin::start(test)?;
    in_a_locales_order(&twin);
    let (runtime, world) = rich::source_journal();
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    journal::enrich(&conn);
    drop(conn);
    twin.copy_into_pg(&world.journal());
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
    let sqlite = Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    Some(Copied {
        twin,
        sqlite,
        pg,
        world,
        _runtime: runtime,
    })
}

/// Makes the twin's PostgreSQL journal anew in a database whose text order
/// is a locale's (ICU's `en-US`: `alpha` before `Zeta`), as a team's server
/// often has, where byte order is only what a query asks for: the test
/// server's own databases are `C`, where every order is byte order. Where
/// the server has no ICU, the journal stays in `C`, and says so.
fn in_a_locales_order(twin: &Twin) {
    use bulkrefund::journal::postgres::{grants, schema};
    let mut superuser = twin.server.superuser("postgres");
    superuser
        .batch_execute(&format!("DROP DATABASE {}", twin::DB))
        .unwrap();
    let icu = superuser.batch_execute(&format!(
        "CREATE DATABASE {} OWNER {} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'
         LOCALE 'C'",
        twin::DB,
        twin::OWNER
    ));
    if let Err(e) = icu {
        println!("no ICU collation here ({e}): the journal's order is byte order");
        let create = format!("CREATE DATABASE {} OWNER {}", twin::DB, twin::OWNER);
        superuser.batch_execute(&create).unwrap();
    }
    let mut owner = twin
        .server
        .client(twin::OWNER, twin::OWNER_PASSWORD, twin::DB);
    schema::migrate(&mut owner).unwrap();
    owner.batch_execute(&grants::operator_grants()).unwrap();
    let order: Vec<String> = owner
        .query(
            "SELECT m FROM (VALUES ('Zeta'), ('alpha')) v(m) ORDER BY m",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    println!("the journal database orders text as {order:?}");
}

/// A batch's results rows, stopping after `stop` when given.
pub fn results(journal: &dyn JournalStore, batch: i64, stop: Option<usize>) -> Vec<ResultsRow> {
    let mut rows = Vec::new();
    journal
        .results_rows_while(batch, &mut |row| {
            rows.push(row);
            stop.is_none_or(|n| rows.len() < n)
        })
        .unwrap();
    rows
}

/// The export's rows, stopping after `stop` when given.
pub fn exported(
    journal: &dyn JournalStore,
    filter: &ExportFilter,
    stop: Option<usize>,
) -> Vec<ExportRow> {
    let mut rows = Vec::new();
    journal
        .export_rows_while(filter, &mut |row| {
            rows.push(row);
            stop.is_none_or(|n| rows.len() < n)
        })
        .unwrap();
    rows
}

/// The file hash of batch 1 (made by the run against the simulator).
fn first_file_hash(world: &World) -> String {
    rusqlite::Connection::open(world.journal())
        .unwrap()
        .query_row("SELECT file_hash FROM batches WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn batches_and_their_rows_read_the_same_on_both_stores() {
    let Some(copied) = copied("batches_and_their_rows_read_the_same_on_both_stores") else {
        return;
    };
    // Bound by reference: the twin (the server) must live to the end.
    let Copied {
        sqlite, pg, world, ..
    } = &copied;
    let batches = sqlite.batches().unwrap();
    assert_eq!(pg.batches().unwrap(), batches);
    assert!(batches.len() >= 4, "{batches:?}");
    assert!(batches.iter().any(|b| !b.imported), "an unfinished import");
    for hash in [
        journal::FILE_HASH.to_owned(),
        first_file_hash(world),
        "none".into(),
    ] {
        assert_eq!(
            pg.batches_with_hash(&hash).unwrap(),
            sqlite.batches_with_hash(&hash).unwrap(),
            "{hash}"
        );
    }
    let same_file = pg.batches_with_hash(journal::FILE_HASH).unwrap();
    assert_eq!(
        same_file.len(),
        2,
        "two imports of one file, the unfinished third aside"
    );
    assert!(!pg
        .batches_with_hash(&first_file_hash(world))
        .unwrap()
        .is_empty());
    let mut ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
    ids.push(999);
    for batch in ids {
        assert_eq!(pg.batch(batch).unwrap(), sqlite.batch(batch).unwrap());
        assert_eq!(
            format!("{:?}", pg.batch_header(batch)),
            format!("{:?}", sqlite.batch_header(batch)),
            "batch {batch}"
        );
        let rows = results(&**sqlite, batch, None);
        assert_eq!(results(&**pg, batch, None), rows, "batch {batch}");
        for stop in [1, 2, 5] {
            let first = results(&**pg, batch, Some(stop));
            assert_eq!(first, results(&**sqlite, batch, Some(stop)));
            assert_eq!(first.len(), stop.min(rows.len()), "stopped after {stop}");
        }
        assert_eq!(
            pg.rows_needing_attention(batch).unwrap(),
            sqlite.rows_needing_attention(batch).unwrap(),
            "batch {batch}"
        );
        assert_eq!(
            pg.retries_in_batch(batch).unwrap(),
            sqlite.retries_in_batch(batch).unwrap(),
            "batch {batch}"
        );
    }
    // Not two empty answers: each read holds something here.
    assert_eq!(
        pg.batch(journal::SECOND).unwrap().unwrap().file_name,
        "second.csv"
    );
    assert_eq!(pg.batch_header(journal::SECOND).unwrap().len(), 3);
    assert_eq!(results(&**pg, journal::SECOND, None).len(), 12);
    assert_eq!(results(&**pg, journal::SAME_FILE, None).len(), 2);
    assert!(!results(&**pg, 1, None).is_empty());
    let attention = pg.rows_needing_attention(journal::SECOND).unwrap();
    assert_eq!(attention.len(), 10, "{attention:#?}");
    assert_eq!(pg.retries_in_batch(journal::SECOND).unwrap().len(), 1);
    let retried_before = batches
        .iter()
        .filter(|b| b.id < journal::SECOND)
        .map(|b| pg.retries_in_batch(b.id).unwrap().len())
        .sum::<usize>();
    assert_eq!(retried_before, 5, "the rich journal's five retries");
    assert!(pg.batch_header(999).is_err());
    assert_eq!(pg.batch(999).unwrap(), None);
}

#[test]
fn exports_and_latency_read_the_same_on_both_stores() {
    let Some(copied) = copied("exports_and_latency_read_the_same_on_both_stores") else {
        return;
    };
    exports::every_filter(&copied);
    exports::latency(&copied);
}

#[test]
fn a_million_rows_stream_in_little_memory() {
    let Some(twin) = Twin::start("a_million_rows_stream_in_little_memory") else {
        return;
    };
    million::stream(&twin);
}
