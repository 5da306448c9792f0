//! The engine's pace as the gateway sees it: the rate in every second, the
//! polls' share of it, and what the summary says held it back. These tests
//! measure time at the simulator, so they run one at a time (a busy core
//! delays a request on its way, and the busiest second is what they check).

mod common;

use std::time::Duration;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Held by each test for its whole run.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_in_every_second() {
    let _alone = ALONE.lock().await;
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 150, "R");
    let world = World::start(orders, FaultConfig::default()).await;
    let options = RunOptions {
        rate: Some(50),
        ..quick()
    };
    let outcome = world.run(&batch, "leshua", options).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!((ledger.requests, outcome.report.requests), (150, 150));
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
    // The simulator counts the requests of every one-second window it saw: the
    // busiest holds the limit, and is not far below it (the limit is used, not
    // starved; 150 requests span three such windows).
    let busiest = ledger.max_requests_in_one_second;
    assert!((25..=50).contains(&busiest), "{busiest} in one second");
}

/// Polls of refunds still processing take at most a quarter of the rate while
/// new refunds of the batch wait to be sent, though the profile's own poll
/// schedule asks for many times the rate; and they do take it, rather than
/// wait for the whole batch to be sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_leave_the_rate_to_the_refunds_still_to_send() {
    let _alone = ALONE.lock().await;
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 80, "P");
    let faults = FaultConfig {
        processing_for: Duration::from_secs(3),
        ..FaultConfig::default()
    };
    let profiles = Profiles::default()
        .pace(20, 32)
        .set("leshua", "poll_schedule = [\"200ms\"]");
    let world = World::with_profiles(orders, faults, profiles).await;
    let outcome = world.run(&batch, "leshua", quick()).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 80);
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));

    // When each request left, from the journal's attempts.
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let mut stmt = conn.prepare("SELECT kind, at FROM attempts").unwrap();
    let attempts: Vec<(String, i64)> = stmt
        .query_map([], |row| {
            let at: String = row.get(1)?;
            let at = at.parse::<jiff::Timestamp>().unwrap();
            Ok((row.get(0)?, at.as_millisecond()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let submits: Vec<i64> = attempts
        .iter()
        .filter(|(kind, _)| kind == "submit")
        .map(|a| a.1)
        .collect();
    let (first, last) = (submits.iter().min().unwrap(), submits.iter().max().unwrap());
    let polls_meanwhile = attempts
        .iter()
        .filter(|(kind, at)| kind == "query" && (first..=last).contains(&at))
        .count() as f64;
    let seconds = (last - first) as f64 / 1000.0;
    // A quarter of 20 per second, one second of it at once (and a millisecond of rounding).
    assert!(
        polls_meanwhile <= 5.0 * seconds + 6.0,
        "{polls_meanwhile} polls in the {seconds:.1} s the submits took"
    );
    // And they are not put off until the whole batch is sent: the schedule is kept within the share.
    assert!(
        polls_meanwhile >= 2.5 * seconds,
        "{polls_meanwhile} polls in the {seconds:.1} s the submits took"
    );
}

/// A merchant held below its rate by its concurrency says so in the summary,
/// with the rate it reached while it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_names_what_held_the_rate_back() {
    let _alone = ALONE.lock().await;
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 30, "H");
    let faults = FaultConfig {
        latency_ms: Some((200, 200)),
        ..FaultConfig::default()
    };
    let world = World::start(orders, faults).await;
    let options = RunOptions {
        rate: Some(50),
        concurrency: Some(2),
        ..quick()
    };
    let outcome = world.run(&batch, "leshua", options).await;
    assert_eq!(outcome.exit_code, 0);
    let [(merchant, pace)] = &outcome.report.limits[..] else {
        panic!("one merchant: {:?}", outcome.report.limits);
    };
    // The summary names the pace's merchant (its profiles share it), and the profile.
    assert_eq!(merchant, "leshua merchant 0000000018 (profile leshua)");
    // Two in flight at 200 ms each: 10 a second at most, a fifth of the rate.
    let reached = pace.sending.expect("three seconds of sending");
    assert!(reached <= 10.5, "{reached}");
    let text = pace.describe();
    assert!(
        text.contains(" requests/s of the rate 50 while refunds were sent (0.")
            && text.contains(
                "in-flight limit 2 at the end (peak 2, at most 2): held by the upper bound \
                 (concurrency / max_concurrency = 2): the rate needs more at the gateway's latency (p90 2"
            ),
        "{text}"
    );
}
