//! The PostgreSQL store's writes (changes and imports) against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries exist):
//! the same imports, previews, retries and state changes done through a
//! SQLite journal and a PostgreSQL one give the same answers, and leave the
//! same tables row for row, except the columns each store stamps from its
//! own clock ([`CLOCK_STAMPED`]) and the batch recorder ([`RECORDER`]).

mod common;

#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;
#[path = "pg_store_writes/rows.rs"]
mod writes_rows;

use std::cell::Cell;
use std::fmt::Debug;

use bulkrefund::journal::approval::Hold;
use bulkrefund::journal::import::{self as journal_import, Refusal};
use bulkrefund::journal::records::RetryStart;
use bulkrefund::journal::{
    AttemptKind, AttemptRecord, Change, GatewayTimes, Journal, Scope, State, PARKED,
};
use bulkrefund::money::Fen;

use twin::Twin;
use writes_rows::{batch_a, batch_b, batch_c, meta, Spec};

/// Columns each store fills from its own clock (SQLite: this machine's;
/// PostgreSQL: the server's): when a batch began, was imported and
/// finished, when a refund was recorded and finished, when an event
/// happened. Whether each is set is compared apart ([`clock_nulls`]).
const CLOCK_STAMPED: [&str; 5] = [
    "started_at",
    "imported_at",
    "finished_at",
    "created_at",
    "at",
];

/// Who recorded a held batch: the OS user on SQLite, the role on PostgreSQL.
const RECORDER: [&str; 2] = ["recorded_by", "recorded_by_name"];

/// Does `f` on both journals (SQLite first); their answers must be equal.
fn both<T: Debug>(journals: &mut [Journal; 2], mut f: impl FnMut(&mut Journal) -> T) -> T {
    let [sqlite, pg] = journals;
    let ours = f(sqlite);
    let theirs = f(pg);
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    ours
}

/// [`both`], for a change that must be made on both.
fn ok<E: Debug>(journals: &mut [Journal; 2], f: impl FnMut(&mut Journal) -> Result<(), E>) {
    both(journals, f).unwrap();
}

/// Imports `rows` under `meta` into `journal`, with the problems it told.
fn import(
    journal: &mut Journal,
    meta: &bulkrefund::journal::import::BatchMeta,
    rows: Vec<Spec>,
) -> (Result<journal_import::Tally, String>, Vec<String>) {
    let mut problems = Vec::new();
    let tally = journal_import::import(
        journal,
        meta,
        rows.into_iter().map(Spec::row),
        || false,
        |p| problems.push(p.to_owned()),
    );
    (tally.map_err(|e| e.to_string()), problems)
}

/// The preview of `rows` on `journal`, with the problems it told.
fn preview(journal: &Journal, rows: Vec<Spec>) -> (journal_import::Tally, Vec<String>) {
    let mut problems = Vec::new();
    let tally = bulkrefund::journal::preview::preview(
        Some(journal),
        bulkrefund::gateway::GatewayKind::Leshua,
        "M1",
        rows.into_iter().map(Spec::row),
        |p| problems.push(p.to_owned()),
    )
    .unwrap();
    (tally, problems)
}

fn attempt(kind: AttemptKind, at: &str, outcome: &str) -> AttemptRecord {
    AttemptRecord {
        kind,
        at: at.into(),
        http_status: Some(200),
        gateway_codes: Some("SUCCESS".into()),
        outcome: outcome.into(),
        latency_ms: 42,
    }
}

/// Whether each clock-stamped column is set, per row, on both stores.
fn clock_nulls(twin: &Twin) -> (Vec<Vec<bool>>, Vec<Vec<bool>>) {
    let queries = [
        "SELECT started_at IS NULL, imported_at IS NULL, finished_at IS NULL FROM batches ORDER BY id",
        "SELECT created_at IS NULL, finished_at IS NULL, false FROM refunds ORDER BY id",
    ];
    let sqlite = rusqlite::Connection::open(twin.sqlite_path()).unwrap();
    let mut pg = twin.superuser();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for sql in queries {
        let mut stmt = sqlite.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| Ok(vec![r.get(0)?, r.get(1)?, r.get(2)?]))
            .unwrap();
        ours.extend(rows.map(Result::unwrap));
        theirs.extend(
            pg.query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| vec![r.get(0), r.get(1), r.get(2)]),
        );
    }
    (ours, theirs)
}

