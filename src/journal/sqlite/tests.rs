//! Journal tests on `:memory:` and temporary files: the state machine as the
//! only door, events for every transition, dedupe verdicts, crash recovery.

use std::collections::BTreeMap;

use rusqlite::params;

use super::import::{self, BatchMeta, CheckedRow, Tally};
use super::outgoing::Waiting;
use super::refunds::{read_record, RECORD_COLUMNS};
use super::*;
use crate::batch::RefundRow;
use crate::gateway::GatewayKind;
use crate::money::Fen;

/// A refund as the journal holds it, read with the journal's own connection.
fn read_refund(conn: &rusqlite::Connection, id: i64) -> Result<RefundRecord, JournalError> {
    Ok(conn.query_row(
        &format!("SELECT {RECORD_COLUMNS} FROM refunds WHERE id = ?1"),
        [id],
        read_record,
    )?)
}

pub(super) fn meta() -> BatchMeta {
    BatchMeta {
        file_name: "batch.csv".into(),
        file_hash: "abc".into(),
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: "M1".into(),
        header: vec![
            "merchant_refund_id".into(),
            "third_order_id".into(),
            "refund_amount".into(),
        ],
        input_path: None,
        results_path: None,
        results_bom: false,
    }
}

pub(super) fn valid(
    line: u64,
    id: &str,
    order: &str,
    fen: u64,
) -> Result<CheckedRow, crate::batch::FileError> {
    let mut fields = BTreeMap::new();
    fields.insert("third_order_id".to_string(), order.to_string());
    Ok(CheckedRow::Valid {
        line,
        cells: vec![id.into(), order.into(), fen.to_string()],
        refund: RefundRow {
            refund_id: id.into(),
            amount: Fen(fen),
            fields,
            fingerprint: format!("{order}||{fen}"),
            order_key: order.into(),
        },
    })
}

fn invalid(line: u64) -> Result<CheckedRow, crate::batch::FileError> {
    Ok(CheckedRow::Invalid {
        line,
        cells: vec!["R_x".into()],
        fen: None,
        message: format!("line {line}, merchant_refund_id: bad"),
    })
}

pub(super) fn import_rows(
    journal: &mut SqliteJournal,
    rows: Vec<Result<CheckedRow, crate::batch::FileError>>,
) -> (Tally, Vec<String>) {
    let mut problems = Vec::new();
    let tally = import::import(
        journal,
        &meta(),
        rows.into_iter(),
        || false,
        |p| problems.push(p.to_owned()),
    )
    .unwrap();
    (tally, problems)
}

/// (line, row_status, refund, error_message) of each row of a batch.
type RowStatus = (u64, Option<String>, Option<i64>, Option<String>);

