//! Refunds of one order reach the gateway one at a time, in input order: the
//! next is sent only once the previous one is final (and, with
//! `same_order_gap`, that long after). Against the simulator's ledger.

mod common;

use std::fmt::Write as _;

use bulkrefund::cli::EngineArgs;
use bulkrefund::commands::run;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{OrderStatus, RefundState};
use common::*;

const ORDERS: usize = 20;

/// Each order refunded in full early in the file and by 0.01 thirty lines later.
fn full_then_small(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::from("merchant_refund_id,third_order_id,refund_amount\n");
    for i in 1..=ORDERS {
        writeln!(text, "F{i},O{i},1000").unwrap();
    }
    for i in 1..=10 {
        writeln!(text, "X{i},OX{i},100").unwrap();
    }
    for i in 1..=ORDERS {
        writeln!(text, "S{i},O{i},1").unwrap();
    }
    let path = dir.join("orders.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn orders() -> Vec<bulkrefund::sim::ledger::OrderRow> {
    let mut orders: Vec<_> = (1..=ORDERS)
        .map(|i| {
            order(
                GatewayKind::Leshua,
                &format!("O{i}"),
                &format!("L{i}"),
                1000,
                OrderStatus::Paid,
            )
        })
        .collect();
    orders.extend((1..=10).map(|i| {
        order(
            GatewayKind::Leshua,
            &format!("OX{i}"),
            &format!("LX{i}"),
            100,
            OrderStatus::Paid,
        )
    }));
    orders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_refund_of_an_order_waits_for_the_earlier_one() {
    let work = tempfile::tempdir().unwrap();
    let batch = full_then_small(work.path());
    // Busy answers and latency scramble the timing: sent together, the small
    // refund would often reach the gateway first and the full one then fail.
    let setup = setup(
        orders(),
        FaultConfig {
            busy_rate: 0.3,
            latency_ms: Some((1, 30)),
            seed: Some(7),
            ..FaultConfig::default()
        },
    )
    .await;
    let outcome = setup
        .run(
            &batch,
            "leshua",
            EngineArgs {
                max_attempts: Some(12),
                ..quick()
            },
        )
        .await;
    assert_eq!(outcome.exit_code, 3, "the small refunds fail");
    let ledger = setup.sim.ledger();
    for i in 1..=ORDERS {
        assert_eq!(
            ledger.refund(&format!("F{i}")).map(|r| r.status),
            Some(RefundState::Succeeded),
            "the full refund of O{i}, asked first, is paid"
        );
        assert!(
            ledger.refund(&format!("S{i}")).is_none(),
            "S{i} is refused: nothing is left of O{i}"
        );
    }
    let rows = read_results(&run::default_results_path(&batch));
    for row in rows
        .iter()
        .filter(|r| r["merchant_refund_id"].starts_with('S'))
    {
        assert_eq!(row["status"], "failed");
        assert_eq!(row["error_code"], "'-20023");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_order_gap_keeps_a_pause_between_refunds_of_one_order() {
    let work = tempfile::tempdir().unwrap();
    let batch = work.path().join("gap.csv");
    std::fs::write(
        &batch,
        "merchant_refund_id,third_order_id,refund_amount\nA1,O1,300\nB1,OX1,100\nA2,O1,300\nA3,O1,300\n",
    )
    .unwrap();
    let setup = setup(orders(), FaultConfig::default()).await;
    let config = std::fs::read_to_string(setup.dir.path().join("bulkrefund.toml"))
        .unwrap()
        .replace(
            "max_attempts = 8\n",
            "max_attempts = 8\nsame_order_gap = \"700ms\"\n",
        );
    let config =
        bulkrefund::config::Config::parse(&setup.dir.path().join("bulkrefund.toml"), &config)
            .unwrap();
    let profiles = run::Profiles {
        config: &config,
        base_url: None,
    };
    let request = run::RunRequest {
        batch: &batch,
        profile: "leshua",
        read: Default::default(),
        out: None,
        journal_path: &setup.journal(),
        engine: quick(),
    };
    let outcome = run::run(request, &profiles, Default::default())
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 0);
    let conn = rusqlite::Connection::open(setup.journal()).unwrap();
    let times = |id: &str| -> (String, String) {
        conn.query_row(
            "SELECT first_sent_at, finished_at FROM refunds WHERE refund_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let at = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    for (earlier, later) in [("A1", "A2"), ("A2", "A3")] {
        let gap = at(&times(later).0) - at(&times(earlier).1);
        assert!(
            gap >= chrono::Duration::milliseconds(700),
            "{later} was sent {gap} after {earlier} finished"
        );
    }
    // Another order's refund is not held back by them.
    assert!(at(&times("B1").0) < at(&times("A2").0));
}
