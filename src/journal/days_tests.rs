//! The day a refund counts for, end to end in the journal: the gateway's own
//! times kept from its answers (never erased by a later answer without
//! them), a refund polled across Beijing midnight placed on the gateway's
//! day in the export's "by day" figures and by `--since/--until`, and a
//! journal from before migration 8 opened, migrated and exported with its
//! refunds placed by bulkrefund's clock, and saying so.

use calamine::{open_workbook, Reader, Xlsx};
use jiff::Timestamp;

use super::changes::{self, Rescheduled};
use super::days;
use super::tests::{import_rows, valid};
use super::*;
use crate::report::export::{self, ExportFormat, Filter, Heading, COLUMNS};
use crate::zone::Zone;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn column(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap()
}

/// Sends refund `id` and records the gateway's answer: succeeded, with
/// the gateway's own times when it gave them.
fn succeed(journal: &Journal, id: i64, times: GatewayTimes) {
    journal
        .apply(id, State::Pending, &Change::to(State::InFlight, "sending"))
        .unwrap();
    let change = Change {
        gateway_times: times,
        ..Change::to(State::Succeeded, "the gateway says it succeeded")
    };
    journal.apply(id, State::InFlight, &change).unwrap();
}

/// bulkrefund's own time of the answer, as if it had come then.
fn finished_at(journal: &Journal, id: i64, utc: &str) {
    journal
        .conn
        .execute(
            "UPDATE refunds SET finished_at = ?2 WHERE id = ?1",
            rusqlite::params![id, utc],
        )
        .unwrap();
}

fn gateway_times(journal: &Journal, id: i64) -> (Option<String>, Option<String>) {
    journal
        .conn
        .query_row(
            "SELECT gateway_success_at, gateway_created_at FROM refunds WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

/// The export as CSV records, for the gateway days `since..=until` (or all).
fn exported(journal: &Journal, days: Option<(&str, &str)>) -> Vec<Vec<String>> {
    let filter = Filter {
        since: days.map(|(since, _)| days::bound(since, false).unwrap()),
        until: days.map(|(_, until)| days::bound(until, true).unwrap()),
        ..Filter::default()
    };
    let mut out = Vec::new();
    export::export_csv(journal, &filter, &Zone::utc(), &mut out, false).unwrap();
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(out.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn lines<'a>(records: &'a [Vec<String>], mark: &str) -> Vec<&'a [String]> {
    records
        .iter()
        .filter(|r| r[0] == mark)
        .map(|r| &r[1..])
        .collect()
}

fn refund_rows(records: &[Vec<String>]) -> Vec<(String, String, String, String)> {
    records
        .iter()
        .filter(|r| !r[0].starts_with('#'))
        .map(|r| {
            (
                r[column("refund_id")].clone(),
                r[column("gateway_success_at")].clone(),
                r[column("day")].clone(),
                r[column("day_basis")].clone(),
            )
        })
        .collect()
}

#[test]
fn a_later_answer_without_the_gateways_times_erases_none() {
    let mut journal = Journal::open_in_memory().unwrap();
    import_rows(&mut journal, vec![valid(2, "R1", "T1", 100)]);
    journal
        .apply(1, State::Pending, &Change::to(State::InFlight, "sending"))
        .unwrap();
    let created = GatewayTimes {
        success_at: None,
        created_at: Some(at("2026-11-30T15:59:50Z")),
    };
    let accepted = Change {
        gateway_times: created,
        ..Change::to(State::Processing, "accepted; refunding")
    };
    journal.apply(1, State::InFlight, &accepted).unwrap();
    let poll = AttemptRecord {
        kind: AttemptKind::Query,
        at: "2026-11-30T15:59:55.000Z".into(),
        http_status: Some(200),
        gateway_codes: None,
        outcome: "processing".into(),
        latency_ms: 5,
    };
    let still = Rescheduled {
        next_attempt_at: 0,
        note: None,
        gateway_refund_id: None,
        gateway_times: &GatewayTimes::default(),
    };
    changes::reschedule(&journal.conn, 1, still, &poll).unwrap();
    let done = Change {
        gateway_times: GatewayTimes {
            success_at: Some(at("2026-11-30T15:59:59Z")),
            created_at: None,
        },
        ..Change::to(State::Succeeded, "the gateway says it succeeded")
    };
    journal.apply(1, State::Processing, &done).unwrap();
    assert_eq!(
        gateway_times(&journal, 1),
        (
            Some("2026-11-30T15:59:59.000Z".into()),
            Some("2026-11-30T15:59:50.000Z".into())
        )
    );
    let times = journal.refund_times(1).unwrap();
    assert_eq!(
        times.gateway_success_at.as_deref(),
        Some("2026-11-30T15:59:59.000Z")
    );
    assert_eq!(
        times.gateway_created_at.as_deref(),
        Some("2026-11-30T15:59:50.000Z")
    );
}

/// R1: the gateway says 23:59:59 on 30 November (Beijing), bulkrefund heard
/// it after midnight. R2: no gateway time, bulkrefund's clock on 30
/// November. R3: the gateway says 00:00:01 on 1 December.
fn across_midnight() -> Journal {
    let mut journal = Journal::open_in_memory().unwrap();
    import_rows(
        &mut journal,
        vec![
            valid(2, "R1", "T1", 100),
            valid(3, "R2", "T2", 20),
            valid(4, "R3", "T3", 3),
        ],
    );
    let success = |utc: &str| GatewayTimes {
        success_at: Some(at(utc)),
        created_at: None,
    };
    succeed(&journal, 1, success("2026-11-30T15:59:59Z"));
    finished_at(&journal, 1, "2026-11-30T16:00:07.000Z");
    succeed(&journal, 2, GatewayTimes::default());
    finished_at(&journal, 2, "2026-11-30T10:00:00.000Z");
    succeed(&journal, 3, success("2026-11-30T16:00:01Z"));
    finished_at(&journal, 3, "2026-11-30T16:00:02.000Z");
    journal
}

#[test]
fn a_refund_polled_across_midnight_counts_for_the_gateways_day() {
    let journal = across_midnight();
    let all = exported(&journal, None);
    assert_eq!(
        refund_rows(&all),
        [
            (
                "R1".to_owned(),
                "2026-11-30T15:59:59+00:00".to_owned(),
                "2026-11-30".to_owned(),
                "gateway".to_owned()
            ),
            (
                "R2".into(),
                String::new(),
                "2026-11-30".into(),
                "bulkrefund".into()
            ),
            (
                "R3".into(),
                "2026-11-30T16:00:01+00:00".into(),
                "2026-12-01".into(),
                "gateway".into()
            ),
        ]
    );
    let by_day: Vec<Vec<&str>> = lines(&all, "#by_day")
        .iter()
        .map(|l| l.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        by_day,
        [
            vec![
                "day",
                "refunded_count",
                "amount_fen",
                "amount_yuan",
                "placed_by_bulkrefund_clock"
            ],
            vec!["2026-11-30", "2", "120", "1.20", "1"],
            vec!["2026-12-01", "1", "3", "0.03", "0"],
        ]
    );
    assert_eq!(
        lines(&all, "#by_day_note"),
        [[
            "days: the gateway's success time in Asia/Shanghai; 1 refund placed by bulkrefund's \
             clock (no gateway time: recorded before bulkrefund kept the gateway's times, or the \
             gateway gave none)"
                .to_owned()
        ]]
    );
    // --since/--until select the gateway's day: R1 is November's, R3 is not.
    let november = exported(&journal, Some(("2026-11-30", "2026-11-30")));
    let ids: Vec<String> = refund_rows(&november).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["R1", "R2"]);
    let december = exported(&journal, Some(("2026-12-01", "2026-12-01")));
    let ids: Vec<String> = refund_rows(&december).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["R3"]);
    assert_eq!(
        lines(&december, "#by_day")[1..],
        [["2026-12-01", "1", "3", "0.03", "0"].map(String::from)]
    );
}

