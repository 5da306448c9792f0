//! The conformance cases about single answers, each through the gateway's
//! client against the simulator over TCP: an answer about another refund (per
//! echoed field), a forged or stale signature, a redirect, an oversize or
//! endless body, a huge `Retry-After`, a timeout. Each checks the ledger as
//! well as the outcome. Also [`Believes`], a client that skips the echo
//! check, which the echo case must catch.

use std::time::Duration;

use bulkrefund::gateway::{Attempt, Gateway, Outcome, Receipt, RefundOrder};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use bulkrefund::sim::SimHandle;

use crate::common::{start_sim, Orders};
use crate::fixture::{EchoedBy, Fixture};

pub fn faults(f: impl FnOnce(&mut FaultConfig)) -> FaultConfig {
    let mut config = FaultConfig::default();
    f(&mut config);
    config
}

fn mismatch(field: &str) -> FaultConfig {
    faults(|f| {
        f.mismatch_rate = 1.0;
        f.mismatch_field = Some(field.to_owned());
    })
}

/// The outcome is a mismatch that names `field`; an error says what was believed.
fn expect_mismatch(outcome: Outcome, field: &str) -> Result<(), String> {
    match outcome {
        Outcome::Mismatch { what }
            if what.contains(field.trim_end_matches("_number").trim_end_matches("_empty")) =>
        {
            Ok(())
        }
        Outcome::Mismatch { what } => {
            Err(format!("{field}: a mismatch about another field: {what}"))
        }
        other => Err(format!("{field}: believed {other:?}")),
    }
}

/// The echo check of one field: the simulator answers submit and query about
/// another refund in `field` only; no answer that echoes the field (`by`)
/// may be believed. The submit is always made, so that the query has a
/// refund to answer about; an answer without the field is not judged here.
pub async fn check_echo(
    client: &dyn Gateway,
    sim: &SimHandle,
    refund: &RefundOrder,
    field: &str,
    by: EchoedBy,
) -> Result<(), String> {
    sim.set_faults(mismatch(field));
    let submitted = client.submit(refund).await.outcome;
    if by.submit() {
        expect_mismatch(submitted, field)?;
    }
    if by.query() {
        expect_mismatch(client.query(refund).await.outcome, field)?;
    }
    Ok(())
}

/// The refund the echo case sends for the `i`th echoed field.
fn echo_refund(fixture: &dyn Fixture, i: usize) -> RefundOrder {
    fixture.refund(&format!("E{i}"), i as u32 % 9 + 1, 100)
}

pub async fn echo_mismatch_per_field(fixture: &dyn Fixture) {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let client = fixture.client(&sim);
    let fields = fixture.echoed_fields();
    for (i, field) in fields.iter().enumerate() {
        let refund = echo_refund(fixture, i);
        check_echo(
            client.as_ref(),
            &sim,
            &refund,
            field,
            fixture.echoed_by(field),
        )
        .await
        .unwrap();
    }
    // The simulator did create each refund: only the answers were about others.
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), fields.len());
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

/// A client that skips the echo check: it believes an answer about another
/// refund (what the gateway's answer said, were it read without the check).
pub struct Believes(pub Box<dyn Gateway>);

impl Believes {
    fn believe(mut attempt: Attempt) -> Attempt {
        if let Outcome::Mismatch { .. } = attempt.outcome {
            attempt.outcome = Outcome::Succeeded(Receipt::default());
        }
        attempt
    }
}

#[async_trait::async_trait]
impl Gateway for Believes {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        Believes::believe(self.0.submit(refund).await)
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        Believes::believe(self.0.query(refund).await)
    }
}

/// The echo case catches a client that skips the check, for every field.
pub async fn echo_case_fails_for_a_client_that_skips_the_check(fixture: &dyn Fixture) {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let skips = Believes(fixture.client(&sim));
    for (i, field) in fixture.echoed_fields().iter().enumerate() {
        let refund = echo_refund(fixture, i);
        let caught = check_echo(&skips, &sim, &refund, field, fixture.echoed_by(field)).await;
        let why = caught.expect_err("the echo case passed a client that skips the check");
        assert!(
            why.starts_with(&format!("{field}: believed Succeeded")),
            "{why}"
        );
    }
}