fn row_statuses(journal: &SqliteJournal, batch: i64) -> Vec<RowStatus> {
    let mut stmt = journal
        .conn
        .prepare("SELECT line, row_status, refund, error_message FROM batch_rows WHERE batch_id = ?1 ORDER BY line")
        .unwrap();
    stmt.query_map([batch], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn dedupe_within_a_file_and_against_the_journal() {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
    let (first, problems) = import_rows(
        &mut journal,
        vec![
            valid(2, "R1", "T1", 100),
            valid(3, "R2", "T1", 200),
            valid(4, "R1", "T1", 100),
            valid(5, "R2", "T1", 999),
            invalid(6),
        ],
    );
    assert_eq!(
        first,
        Tally {
            batch_id: Some(1),
            rows: 5,
            new: 2,
            new_fen: Fen(300),
            largest_new: Some((Fen(200), 3)),
            known: 0,
            duplicate: 1,
            conflict: 1,
            invalid: 1,
            earlier: vec![]
        }
    );
    assert_eq!(problems.len(), 2);
    assert!(
        problems[0].starts_with("line 5, refund id R2 is used at line 3 for a different refund"),
        "{problems:?}"
    );
    let rows = row_statuses(&journal, 1);
    assert_eq!(
        rows[2],
        (
            4,
            Some("duplicate".into()),
            Some(1),
            Some("repeats line 2; not sent again".into())
        )
    );
    assert_eq!(rows[3].1.as_deref(), Some("conflict"));
    assert_eq!(rows[3].2, None);

    // A second file: R1 same content is known; R2 other content conflicts; R1 twice is a duplicate.
    let (second, problems) = import_rows(
        &mut journal,
        vec![
            valid(2, "R1", "T1", 100),
            valid(3, "R2", "T2", 200),
            valid(4, "R3", "T1", 50),
            valid(5, "R1", "T1", 100),
        ],
    );
    assert_eq!(
        second,
        Tally {
            batch_id: Some(2),
            rows: 4,
            new: 1,
            new_fen: Fen(50),
            largest_new: Some((Fen(50), 4)),
            known: 1,
            duplicate: 1,
            conflict: 1,
            invalid: 0,
            // R1 was recorded by batch 1 and never sent: this batch sends it too.
            earlier: vec![Waiting {
                batch: 1,
                profile: "leshua".into(),
                count: 1,
                fen: Fen(100),
                largest: (Fen(100), "R1".into())
            }]
        }
    );
    assert!(
        problems[0].contains("already used for a different refund (batch 1, line 3)"),
        "{problems:?}"
    );
    let rows = row_statuses(&journal, 2);
    assert_eq!(rows[0], (2, None, Some(1), None));
    assert_eq!(rows[3].1.as_deref(), Some("duplicate"));
    let count: i64 = journal
        .conn
        .query_row("SELECT COUNT(*) FROM refunds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[test]
fn preview_decides_like_import_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = SqliteJournal::open(&path).unwrap();
    import_rows(
        &mut journal,
        vec![valid(2, "R1", "T1", 100), valid(3, "R2", "T1", 200)],
    );
    drop(journal);
    let rows = || {
        vec![
            valid(2, "R1", "T1", 100),
            valid(3, "R2", "T2", 200),
            valid(4, "R3", "T1", 50),
            valid(5, "R3", "T1", 50),
            valid(6, "R3", "T1", 51),
            invalid(7),
        ]
    };
    let reader = SqliteJournal::open_read_only(&path).unwrap().unwrap();
    let mut problems = Vec::new();
    let previewed = super::preview::preview(
        Some(&reader),
        GatewayKind::Leshua,
        "M1",
        rows().into_iter(),
        |p| problems.push(p.to_owned()),
    )
    .unwrap();
    assert_eq!(
        previewed,
        Tally {
            batch_id: None,
            rows: 6,
            new: 1,
            new_fen: Fen(50),
            largest_new: Some((Fen(50), 4)),
            known: 1,
            duplicate: 1,
            conflict: 2,
            invalid: 1,
            // R1 was recorded by batch 1 and never sent: this batch sends it too.
            earlier: vec![Waiting {
                batch: 1,
                profile: "leshua".into(),
                count: 1,
                fen: Fen(100),
                largest: (Fen(100), "R1".into())
            }]
        }
    );
    assert_eq!(problems.len(), 3);
    let batches: i64 = reader
        .conn
        .query_row("SELECT COUNT(*) FROM batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!(batches, 1, "preview wrote nothing");
    drop(reader);
    let mut journal = SqliteJournal::open(&path).unwrap();
    let (imported, _) = import_rows(&mut journal, rows());
    assert_eq!(
        Tally {
            batch_id: None,
            ..imported
        },
        previewed
    );
    // Without a journal at all.
    let fresh =
        super::preview::preview(None, GatewayKind::Leshua, "M1", rows().into_iter(), |_| {})
            .unwrap();
    assert_eq!(
        (fresh.new, fresh.known, fresh.duplicate, fresh.conflict),
        (3, 0, 1, 1)
    );
}

/// Issue 18 review, item 3: a file naming both `R1` and its retry `R1R2`
/// reaches one chain head twice. The import sends the chain once (the second
/// row repeats the first); the preview (`validate`) says the same.
#[test]
fn preview_and_import_send_a_retry_chain_named_twice_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = SqliteJournal::open(&path).unwrap();
    import_rows(&mut journal, vec![valid(2, "R1", "T1", 60_000)]);
    let mut from = State::Pending;
    for to in [State::InFlight, State::Failed] {
        changes::apply(&journal.conn, 1, from, &Change::to(to, "test")).unwrap();
        from = to;
    }
    let retry = chain::RetryStart {
        refund: 1,
        new_id: Some("R1R2".into()),
        why: "test".into(),
    };
    journal.start_retries(1, &[retry]).unwrap();
    drop(journal);
    // R1R2 is pending: a run of this file sends it, once.
    let rows = || vec![valid(2, "R1", "T1", 60_000), valid(3, "R1R2", "T1", 60_000)];
    let reader = SqliteJournal::open_read_only(&path).unwrap().unwrap();
    let previewed = super::preview::preview(
        Some(&reader),
        GatewayKind::Leshua,
        "M1",
        rows().into_iter(),
        |_| {},
    )
    .unwrap();
    drop(reader);
    let mut journal = SqliteJournal::open(&path).unwrap();
    let (imported, _) = import_rows(&mut journal, rows());
    let once = vec![Waiting {
        batch: 1,
        profile: "leshua".into(),
        count: 1,
        fen: Fen(60_000),
        largest: (Fen(60_000), "R1R2".into()),
    }];
    assert_eq!((imported.known, imported.duplicate), (1, 1));
    assert_eq!(imported.earlier, once);
    assert_eq!(
        previewed,
        Tally {
            batch_id: None,
            ..imported
        }
    );
}

fn one_refund() -> (SqliteJournal, i64) {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
    import_rows(&mut journal, vec![valid(2, "R1", "T1", 100)]);
    (journal, 1)
}

fn events(journal: &SqliteJournal, refund: i64) -> Vec<(Option<String>, String)> {
    let mut stmt = journal
        .conn
        .prepare("SELECT from_state, to_state FROM events WHERE refund = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([refund], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn every_transition_writes_an_event_and_illegal_ones_are_refused() {
    let (journal, id) = one_refund();
    let conn = &journal.conn;
    let path = [
        State::InFlight,
        State::Unknown,
        State::Pending,
        State::InFlight,
        State::Processing,
        State::Succeeded,
    ];
    let mut from = State::Pending;
    for to in path {
        changes::apply(conn, id, from, &Change::to(to, "test")).unwrap();
        from = to;
    }
    let recorded = events(&journal, id);
    assert_eq!(recorded.len(), 1 + path.len());
    assert_eq!(recorded[0], (None, "pending".to_string()));
    assert_eq!(
        recorded.last().unwrap(),
        &(Some("processing".to_string()), "succeeded".to_string())
    );
    let record = read_refund(conn, id).unwrap();
    assert_eq!(record.state, State::Succeeded);
    // Succeeded is final: nothing may follow it.
    for to in state::ALL {
        let error = changes::apply(conn, id, State::Succeeded, &Change::to(to, "x")).unwrap_err();
        assert!(
            matches!(error, JournalError::Illegal { .. }),
            "{to}: {error}"
        );
    }
    // A caller with a stale idea of the state is refused too.
    assert!(matches!(
        changes::apply(conn, id, State::Pending, &Change::to(State::InFlight, "x")),
        Err(JournalError::Stale { .. })
    ));
    assert_eq!(
        events(&journal, id).len(),
        1 + path.len(),
        "refused changes write no event"
    );
    // Events are append-only.
    assert!(conn.execute("DELETE FROM events", []).is_err());
    assert!(conn
        .execute("UPDATE events SET why = 'edited'", [])
        .is_err());
}

#[test]
fn every_illegal_transition_is_refused_from_every_state() {
    for from in state::ALL {
        for to in state::ALL {
            if state::check(from, to).is_ok() {
                continue;
            }
            let (journal, id) = one_refund();
            journal
                .conn
                .execute(
                    "UPDATE refunds SET state = ?1 WHERE id = ?2",
                    params![from.as_str(), id],
                )
                .unwrap();
            let error = changes::apply(&journal.conn, id, from, &Change::to(to, "x")).unwrap_err();
            assert!(
                matches!(error, JournalError::Illegal { .. }),
                "{from} -> {to}"
            );
            assert_eq!(read_refund(&journal.conn, id).unwrap().state, from);
        }
    }
}

#[test]
fn in_flight_after_a_crash_becomes_unknown() {
    // In flight under no claim, as a journal older than claims leaves it.
    let (mut journal, id) = one_refund();
    changes::apply(
        &journal.conn,
        id,
        State::Pending,
        &Change::to(State::InFlight, "sending"),
    )
    .unwrap();
    let owner = super::claim::ClaimOwner::named("host:1:next");
    let now = journal.clock_ms();
    assert_eq!(journal.recover_lapsed(&owner, now).unwrap(), 1);
    assert_eq!(
        read_refund(&journal.conn, id).unwrap().state,
        State::Unknown
    );
    assert_eq!(events(&journal, id).last().unwrap().1, "unknown");
}

#[test]
fn attempts_are_counted_and_first_sent_kept() {
    let (journal, id) = one_refund();
    let conn = &journal.conn;
    let attempt = |kind, at: &str| AttemptRecord {
        kind,
        at: at.into(),
        http_status: Some(200),
        gateway_codes: None,
        outcome: "unknown".into(),
        latency_ms: 3,
    };
    changes::apply(
        conn,
        id,
        State::Pending,
        &Change::to(State::InFlight, "sending"),
    )
    .unwrap();
    let unknown = Change::to(State::Unknown, "HTTP 500");
    changes::settle(
        conn,
        id,
        State::InFlight,
        &unknown,
        &attempt(AttemptKind::Submit, "2026-11-22T00:00:00.000Z"),
    )
    .unwrap();
    changes::reschedule(
        conn,
        id,
        changes::Rescheduled {
            next_attempt_at: 0,
            note: None,
            gateway_refund_id: None,
            gateway_times: &Default::default(),
        },
        &attempt(AttemptKind::Query, "2026-11-22T00:00:01.000Z"),
    )
    .unwrap();
    changes::settle(
        conn,
        id,
        State::Unknown,
        &Change::to(State::Pending, "not found"),
        &attempt(AttemptKind::Query, "2026-11-22T00:00:02.000Z"),
    )
    .unwrap();
    changes::apply(
        conn,
        id,
        State::Pending,
        &Change::to(State::InFlight, "sending"),
    )
    .unwrap();
    changes::settle(
        conn,
        id,
        State::InFlight,
        &Change::to(State::Succeeded, "ok"),
        &attempt(AttemptKind::Submit, "2026-11-22T00:00:03.000Z"),
    )
    .unwrap();
    let record = read_refund(conn, id).unwrap();
    assert_eq!((record.attempts, record.submits), (4, 2));
    let first: String = conn
        .query_row("SELECT first_sent_at FROM refunds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(first, "2026-11-22T00:00:00.000Z");
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM attempts WHERE refund = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 4);
    // A refused change records no attempt either.
    let refused = changes::settle(
        conn,
        id,
        State::Succeeded,
        &Change::to(State::Pending, "x"),
        &attempt(AttemptKind::Query, "t"),
    );
    assert!(refused.is_err());
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM attempts WHERE refund = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 4);
}

#[test]
fn a_file_journal_uses_wal_and_a_migrated_schema() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let mode: String = journal
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = journal
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), sync), ("wal", 1));
    assert_eq!(schema::version(&journal.conn).unwrap(), schema::VERSION);
    // A second process (here: a second open) is refused while the first holds it.
    let error = SqliteJournal::open(&dir.path().join("j.db"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("in use by another bulkrefund process"),
        "{error}"
    );
}

