//! The journal's side of `reconcile`: the reads by id and by day, the record
//! and its history, `status`'s days and `show`'s bills, and the proof that
//! reconciling leaves refunds, events and attempts exactly as they were.

use std::str::FromStr;

use jiff::civil::Date;
use rusqlite::params;

use super::*;
use crate::gateway::bill::{Bill, BillRow, BillStatus, BillTotals};
use crate::reconcile::matching::{reconcile, DayBills, JournalSide};

const MERCHANT: &str = "M1";

fn day(text: &str) -> Date {
    Date::from_str(text).unwrap()
}

/// A journal with one batch and these refunds: (refund id, state, fen,
/// gateway success time, finished_at, submits).
fn journal_with(refunds: &[(&str, &str, u64, Option<&str>, Option<&str>, i64)]) -> Journal {
    let journal = Journal::open_in_memory().unwrap();
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

fn ok_row(line: u64, id: &str, fen: u64) -> BillRow {
    BillRow {
        refund_id: id.into(),
        gateway_refund_id: Some(format!("G-{id}")),
        order_id: Some(format!("O-{id}")),
        gateway_order_id: None,
        fen: Fen(fen),
        status: BillStatus::Succeeded,
        success_at: None,
        line,
    }
}

fn bill(date: &str, rows: Vec<BillRow>) -> Bill {
    Bill {
        gateway: GatewayKind::Leshua,
        merchant_id: Some(MERCHANT.into()),
        date: day(date),
        rows,
        totals: BillTotals::default(),
    }
}

/// Reads what matching needs for `bill`, the way the command does.
fn side(journal: &Journal, bill: &Bill) -> JournalSide {
    let ids = crate::reconcile::matching::named_ids(bill);
    JournalSide {
        named: journal
            .refunds_for_bill(GatewayKind::Leshua, MERCHANT, &ids)
            .unwrap(),
        expected: journal
            .refunds_expected_around(GatewayKind::Leshua, MERCHANT, bill.date)
            .unwrap(),
        unresolved: journal
            .refunds_unresolved_on(GatewayKind::Leshua, MERCHANT, bill.date)
            .unwrap(),
    }
}

fn meta() -> ReconciliationMeta {
    ReconciliationMeta {
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: MERCHANT.into(),
        source: "/tmp/bill.csv".into(),
        raw_path: Some("/tmp/bill.csv".into()),
        raw_sha256: "00".repeat(32),
        neighbours: String::new(),
    }
}

fn sample() -> Journal {
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
    let d = bill(
        "2026-11-30",
        vec![
            ok_row(2, "R1", 100),
            ok_row(3, "X9", 50),
            ok_row(4, "R4", 400),
        ],
    );
    let matched = reconcile(
        DayBills {
            day: &d,
            before: None,
            after: None,
        },
        &side(&journal, &d),
    );
    let outcomes: Vec<(&str, &str)> = matched
        .findings
        .iter()
        .map(|f| (f.outcome.as_str(), f.refund_id.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("matched", "R1"),
            ("status_differs", "R4"),
            ("not_in_journal", "X9"),
            ("missing_from_bill", "R2"),
        ]
    );
    let first = journal.record_reconciliation(&meta(), &matched).unwrap();
    let second = journal.record_reconciliation(&meta(), &matched).unwrap();
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
    let r1 = journal.refunds_named("R1").unwrap()[0].id;
    let found = journal.found_in_bills(r1).unwrap();
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
    let r2 = journal.refunds_named("R2").unwrap()[0].id;
    let missing = journal.found_in_bills(r2).unwrap();
    assert_eq!(missing[0].outcome, "missing_from_bill");
    assert_eq!(missing[0].bill_day, None);
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
    let d = bill("2026-11-30", vec![ok_row(2, "R1", 100)]);
    let bills = DayBills {
        day: &d,
        before: None,
        after: None,
    };
    let first = reconcile(bills, &side(&journal, &d));
    journal.record_reconciliation(&meta(), &first).unwrap();
    let d = bill(
        "2026-11-30",
        vec![ok_row(2, "R1", 100), ok_row(3, "R2", 200)],
    );
    let bills = DayBills {
        day: &d,
        before: None,
        after: None,
    };
    let again = reconcile(bills, &side(&journal, &d));
    let latest_id = journal.record_reconciliation(&meta(), &again).unwrap();
    // A day reconciled with no refund of the journal on it is listed too.
    let empty = bill("2026-11-28", vec![]);
    let bills = DayBills {
        day: &empty,
        before: None,
        after: None,
    };
    journal
        .record_reconciliation(&meta(), &reconcile(bills, &side(&journal, &empty)))
        .unwrap();
    let days = journal.reconciled_days().unwrap();
    let listed: Vec<(&str, Option<(i64, [u64; 5])>)> = days
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
    assert_eq!(latest.bill.fen, Fen(300));
    assert_eq!(
        latest.unresolved_not_in_bill, 1,
        "R4, processing, sent on the 30th"
    );
}
