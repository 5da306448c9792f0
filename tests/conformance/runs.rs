//! The conformance cases about whole runs, in-process against the simulator:
//! answers about other refunds end in review, a wrong key stops the run, a
//! timeout is queried before anything is sent again, a refund never created
//! is sent again under its own id, refunds of one order go one at a time in
//! input order, hostile bodies end as the ledger says. Each asserts the
//! ledger, the results file and the exit code; none measures wall time.

use bulkrefund::commands::resume::ResumeRequest;
use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;

use crate::answers::faults;
use crate::common::*;
use crate::fixture::Fixture;

/// A world whose gateway knows a generated batch of `rows` refunds.
async fn generated_world(
    fixture: &dyn Fixture,
    rows: u64,
    prefix: &str,
    faults: FaultConfig,
) -> (World, std::path::PathBuf) {
    World::with_generated(fixture.kind(), rows, prefix, faults).await
}

pub async fn echo_mismatch_in_a_run_goes_to_review(fixture: &dyn Fixture) {
    let (profile, id_column) = (fixture.profile(), fixture.id_column());
    let some = faults(|f| {
        f.mismatch_rate = 0.3;
        f.seed = Some(5);
    });
    let (world, batch) = generated_world(fixture, 40, "M", some).await;
    let outcome = world.run(&batch, profile, quick()).await;
    assert_eq!(outcome.exit_code, 3, "a refund in review needs a person");
    let rows = world.results(&batch);
    let review: Vec<_> = rows.iter().filter(|r| r["status"] == "review").collect();
    assert!(!review.is_empty());
    for row in &review {
        assert_eq!(row["error_code"], "BR_MISMATCH");
        assert!(
            row["error_message"].contains("not about this refund"),
            "{row:?}"
        );
    }
    let ledger = world.ledger();
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
    let others: Vec<_> = rows
        .iter()
        .filter(|r| r["status"] != "review")
        .cloned()
        .collect();
    assert_results_match_ledger(&others, id_column, &ledger);
    // `resume` neither retries nor queries a refund in review.
    world.sim.set_faults(FaultConfig::default());
    let before = world.ledger().requests;
    let resumed = world.resume(quick()).await;
    assert_eq!(world.ledger().requests, before);
    assert_eq!(resumed.report.requests, 0);
    let rows = world.results(&batch);
    let in_review = rows.iter().filter(|r| r["status"] == "review").count();
    assert_eq!(in_review, review.len());
    review_asks_once_each(&world, review.len() as u64, before).await;
    let ledger = world.ledger();
    assert!(
        ledger.ids.iter().all(|id| id.submissions == 1),
        "never sent again"
    );
    let rows = world.results(&batch);
    assert_results_match_ledger(&rows, id_column, &ledger);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
}

/// `resume --review` asks once about each of `review` refunds; answers still
/// about others change nothing; once the gateway answers about these very
/// refunds, one query settles each.
async fn review_asks_once_each(world: &World, review: u64, before: u64) {
    let asked = |review| ResumeRequest {
        review,
        ..Default::default()
    };
    world.sim.set_faults(faults(|f| f.mismatch_rate = 1.0));
    let still = world.resume_with(asked(true), quick()).await;
    assert_eq!(
        still.report.requests, review,
        "the summary counts the review queries"
    );
    assert_eq!(world.ledger().requests, before + review);
    assert_eq!(still.notes.len() as u64, review);
    assert!(
        still.notes.iter().all(|n| n.contains("still in review")),
        "{:?}",
        still.notes
    );
    world.sim.set_faults(FaultConfig::default());
    let settled = world.resume_with(asked(true), quick()).await;
    assert_eq!(settled.exit_code, 0, "{:?}", settled.notes);
    assert!(settled
        .notes
        .iter()
        .all(|n| n.contains("settled by the gateway's answer about it: succeeded")));
}