#[test]
fn imports_and_changes_write_the_same_journal_on_both_stores() {
    let Some(twin) = Twin::start("imports_and_changes_write_the_same_journal_on_both_stores")
    else {
        return;
    };
    let mut journals = [twin.sqlite(), twin.pg()];

    // A: 12,000 lines over three chunks; repeats and conflicts within a
    // chunk and across chunks, invalid rows.
    let meta_a = meta("a.csv", "hash-a");
    let (a, problems) = both(&mut journals, |j| import(j, &meta_a, batch_a()));
    let a = a.unwrap();
    assert_eq!(a.batch_id, Some(1));
    assert_eq!(
        (a.rows, a.new, a.duplicate, a.conflict, a.invalid),
        (12_000, 11_994, 2, 2, 2)
    );
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems.contains(
        &"line 6001, refund id A000003 is used at line 3 for a different refund; never sent"
            .to_owned()
    ));

    // B previewed, then recorded: ids of A (known, changed), its own repeats.
    let (seen, _) = both(&mut journals, |j| preview(j, batch_b()));
    let meta_b = meta("b.csv", "hash-b");
    let (b, _) = both(&mut journals, |j| import(j, &meta_b, batch_b()));
    let b = b.unwrap();
    assert_eq!(
        Tally {
            batch_id: None,
            ..b.clone()
        },
        seen
    );
    assert_eq!(
        (b.rows, b.new, b.known, b.duplicate, b.conflict, b.invalid),
        (8, 1, 2, 2, 2, 1)
    );
    assert_eq!(b.earlier.len(), 1, "{:?}", b.earlier);
    assert_eq!(b.earlier[0].count, 2);

    drive_states(&mut journals);
    assert!(twin.differences(&twin.sqlite_path(), &skipped()).is_empty());

    // C names a retried refund and its new id (one chain), and a same-id retry.
    let (seen, seen_problems) = both(&mut journals, |j| preview(j, batch_c()));
    let meta_c = meta("c.csv", "hash-c");
    let (c, problems) = both(&mut journals, |j| import(j, &meta_c, batch_c()));
    let c = c.unwrap();
    assert_eq!(
        Tally {
            batch_id: None,
            ..c.clone()
        },
        seen
    );
    assert_eq!(problems, seen_problems);
    assert_eq!((c.rows, c.known, c.duplicate, c.new), (4, 2, 1, 1));
    assert!(!c.earlier.is_empty());

    held_and_unfinished(&twin, &mut journals);
    batch_files(&mut journals);
    traces(&mut journals);

    let differences = twin.differences(&twin.sqlite_path(), &skipped());
    assert_eq!(differences, Vec::<String>::new());
    let (ours, theirs) = clock_nulls(&twin);
    assert_eq!(ours, theirs);
    // Refunds: A's 11,994, B1, the retry A000002R2, C1, D1 and D2; rows:
    // 12,000 + 8 + 4 + 2; events: one a new refund (11,999), eight moves,
    // two of the retry; the four attempts; no trace left.
    assert_eq!(pg_counts(&twin), vec![4, 11_999, 12_014, 12_008, 4, 0]);
    let mut pg = twin.superuser();
    let held: Vec<(String, String)> = pg
        .query(
            "SELECT recorded_by, recorded_by_name FROM batches WHERE recorded_by IS NOT NULL",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(held, vec![("alice".to_owned(), "alice".to_owned())]);
}

use bulkrefund::journal::import::Tally;

fn skipped() -> Vec<&'static str> {
    CLOCK_STAMPED.iter().chain(&RECORDER).copied().collect()
}

/// Settles, refuses and retries refunds of batch A on both journals.
fn drive_states(journals: &mut [Journal; 2]) {
    let pending = |why: &str| Change::to(State::InFlight, why);
    // Refunds 1 (A000002) and 4 (A000005) fail; 2 succeeds; 3 is parked.
    for refund in 1..=4 {
        ok(journals, |j| {
            j.apply(refund, State::Pending, &pending("intent"))
        });
    }
    let failed = Change {
        error: Some(("REFUND_FAIL".into(), "refused".into())),
        ..Change::to(State::Failed, "the gateway refused it")
    };
    let submit = attempt(AttemptKind::Submit, "2026-12-01T01:00:00.000Z", "failed");
    ok(journals, |j| j.settle(1, State::InFlight, &failed, &submit));
    ok(journals, |j| j.settle(4, State::InFlight, &failed, &submit));
    let succeeded = Change {
        gateway_refund_id: Some("G-2".into()),
        gateway_times: GatewayTimes {
            success_at: Some("2026-12-01T01:00:05Z".parse().unwrap()),
            created_at: Some("2026-12-01T01:00:01Z".parse().unwrap()),
        },
        created: true,
        ..Change::to(State::Succeeded, "the gateway paid it")
    };
    ok(journals, |j| {
        j.settle(2, State::InFlight, &succeeded, &submit)
    });
    let query = attempt(AttemptKind::Query, "2026-12-01T01:10:00.000Z", "succeeded");
    ok(journals, |j| j.note_attempt(2, &query));
    let parked = Change {
        next_attempt_at: Some(PARKED),
        ..Change::to(State::Unknown, "gave up asking")
    };
    ok(journals, |j| j.apply(3, State::InFlight, &parked));
    ok(journals, |j| j.unpark(&Scope::Batches(vec![1])));
    ok(journals, |j| j.reopen_listing(2));

    // Refused changes: a stale state, an illegal move; nothing is written.
    let stale = both(journals, |j| j.apply(2, State::Pending, &pending("again")));
    assert!(stale.is_err());
    let illegal = both(journals, |j| {
        j.apply(2, State::Succeeded, &Change::to(State::Pending, "undo"))
    });
    assert!(illegal.is_err());
    let missing = both(journals, |j| {
        j.apply(99_999, State::Pending, &pending("none"))
    });
    assert!(missing.is_err());

    let starts = [
        RetryStart {
            refund: 4,
            new_id: None,
            why: "retry --failed".into(),
        },
        RetryStart {
            refund: 1,
            new_id: Some("A000002R2".into()),
            why: "retry --new-ids".into(),
        },
    ];
    let sent = both(journals, |j| j.start_retries(2, &starts).unwrap());
    assert_eq!(sent[0], 4);
    // A second retry of the same refund is refused, and rolls the whole retry back.
    let again = [RetryStart {
        refund: 1,
        new_id: Some("A000002R3".into()),
        why: "a second retry".into(),
    }];
    for journal in journals.iter_mut() {
        let error = journal.start_retries(2, &again).unwrap_err().to_string();
        assert!(error.contains("already has a retry"), "{error}");
    }
}

