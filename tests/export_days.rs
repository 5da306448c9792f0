//! The export's days are the gateway's (journal/days.rs): a refund whose
//! gateway success time is 23:59:59 on 30 November, Beijing time, and which
//! bulkrefund heard of after midnight, is on 30 November in the `#by_day`
//! lines and the "by day" sheet, and in `--since/--until 2026-11-30`; a
//! refund with no gateway time is placed by bulkrefund's clock and counted
//! as such; a journal from before migration 8 (schema 7) opens, migrates and
//! exports with its refunds placed by bulkrefund's clock, saying so.

use std::collections::BTreeMap;
use std::path::Path;

use bulkrefund::batch::RefundRow;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days;
use bulkrefund::journal::import::{self, BatchMeta, CheckedRow};
use bulkrefund::journal::{Change, GatewayTimes, Journal, State};
use bulkrefund::money::Fen;
use bulkrefund::report::export::{self, ExportFormat, Filter, Heading, COLUMNS};
use bulkrefund::zone::Zone;
use calamine::{open_workbook, Reader, Xlsx};

fn meta() -> BatchMeta {
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

/// A journal at `path` holding refunds (id, fen), each sent and succeeded
/// with the gateway's success time given (or none), answered at `finished`
/// by bulkrefund's clock.
fn journal_with(path: &Path, refunds: &[(&str, u64, Option<&str>, &str)]) {
    let mut journal = Journal::open(path).unwrap();
    let rows = refunds.iter().enumerate().map(|(i, (id, fen, _, _))| {
        let order = format!("T{i}");
        let fields = BTreeMap::from([("third_order_id".to_owned(), order.clone())]);
        Ok(CheckedRow::Valid {
            line: i as u64 + 2,
            cells: vec![id.to_string(), order.clone(), fen.to_string()],
            refund: RefundRow {
                refund_id: id.to_string(),
                amount: Fen(*fen),
                fields,
                fingerprint: format!("{order}||{fen}"),
                order_key: order,
            },
        })
    });
    import::import(&mut journal, &meta(), rows, || false, |_| {}).unwrap();
    for (i, (_, _, success_at, _)) in refunds.iter().enumerate() {
        let id = i as i64 + 1;
        journal
            .apply(id, State::Pending, &Change::to(State::InFlight, "sending"))
            .unwrap();
        let change = Change {
            gateway_times: GatewayTimes {
                success_at: success_at.map(|t| t.parse().unwrap()),
                created_at: None,
            },
            ..Change::to(State::Succeeded, "the gateway says it succeeded")
        };
        journal.apply(id, State::InFlight, &change).unwrap();
    }
    drop(journal);
    // bulkrefund's own time of each answer, as if it had come then.
    let conn = rusqlite::Connection::open(path).unwrap();
    for (id, _, _, finished) in refunds {
        conn.execute(
            "UPDATE refunds SET finished_at = ?2 WHERE refund_id = ?1",
            [id, finished],
        )
        .unwrap();
    }
}

/// R1: the gateway says 23:59:59 on 30 November (Beijing), bulkrefund heard
/// it after midnight. R2: no gateway time, bulkrefund's clock on 30
/// November. R3: the gateway says 00:00:01 on 1 December.
fn across_midnight(path: &Path) {
    journal_with(
        path,
        &[
            (
                "R1",
                100,
                Some("2026-11-30T15:59:59Z"),
                "2026-11-30T16:00:07.000Z",
            ),
            ("R2", 20, None, "2026-11-30T10:00:00.000Z"),
            (
                "R3",
                3,
                Some("2026-11-30T16:00:01Z"),
                "2026-11-30T16:00:02.000Z",
            ),
        ],
    );
}

fn filter(days: Option<(&str, &str)>) -> Filter {
    let zone = days::gateway_zone();
    Filter {
        since: days.map(|(since, _)| zone.bound(since, false).unwrap()),
        until: days.map(|(_, until)| zone.bound(until, true).unwrap()),
        ..Filter::default()
    }
}

/// The export as CSV records, for the gateway days `since..=until` (or all).
fn exported(path: &Path, days: Option<(&str, &str)>) -> Vec<Vec<String>> {
    let journal = Journal::open_read_only(path).unwrap().unwrap();
    let mut out = Vec::new();
    export::export_csv(&journal, &filter(days), &Zone::utc(), &mut out, false).unwrap();
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(out.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn lines(records: &[Vec<String>], mark: &str) -> Vec<Vec<String>> {
    records
        .iter()
        .filter(|r| r[0] == mark)
        .map(|r| r[1..].to_vec())
        .collect()
}

/// (refund id, gateway success time, day, whose clock) of each refund row.
fn placed(records: &[Vec<String>]) -> Vec<[String; 4]> {
    let column = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap();
    records
        .iter()
        .filter(|r| !r[0].starts_with('#'))
        .map(|r| {
            ["refund_id", "gateway_success_at", "day", "day_basis"].map(|c| r[column(c)].clone())
        })
        .collect()
}

fn strings<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[test]
fn a_refund_polled_across_midnight_is_on_the_gateways_day_in_the_by_day_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    across_midnight(&path);
    let all = exported(&path, None);
    assert_eq!(
        placed(&all),
        [
            ["R1", "2026-11-30T15:59:59+00:00", "2026-11-30", "gateway"],
            ["R2", "", "2026-11-30", "bulkrefund"],
            ["R3", "2026-11-30T16:00:01+00:00", "2026-12-01", "gateway"],
        ]
        .map(|r| r.map(String::from))
    );
    assert_eq!(
        lines(&all, "#by_day"),
        [
            strings([
                "day",
                "refunded_count",
                "amount_fen",
                "amount_yuan",
                "placed_by_bulkrefund_clock",
            ]),
            strings(["2026-11-30", "2", "120", "1.20", "1"]),
            strings(["2026-12-01", "1", "3", "0.03", "0"]),
        ]
    );
    assert_eq!(
        lines(&all, "#by_day_note"),
        [strings([
            "days: the gateway's success time in Asia/Shanghai; 1 refund placed by bulkrefund's \
             clock (no gateway time: recorded before bulkrefund kept the gateway's times, or the \
             gateway gave none)"
        ])]
    );
    // --since/--until 2026-11-30: R1 and R2, never R3.
    let november = exported(&path, Some(("2026-11-30", "2026-11-30")));
    let ids: Vec<String> = placed(&november)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, ["R1", "R2"]);
    assert_eq!(
        lines(&november, "#by_day")[1..],
        [strings(["2026-11-30", "2", "120", "1.20", "1"])]
    );
    let december = exported(&path, Some(("2026-12-01", "2026-12-01")));
    let ids: Vec<String> = placed(&december)
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, ["R3"]);
}