pub async fn a_wrong_key_stops_the_run(fixture: &dyn Fixture) {
    let (world, batch) = generated_world(fixture, 300, "W", faults(|f| f.wrong_key = true)).await;
    // Every request, submit or query, is refused as wrongly signed.
    let client = fixture.client(&world.sim);
    let refund = fixture.refund("K1", 1, 100);
    for outcome in [
        client.submit(&refund).await.outcome,
        client.query(&refund).await.outcome,
    ] {
        assert!(
            matches!(&outcome, bulkrefund::gateway::Outcome::Rejected { code, .. } if code == fixture.sign_error_code()),
            "{outcome:?}"
        );
    }
    let before = world.ledger().requests;
    let outcome = world.run(&batch, fixture.profile(), quick()).await;
    assert_eq!(outcome.exit_code, 1);
    let stopped = outcome.report.stopped.expect("the run says why it stopped");
    assert!(
        stopped.contains(&format!("profile '{}'", fixture.profile()))
            && stopped.contains(fixture.key_setting()),
        "{stopped}"
    );
    let ledger = world.ledger();
    assert!(ledger.refunds.is_empty());
    assert!(
        ledger.requests - before <= 32,
        "at most the requests already in flight: {}",
        ledger.requests - before
    );
    let rows = world.results(&batch);
    assert_eq!(rows.len(), 300);
    assert!(
        rows.iter().all(|r| r["status"] == "pending"),
        "never created"
    );
    // With the key fixed, resume sends them all, once.
    world.sim.set_faults(FaultConfig::default());
    assert_eq!(world.resume(quick()).await.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 300);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

/// Answers later than the profile's timeout: each such submit is followed by
/// a query of that refund, never by a blind resend; every refund ends as the
/// ledger says, created once (a query finds it, or says it was never created
/// and the same id goes again).
pub async fn a_timeout_is_queried_before_anything_is_sent_again(fixture: &dyn Fixture) {
    let slow = faults(|f| {
        f.latency_ms = Some((1, 600));
        f.seed = Some(4);
    });
    let scratch = tempfile::tempdir().unwrap();
    let (generated, orders) = generated(scratch.path(), fixture.kind(), 12, "T");
    let profiles = Profiles::default().set(fixture.profile(), "timeout = \"300ms\"");
    let world = World::with_profiles(orders, slow, profiles).await;
    let options = RunOptions {
        max_attempts: Some(30),
        ..quick()
    };
    let outcome = world.run(&generated, fixture.profile(), options).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 12);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
    let rows = world.results(&generated);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"), "{rows:?}");
    assert_results_match_ledger(&rows, fixture.id_column(), &ledger);
    let attempts = world.attempts();
    let timed_out = |(_, kind, outcome): &(String, String, String)| {
        kind == "submit" && outcome == "unknown: no answer before the timeout"
    };
    assert!(attempts.iter().any(timed_out), "no submit timed out");
    for pair in attempts.windows(2) {
        if pair[0].0 == pair[1].0 && timed_out(&pair[0]) {
            assert_eq!(pair[1].1, "query", "after a timeout: {pair:?}");
        }
    }
}

/// Busy until the attempts run out: failed, never created; `retry --failed`
/// sends each again under its own id, which the gateway creates once.
pub async fn never_created_then_the_same_id(fixture: &dyn Fixture) {
    let busy = faults(|f| {
        f.busy_rate = 1.0;
        f.seed = Some(1);
    });
    let (world, batch) = generated_world(fixture, 5, "N", busy).await;
    let two = RunOptions {
        max_attempts: Some(2),
        ..quick()
    };
    let outcome = world.run(&batch, fixture.profile(), two).await;
    assert_eq!(outcome.exit_code, 3);
    let rows = world.results(&batch);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "failed" && r["attempts"] == "2"),
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .all(|r| r["error_message"].contains("never created")));
    assert!(world.ledger().refunds.is_empty());
    world.sim.set_faults(FaultConfig::default());
    let plan = world.plan(1, false);
    assert_eq!((plan.send.len(), plan.skipped.len()), (5, 0));
    assert!(plan.send.iter().all(|p| p.new_id.is_none()));
    let outcome = world.retry(1, false).await.expect("something was sent");
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 5);
    assert!(ledger
        .ids
        .iter()
        .all(|id| id.submissions == 1 && id.created == 1));
    let rows = world.results(&batch);
    for row in &rows {
        assert_eq!(row["status"], "succeeded");
        let id = &row[fixture.id_column()];
        assert!(ledger.refund(id).is_some(), "{id} went under its own id");
    }
    // Nothing failed is left: a second retry sends nothing.
    assert!(world.retry(1, false).await.is_none());
}

pub async fn redirected_and_oversized_answers_in_a_run_end_as_the_ledger_says(
    fixture: &dyn Fixture,
) {
    let hostile = faults(|f| {
        f.pad_rate = 0.3;
        f.redirect_rate = 0.2;
        f.oversize_rate = 0.05;
        f.seed = Some(8);
    });
    let (world, batch) = generated_world(fixture, 60, "P", hostile).await;
    let outcome = world.run(&batch, fixture.profile(), quick()).await;
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.elsewhere_requests, 0);
    assert_eq!(ledger.refunds.len(), 60);
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
    let rows = world.results(&batch);
    assert_results_match_ledger(&rows, fixture.id_column(), &ledger);
}
