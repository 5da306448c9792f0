//! The first "Must show", end to end: for each bill source (WeChat
//! Pay's API in the 29- and the old 26-column layout, Alipay's API and its
//! GBK zip, the Leshua portal file, the Lianshang portal file in GBK), a day
//! D of 1,000 refunds paid by the real binary's `run` against the simulator
//! with the simulator's clock frozen on D, plus one refund made outside
//! bulkrefund, one the bill omits, one with another amount, one still
//! processing in the bill (Alipay's bill has no status: one the journal holds
//! unresolved that the bill lists), one that succeeds at 23:59:58 Beijing and one at
//! 00:00:01 of D+1. `reconcile` of D, on D+1 at noon, names exactly those
//! findings and nothing else but `matched` rows, exits 3 and prints the bill's
//! totals beside the journal's; D+1 reconciled next holds the refund of
//! 00:00:01, matched. Bills delivered damaged are in [`delivery`].
//!
//! D is three Beijing days ago: the journal keeps a gateway's time only when
//! it is not later than its own receipt (verdict.rs), so D must not be a day
//! of the future.

mod common;
#[path = "reconcile_day/world.rs"]
mod day_world;
#[path = "reconcile_day/delivery.rs"]
mod delivery;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::money::Fen;
use bulkrefund::sim::faults::FaultConfig;
use day_world::*;
use jiff::civil::Date;
use serde_json::json;

/// Where one source's bill comes from, and what it can show.
struct Source {
    gateway: GatewayKind,
    /// Ids of its refunds and orders start with it.
    prefix: &'static str,
    /// The simulator's old 26-column WeChat layout.
    old_layout: bool,
    /// The portal statement's gateway, and whether it is asked in GBK.
    portal: Option<bool>,
    /// The raw status value a bill shows for a refund still processing;
    /// `None`: the bill has no status column (Alipay).
    processing: Option<&'static str>,
}

/// Refund ids of the generated batch: rows 1..=1000 paid on D at noon,
/// 1001 at 23:59:58, 1002 at 00:00:01 of D+1; order 1003 refunded outside;
/// 1004 (Alipay) paid on D, its answers lost.
const DAY_ROWS: u64 = 1000;
/// The refunds the journal holds succeeded on D: the 1,000 and 23:59:58's.
const DAY_FINAL: u64 = DAY_ROWS + 1;
const UNRESOLVED_ROW: u64 = DAY_ROWS + 4;
const OUTSIDE_FEN: u64 = 1234;
const OUTSIDE_ID: &str = "OUTSIDE-1";

/// Alipay's bill has no status column: the refund its bill lists while the
/// journal holds it unresolved is the fifth finding. The gateway executes
/// refund `row` but answers 500, and its queries say there is no such
/// refund (`contradict`): the run ends with it unknown.
async fn leave_unresolved(w: &DayWorld, row: u64) {
    w.w.sim.set_faults(FaultConfig {
        contradict: true,
        ..FaultConfig::default()
    });
    let batch = w.batch("unresolved", [row]);
    let run = w
        .run_with(&batch, &["--max-attempts", "1", "--poll-for", "1s"])
        .await;
    w.w.sim.set_faults(FaultConfig::default());
    assert_eq!(run.code, 4, "{}", run.stderr);
    let conn = rusqlite::Connection::open(w.w.journal()).unwrap();
    let state: String = conn
        .query_row(
            "SELECT state FROM refunds WHERE refund_id = ?1",
            [w.refund_id(row)],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "pending", "the journal holds it unresolved");
}

