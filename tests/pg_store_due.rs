//! The PostgreSQL store's scheduler reads (what may still leave, the due
//! reader on its own connection) and its money, against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist), compared with the SQLite store on the same journal: a rich
//! journal made against the simulator ([`rich`]), extended here by hand
//! with refunds in every state, due and not due, copied into PostgreSQL as
//! `journal copy` copies it, then every operation asked of both with every
//! batch, scope, cursor and limit.
//!
//! "Now" is each store's own clock (this machine's for SQLite, the
//! server's for PostgreSQL): every time a due read compares with it is set
//! here far in the past or far in the future, so both clocks agree.

mod common;

#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use bulkrefund::journal::{DueReads, Journal, RefundRecord, Scope, PARKED};
use common::World;
use twin::Twin;

/// Due long ago, on any clock.
const PAST: i64 = 1_000;
/// Not due before 2096, on any clock.
const FUTURE: i64 = 4_000_000_000_000;

/// The batches added here: a mixed one, one held for approval, one held
/// and approved, one whose import never ended, and one of a second merchant.
const MIXED: i64 = 21;
const HELD: i64 = 22;
const APPROVED: i64 = 23;
const UNIMPORTED: i64 = 24;
const SECOND_MERCHANT: i64 = 25;
/// Every batch the journal holds, and one it does not.
const BATCHES: [i64; 7] = [1, MIXED, HELD, APPROVED, UNIMPORTED, SECOND_MERCHANT, 99];

