//! The day a refund counts for, in the journal: the gateway's own times
//! kept from its answers (never erased by a later answer without them), and
//! the export's rows placed on the gateway's day, and selected by it, for a
//! refund polled across Beijing midnight. The files made of them (the "by
//! day" sheet, `#by_day`, a journal from before migration 8) are tested in
//! tests/export_days.rs.

use jiff::Timestamp;

use super::changes::{self, Rescheduled};
use super::days::{self, DayBasis};
use super::reports::ExportFilter;
use super::tests::{import_rows, valid};
use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Sends refund `id` and records the gateway's answer: succeeded, with
/// the gateway's own times when it gave them.
fn succeed(journal: &SqliteJournal, id: i64, times: GatewayTimes) {
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
fn finished_at(journal: &SqliteJournal, id: i64, utc: &str) {
    journal
        .conn
        .execute(
            "UPDATE refunds SET finished_at = ?2 WHERE id = ?1",
            rusqlite::params![id, utc],
        )
        .unwrap();
}

fn gateway_times(journal: &SqliteJournal, id: i64) -> (Option<String>, Option<String>) {
    journal
        .conn
        .query_row(
            "SELECT gateway_success_at, gateway_created_at FROM refunds WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

/// (refund id, gateway success time, day, whose clock) of each refund the
/// export holds for the gateway days `since..=until` (or all).
fn placed(
    journal: &SqliteJournal,
    days: Option<(&str, &str)>,
) -> Vec<(String, Option<String>, String, DayBasis)> {
    let zone = days::gateway_zone();
    let filter = ExportFilter {
        since: days.map(|(since, _)| zone.bound(since, false).unwrap()),
        until: days.map(|(_, until)| zone.bound(until, true).unwrap()),
        ..ExportFilter::default()
    };
    let mut rows = Vec::new();
    journal
        .export_rows(&filter, |row| {
            let day = row.counted.day().unwrap().to_string();
            rows.push((
                row.refund_id,
                row.gateway_success_at,
                day,
                row.counted.basis,
            ));
            Ok::<_, JournalError>(())
        })
        .unwrap();
    rows
}

#[test]
fn a_later_answer_without_the_gateways_times_erases_none() {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
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
fn across_midnight() -> SqliteJournal {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
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
    let gateway = |id: &str, at: &str, day: &str| {
        (
            id.to_owned(),
            Some(at.to_owned()),
            day.to_owned(),
            DayBasis::Gateway,
        )
    };
    let r1 = gateway("R1", "2026-11-30T15:59:59.000Z", "2026-11-30");
    let r2 = (
        "R2".to_owned(),
        None,
        "2026-11-30".to_owned(),
        DayBasis::Bulkrefund,
    );
    let r3 = gateway("R3", "2026-11-30T16:00:01.000Z", "2026-12-01");
    assert_eq!(placed(&journal, None), [r1.clone(), r2.clone(), r3.clone()]);
    // --since/--until select the gateway's day: R1 is November's, R3 is not.
    assert_eq!(
        placed(&journal, Some(("2026-11-30", "2026-11-30"))),
        [r1, r2]
    );
    assert_eq!(placed(&journal, Some(("2026-12-01", "2026-12-01"))), [r3]);
}