/// The refunds of D, D+1 and outside, paid with the clock frozen at their
/// times, and the bill faults set.
async fn stage_day(w: &DayWorld, source: &Source, d: Date) {
    let next = shift(d, 1);
    w.freeze(&format!("{d}T12:00:00+08:00")).await;
    w.run(&w.batch("day", 1..=DAY_ROWS)).await;
    if source.processing.is_none() {
        leave_unresolved(w, UNRESOLVED_ROW).await;
    }
    w.freeze(&format!("{d}T23:59:58+08:00")).await;
    w.run(&w.batch("late", [DAY_ROWS + 1])).await;
    w.freeze(&format!("{next}T00:00:01+08:00")).await;
    w.run(&w.batch("next", [DAY_ROWS + 2])).await;
    w.freeze(&format!("{d}T15:00:00+08:00")).await;
    w.outside_refund(&w.order_id(DAY_ROWS + 3), OUTSIDE_ID, OUTSIDE_FEN)
        .await;
    w.bill_fault(&w.refund_id(1), json!({"omit": true})).await;
    w.bill_fault(&w.refund_id(2), json!({"amount_fen": amount_of(2) - 1}))
        .await;
    if let Some(raw) = source.processing {
        w.bill_fault(&w.refund_id(3), json!({"status": raw})).await;
    }
}

/// The row whose status differs: the one the bill shows processing, or
/// (Alipay) the one the journal holds unresolved.
fn status_row(source: &Source) -> u64 {
    match source.processing {
        Some(_) => 3,
        None => UNRESOLVED_ROW,
    }
}

/// D's `#summary` lines as they must be: the bill's totals beside the
/// journal's, each figure worked out from the generated amounts.
fn expected_summary(source: &Source, d: Date, states_totals: bool) -> Summary {
    let processing_fen = source.processing.map_or(0, |_| amount_of(3));
    let unresolved_in_bill = u64::from(source.processing.is_none());
    let all_day: u64 = (1..=DAY_FINAL).map(amount_of).sum();
    let bill_fen =
        all_day - amount_of(1) - 1 + OUTSIDE_FEN + unresolved_in_bill * amount_of(UNRESOLVED_ROW);
    let bill_rows = DAY_FINAL + unresolved_in_bill;
    // The bill's succeeded rows: all but the one it shows still processing.
    let processing_rows = u64::from(source.processing.is_some());
    let mut expected = vec![
        (format!("bill of {d}: refund rows"), bill_rows, bill_fen),
        (
            format!("bill of {d}: succeeded refund rows"),
            bill_rows - processing_rows,
            bill_fen - processing_fen,
        ),
        (format!("journal: succeeded on {d}"), DAY_FINAL, all_day),
        (
            "matched (journal)".to_owned(),
            DAY_FINAL - differing(source),
            all_day - amount_of(1) - amount_of(2) - processing_fen,
        ),
        ("amount_differs (journal)".to_owned(), 1, amount_of(2)),
        ("amount_differs (bill)".to_owned(), 1, amount_of(2) - 1),
        (
            "status_differs (journal)".to_owned(),
            1,
            amount_of(status_row(source)),
        ),
        ("not_in_journal (bill)".to_owned(), 1, OUTSIDE_FEN),
        ("missing_from_bill (journal)".to_owned(), 1, amount_of(1)),
        ("unresolved, not in the bill (run resume)".to_owned(), 0, 0),
    ];
    if states_totals {
        let stated = (
            format!("bill of {d}: its stated totals"),
            bill_rows,
            bill_fen,
        );
        expected.insert(1, stated);
    }
    expected
}

/// The journal's succeeded refunds of D that are not `matched` (Alipay's
/// status_differs is a refund the journal does not count as succeeded).
fn differing(source: &Source) -> u64 {
    if source.processing.is_some() {
        3
    } else {
        2
    }
}