/// A refund added by hand: (id, batch, state, next_attempt_at, fen, order_key, profile).
type Added = (i64, i64, &'static str, i64, i64, &'static str, &'static str);

/// The refunds added, in every state, due and not due.
const ADDED: &[Added] = &[
    // The first refund of order O1 is due; the second waits for it.
    (101, MIXED, "pending", PAST, 1000, "O1", "leshua"),
    (102, MIXED, "pending", PAST, 1200, "O1", "leshua"),
    (103, MIXED, "retry_wait", FUTURE, 700, "", "leshua"),
    (104, MIXED, "retry_wait", PAST, 700, "", "leshua"),
    (105, MIXED, "unknown", PAST, 300, "", "leshua"),
    (106, MIXED, "unknown", FUTURE, 300, "", "leshua"),
    (107, MIXED, "processing", 5_000, 450, "", "leshua"),
    (108, MIXED, "processing", FUTURE, 450, "", "leshua"),
    (109, MIXED, "processing", 5_000, 450, "", "leshua"),
    (110, MIXED, "processing", 2_000, 450, "", "leshua"),
    // Abnormal: due for its hourly query, and not yet.
    (111, MIXED, "abnormal", PAST, 990, "", "leshua"),
    (112, MIXED, "abnormal", FUTURE, 990, "", "leshua"),
    // Order O2: its first refund succeeded, so the second is due (with
    // when the first finished, for a gap).
    (113, MIXED, "succeeded", 0, 1500, "O2", "leshua"),
    (114, MIXED, "pending", PAST, 1200, "O2", "leshua"),
    (115, MIXED, "failed", 0, 800, "", "leshua"),
    (116, MIXED, "failed", 0, 820, "", "leshua"),
    (117, MIXED, "review", 0, 640, "", "leshua"),
    (118, MIXED, "in_flight", PAST, 1200, "", "leshua"),
    (119, MIXED, "unknown", PARKED, 555, "", "leshua"),
    // Another desk's profile in the same batch, with a tie for the largest.
    (120, MIXED, "pending", FUTURE, 900, "", "B-desk"),
    (121, MIXED, "pending", FUTURE, 900, "", "B-desk"),
    (122, MIXED, "retry_wait", FUTURE, 100, "", "a-desk"),
    (123, MIXED, "succeeded", 0, 2500, "", "leshua"),
    (124, MIXED, "failed", 0, 330, "", "leshua"),
    // Held: nothing is sent; the unknown one is still queried, the
    // processing one still polled.
    (131, HELD, "pending", PAST, 5000, "", "leshua"),
    (132, HELD, "unknown", PAST, 5000, "", "leshua"),
    (133, HELD, "processing", 3_000, 5000, "", "leshua"),
    (134, HELD, "retry_wait", PAST, 5000, "", "leshua"),
    (141, APPROVED, "pending", PAST, 6000, "", "leshua"),
    (142, APPROVED, "retry_wait", PAST, 6000, "", "leshua"),
    // An import that never ended: the never-sent refund waits for it, the
    // one already sent does not.
    (151, UNIMPORTED, "pending", PAST, 70, "", "leshua"),
    (152, UNIMPORTED, "pending", PAST, 71, "", "leshua"),
    (161, SECOND_MERCHANT, "pending", PAST, 10, "", "Other"),
    (162, SECOND_MERCHANT, "succeeded", 0, 20, "", "Other"),
    (163, SECOND_MERCHANT, "abnormal", PAST, 30, "", "Other"),
];

/// Every refund a read is asked about: the rich journal's, the ones added, a missing one.
fn refunds() -> Vec<i64> {
    (1..=12)
        .chain(ADDED.iter().map(|a| a.0))
        .chain([999])
        .collect()
}

/// Extends the rich journal at `path` with [`ADDED`] and their batches'
/// rows: a known refund of batch 1 listed again, a duplicate row, an
/// invalid row and a conflict, denials, a live claim of another process.
fn extend(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let (scope, gateway, merchant): (String, String, String) = conn
        .query_row(
            "SELECT scope, gateway, merchant_id FROM refunds WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // The abnormal refund of the rich journal: its hourly query not due yet.
    conn.execute(
        "UPDATE refunds SET next_attempt_at = ?1 WHERE state = 'abnormal'",
        [FUTURE],
    )
    .unwrap();
    for (batch, imported) in [
        (MIXED, true),
        (HELD, true),
        (APPROVED, true),
        (UNIMPORTED, false),
        (SECOND_MERCHANT, true),
    ] {
        let merchant = if batch == SECOND_MERCHANT {
            "0000000099"
        } else {
            &merchant
        };
        conn.execute(
            "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id,
                 header, started_at, imported_at)
             VALUES (?1, 'b' || ?1 || '.csv', 'hash' || ?1, 'leshua', ?2, ?3, '[]',
                 '2026-12-01T00:00:00.000Z', ?4)",
            rusqlite::params![
                batch,
                gateway,
                merchant,
                imported.then_some("2026-12-01T00:00:01.000Z")
            ],
        )
        .unwrap();
    }
    conn.execute_batch(&format!(
        "UPDATE batches SET approval_over_fen = 100, recorded_by = 'uid:1', recorded_by_name = 'carol'
             WHERE id IN ({HELD}, {APPROVED});
         INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
             VALUES ({APPROVED}, '2026-12-01T01:00:00Z', 'uid:2', 'dave', 'approved', 'ok'),
                    ({HELD}, '2026-12-01T01:00:00Z', 'uid:2', 'dave', 'refused', 'no');"
    ))
    .unwrap();
    for (line, &(id, batch, state, next, fen, order, profile)) in ADDED.iter().enumerate() {
        let scope = if batch == SECOND_MERCHANT {
            format!("{gateway}:0000000099")
        } else {
            scope.clone()
        };
        let settled = matches!(state, "succeeded" | "failed" | "review");
        let code = matches!(state, "failed" | "review" | "abnormal").then(|| {
            if id == 124 {
                "E2"
            } else {
                "E1"
            }
        });
        conn.execute(
            "INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
                 amount_fen, fields, state, next_attempt_at, error_code, error_message,
                 first_sent_at, finished_at, created_at, order_key, gateway, merchant_id,
                 attempts, submits, ever_created)
             VALUES (?1, ?2, 'R' || ?1, 'fp' || ?1, ?3, ?4, ?5, ?6, '{\"order\":\"x\"}', ?7, ?8,
                 ?9, ?10, ?11, ?12, '2026-12-01T00:00:00.000Z', ?13, ?14, ?15, 2, 1, 1)",
            rusqlite::params![
                id,
                scope,
                profile,
                batch,
                line as i64 + 1,
                fen,
                state,
                next,
                code,
                code.map(|c| format!("the gateway said {c} about #{id}")),
                (id != 151).then_some("2026-12-01T00:10:00.000Z"),
                settled.then(|| format!("2026-12-01T00:{:02}:00.000Z", id % 60)),
                order,
                gateway,
                if batch == SECOND_MERCHANT {
                    "0000000099"
                } else {
                    merchant.as_str()
                },
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO batch_rows (batch_id, line, cells, refund, fen) VALUES (?1, ?2, '[]', ?3, ?4)",
            rusqlite::params![batch, id, id, fen],
        )
        .unwrap();
    }
    conn.execute_batch(&format!(
        "INSERT INTO batch_rows (batch_id, line, cells, refund, row_status, fen, error_code, error_message)
             VALUES ({MIXED}, 1, '[]', 6, NULL, NULL, NULL, NULL),
                    ({MIXED}, 2, '[]', 101, 'duplicate', 1000, NULL, NULL),
                    ({MIXED}, 3, '[]', 115, 'duplicate', 800, NULL, NULL),
                    ({MIXED}, 4, '[]', NULL, 'invalid', NULL, 'BR_INVALID', 'no amount'),
                    ({MIXED}, 5, '[]', NULL, 'invalid', 12, 'BR_INVALID', 'bad id'),
                    ({MIXED}, 6, '[]', 123, 'conflict', 2600, 'BR_CONFLICT', 'other amount'),
                    ({HELD}, 1, '[]', 106, NULL, NULL, NULL, NULL),
                    ({HELD}, 2, '[]', 103, NULL, NULL, NULL, NULL);
         UPDATE refunds SET claim_owner = 'host-b:4242', claim_generation = 3,
             lease_until_ms = {FUTURE} WHERE id IN (104, 105);"
    ))
    .unwrap();
    let denied = bulkrefund::journal::DENIED_AFTER_AN_ANSWER;
    for (refund, from, to, why) in [
        (
            105,
            "unknown",
            "pending",
            format!("{denied} (the first time)"),
        ),
        (105, "unknown", "pending", denied.to_owned()),
        (105, "pending", "unknown", denied.to_owned()),
        (105, "unknown", "pending", "never created".to_owned()),
        (132, "unknown", "pending", denied.to_owned()),
    ] {
        conn.execute(
            "INSERT INTO events (refund, at, from_state, to_state, why)
             VALUES (?1, '2026-12-01T00:20:00.000Z', ?2, ?3, ?4)",
            rusqlite::params![refund, from, to, why],
        )
        .unwrap();
    }
}

/// A server, and the rich journal extended, in SQLite and copied into it.
fn journals(test: &str) -> Option<(Twin, tokio::runtime::Runtime, World)> {
    let twin = Twin::start(test)?;
    let (runtime, world) = rich::source_journal();
    extend(&world.journal());
    twin.copy_into_pg(&world.journal());
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
    Some((twin, runtime, world))
}

/// Every scope a command may work in.
fn scopes() -> Vec<Scope> {
    let mut scopes: Vec<Scope> = BATCHES.iter().map(|&b| Scope::Batches(vec![b])).collect();
    scopes.extend([
        Scope::Batches(vec![1, MIXED, HELD]),
        Scope::Batches(vec![HELD, APPROVED, UNIMPORTED, SECOND_MERCHANT]),
        Scope::Batches(vec![]),
        Scope::Refunds(vec![101, 102, 107, 110, 131, 132, 133, 151, 152, 999]),
        Scope::Refunds(vec![]),
        Scope::All,
    ]);
    scopes
}

/// A page or a list of polls, comparable.
fn due(list: Vec<bulkrefund::journal::records::DueRefund>) -> Vec<(RefundRecord, Option<String>)> {
    list.into_iter()
        .map(|d| (d.record, d.previous_finished))
        .collect()
}

/// Every page of `reader` from `cursor` on, each as the reader gives it.
fn pages(reader: &dyn DueReads, cursor: i64) -> Vec<Vec<(RefundRecord, Option<String>)>> {
    let mut pages = Vec::new();
    let mut cursor = cursor;
    loop {
        let page = due(reader.page(cursor).unwrap());
        let Some(last) = page.last() else {
            return pages;
        };
        cursor = last.0.id;
        pages.push(page);
    }
}

/// Everything a due reader answers, from every cursor and limit.
fn everything_due(reader: &dyn DueReads) -> String {
    let mut all = Vec::new();
    for cursor in [i64::MIN, 0, 5, 101, 104, 111, 150, 999] {
        all.push(format!("pages from {cursor}: {:?}", pages(reader, cursor)));
    }
    for limit in [0, 1, 2, 3, 100] {
        all.push(format!(
            "polls {limit}: {:?}",
            due(reader.polls(limit).unwrap())
        ));
    }
    for poll_open in [true, false] {
        all.push(format!(
            "next due {poll_open}: {:?}",
            reader.next_due(poll_open).unwrap()
        ));
    }
    for refund in refunds() {
        all.push(format!(
            "denials {refund}: {}",
            reader.denials(refund).unwrap()
        ));
    }
    for finals in [true, false] {
        all.push(format!("count {finals}: {}", reader.count(finals).unwrap()));
    }
    all.join("\n")
}

/// The ids of the due refunds from the start.
fn due_ids(reader: &dyn DueReads) -> Vec<i64> {
    pages(reader, 0).concat().iter().map(|d| d.0.id).collect()
}

#[test]
fn the_due_reader_answers_the_same_on_both_stores() {
    let Some((twin, _runtime, world)) = journals("the_due_reader_answers_the_same_on_both_stores")
    else {
        return;
    };
    let sqlite = Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    for scope in scopes() {
        for gaps in [false, true] {
            let ours = sqlite.due_reader(&scope, gaps).unwrap();
            let theirs = pg.due_reader(&scope, gaps).unwrap();
            let (ours, theirs) = (everything_due(&*ours), everything_due(&*theirs));
            assert_eq!(ours, theirs, "{scope:?}, gaps {gaps}");
        }
    }
    // What the answers hold (so that the comparison above compared something).
    let reader = pg.due_reader(&Scope::Batches(vec![MIXED]), true).unwrap();
    // Due: the first of order O1, not the second; the one another process
    // holds live (claims are the engine's to skip); the abnormal one due
    // for its hourly query; never an in-flight or parked one.
    assert_eq!(due_ids(&*reader), [101, 104, 105, 111, 114]);
    let page = due(reader.page(0).unwrap());
    let o2 = page.iter().find(|d| d.0.id == 114).unwrap();
    assert_eq!(o2.1.as_deref(), Some("2026-12-01T00:53:00.000Z"));
    assert_eq!(page[0].0.refund_id, "R101");
    assert_eq!(page[0].0.fields["order"], "x");
    let polls: Vec<i64> = due(reader.polls(2).unwrap())
        .iter()
        .map(|d| d.0.id)
        .collect();
    assert_eq!(polls, [110, 107]);
    assert_eq!(reader.next_due(true).unwrap(), Some(PAST));
    assert_eq!(reader.denials(105).unwrap(), 2);
    // Final: batch 1's refund listed again, three succeeded, failed or in
    // review here, and the two abnormal ones.
    assert_eq!(reader.count(true).unwrap(), 9);
    // A held batch sends nothing (its pending and retry_wait refunds are
    // out of scope) and goes on querying and polling.
    let held = pg.due_reader(&Scope::Batches(vec![HELD]), false).unwrap();
    assert_eq!(due_ids(&*held), [132]);
    assert_eq!(due(held.polls(10).unwrap())[0].0.id, 133);
    assert_eq!(held.count(false).unwrap(), 3);
    let approved = pg
        .due_reader(&Scope::Batches(vec![APPROVED]), false)
        .unwrap();
    assert_eq!(due_ids(&*approved), [141, 142]);
    let unimported = pg
        .due_reader(&Scope::Batches(vec![UNIMPORTED]), false)
        .unwrap();
    assert_eq!(due_ids(&*unimported), [152]);
    let nothing = pg.due_reader(&Scope::Batches(vec![]), false).unwrap();
    assert_eq!(nothing.next_due(true).unwrap(), None);
    assert_eq!(nothing.count(false).unwrap(), 0);
}

#[test]
fn the_due_reader_reads_beside_the_writer() {
    let Some((twin, _runtime, world)) = journals("the_due_reader_reads_beside_the_writer") else {
        return;
    };
    let sqlite = Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    let scope = Scope::Batches(vec![MIXED, HELD]);
    let ours = sqlite.due_reader(&scope, false).unwrap();
    let theirs = pg.due_reader(&scope, false).unwrap();
    assert_eq!(due_ids(&*theirs), [101, 104, 105, 111, 114, 132]);
    // Committed beside the readers: a refund falls due, one is settled, and
    // the held batch is approved (the reader's scope stays as it opened).
    let change = format!(
        "UPDATE refunds SET next_attempt_at = {PAST} WHERE id = 103;
         UPDATE refunds SET state = 'succeeded' WHERE id = 101;
         INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
             VALUES ({HELD}, '2026-12-01T02:00:00Z', 'uid:3', 'erin', 'approved', 'ok');"
    );
    rusqlite::Connection::open(world.journal())
        .unwrap()
        .execute_batch(&change)
        .unwrap();
    twin.superuser().batch_execute(&change).unwrap();
    assert_eq!(everything_due(&*ours), everything_due(&*theirs));
    assert_eq!(due_ids(&*theirs), [102, 104, 105, 111, 114, 132]);
    let reopened = pg.due_reader(&scope, false).unwrap();
    assert_eq!(
        due_ids(&*reopened),
        [102, 103, 104, 105, 111, 114, 131, 132, 134]
    );
    let again = sqlite.due_reader(&scope, false).unwrap();
    assert_eq!(everything_due(&*again), everything_due(&*reopened));
}

#[test]
fn waiting_and_the_money_answer_the_same_on_both_stores() {
    let Some((twin, _runtime, world)) =
        journals("waiting_and_the_money_answer_the_same_on_both_stores")
    else {
        return;
    };
    let sqlite = Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    for scope in scopes() {
        assert_eq!(
            sqlite.waiting(&scope).unwrap(),
            pg.waiting(&scope).unwrap(),
            "{scope:?}"
        );
    }
    for batch in BATCHES {
        let on = |journal: &Journal| {
            format!(
                "intents {:?}\nunsent {:?}\nfailures {:?}\ntotals {:?}\nas repeated {:?}",
                journal.batch_intents(batch).unwrap(),
                journal.batch_unsent(batch).unwrap(),
                journal.failures_by_code(batch).unwrap(),
                journal.status_totals(batch, false).unwrap(),
                journal.status_totals(batch, true).unwrap(),
            )
        };
        assert_eq!(on(&sqlite), on(&pg), "batch {batch}");
    }
    assert_eq!(
        sqlite.refunded_in_all().unwrap(),
        pg.refunded_in_all().unwrap()
    );
    // What the answers hold.
    let waiting = pg.waiting(&Scope::Batches(vec![MIXED])).unwrap();
    let groups: Vec<(i64, &str, u64)> = waiting
        .iter()
        .map(|w| (w.batch, w.profile.as_str(), w.count))
        .collect();
    assert_eq!(
        groups,
        [
            (MIXED, "B-desk", 2),
            (MIXED, "a-desk", 1),
            (MIXED, "leshua", 9)
        ]
    );
    assert_eq!(waiting[0].largest.1, "R120");
    assert_eq!(waiting[2].largest.1, "R102");
    let intents = pg.batch_intents(MIXED).unwrap();
    assert!(intents.iter().any(|i| i.owner == 1), "{intents:?}");
    assert!(intents.len() >= 8, "{intents:?}");
    assert_eq!(pg.batch_unsent(MIXED).unwrap().len(), 3);
    let failures = pg.failures_by_code(MIXED).unwrap();
    assert_eq!(failures[0].count, 2, "{failures:?}");
    assert!(
        failures.iter().any(|f| f.samples == ["line 4", "line 5"]),
        "{failures:?}"
    );
    assert_ne!(
        pg.status_totals(MIXED, false).unwrap(),
        pg.status_totals(MIXED, true).unwrap()
    );
    let (count, fen) = pg.refunded_in_all().unwrap();
    // Three retries of batch 1 (two are in review or abnormal), two here,
    // one of the second merchant.
    assert_eq!(count, 6, "{fen:?}");
}
