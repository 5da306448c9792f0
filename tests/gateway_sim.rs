//! Each gateway client against the simulator over TCP, one test per outcome the
//! contracts define. Every test checks the simulator's ledger as well as the
//! outcome. Forged and wrongly signed requests and answers, and the wrong-key
//! fault, are conformance cases (tests/conformance.rs).

mod common;

use std::time::{Duration, Instant};

use bulkrefund::gateway::{Gateway, GatewayKind, Outcome, RefundOrder};
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Queries until the refund leaves `processing`, within a bound (the simulator
/// turns it final after `processing_for`).
async fn query_until_final(client: &dyn Gateway, refund: &RefundOrder) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let outcome = client.query(refund).await.outcome;
        if !matches!(outcome, Outcome::Processing(_)) || Instant::now() > deadline {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn processing_for(ms: u64) -> FaultConfig {
    FaultConfig {
        processing_for: Duration::from_millis(ms),
        ..Default::default()
    }
}

#[tokio::test]
async fn leshua_accepted_processing_then_succeeded() {
    let sim = start_sim(Orders::standard(), processing_for(300)).await;
    let client = sample_leshua_client(&sim);
    let refund = leshua_refund("R1", "T1", 250);
    let Outcome::Processing(receipt) = client.submit(&refund).await.outcome else {
        panic!("not processing")
    };
    let wk = receipt
        .gateway_refund_id
        .clone()
        .expect("a leshua_refund_id");
    let Outcome::Succeeded(done) = query_until_final(&client, &refund).await else {
        panic!("not succeeded")
    };
    assert_eq!(done.gateway_refund_id.as_deref(), Some(wk.as_str()));
    assert_eq!(done.refund_fen, Some(bulkrefund::money::Fen(250)));
    let ledger = sim.ledger();
    assert_eq!(ledger.refund("R1").unwrap().status, RefundState::Succeeded);
    assert_eq!(ledger.id("R1").unwrap().created, 1);
}

#[tokio::test]
async fn lianshang_accepted_processing_then_succeeded_plain_and_gzip() {
    let sim = start_sim(Orders::standard(), processing_for(300)).await;
    for (compress, id, order, wk) in [(false, "R1", "T1", "WK1"), (true, "R2", "T2", "WK2")] {
        let client = lianshang_client_with(
            &sim,
            bulkrefund::sim::sample_keys::LIANSHANG_PRIVATE_KEY,
            compress,
        );
        let refund = lianshang_refund(id, order, wk, 999);
        assert!(
            matches!(client.submit(&refund).await.outcome, Outcome::Processing(_)),
            "compress={compress}"
        );
        assert!(
            matches!(
                query_until_final(&client, &refund).await,
                Outcome::Succeeded(_)
            ),
            "compress={compress}"
        );
    }
    let ledger = sim.ledger();
    assert_eq!(ledger.refund("R2").unwrap().amount_fen, 999);
    assert_eq!(ledger.refunds.len(), 2);
}

#[tokio::test]
async fn refund_that_ends_failed() {
    let faults = FaultConfig {
        fail_refund_rate: 1.0,
        ..processing_for(100)
    };
    let sim = start_sim(Orders::standard(), faults).await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let a = leshua_refund("R1", "T1", 100);
    let b = lianshang_refund("R1", "T1", "WK1", 100);
    assert!(matches!(
        leshua.submit(&a).await.outcome,
        Outcome::Processing(_)
    ));
    assert!(matches!(
        lianshang.submit(&b).await.outcome,
        Outcome::Processing(_)
    ));
    assert!(
        matches!(query_until_final(&leshua, &a).await, Outcome::Failed { code, .. } if code == "12")
    );
    assert!(
        matches!(query_until_final(&lianshang, &b).await, Outcome::Failed { code, .. } if code == "FAIL")
    );
    assert!(sim
        .ledger()
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Failed));
}

fn failed_code(outcome: Outcome) -> String {
    match outcome {
        Outcome::Failed { code, .. } => code,
        other => panic!("expected failed, got {other:?}"),
    }
}

#[tokio::test]
async fn business_rules_refuse_with_the_gateways_codes() {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    // Over-refund: partial refunds allowed up to the paid amount in total.
    assert!(matches!(
        leshua.submit(&leshua_refund("R1", "T1", 600)).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert_eq!(
        failed_code(leshua.submit(&leshua_refund("R2", "T1", 401)).await.outcome),
        "-20023"
    );
    assert!(matches!(
        leshua.submit(&leshua_refund("R3", "T1", 400)).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang
            .submit(&lianshang_refund("R1", "T1", "WK1", 600))
            .await
            .outcome,
        Outcome::Succeeded(_)
    ));
    assert_eq!(
        failed_code(
            lianshang
                .submit(&lianshang_refund("R2", "T1", "WK1", 401))
                .await
                .outcome
        ),
        "AmountExceed"
    );
    // Unknown order, unpaid order.
    assert_eq!(
        failed_code(leshua.submit(&leshua_refund("R4", "NOPE", 1)).await.outcome),
        "-20004"
    );
    assert_eq!(
        failed_code(leshua.submit(&leshua_refund("R5", "TC", 1)).await.outcome),
        "-20019"
    );
    assert_eq!(
        failed_code(
            lianshang
                .submit(&lianshang_refund("R4", "NOPE", "WK1", 1))
                .await
                .outcome
        ),
        "TradeNotExist"
    );
    assert_eq!(
        failed_code(
            lianshang
                .submit(&lianshang_refund("R5", "TC", "WKC", 1))
                .await
                .outcome
        ),
        "TradeNotExist"
    );
    // Currency mismatch (Lianshang carries a currency).
    let mut usd = lianshang_refund("R6", "T2", "WK2", 1);
    usd.fields.insert("refund_currency".into(), "USD".into());
    assert_eq!(
        failed_code(lianshang.submit(&usd).await.outcome),
        "CurrencyMismatch"
    );
    // A malformed field.
    let mut bad = lianshang_refund("R7", "T2", "WK2", 1);
    bad.fields.insert("refund_type".into(), "cheque".into());
    assert_eq!(
        failed_code(lianshang.submit(&bad).await.outcome),
        "ParamError"
    );
    let ledger = sim.ledger();
    let created: Vec<_> = ledger
        .refunds
        .iter()
        .map(|r| (r.gateway, r.refund_id.as_str()))
        .collect();
    assert_eq!(
        created,
        [
            (GatewayKind::Leshua, "R1"),
            (GatewayKind::Leshua, "R3"),
            (GatewayKind::Lianshang, "R1")
        ]
    );
}

#[tokio::test]
async fn leshua_duplicate_id_means_query_never_failed() {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let client = sample_leshua_client(&sim);
    let refund = leshua_refund("R1", "T1", 100);
    assert!(matches!(
        client.submit(&refund).await.outcome,
        Outcome::Succeeded(_)
    ));
    // The same id again (as after a lost answer): -5103, which is "query it".
    let again = client.submit(&refund).await;
    assert!(again.gateway_codes.as_deref().unwrap().contains("-5103"));
    assert!(matches!(again.outcome, Outcome::Unknown { .. }));
    assert!(matches!(
        client.query(&refund).await.outcome,
        Outcome::Succeeded(_)
    ));
    // A query for an id the gateway never saw is "does not exist".
    assert_eq!(
        client.query(&leshua_refund("R9", "T1", 100)).await.outcome,
        Outcome::NotFound
    );
    assert_eq!(
        client.query(&leshua_refund("R9", "T2", 100)).await.outcome,
        Outcome::NotFound
    );
    let ledger = sim.ledger();
    assert_eq!(ledger.id("R1").unwrap().submissions, 2);
    assert_eq!(ledger.id("R1").unwrap().created, 1);
    assert_eq!(ledger.refunds.len(), 1);
}

#[tokio::test]
async fn lianshang_replay_is_idempotent_and_different_content_conflicts() {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    let client = lianshang_client(&sim);
    let refund = lianshang_refund("R1", "T1", "WK1", 100);
    let Outcome::Succeeded(first) = client.submit(&refund).await.outcome else {
        panic!()
    };
    let Outcome::Succeeded(replay) = client.submit(&refund).await.outcome else {
        panic!()
    };
    assert_eq!(first.gateway_refund_id, replay.gateway_refund_id);
    let changed = lianshang_refund("R1", "T1", "WK1", 200);
    assert_eq!(
        failed_code(client.submit(&changed).await.outcome),
        "DuplicateRefund"
    );
    assert_eq!(
        client
            .query(&lianshang_refund("R9", "T1", "WK1", 1))
            .await
            .outcome,
        bulkrefund::gateway::Outcome::NotFound
    );
    let ledger = sim.ledger();
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(ledger.refund("R1").unwrap().amount_fen, 100);
    assert_eq!(ledger.id("R1").unwrap().submissions, 3);
}

#[tokio::test]
async fn rate_limited_answers_retry_after() {
    let sim = start_sim(
        Orders::standard(),
        FaultConfig {
            rate_limit: Some(1),
            ..Default::default()
        },
    )
    .await;
    let client = sample_leshua_client(&sim);
    let mut outcomes = Vec::new();
    for i in 1..=3 {
        outcomes.push(
            client
                .submit(&leshua_refund(&format!("R{i}"), "T1", 1))
                .await,
        );
    }
    // Three requests in well under a second: at most one got through the limit.
    let limited: Vec<_> = outcomes
        .iter()
        .filter(|a| a.http_status == Some(429))
        .collect();
    assert!(limited.len() >= 2, "{outcomes:?}");
    for attempt in limited {
        assert_eq!(
            attempt.outcome,
            Outcome::Retry {
                after: Some(Duration::from_secs(1)),
                why: "HTTP 429: rate limited".into()
            }
        );
    }
    assert!(sim.ledger().refunds.len() <= 1);
}

#[tokio::test]
async fn busy_answers_retry_and_record_nothing() {
    let sim = start_sim(
        Orders::standard(),
        FaultConfig {
            busy_rate: 1.0,
            seed: Some(7),
            ..Default::default()
        },
    )
    .await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let mut statuses = std::collections::BTreeSet::new();
    for i in 0..12 {
        let a = leshua
            .submit(&leshua_refund(&format!("R{i}"), "T1", 1))
            .await;
        let b = lianshang
            .submit(&lianshang_refund(&format!("R{i}"), "T1", "WK1", 1))
            .await;
        for attempt in [a, b] {
            assert!(
                matches!(attempt.outcome, Outcome::Retry { .. }),
                "{attempt:?}"
            );
            statuses.insert(attempt.http_status);
        }
    }
    // Both forms of "busy" were seen: HTTP 503 and a busy code in a 200 answer.
    assert!(
        statuses.contains(&Some(503)) && statuses.contains(&Some(200)),
        "{statuses:?}"
    );
    let ledger = sim.ledger();
    assert!(ledger.refunds.is_empty() && ledger.ids.is_empty());
}

#[tokio::test]
async fn server_error_after_recording_is_unknown_and_a_query_finds_it() {
    let sim = start_sim(
        Orders::standard(),
        FaultConfig {
            fail_rate: 1.0,
            ..Default::default()
        },
    )
    .await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let a = leshua_refund("R1", "T1", 100);
    let b = lianshang_refund("R1", "T1", "WK1", 100);
    let first = leshua.submit(&a).await;
    assert_eq!(first.http_status, Some(500));
    assert!(matches!(first.outcome, Outcome::Unknown { .. }));
    assert!(matches!(
        lianshang.submit(&b).await.outcome,
        Outcome::Unknown { .. }
    ));
    // Queries are not failed by --fail-rate: they find what the 500 hid.
    assert!(matches!(
        leshua.query(&a).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang.query(&b).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert_eq!(sim.ledger().refunds.len(), 2);
}

#[tokio::test]
async fn dropped_connection_is_unknown() {
    let sim = start_sim(
        Orders::standard(),
        FaultConfig {
            drop_rate: 1.0,
            ..Default::default()
        },
    )
    .await;
    let leshua = sample_leshua_client(&sim);
    let lianshang = lianshang_client(&sim);
    let a = leshua_refund("R1", "T1", 100);
    let b = lianshang_refund("R1", "T1", "WK1", 100);
    assert!(matches!(
        leshua.submit(&a).await.outcome,
        Outcome::Unknown { .. }
    ));
    assert!(matches!(
        lianshang.submit(&b).await.outcome,
        Outcome::Unknown { .. }
    ));
    sim.set_faults(FaultConfig::default());
    assert!(matches!(
        leshua.query(&a).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert!(matches!(
        lianshang.query(&b).await.outcome,
        Outcome::Succeeded(_)
    ));
    assert_eq!(sim.ledger().refunds.len(), 2);
}

#[tokio::test]
async fn refused_connection_is_retry() {
    // Bind then drop a listener: nothing listens on that port any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = bulkrefund::gateway::leshua::LeshuaClient::new(
        bulkrefund::gateway::leshua::LeshuaSettings {
            base_url: format!("http://{addr}").parse().unwrap(),
            merchant_id: LESHUA_MERCHANT.into(),
            trade_key: bulkrefund::secret::Secret::new("TESTKEY"),
            notify_url: None,
            timeout: Duration::from_secs(2),
        },
    )
    .unwrap();
    assert!(matches!(
        client.submit(&leshua_refund("R1", "T1", 1)).await.outcome,
        Outcome::Retry { .. }
    ));
}

#[tokio::test]
async fn ledger_is_served_over_http() {
    let sim = start_sim(Orders::standard(), FaultConfig::default()).await;
    sample_leshua_client(&sim)
        .submit(&leshua_refund("R1", "T1", 100))
        .await;
    let body = reqwest::get(format!("{}/__sim/ledger", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ledger: bulkrefund::sim::ledger::LedgerSnapshot = serde_json::from_str(&body).unwrap();
    assert_eq!(ledger.refund("R1").unwrap().amount_fen, 100);
    assert_eq!(ledger.requests, 1);
}