#[test]
fn the_by_day_sheet_places_it_on_the_gateways_day_and_says_whose_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    across_midnight(&path);
    let journal = Journal::open_read_only(&path).unwrap().unwrap();
    let out = dir.path().join("november.xlsx");
    let heading = Heading {
        period: "2026-11-30 to 2026-11-30".into(),
        zone: Zone::utc(),
    };
    let days = Some(("2026-11-30", "2026-11-30"));
    export::export(
        &journal,
        &filter(days),
        &heading,
        &out,
        ExportFormat::Xlsx,
        false,
    )
    .unwrap();
    let mut workbook: Xlsx<_> = open_workbook(&out).unwrap();
    let sheet = workbook.worksheet_range("by day").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .skip(1)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[..2],
        [
            strings([
                "day",
                "refunded_count",
                "amount_fen",
                "amount_yuan",
                "placed by bulkrefund's clock",
            ]),
            strings(["2026-11-30", "2", "120", "1.2", "1"]),
        ]
    );
    assert!(rows[2].iter().all(String::is_empty), "{rows:?}");
    assert!(
        rows[3][0].starts_with(
            "days: the gateway's success time in Asia/Shanghai; 1 refund placed by \
             bulkrefund's clock"
        ),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 4, "no 2026-12-01: {rows:?}");
}

#[test]
fn a_journal_from_before_the_gateways_times_migrates_and_says_whose_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    journal_with(
        &path,
        &[
            ("R1", 100, None, "2026-11-30T15:59:59.000Z"),
            ("R2", 20, None, "2026-11-30T16:00:00.000Z"),
        ],
    );
    // As schema 7 left it: no column for the gateway's times at all, no
    // reconciliation (migration 9), no claims (10), no approvals (11) and no
    // index of the refunds in flight (12).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX refunds_in_flight;
         DROP TABLE approvals;
         ALTER TABLE batches DROP COLUMN approval_over_fen;
         ALTER TABLE batches DROP COLUMN recorded_by;
         ALTER TABLE batches DROP COLUMN recorded_by_name;
         DROP INDEX refunds_by_claim_owner;
         ALTER TABLE refunds DROP COLUMN claim_owner;
         ALTER TABLE refunds DROP COLUMN claim_generation;
         ALTER TABLE refunds DROP COLUMN lease_until_ms;
         ALTER TABLE refunds DROP COLUMN gateway_success_at;
         ALTER TABLE refunds DROP COLUMN gateway_created_at;
         DROP TABLE reconciliation_rows;
         DROP TABLE reconciliations;
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);
    // A reader refuses it until a writer has migrated it.
    assert!(Journal::open_read_only(&path).is_err());
    drop(Journal::open(&path).unwrap());
    let all = exported(&path, None);
    assert_eq!(
        placed(&all),
        [
            ["R1", "", "2026-11-30", "bulkrefund"],
            ["R2", "", "2026-12-01", "bulkrefund"],
        ]
        .map(|r| r.map(String::from))
    );
    assert_eq!(
        lines(&all, "#by_day")[1..],
        [
            strings(["2026-11-30", "1", "100", "1.00", "1"]),
            strings(["2026-12-01", "1", "20", "0.20", "1"]),
        ]
    );
    assert!(
        lines(&all, "#by_day_note")[0][0].starts_with(
            "days: the gateway's success time in Asia/Shanghai; 2 refunds placed by \
             bulkrefund's clock"
        ),
        "{all:?}"
    );
}
