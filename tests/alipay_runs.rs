//! Whole runs against the simulated Alipay over TCP, each checked against
//! the simulator's ledger, the results file and the exit code: `fund_change`
//! `N` for a number Alipay already refunded (the same file sent from a second
//! journal: succeeded after the query, never a second refund), `fund_change`
//! `N` for refunds Alipay never made (the query finds nothing: the same
//! number is sent again, and paid once), and one trade refunded in three
//! parts by three rows, one of them failed for the merchant's balance and
//! retried under its own number.

mod common;

use std::collections::HashMap;

use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Results rows by refund number.
fn by_id(rows: Vec<HashMap<String, String>>) -> HashMap<String, HashMap<String, String>> {
    rows.into_iter()
        .map(|row| (row["out_request_no"].clone(), row))
        .collect()
}

/// Each of `ids` refunded once, succeeded, under its own number.
fn paid_once_each(world: &World, ids: &[&str]) {
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), ids.len());
    for id in ids {
        let refund = ledger.refund(id).expect("in the ledger");
        assert_eq!(refund.status, RefundState::Succeeded, "{id}");
        assert_eq!(ledger.id(id).map(|i| i.created), Some(1), "{id}");
    }
}

/// The same file run again from another journal (a second person, another
/// machine): each number is a repeat, which Alipay answers `fund_change` `N`
/// with the trade's figures. That is not a failure, nor proof: the query, 10 s
/// later, finds the refund, and the second journal reports it succeeded.
/// Alipay made each refund once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fund_change_n_for_a_number_already_refunded_is_succeeded_after_the_query() {
    let (a1, a2) = (alipay_trade_no("A1"), alipay_trade_no("A2"));
    let orders = Orders::new()
        .alipay("A1", &a1, 1000)
        .alipay("A2", &a2, 1000);
    let world = World::start(orders, FaultConfig::default()).await;
    let batch = BatchFile::alipay()
        .row(&format!("P1,A1,{a1},600,1000"))
        .row(&format!("P2,A2,{a2},1000,1000"));
    let first = batch.write(world.dir.path(), "month-end.csv");
    assert_eq!(world.run(&first, "alipay", quick()).await.exit_code, 0);
    paid_once_each(&world, &["P1", "P2"]);
    let requests = world.ledger().requests;

    let again = batch.write(world.dir.path(), "month-end-again.csv");
    let other = world.path("other-journal.db");
    let args = [
        "run",
        again.to_str().unwrap(),
        "--profile",
        "alipay",
        "--quiet",
    ];
    let second = world.bulkrefund_with_journal(&other, &args).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    let rows = by_id(world.results(&again));
    for (id, fen) in [("P1", "600"), ("P2", "1000")] {
        assert_eq!(rows[id]["status"], "succeeded", "{:?}", rows[id]);
        assert_eq!(rows[id]["refund_amount"], fen, "{:?}", rows[id]);
    }
    // Two refund calls (answered N) and two queries; nothing new created.
    assert_eq!(world.ledger().requests - requests, 4);
    paid_once_each(&world, &["P1", "P2"]);
    for id in ["P1", "P2"] {
        assert_eq!(world.ledger().id(id).map(|i| i.submissions), Some(2));
    }
}

