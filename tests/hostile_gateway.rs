//! Hostile answers over TCP that only some gateways give: padded values, a
//! gateway that contradicts itself or lies, refusals signed with a key the
//! profile does not hold. The rule under test: no outcome the gateway did not
//! give about this very refund. Every test checks the ledger. The cases every
//! gateway must pass (answers about other refunds, redirects, huge and endless
//! bodies, a huge Retry-After, a wrong key) are in tests/conformance.rs.
mod common;

use bulkrefund::gateway::{Gateway, GatewayKind, Outcome};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

fn faults(f: impl FnOnce(&mut FaultConfig)) -> FaultConfig {
    let mut config = FaultConfig::default();
    f(&mut config);
    config
}

#[tokio::test]
async fn padded_values_are_read_as_the_gateway_meant_them() {
    let sim = start_sim(Orders::standard(), faults(|f| f.pad_rate = 1.0)).await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let a = leshua_refund("R1", "T1", 100);
    let b = lianshang_refund("R1", "T1", "WK1", 100);
    // Read untrimmed, `<resp_code>\n  0\n</resp_code>` was "failed, never created".
    assert!(matches!(
        leshua.submit(&a).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        leshua.query(&a).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang.submit(&b).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang.query(&b).await.outcome,
        Outcome::Succeeded(_)
    ));
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

#[tokio::test]
async fn the_simulator_contradicts_itself_and_lies_on_demand() {
    let sim = start_sim(Orders::standard(), faults(|f| f.contradict = true)).await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let a = leshua_refund("R1", "T1", 100);
    let b = lianshang_refund("R1", "T1", "WK1", 100);
    // Recorded, answered 500; then "no such refund"; then "already exists".
    let first = leshua.submit(&a).await;
    assert_eq!(first.http_status, Some(500));
    assert_eq!(leshua.query(&a).await.outcome, Outcome::NotFound);
    let again = leshua.submit(&a).await;
    assert!(again.gateway_codes.unwrap().contains("-5103"));
    assert_eq!(lianshang.submit(&b).await.http_status, Some(500));
    assert_eq!(lianshang.query(&b).await.outcome, Outcome::NotFound);
    assert_eq!(lianshang.submit(&b).await.http_status, Some(500));
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), 2);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    // Lying twice: paid, refused in a signed answer, then "no such refund";
    // the truth once the lies stop.
    let sim = start_sim(Orders::standard(), faults(|f| f.lie_rate = 1.0)).await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    assert!(matches!(
        leshua.submit(&a).await.outcome,
        Outcome::Failed { code, .. } if code == "-20023"
    ));
    assert!(matches!(
        lianshang.submit(&b).await.outcome,
        Outcome::Failed { code, .. } if code == "AmountExceed"
    ));
    assert_eq!(leshua.query(&a).await.outcome, Outcome::NotFound);
    assert_eq!(lianshang.query(&b).await.outcome, Outcome::NotFound);
    assert!(sim
        .ledger()
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
    sim.set_faults(FaultConfig::default());
    assert!(matches!(
        leshua.query(&a).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang.query(&b).await.outcome,
        Outcome::Succeeded(_)
    ));
    // A refusal signed with the key the gateway holds: no answer the
    // profile's key verifies, and it says which setting to check.
    let sim = start_sim(
        Orders::standard(),
        faults(|f| {
            f.wrong_key = true;
            f.signed_refusals = true;
        }),
    )
    .await;
    let leshua = sample_leshua_client(&sim);
    for attempt in [leshua.submit(&a).await, leshua.query(&a).await] {
        assert_eq!(attempt.outcome.unverifiable_key(), Some("trade_key"));
    }
    assert!(sim.ledger().refunds.is_empty());
}

/// Every path that sends (run, resume, `resume --review`, `retry --failed`)
/// against a gateway that contradicts itself: each refund ends in review
/// with the contradiction recorded, within `max_attempts` submits and as
/// many queries, and nothing loops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_contradicts_itself_sends_the_refund_to_review_within_the_budget() {
    // Leshua answers each resend "already exists" (-5103), then its queries
    // say there is no such refund: a contradiction.
    for (gateway, profile, id_column) in [(GatewayKind::Leshua, "leshua", "merchant_refund_id")] {
        let work = tempfile::tempdir().unwrap();
        let (batch, orders) = generated(work.path(), gateway, 3, "C");
        let world = World::start(orders, faults(|f| f.contradict = true)).await;
        let four = bulkrefund::options::RunOptions {
            max_attempts: Some(4),
            ..quick()
        };
        let outcome = world.run(&batch, profile, four.clone()).await;
        assert_eq!(outcome.exit_code, 3, "{profile}: review needs a person");
        // Sent, denied, sent again: four denials, then review. Four submits
        // (the first created the refund) and four queries each, no more.
        let ledger = world.ledger();
        assert_eq!(ledger.requests, 3 * 8, "{profile}");
        assert!(
            ledger
                .ids
                .iter()
                .all(|id| id.submissions == 4 && id.created == 1),
            "{profile}"
        );
        let rows = world.results(&batch);
        assert_eq!(rows.len(), 3);
        for row in &rows {
            assert_eq!(row["status"], "review", "{profile}: {row:?}");
            assert_eq!(row["error_code"], "BR_CONTRADICTION");
            assert!(
                row["error_message"].starts_with("the gateway says it exists and that it does not"),
                "{row:?}"
            );
            assert!(ledger.refund(&row[id_column]).is_some());
        }
        // `resume` leaves them; `resume --review` asks once, the refund is sent
        // once more and denied once more: three requests each, and review again.
        assert_eq!(world.resume(four.clone()).await.report.requests, 0);
        let review = bulkrefund::commands::resume::ResumeRequest {
            review: true,
            ..Default::default()
        };
        let reviewed = world.resume_with(review, four.clone()).await;
        assert_eq!(reviewed.exit_code, 3, "{profile}");
        assert_eq!(world.ledger().requests, 3 * 8 + 3 * 3, "{profile}");
        let rows = world.results(&batch);
        assert!(rows.iter().all(|r| r["status"] == "review"), "{rows:?}");
    }
}