/// A batch held for approval; an import an older bulkrefund left
/// unfinished, finished by the same file.
fn held_and_unfinished(twin: &Twin, journals: &mut [Journal; 2]) {
    let meta_d = meta("d.csv", "hash-d");
    both(journals, |j| {
        let person = j.person().unwrap();
        let mut problems = Vec::new();
        journal_import::import_deciding(
            j,
            &meta_d,
            writes_rows::batch_d().into_iter().map(Spec::row),
            || false,
            |p| problems.push(p.to_owned()),
            |_| {
                Ok(Some(Hold {
                    over_fen: Fen(100),
                    recorded_by: person,
                }))
            },
        )
        .map_err(|e| e.to_string())
    })
    .unwrap();

    // Batch 2 (B) as an older version would leave it: rows after line 5 unrecorded.
    let unfinish = "UPDATE batches SET imported_at = NULL, finished_at = NULL WHERE id = 2;
                    DELETE FROM batch_rows WHERE batch_id = 2 AND line > 5;";
    journals[0] = Journal::open_in_memory().unwrap();
    rusqlite::Connection::open(twin.sqlite_path())
        .unwrap()
        .execute_batch(unfinish)
        .unwrap();
    journals[0] = twin.sqlite();
    twin.superuser().batch_execute(unfinish).unwrap();
    let unfinished = both(journals, |j| j.unfinished_imports(None).unwrap());
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].rows_recorded, 4);
    both(journals, |j| j.unfinished_imports(Some(&[1])).unwrap());
    let meta_b = meta("b.csv", "hash-b");
    let (b, _) = both(journals, |j| import(j, &meta_b, batch_b()));
    assert_eq!(b.unwrap().batch_id, Some(2));
    assert!(both(journals, |j| j.unfinished_imports(None).unwrap()).is_empty());
}

/// A batch's files and whether it is finished.
fn batch_files(journals: &mut [Journal; 2]) {
    ok(journals, |j| {
        j.set_results_path(1, "/tmp/a-results.csv".as_ref())
    });
    ok(journals, |j| j.set_finished(1, true));
    ok(journals, |j| j.set_finished(1, true));
    ok(journals, |j| j.set_finished(3, true));
    ok(journals, |j| j.set_finished(3, false));
    let path = both(journals, |j| j.results_path(1).unwrap());
    assert_eq!(path, Some("/tmp/a-results.csv".into()));
    assert_eq!(both(journals, |j| j.results_path(2).unwrap()), None);
    assert_eq!(both(journals, |j| j.results_path(404).unwrap()), None);
    assert!(!both(journals, |j| j.results_bom(1).unwrap()));
    assert!(both(journals, |j| j.batch_exists(1).unwrap()));
    assert!(!both(journals, |j| j.batch_exists(404).unwrap()));
    assert_eq!(both(journals, |j| j.batch_inputs().unwrap()).len(), 4);
}

/// An import's trace: begun (as a killed import leaves it), listed, forgotten.
fn traces(journals: &mut [Journal; 2]) {
    let meta_k = meta("killed.csv", "hash-k");
    let listed = journals.each_mut().map(|j| {
        let id = j.begin_import(&meta_k).unwrap();
        let listed = j.interrupted_imports().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, id);
        let forgotten = j.forget_import(id).unwrap().expect("the trace");
        assert!(j.forget_import(id).unwrap().is_none());
        assert!(j.interrupted_imports().unwrap().is_empty());
        (forgotten.file_name, forgotten.profile)
    });
    assert_eq!(listed[0], listed[1]);
}