/// The report names exactly the findings, every other row is `matched`
/// (the refund of 23:59:58 among them), the refund of D+1 is not in it.
fn assert_rows(w: &DayWorld, source: &Source, rows: &[(String, String)], stderr: &str) {
    let findings = [
        ("amount_differs", w.refund_id(2)),
        ("status_differs", w.refund_id(status_row(source))),
        ("not_in_journal", OUTSIDE_ID.to_owned()),
        ("missing_from_bill", w.refund_id(1)),
    ];
    let found: Vec<(&str, String)> = rows
        .iter()
        .filter(|(outcome, _)| outcome != "matched")
        .map(|(outcome, id)| (outcome.as_str(), id.clone()))
        .collect();
    assert_eq!(found, findings, "{stderr}");
    let matched: Vec<&String> = rows
        .iter()
        .filter(|(outcome, _)| outcome == "matched")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(matched.len() as u64, DAY_FINAL - differing(source));
    assert!(matched.contains(&&w.refund_id(DAY_ROWS + 1)));
    let of_next_day = w.refund_id(DAY_ROWS + 2);
    assert!(!rows.iter().any(|(_, id)| *id == of_next_day), "{rows:?}");
}

async fn reconcile_a_day(source: Source) {
    let rows = UNRESOLVED_ROW;
    let w = DayWorld::start(source.gateway, source.prefix, source.old_layout, rows).await;
    let d = days_ago(3);
    let (next, after) = (shift(d, 1), shift(d, 2));
    stage_day(&w, &source, d).await;
    w.freeze(&format!("{next}T12:00:00+08:00")).await;
    let day = w.reconcile(d, source.portal).await;
    assert_eq!(day.output.code, 3, "{}", day.output.stderr);
    let (rows, summary) = read_report(&day.report);
    assert_rows(&w, &source, &rows, &day.output.stderr);
    // The bill's totals beside the journal's, in the file and on the terminal.
    let expected = expected_summary(&source, d, w.states_totals());
    assert_eq!(summary, expected);
    for (label, count, fen) in &expected {
        let line = format!("  {label:<42} {count:>8} {:>16} yuan", Fen(*fen).grouped());
        let printed = &day.output.stderr;
        assert!(printed.contains(&line), "{line:?} in\n{printed}");
    }
    w.assert_recorded(&day, 1);
    if source.gateway == GatewayKind::Wechatpay {
        // The layout asked for is the one read: its header's columns.
        let raw = std::fs::read_to_string(&day.raw).unwrap();
        let columns = raw.lines().next().unwrap().split(',').count();
        assert_eq!(columns, if source.old_layout { 26 } else { 29 });
    }

    // D+1 holds the refund of 00:00:01, and only it.
    if source.portal.is_none() {
        w.freeze(&format!("{after}T12:00:00+08:00")).await;
    }
    let next_day = w.reconcile(next, source.portal).await;
    assert_eq!(next_day.output.code, 0, "{}", next_day.output.stderr);
    let (rows, _) = read_report(&next_day.report);
    assert_eq!(rows, [("matched".to_owned(), w.refund_id(DAY_ROWS + 2))]);
    w.assert_recorded(&next_day, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_day_fetched_in_the_29_column_layout_names_exactly_its_findings() {
    reconcile_a_day(Source {
        gateway: GatewayKind::Wechatpay,
        prefix: "WN",
        old_layout: false,
        portal: None,
        processing: Some("PROCESSING"),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_day_fetched_in_the_old_26_column_layout_names_exactly_its_findings() {
    reconcile_a_day(Source {
        gateway: GatewayKind::Wechatpay,
        prefix: "WO",
        old_layout: true,
        portal: None,
        processing: Some("PROCESSING"),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alipay_day_fetched_as_a_gbk_zip_names_exactly_its_findings() {
    reconcile_a_day(Source {
        gateway: GatewayKind::Alipay,
        prefix: "AL",
        old_layout: false,
        portal: None,
        processing: None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leshua_portal_day_given_as_a_file_names_exactly_its_findings() {
    reconcile_a_day(Source {
        gateway: GatewayKind::Leshua,
        prefix: "LS",
        old_layout: false,
        portal: Some(false),
        processing: Some("10"),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lianshang_portal_day_given_as_a_gbk_file_names_exactly_its_findings() {
    reconcile_a_day(Source {
        gateway: GatewayKind::Lianshang,
        prefix: "LC",
        old_layout: false,
        portal: Some(true),
        processing: Some("PROCESSING"),
    })
    .await;
}