pub async fn forged_or_stale_signature(fixture: &dyn Fixture) {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    // A request signed with a key the gateway does not hold: refused, nothing recorded.
    let forged = fixture.forged_client(&sim);
    let outcome = forged.submit(&fixture.refund("F1", 1, 100)).await.outcome;
    assert!(
        matches!(&outcome, Outcome::Rejected { code, .. } if code == fixture.sign_error_code()),
        "{outcome:?}"
    );
    let ledger = sim.ledger();
    assert!(ledger.refunds.is_empty());
    assert!(
        ledger.ids.is_empty(),
        "an unsigned request is not even counted as a submission"
    );
    // A correctly signed answer replayed from an earlier request: never believed.
    let client = fixture.client(&sim);
    let stale = fixture.refund("S1", 2, 100);
    let replay = fixture.replay_field();
    check_echo(
        client.as_ref(),
        &sim,
        &stale,
        replay,
        fixture.echoed_by(replay),
    )
    .await
    .unwrap();
    if !fixture.signs_answers() {
        return;
    }
    // An answer whose signature is forged: unknown, never succeeded.
    sim.set_faults(faults(|f| f.bad_sign_rate = 1.0));
    let refund = fixture.refund("B1", 3, 100);
    let attempt = client.submit(&refund).await;
    assert!(
        matches!(&attempt.outcome, Outcome::Unknown { why } if why.contains("signature")),
        "{attempt:?}"
    );
    assert!(matches!(
        client.query(&refund).await.outcome,
        Outcome::Unknown { .. }
    ));
    // The refund was created: the wrong signature only hid the answer.
    assert_eq!(
        sim.ledger().refund("B1").unwrap().status,
        RefundState::Succeeded
    );
    if fixture.stale_answers() {
        // Correctly signed, ten minutes old: unknown, never succeeded.
        sim.set_faults(faults(|f| f.stale_answer_rate = 1.0));
        let stale = client.query(&refund).await.outcome;
        assert!(
            matches!(&stale, Outcome::Unknown { why } if why.contains("signature")),
            "{stale:?}"
        );
    }
    sim.set_faults(FaultConfig::default());
    assert!(matches!(
        client.query(&refund).await.outcome,
        Outcome::Succeeded(_)
    ));
}

pub async fn redirects_are_never_followed(fixture: &dyn Fixture) {
    let sim = start_sim(Orders::standard(), faults(|f| f.redirect_rate = 1.0)).await;
    let client = fixture.client(&sim);
    let refund = fixture.refund("R1", 1, 100);
    let attempt = client.submit(&refund).await;
    assert_eq!(attempt.http_status, Some(307));
    assert!(
        matches!(&attempt.outcome, Outcome::Unknown { why } if why.contains("not followed")),
        "{:?}",
        attempt.outcome
    );
    let ledger = sim.ledger();
    assert_eq!(
        ledger.elsewhere_requests, 0,
        "nothing went anywhere but the base_url"
    );
    // The refund was recorded before the redirect: a query settles it.
    assert_eq!(ledger.refunds.len(), 1);
    sim.set_faults(FaultConfig::default());
    assert!(matches!(
        client.query(&refund).await.outcome,
        Outcome::Succeeded(_)
    ));
}

pub async fn oversize_and_endless_bodies_are_unknown(fixture: &dyn Fixture) {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let client = fixture.client(&sim);
    let bodies = [
        faults(|f| f.oversize_rate = 1.0),
        faults(|f| f.endless_rate = 1.0),
    ];
    for (i, fault) in bodies.into_iter().enumerate() {
        sim.set_faults(fault);
        let refund = fixture.refund(&format!("R{i}"), i as u32 + 1, 100);
        let outcome = client.submit(&refund).await.outcome;
        assert!(
            matches!(&outcome, Outcome::Unknown { why } if why.contains("larger than 1024 KiB")),
            "{outcome:?}"
        );
    }
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), 2, "each was recorded once");
    assert!(ledger.ids.iter().all(|id| id.created == 1));
}

pub async fn a_huge_retry_after_is_capped(fixture: &dyn Fixture) {
    let huge = faults(|f| {
        f.rate_limit = Some(0);
        f.retry_after_secs = Some(99_999_999_999);
    });
    let sim = start_sim(Orders::standard(), huge).await;
    let outcome = fixture
        .client(&sim)
        .submit(&fixture.refund("R1", 1, 100))
        .await
        .outcome;
    assert_eq!(
        outcome,
        Outcome::retry(Some(Duration::from_secs(60)), fixture.rate_limited_why())
    );
    assert!(sim.ledger().refunds.is_empty());
}

/// An answer later than the client's timeout is unknown: nothing is believed,
/// nothing is proven (the run case checks that a query follows).
pub async fn a_timeout_is_unknown(fixture: &dyn Fixture) {
    let slow = faults(|f| f.latency_ms = Some((1500, 1500)));
    let sim = start_sim(Orders::standard(), slow).await;
    let client = fixture.client_timing_out(&sim, Duration::from_millis(200));
    let attempt = client.submit(&fixture.refund("R1", 1, 100)).await;
    assert_eq!(
        attempt.outcome,
        Outcome::unknown("no answer before the timeout"),
        "{attempt:?}"
    );
    assert_eq!(attempt.http_status, None);
}
