//! The journal's side of `reconcile`: the reads by id and by day, the record
//! and its history, `status`'s days and `show`'s bills, and the proof that
//! reconciling leaves refunds, events and attempts exactly as they were.

use std::str::FromStr;

use jiff::civil::Date;
use rusqlite::params;

use super::*;
use crate::journal::reconciled::FoundInBill;

const MERCHANT: &str = "M1";

fn day(text: &str) -> Date {
    Date::from_str(text).unwrap()
}

/// A refund of a test journal: (refund id, state, fen, gateway success
/// time, finished_at, submits).
type Seed<'a> = (&'a str, &'a str, u64, Option<&'a str>, Option<&'a str>, i64);

/// A journal with one batch and these refunds.
fn journal_with(refunds: &[Seed]) -> SqliteJournal {
    let journal = SqliteJournal::open_in_memory().unwrap();
    journal
        .conn
        .execute(
            "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id, header, started_at)
             VALUES (1, 'b.csv', 'h', 'leshua', 'leshua', ?1, '[]', '2026-11-30T00:00:00.000Z')",
            [MERCHANT],
        )
        .unwrap();
    for (i, (id, state, fen, success, finished, submits)) in refunds.iter().enumerate() {
        journal
            .conn
            .execute(
                "INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line, amount_fen,
                     fields, state, submits, first_sent_at, finished_at, gateway_success_at, created_at,
                     gateway, merchant_id)
                 VALUES (?1, ?2, 'fp', 'leshua', 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?8, 'leshua', ?11)",
                params![
                    format!("leshua:{MERCHANT}"),
                    id,
                    i as i64 + 2,
                    *fen as i64,
                    format!("{{\"third_order_id\":\"O-{id}\"}}"),
                    state,
                    submits,
                    "2026-11-30T03:00:00.000Z",
                    finished,
                    success,
                    MERCHANT,
                ],
            )
            .unwrap();
    }
    journal
}

/// A finding of `outcome` about `refund_id` (its journal row `refund`).
fn finding(outcome: &'static str, refund_id: &str, refund: Option<i64>) -> FindingRecord {
    let listed = outcome != "missing_from_bill";
    FindingRecord {
        outcome,
        refund_id: refund_id.into(),
        refund,
        bill_day: listed.then(|| day("2026-11-30")),
        bill_line: listed.then_some(2),
        gateway_refund_id: Some(format!("G-{refund_id}")),
        journal_status: refund.map(|_| "succeeded"),
        bill_status: listed.then(|| "succeeded".to_owned()),
        journal_fen: refund.map(|_| Fen(100)),
        bill_fen: listed.then_some(Fen(100)),
        bill_success_at: None,
        note: String::new(),
    }
}

fn meta(date: &str, counts: [u64; 5]) -> ReconciliationMeta {
    let listed: u64 = counts[..4].iter().sum();
    ReconciliationMeta {
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: MERCHANT.into(),
        source: "/tmp/bill.csv".into(),
        raw_path: Some("/tmp/bill.csv".into()),
        raw_sha256: "00".repeat(32),
        neighbours: String::new(),
        bill_date: day(date),
        bill: Money {
            count: listed,
            fen: Fen(100 * listed),
        },
        counts,
        unresolved_not_in_bill: 1,
        expected: Money {
            count: counts[0],
            fen: Fen(100 * counts[0]),
        },
    }
}

fn sample() -> SqliteJournal {
    journal_with(&[
        // Beijing 2026-11-30 12:00 by the gateway's time.
        (
            "R1",
            "succeeded",
            100,
            Some("2026-11-30T04:00:00.000Z"),
            Some("2026-11-30T04:00:01.000Z"),
            1,
        ),
        // No gateway time: bulkrefund's clock, Beijing 2026-11-30 23:00.
        (
            "R2",
            "succeeded",
            200,
            None,
            Some("2026-11-30T15:00:00.000Z"),
            1,
        ),
        // Beijing 2026-12-01 00:00:01 by the gateway, though finished on the 30th UTC.
        (
            "R3",
            "succeeded",
            300,
            Some("2026-11-30T16:00:01.000Z"),
            Some("2026-11-30T16:00:02.000Z"),
            1,
        ),
        ("R4", "processing", 400, None, None, 1),
        ("R5", "pending", 500, None, None, 0),
        // Beijing 2026-12-03: outside D−1..D+1.
        (
            "R6",
            "succeeded",
            600,
            Some("2026-12-03T04:00:00.000Z"),
            Some("2026-12-03T04:00:00.000Z"),
            1,
        ),
    ])
}