/// (batches, refunds, batch rows) in the journal.
fn recorded(journal: &SqliteJournal) -> (i64, i64, i64) {
    journal
        .conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM batches), (SELECT COUNT(*) FROM refunds), (SELECT COUNT(*) FROM batch_rows)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

fn many_rows(n: u64) -> impl Iterator<Item = Result<CheckedRow, crate::batch::FileError>> {
    (0..n).map(|i| valid(i + 2, &format!("R{i}"), &format!("T{i}"), 100 + i))
}

#[test]
fn an_import_is_all_or_nothing_when_the_disk_fills() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let pages: i64 = journal
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // A disk that fills a few pages into the import.
    journal
        .conn
        .pragma_update(None, "max_page_count", pages + 20)
        .unwrap();
    let error = import::import(&mut journal, &meta(), many_rows(30_000), || false, |_| {})
        .unwrap_err()
        .to_string();
    assert!(error.contains("full"), "{error}");
    assert_eq!(
        recorded(&journal),
        (0, 0, 0),
        "nothing of the batch is left"
    );
    journal
        .conn
        .pragma_update(None, "max_page_count", 1_073_741_823)
        .unwrap();
    let tally = import::import(&mut journal, &meta(), many_rows(30_000), || false, |_| {}).unwrap();
    assert_eq!(tally.new, 30_000);
    assert_eq!(recorded(&journal), (1, 30_000, 30_000));
}

