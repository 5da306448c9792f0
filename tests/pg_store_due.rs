//! The PostgreSQL store's scheduler reads (what may still leave, the due
//! reader on its own connection) and its money, against a real server
//! (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist), compared with the SQLite store on the same journal
//! ([`due_journal`]: refunds in every state, due and not due), then every
//! operation asked of both with every batch, scope, cursor and limit.
//!
//! "Now" is each store's own clock (this machine's for SQLite, the
//! server's for PostgreSQL): every time a due read compares with it is set
//! far in the past or far in the future, so both clocks agree.

mod common;

#[path = "pg/due_journal.rs"]
mod due_journal;
#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use bulkrefund::journal::{DueReads, Journal, RefundRecord, Scope};
use due_journal::{
    journals, refunds, APPROVED, BATCHES, HELD, LARGE, MIXED, PAST, SECOND_MERCHANT, UNIMPORTED,
};

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
    let large = pg.due_reader(&Scope::Batches(vec![LARGE]), false).unwrap();
    let large_pages = pages(&*large, 0);
    assert!(large_pages.len() >= 2, "{}", large_pages.len());
    assert_eq!(large_pages[0].len(), 512);
    assert_eq!(due(large.polls(1000).unwrap()).len(), 137);
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

/// Makes PostgreSQL compare the texts the money and the plans order by as
/// people read them (ICU's en-US: `a-desk` before `B-desk`), not in byte
/// order as SQLite does, so that an order that forgot `COLLATE "C"` shows.
/// Said and skipped where the server has no ICU collations.
fn collate_like_people(twin: &twin::Twin) {
    let mut superuser = twin.superuser();
    let icu = superuser
        .query_opt(
            "SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'",
            &[],
        )
        .unwrap();
    if icu.is_none() {
        eprintln!("no ICU collation on this server: the texts keep the database's (C) order");
        return;
    }
    superuser
        .batch_execute(
            r#"ALTER TABLE refunds ALTER COLUMN profile TYPE TEXT COLLATE "en-US-x-icu",
                   ALTER COLUMN state TYPE TEXT COLLATE "en-US-x-icu",
                   ALTER COLUMN finished_at TYPE TEXT COLLATE "en-US-x-icu";
               ALTER TABLE batch_rows ALTER COLUMN row_status TYPE TEXT COLLATE "en-US-x-icu";"#,
        )
        .unwrap();
}

#[test]
fn waiting_and_the_money_answer_the_same_on_both_stores() {
    let Some((twin, _runtime, world)) =
        journals("waiting_and_the_money_answer_the_same_on_both_stores")
    else {
        return;
    };
    collate_like_people(&twin);
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