#[test]
fn reads_by_id_and_by_beijing_day() {
    let journal = sample();
    let ids: Vec<String> = ["R1", "R5", "nope"].map(String::from).to_vec();
    let named = journal
        .refunds_for_bill(GatewayKind::Leshua, MERCHANT, &ids)
        .unwrap();
    let got: Vec<(&str, bool, &str)> = named
        .iter()
        .map(|r| (r.refund_id.as_str(), r.sent, r.order_id.as_str()))
        .collect();
    assert_eq!(got, [("R1", true, "O-R1"), ("R5", false, "O-R5")]);
    assert!(journal
        .refunds_for_bill(GatewayKind::Leshua, "another", &ids)
        .unwrap()
        .is_empty());
    // Chunks: more ids than one statement names.
    let many: Vec<String> = (0..1200)
        .map(|i| format!("x{i}"))
        .chain(["R2".to_owned()])
        .collect();
    assert_eq!(
        journal
            .refunds_for_bill(GatewayKind::Leshua, MERCHANT, &many)
            .unwrap()
            .len(),
        1
    );
    let around = journal
        .refunds_expected_around(GatewayKind::Leshua, MERCHANT, day("2026-11-30"))
        .unwrap();
    let got: Vec<(&str, Option<String>, DayBasis)> = around
        .iter()
        .map(|r| {
            (
                r.refund_id.as_str(),
                r.day().map(|d| d.to_string()),
                r.basis,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("R1", Some("2026-11-30".into()), DayBasis::Gateway),
            ("R2", Some("2026-11-30".into()), DayBasis::Bulkrefund),
            ("R3", Some("2026-12-01".into()), DayBasis::Gateway),
        ]
    );
    let unresolved = journal
        .refunds_unresolved_on(GatewayKind::Leshua, MERCHANT, day("2026-11-30"))
        .unwrap();
    let ids: Vec<&str> = unresolved.iter().map(|r| r.refund_id.as_str()).collect();
    assert_eq!(
        ids,
        ["R4"],
        "a refund never sent is not unresolved at the gateway"
    );
}

/// Every row of the tables reconciliation must never change, as text.
fn dump(conn: &rusqlite::Connection) -> String {
    let mut text = String::new();
    for table in ["refunds", "events", "attempts", "batches", "batch_rows"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).unwrap();
                text.push_str(&format!("{value:?}|"));
            }
            text.push('\n');
        }
    }
    text
}