/// Every refund call answered `fund_change` `N` though Alipay made nothing:
/// never reported succeeded. With one send allowed, each is queried, found
/// missing and left pending under its number (exit 4: not finished). Once
/// Alipay answers truly, `resume` sends the same numbers, and each is paid
/// once; no new number is ever made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fund_change_n_for_a_refund_never_made_is_settled_by_the_query() {
    let trades: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("B{i}"), alipay_trade_no(&format!("B{i}"))))
        .collect();
    let orders = trades.iter().fold(Orders::new(), |orders, (trade, no)| {
        orders.alipay(trade, no, 1000)
    });
    let lying = FaultConfig {
        fund_change_n_rate: 1.0,
        ..FaultConfig::default()
    };
    let world = World::start(orders, lying).await;
    let batch = trades
        .iter()
        .enumerate()
        .fold(BatchFile::alipay(), |batch, (i, (trade, no))| {
            batch.row(&format!("N{},{trade},{no},500,1000", i + 1))
        })
        .write(world.dir.path(), "never-made.csv");
    let once = RunOptions {
        max_attempts: Some(1),
        ..quick()
    };
    let outcome = world.run(&batch, "alipay", once).await;
    assert_eq!(outcome.exit_code, 4, "nothing finished");
    let rows = by_id(world.results(&batch));
    for id in ["N1", "N2", "N3"] {
        assert_eq!(rows[id]["status"], "pending", "{:?}", rows[id]);
    }
    let ledger = world.ledger();
    assert!(ledger.refunds.is_empty(), "Alipay made nothing");
    // One refund call and one query each.
    assert_eq!(ledger.requests, 6);

    world.sim.set_faults(FaultConfig::default());
    assert_eq!(world.resume(quick()).await.exit_code, 0);
    paid_once_each(&world, &["N1", "N2", "N3"]);
    let rows = by_id(world.results(&batch));
    assert!(rows.values().all(|r| r["status"] == "succeeded"));
    assert_results_match_ledger(&world.results(&batch), "out_request_no", &world.ledger());
}

/// One trade of 10.00 yuan refunded in three parts by three rows: 3.00 and
/// 2.50 fit the merchant's balance, 4.50 does not (failed, nothing created,
/// its number free). After a top-up, `retry --failed` sends 4.50 again
/// under its own number. Each part's answer is checked against that part
/// (Alipay's `refund_fee` is the trade's running total): each row reports its
/// own amount, and the ledger holds three refunds adding up to the trade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_refunded_in_three_parts_and_a_retry() {
    let no = alipay_trade_no("C1");
    let world = World::start(
        Orders::new().alipay("C1", &no, 1000),
        FaultConfig::default(),
    )
    .await;
    world.sim.set_alipay_balance(Some(600));
    let batch = BatchFile::alipay()
        .rows([
            format!("S1,C1,{no},300,1000").as_str(),
            format!("S2,C1,{no},250,1000").as_str(),
            format!("S3,C1,{no},450,1000").as_str(),
        ])
        .write(world.dir.path(), "three-parts.csv");
    let outcome = world.run(&batch, "alipay", quick()).await;
    assert_eq!(outcome.exit_code, 3, "one part failed");
    let rows = by_id(world.results(&batch));
    assert_eq!(rows["S1"]["status"], "succeeded");
    assert_eq!(rows["S2"]["status"], "succeeded");
    assert_eq!(rows["S3"]["status"], "failed", "{:?}", rows["S3"]);
    assert_eq!(rows["S3"]["error_code"], "ACQ.SELLER_BALANCE_NOT_ENOUGH");

    world.sim.set_alipay_balance(None);
    let plan = world.plan(1, false);
    assert_eq!(plan.send.len(), 1);
    assert!(plan.send.iter().all(|p| p.new_id.is_none()));
    let retried = world.retry(1, false).await.expect("S3 is sent");
    assert_eq!(retried.exit_code, 0);
    paid_once_each(&world, &["S1", "S2", "S3"]);
    let ledger = world.ledger();
    let total: u64 = ledger.refunds.iter().map(|r| r.amount_fen).sum();
    assert_eq!(total, 1000, "the whole trade, in three parts");
    let rows = world.results(&batch);
    for row in &rows {
        let fen = match row["out_request_no"].as_str() {
            "S1" => "300",
            "S2" => "250",
            _ => "450",
        };
        assert_eq!(row["status"], "succeeded");
        assert_eq!(row["refund_amount"], fen, "{row:?}");
    }
    assert_results_match_ledger(&rows, "out_request_no", &ledger);
}