/// Lianshang, under the same fault, answers every resend with HTTP 500: it
/// never says the refund exists, so "no such refund" contradicts nothing. The
/// refund is sent again, the same id, within each command's budget, and waits
/// for `resume`; it is never sent to review for words the gateway never said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_fails_every_send_and_denies_the_refund_keeps_it_pending() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Lianshang, 3, "C");
    let world = World::start(orders, faults(|f| f.contradict = true)).await;
    let four = bulkrefund::options::RunOptions {
        max_attempts: Some(4),
        ..quick()
    };
    let outcome = world.run(&batch, "lianshang", four.clone()).await;
    assert_eq!(outcome.exit_code, 4, "unresolved, for resume");
    let ledger = world.ledger();
    assert_eq!(ledger.requests, 3 * 8);
    assert!(ledger
        .ids
        .iter()
        .all(|id| id.submissions == 4 && id.created == 1));
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "pending"), "{rows:?}");
    // `resume` spends its own budget, no more, and the refunds still wait.
    let resumed = world.resume(four).await;
    assert_eq!(resumed.exit_code, 4);
    assert_eq!(world.ledger().requests, 3 * 16);
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "pending"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_failed_against_a_gateway_that_contradicts_itself_ends_in_review() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 2, "K");
    // Busy until the attempts run out: failed, never created.
    let world = World::start(orders, faults(|f| f.busy_rate = 1.0)).await;
    let two = bulkrefund::options::RunOptions {
        max_attempts: Some(2),
        ..quick()
    };
    let first = world.run(&batch, "leshua", two.clone()).await;
    assert_eq!(first.exit_code, 3, "{:?}", world.results(&batch));
    assert!(world.ledger().refunds.is_empty());
    world.sim.set_faults(faults(|f| f.contradict = true));
    let before = world.ledger().requests;
    let retried = world
        .retry_with(1, false, two.clone())
        .await
        .expect("the failed refunds are sent again");
    // Two submits and two queries each (this run's budget), both denied: they
    // wait, never created as far as the gateway says, for `resume`.
    assert_eq!(retried.exit_code, 4);
    assert_eq!(world.ledger().requests - before, 2 * 4);
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "pending"), "{rows:?}");
    // `resume` spends its own budget; the fourth denial sends them to review.
    let resumed = world.resume(two).await;
    assert_eq!(resumed.exit_code, 3);
    let ledger = world.ledger();
    assert_eq!(ledger.requests - before, 2 * 8);
    // (Busy answers came before the gateway recorded a submission.)
    assert!(ledger
        .ids
        .iter()
        .all(|id| id.created == 1 && id.submissions == 4));
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "review"), "{rows:?}");
}

/// A gateway that refuses a wrongly signed request with an answer signed by
/// the key it holds: no answer verifies under the profile's key. After a few
/// refunds the run stops, leaves the refunds to be queried, exits 1 and says
/// which setting to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_no_key_verifies_stop_the_run_after_a_few_refunds() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 300, "V");
    let world = World::with_profiles(
        orders,
        faults(|f| {
            f.wrong_key = true;
            f.signed_refusals = true;
        }),
        Profiles::default().pace(2000, 3),
    )
    .await;
    let outcome = world.run(&batch, "leshua", quick()).await;
    assert_eq!(outcome.exit_code, 1);
    let stopped = outcome.report.stopped.expect("the run says why it stopped");
    assert!(
        stopped.starts_with(
            "profile 'leshua': answers cannot be verified with this profile's key: check trade_key"
        ),
        "{stopped}"
    );
    let ledger = world.ledger();
    assert!(ledger.refunds.is_empty());
    assert!(ledger.requests <= 10, "{} requests", ledger.requests);
    let rows = world.results(&batch);
    assert_eq!(rows.len(), 300);
    let unknown = rows.iter().filter(|r| r["status"] == "unknown").count();
    let pending = rows.iter().filter(|r| r["status"] == "pending").count();
    assert!(
        unknown >= 6,
        "the ones sent are left to be queried: {unknown}"
    );
    assert_eq!(unknown + pending, 300);
    // With the key fixed, resume queries the unknown and sends the rest, once.
    world.sim.set_faults(FaultConfig::default());
    assert_eq!(world.resume(quick()).await.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 300);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}