/// How many rows each table of the PostgreSQL journal holds.
fn pg_counts(twin: &Twin) -> Vec<i64> {
    let mut pg = twin.superuser();
    [
        "batches",
        "refunds",
        "batch_rows",
        "events",
        "attempts",
        "imports",
    ]
    .iter()
    .map(|t| {
        pg.query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])
            .unwrap()
            .get(0)
    })
    .collect()
}

#[test]
fn an_interrupted_or_refused_import_leaves_nothing() {
    let Some(twin) = Twin::start("an_interrupted_or_refused_import_leaves_nothing") else {
        return;
    };
    let mut journals = [twin.sqlite(), twin.pg()];
    let meta_a = meta("a.csv", "hash-a");
    // Interrupted after the first chunk was written.
    let outcome = both(&mut journals, |j| {
        let asked = Cell::new(0);
        journal_import::import(
            j,
            &meta_a,
            batch_a().into_iter().map(Spec::row),
            || {
                asked.set(asked.get() + 1);
                asked.get() > 1
            },
            |_| {},
        )
        .map_err(|e| e.to_string())
    });
    assert!(outcome.unwrap_err().contains("interrupted"));
    assert_eq!(pg_counts(&twin), vec![0; 6]);
    // Refused undecided: the trace a killed import of the file left stays.
    let killed = both(&mut journals, |j| j.begin_import(&meta_a).map(|_| ()));
    assert!(killed.is_ok());
    for decided in [false, true] {
        let outcome = both(&mut journals, |j| {
            journal_import::import_checked(
                j,
                &meta_a,
                batch_a().into_iter().map(Spec::row),
                || false,
                |_| {},
                |tally| {
                    assert_eq!(tally.new, 11_994);
                    Err(if decided {
                        Refusal::decided("over the cap")
                    } else {
                        Refusal::undecided("no terminal")
                    })
                },
            )
            .map_err(|e| e.to_string())
        });
        assert!(outcome.is_err());
        let traces = if decided { 0 } else { 1 };
        assert_eq!(pg_counts(&twin), vec![0, 0, 0, 0, 0, traces]);
        let listed = both(&mut journals, |j| j.interrupted_imports().unwrap().len());
        assert_eq!(listed, traces as usize);
    }
}

/// Imports `BULKREFUND_ROWS` (200,000 unless set) plain rows into `journal`,
/// read one at a time as a file is, and says how long it took.
fn time_an_import(journal: &mut Journal, store: &str) {
    let rows: u64 = std::env::var("BULKREFUND_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let started = std::time::Instant::now();
    let tally = journal_import::import(
        journal,
        &meta("big.csv", "hash-big"),
        (2..rows + 2).map(|i| writes_rows::plain(i).row()),
        || false,
        |_| {},
    )
    .unwrap();
    assert_eq!(tally.new, rows);
    println!("{store}: {rows} rows imported in {:?}", started.elapsed());
}

/// By hand, timed (`/usr/bin/time -v` for the peak RSS): never asserted.
#[test]
#[ignore]
fn time_a_large_import_on_postgresql() {
    let Some(twin) = Twin::start("time_a_large_import_on_postgresql") else {
        return;
    };
    time_an_import(&mut twin.pg(), "PostgreSQL");
}

/// The same on SQLite, for comparison.
#[test]
#[ignore]
fn time_a_large_import_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("journal.db")).unwrap();
    time_an_import(&mut journal, "SQLite");
}

/// An import another process is doing right now is not interrupted: its
/// trace is listed only once that process's session is gone (killed: the
/// server frees its lock).
#[test]
fn another_process_s_live_import_is_not_called_interrupted() {
    let Some(twin) = Twin::start("another_process_s_live_import_is_not_called_interrupted") else {
        return;
    };
    let importing = twin.pg();
    let looking = twin.pg();
    let id = importing.begin_import(&meta("live.csv", "hash-l")).unwrap();
    assert!(looking.interrupted_imports().unwrap().is_empty());
    // Nor can it be forgotten while it goes on.
    let refused = looking.forget_import(id).unwrap_err().to_string();
    assert!(
        refused.contains("still going on in another process"),
        "{refused}"
    );
    // Its own session sees its trace (what a test of a killed import does).
    assert_eq!(importing.interrupted_imports().unwrap().len(), 1);
    drop(importing);
    // The server frees a closed session's locks as it ends the backend: at
    // once for a client that said goodbye, yet asynchronously; asked again
    // until it has, for at most ten seconds.
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = looking.interrupted_imports().unwrap();
        if !listed.is_empty() || started.elapsed() > std::time::Duration::from_secs(10) {
            break listed;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
}