#[test]
fn an_import_stopped_by_a_bad_file_or_an_interrupt_records_nothing() {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
    let broken =
        many_rows(25_000).chain(std::iter::once(Err(crate::batch::FileError::Malformed {
            path: "batch.csv".into(),
            line: 25_002,
            message: "a quote opened on this line is never closed".into(),
        })));
    assert!(matches!(
        import::import(&mut journal, &meta(), broken, || false, |_| {}),
        Err(import::ImportError::File(_))
    ));
    assert_eq!(recorded(&journal), (0, 0, 0));
    // The operator interrupts after the first 20,000 rows were read.
    let seen = std::cell::Cell::new(0u64);
    let rows = many_rows(25_000).inspect(|_| seen.set(seen.get() + 1));
    let result = import::import(&mut journal, &meta(), rows, || seen.get() > 20_000, |_| {});
    assert!(matches!(result, Err(import::ImportError::Interrupted)));
    assert_eq!(recorded(&journal), (0, 0, 0));
}

#[test]
fn an_abnormal_refund_is_due_hourly_and_keeps_nothing_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    import_rows(
        &mut journal,
        vec![valid(2, "R1", "T1", 17), valid(3, "R2", "T2", 100)],
    );
    let in_an_hour = now_ms() + 3_600_000;
    for (from, to) in [
        (State::Pending, State::InFlight),
        (State::InFlight, State::Abnormal),
    ] {
        let change = Change {
            next_attempt_at: (to == State::Abnormal).then_some(in_an_hour),
            ..Change::to(to, "test")
        };
        journal.apply(1, from, &change).unwrap();
    }
    for (from, to) in [
        (State::Pending, State::InFlight),
        (State::InFlight, State::Succeeded),
    ] {
        journal.apply(2, from, &Change::to(to, "test")).unwrap();
    }
    let scope = Scope::All;
    let reader = journal.due_reader(&scope, false).unwrap();
    // Before its hour: not due, and nothing waits for it.
    assert!(reader.page(0).unwrap().is_empty());
    assert_eq!(reader.next_due(true).unwrap(), None);
    assert!(journal.unresolved_profiles(&scope).unwrap().is_empty());
    // Its batch is rewritten by whichever command may ask about it.
    assert_eq!(
        journal.affected_batches(&Scope::Batches(vec![1])).unwrap(),
        [1]
    );
    journal.set_finished(1, true).unwrap();
    assert_eq!(journal.affected_batches(&scope).unwrap(), [1]);
    // Its hour up: due to be asked (only asked: the engine's task queries it).
    journal.make_due(1).unwrap();
    let due: Vec<(String, State)> = reader
        .page(0)
        .unwrap()
        .into_iter()
        .map(|d| (d.record.refund_id, d.record.state))
        .collect();
    assert_eq!(due, [("R1".to_owned(), State::Abnormal)]);
    assert_eq!(reader.next_due(true).unwrap(), None, "still nothing waits");
    assert_eq!(journal.unresolved_profiles(&scope).unwrap(), ["leshua"]);
    assert!(
        journal.waiting(&scope).unwrap().is_empty(),
        "no money leaves"
    );
}