#[test]
fn the_by_day_sheet_places_it_on_the_gateways_day_and_says_whose_days() {
    let journal = across_midnight();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("november.xlsx");
    let filter = Filter {
        since: Some(days::bound("2026-11-30", false).unwrap()),
        until: Some(days::bound("2026-11-30", true).unwrap()),
        ..Filter::default()
    };
    let heading = Heading {
        period: "2026-11-30 to 2026-11-30".into(),
        zone: Zone::utc(),
    };
    export::export(&journal, &filter, &heading, &out, ExportFormat::Xlsx, false).unwrap();
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
            [
                "day",
                "refunded_count",
                "amount_fen",
                "amount_yuan",
                "placed by bulkrefund's clock"
            ]
            .map(String::from),
            ["2026-11-30", "2", "120", "1.2", "1"].map(String::from),
        ]
    );
    assert!(
        rows[3][0].starts_with(
            "days: the gateway's success time in Asia/Shanghai; 1 refund placed by bulkrefund's clock"
        ),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|r| r[0] == "2026-12-01"), "{rows:?}");
}

#[test]
fn a_journal_from_before_the_gateways_times_migrates_and_says_whose_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    {
        let mut journal = Journal::open(&path).unwrap();
        import_rows(
            &mut journal,
            vec![valid(2, "R1", "T1", 100), valid(3, "R2", "T2", 20)],
        );
        succeed(&journal, 1, GatewayTimes::default());
        succeed(&journal, 2, GatewayTimes::default());
        finished_at(&journal, 1, "2026-11-30T15:59:59.000Z");
        finished_at(&journal, 2, "2026-11-30T16:00:00.000Z");
        // As schema 7 left it: no gateway times at all.
        journal
            .conn
            .execute_batch(
                "ALTER TABLE refunds DROP COLUMN gateway_success_at;
                 ALTER TABLE refunds DROP COLUMN gateway_created_at;
                 PRAGMA user_version = 7;",
            )
            .unwrap();
    }
    let journal = Journal::open(&path).unwrap();
    assert_eq!(schema::version(&journal.conn).unwrap(), schema::VERSION);
    let all = exported(&journal, None);
    assert_eq!(
        refund_rows(&all),
        [
            (
                "R1".to_owned(),
                String::new(),
                "2026-11-30".to_owned(),
                "bulkrefund".to_owned()
            ),
            (
                "R2".into(),
                String::new(),
                "2026-12-01".into(),
                "bulkrefund".into()
            ),
        ]
    );
    assert_eq!(
        lines(&all, "#by_day")[1..],
        [
            ["2026-11-30", "1", "100", "1.00", "1"].map(String::from),
            ["2026-12-01", "1", "20", "0.20", "1"].map(String::from),
        ]
    );
    assert!(
        lines(&all, "#by_day_note")[0][0].starts_with(
            "days: the gateway's success time in Asia/Shanghai; 2 refunds placed by bulkrefund's clock"
        ),
        "{all:?}"
    );
}