#[test]
fn a_reconciliation_is_recorded_whole_kept_as_history_and_touches_no_refund() {
    let mut journal = sample();
    let before = dump(&journal.conn);
    assert!(before.contains("R1"), "the dump sees the refunds");
    let ids: Vec<i64> = ["R1", "R2", "R3", "R4"]
        .iter()
        .map(|refund_id| journal.refunds_named(refund_id).unwrap()[0].id)
        .collect();
    let id = |refund_id: &str| Some(ids[refund_id[1..].parse::<usize>().unwrap() - 1]);
    let findings = [
        finding("matched", "R1", id("R1")),
        finding("status_differs", "R4", id("R4")),
        finding("not_in_journal", "X9", None),
        finding("missing_from_bill", "R2", id("R2")),
    ];
    let meta = meta("2026-11-30", [1, 0, 1, 1, 1]);
    let first = journal.record_reconciliation(&meta, &findings).unwrap();
    let second = journal.record_reconciliation(&meta, &findings).unwrap();
    assert_eq!(second, first + 1, "reconciling again adds, never replaces");
    assert_eq!(
        dump(&journal.conn),
        before,
        "refunds, events, attempts untouched"
    );
    let rows: i64 = journal
        .conn
        .query_row("SELECT COUNT(*) FROM reconciliation_rows", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 8);
    let found = journal.found_in_bills(id("R1").unwrap()).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[1],
        FoundInBill {
            reconciliation: second,
            bill_date: "2026-11-30".into(),
            bill_day: Some("2026-11-30".into()),
            bill_line: Some(2),
            outcome: "matched".into(),
            note: String::new(),
            reconciled_at: found[1].reconciled_at.clone(),
            source: "/tmp/bill.csv".into(),
        }
    );
    // The report reads the latest reconciliation of each day, without its matches.
    let recorded = journal
        .recorded_reconciliations("2026-11-01", "2026-11-30")
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, second);
    assert_eq!(recorded[0].counts, [1, 0, 1, 1, 1]);
    let listed: Vec<(&str, &str)> = recorded[0]
        .findings
        .iter()
        .map(|f| (f.outcome.as_str(), f.refund_id.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("status_differs", "R4"),
            ("not_in_journal", "X9"),
            ("missing_from_bill", "R2")
        ]
    );
    assert!(journal
        .recorded_reconciliations("2026-12-01", "2026-12-31")
        .unwrap()
        .is_empty());
    let missing = journal.found_in_bills(id("R2").unwrap()).unwrap();
    assert_eq!(missing[0].outcome, "missing_from_bill");
    assert_eq!(missing[0].bill_day, None);
    assert!(journal
        .found_in_bills(id("R3").unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn a_failed_record_leaves_nothing() {
    let mut journal = sample();
    // A finding naming a refund the journal does not hold breaks the
    // foreign key midway: the reconciliation row goes with it.
    let findings = [
        finding("matched", "R1", Some(1)),
        finding("matched", "ghost", Some(999)),
    ];
    assert!(journal
        .record_reconciliation(&meta("2026-11-30", [2, 0, 0, 0, 0]), &findings)
        .is_err());
    let count = |table: &str| -> i64 {
        journal
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count("reconciliations"), 0);
    assert_eq!(count("reconciliation_rows"), 0);
}

#[test]
fn status_lists_each_beijing_day_with_its_latest_reconciliation() {
    let mut journal = sample();
    let days = journal.reconciled_days().unwrap();
    let listed: Vec<(&str, u64, u64, bool)> = days
        .iter()
        .map(|d| {
            (
                d.day.as_str(),
                d.succeeded.count,
                d.succeeded.fen.0,
                d.latest.is_some(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("2026-11-30", 2, 300, false),
            ("2026-12-01", 1, 300, false),
            ("2026-12-03", 1, 600, false),
        ]
    );
    let r1 = journal.refunds_named("R1").unwrap()[0].id;
    let first = [finding("matched", "R1", Some(r1))];
    journal
        .record_reconciliation(&meta("2026-11-30", [1, 0, 0, 0, 1]), &first)
        .unwrap();
    let again = meta("2026-11-30", [2, 0, 0, 0, 0]);
    let latest_id = journal.record_reconciliation(&again, &[]).unwrap();
    // A day reconciled with no refund of the journal on it is listed too.
    journal
        .record_reconciliation(&meta("2026-11-28", [0, 0, 0, 0, 0]), &[])
        .unwrap();
    let days = journal.reconciled_days().unwrap();
    type Latest = Option<(i64, [u64; 5])>;
    let listed: Vec<(&str, Latest)> = days
        .iter()
        .map(|d| (d.day.as_str(), d.latest.as_ref().map(|l| (l.id, l.counts))))
        .collect();
    assert_eq!(
        listed,
        [
            ("2026-11-28", Some((latest_id + 1, [0, 0, 0, 0, 0]))),
            ("2026-11-30", Some((latest_id, [2, 0, 0, 0, 0]))),
            ("2026-12-01", None),
            ("2026-12-03", None),
        ]
    );
    let latest = days[1].latest.as_ref().unwrap();
    assert_eq!(latest.bill.count, 2);
    assert_eq!(latest.bill.fen, Fen(200));
    assert_eq!(latest.unresolved_not_in_bill, 1);
}

/// A crash between the intent and the answer leaves a refund `unknown` with
/// no submit counted and no `first_sent_at`: it may be at the gateway, so it
/// is bulkrefund's (sent) and unresolved on the day it was created.
#[test]
fn a_refund_left_in_flight_by_a_crash_counts_as_sent() {
    let journal = journal_with(&[
        ("R7", "unknown", 700, None, None, 0),
        ("R8", "in_flight", 800, None, None, 0),
        ("R9", "pending", 900, None, None, 0),
    ]);
    journal
        .conn
        .execute(
            "UPDATE refunds SET first_sent_at = NULL, created_at = '2026-11-30T15:30:00.000Z'",
            [],
        )
        .unwrap();
    let ids: Vec<String> = ["R7", "R8", "R9"].map(String::from).to_vec();
    let named = journal
        .refunds_for_bill(GatewayKind::Leshua, MERCHANT, &ids)
        .unwrap();
    let sent: Vec<(&str, bool)> = named
        .iter()
        .map(|r| (r.refund_id.as_str(), r.sent))
        .collect();
    assert_eq!(sent, [("R7", true), ("R8", true), ("R9", false)]);
    // Created 23:30 Beijing on the 30th: unresolved on the 30th, not the 1st.
    let unresolved = |date: &str| -> Vec<String> {
        journal
            .refunds_unresolved_on(GatewayKind::Leshua, MERCHANT, day(date))
            .unwrap()
            .into_iter()
            .map(|r| r.refund_id)
            .collect()
    };
    assert_eq!(unresolved("2026-11-30"), ["R7", "R8"]);
    assert!(unresolved("2026-12-01").is_empty());
}

/// The record keeps what the journal expected of the day, so `status` can
/// tell a reconciled day whose refunds changed since.
#[test]
fn a_day_whose_refunds_changed_since_its_reconciliation_is_told() {
    let mut journal = sample();
    let mut on_the_30th = meta("2026-11-30", [2, 0, 0, 0, 0]);
    on_the_30th.expected = Money {
        count: 2,
        fen: Fen(300),
    };
    journal.record_reconciliation(&on_the_30th, &[]).unwrap();
    let day = |journal: &SqliteJournal| {
        journal
            .reconciled_days()
            .unwrap()
            .into_iter()
            .find(|d| d.day == "2026-11-30")
            .unwrap()
    };
    let before = day(&journal);
    assert_eq!(before.latest.as_ref().unwrap().expected, before.succeeded);
    assert!(!before.changed_since_reconciled());
    // R4 succeeds afterwards, by the gateway's time on the 30th.
    journal
        .conn
        .execute(
            "UPDATE refunds SET state = 'succeeded', gateway_success_at = '2026-11-30T05:00:00.000Z'
             WHERE refund_id = 'R4'",
            [],
        )
        .unwrap();
    let after = day(&journal);
    assert_eq!(
        after.succeeded,
        Money {
            count: 3,
            fen: Fen(700)
        }
    );
    assert!(after.changed_since_reconciled());
}
