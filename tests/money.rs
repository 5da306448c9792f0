//! One definition of the money, checked against the simulator's ledger: two
//! batches that share refunds, with retry chains made from both, and every
//! place that reports money (run summaries, `status` as text and JSON, the
//! CSV and XLSX exports, the results files) says the same refunded sum, the
//! one the gateway actually paid, each refund once.

mod common;

use std::collections::HashMap;

use bulkrefund::report::summary::BatchMoney;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

fn fail_every_refund() -> FaultConfig {
    every_refund_fails()
}

/// (count, fen) of the refunds the gateway paid.
fn ledger_succeeded(world: &World) -> (u64, u64) {
    let ledger = world.ledger();
    let paid: Vec<_> = ledger
        .refunds
        .iter()
        .filter(|r| r.status == RefundState::Succeeded)
        .collect();
    (
        paid.len() as u64,
        paid.iter().map(|r| r.amount_fen).sum::<u64>(),
    )
}

/// The `#totals` figures of a CSV export: figure → (count, fen).
fn export_figures(path: &std::path::Path) -> Vec<(String, u64, Option<u64>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let mut figures = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        if &record[0] == "#totals" && &record[1] != "figure" {
            figures.push((
                record[1].to_owned(),
                record[2].parse().unwrap(),
                record[3].parse().ok(),
            ));
        }
    }
    figures
}

fn sum_of(money: &BatchMoney) -> u64 {
    money.paid_by_this_batch.fen.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_of_two_batches_sharing_refunds_equals_the_ledger() {
    let orders = Orders::new()
        .leshua("T1", 1000)
        .leshua("T2", 2000)
        .leshua("T3", 3000)
        .leshua("T4", 4000)
        .leshua("T5", 500)
        .leshua("T6", 600)
        .leshua("T7", 700);
    let world = World::start(orders, fail_every_refund()).await;
    let dir = world.dir.path();
    // Batch 1: four refunds, all refused by the gateway.
    let first = BatchFile::leshua()
        .rows(["A1,T1,1000", "A2,T2,2000", "A3,T3,3000", "A4,T4,4000"])
        .write(dir, "first.csv");
    assert_eq!(world.run(&first, "leshua", quick()).await.exit_code, 3);
    world.sim.set_faults(FaultConfig::default());
    // Batch 2 lists A1, A3 and A4 again, and three new refunds; B3 asks more
    // than its order holds, so the gateway refuses it (and its retry).
    let second = BatchFile::leshua()
        .rows([
            "A1,T1,1000",
            "A3,T3,3000",
            "A4,T4,4000",
            "B1,T5,500",
            "B2,T6,600",
            "B3,T7,900",
        ])
        .write(dir, "second.csv");
    let run = world.run(&second, "leshua", quick()).await;
    assert_eq!(run.exit_code, 3);
    // Retry chains from both batches: batch 2 retries A1, A3 and A4 under new
    // ids, and B3 (which the gateway never created) under its own; batch 1
    // then has only A2 left to retry.
    let from_second = world.retry(2, true).await.expect("batch 2 retries");
    assert_eq!(from_second.exit_code, 3, "B3 is refused again");
    let from_first = world.retry(1, true).await.expect("batch 1 retries A2");
    assert_eq!(from_first.exit_code, 0);

    let (paid_count, paid_fen) = ledger_succeeded(&world);
    assert_eq!(paid_count, 6, "A1R2..A4R2, B1, B2");
    assert_eq!(paid_fen, 1000 + 2000 + 3000 + 4000 + 500 + 600);

    // The run summaries: the last one of each batch.
    let journal = world.read_journal();
    let money: HashMap<i64, BatchMoney> = (1..=2)
        .map(|b| (b, BatchMoney::for_batch(&journal, b).unwrap()))
        .collect();
    let last_summary = |outcome: &bulkrefund::commands::app::RunOutcome, batch: i64| {
        outcome
            .batches
            .iter()
            .find(|(b, _, _)| *b == batch)
            .map(|(_, _, money)| money.clone())
            .unwrap()
    };
    assert_eq!(last_summary(&from_first, 1), money[&1]);
    assert_eq!(last_summary(&from_second, 2), money[&2]);
    assert_eq!(sum_of(&money[&1]) + sum_of(&money[&2]), paid_fen);
    // Batch 1: A2 paid by its own retry; A1, A3, A4 by batch 2's.
    assert_eq!(money[&1].intents.requested.count, 4);
    assert_eq!(money[&1].intents.refunded.fen.0, 10_000);
    assert_eq!(money[&1].paid_by_this_batch.fen.0, 2000);
    assert_eq!(money[&1].paid_by_other_batches.len(), 1);
    assert_eq!(money[&1].paid_by_other_batches[0].batch, 2);
    assert_eq!(money[&1].paid_by_other_batches[0].sum.fen.0, 8000);
    // Batch 2: A1, A3, A4, B1, B2 paid by it; B3 failed, on its own line.
    assert_eq!(money[&2].intents.requested.count, 6);
    assert_eq!(money[&2].intents.refunded.count, 5);
    assert_eq!(money[&2].paid_by_this_batch.fen.0, 9100);
    assert_eq!(money[&2].intents.failed.fen.0, 900);
    for m in money.values() {
        let i = &m.intents;
        assert_eq!(
            i.refunded.count + i.failed.count + i.in_review.count + i.unresolved.count,
            i.requested.count,
            "each intent has one status"
        );
    }
    // The results files say which batch paid each row.
    let rows = world.results(&second);
    let paid_here: u64 = rows
        .iter()
        .filter(|r| r["status"] == "succeeded" && r["paid_by_batch"] == "2")
        .map(|r| r["refund_fen"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(paid_here, 9100);
    let rows = world.results(&first);
    assert_eq!(
        rows.iter()
            .filter(|r| r["paid_by_batch"] == "1")
            .map(|r| r["refund_fen"].parse::<u64>().unwrap())
            .sum::<u64>()
            + 9100,
        paid_fen
    );
    drop(journal);

    // `status`, as text and as JSON.
    let text = world.bulkrefund(&["status"]).await;
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains(&format!(
            "refunded in all: 6 gateway refunds, {} yuan",
            bulkrefund::money::Fen(paid_fen).grouped()
        )),
        "{}",
        text.stdout
    );
    let json = world.bulkrefund(&["status", "--format", "json"]).await;
    assert_eq!(json.code, 0, "{}", json.stderr);
    let status: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(status["refunded_in_all"]["fen"], paid_fen);
    let by_batches: u64 = status["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["money"]["paid_by_this_batch"]["fen"].as_u64().unwrap())
        .sum();
    assert_eq!(by_batches, paid_fen);
    assert!(
        !json.stdout.contains("\"total\"") && !json.stdout.contains("\"all\""),
        "no figure adds different statuses: {}",
        json.stdout
    );
    let detail = world
        .bulkrefund(&["status", "--batch", "2", "--format", "json"])
        .await;
    let detail: serde_json::Value = serde_json::from_str(&detail.stdout).unwrap();
    assert_eq!(detail["failures"].as_array().unwrap().len(), 1);
    assert_eq!(detail["failures"][0]["count"], 1);
    assert_eq!(detail["failures"][0]["fen"], 900);
    assert_eq!(detail["failures"][0]["samples"][0], "B3");

    // The exports, CSV and XLSX.
    let csv = world.path("all.csv");
    let out = world
        .bulkrefund(&["export", "--out", csv.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let figures = export_figures(&csv);
    let labels: Vec<&str> = figures.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        labels,
        [
            "requested",
            "refunded",
            "failed",
            "in review",
            "unresolved",
            "retried under a new id"
        ]
    );
    assert_eq!(figures[1], ("refunded".into(), 6, Some(paid_fen)));
    assert_eq!(figures[2], ("failed".into(), 1, Some(900)));
    assert_eq!(
        figures[5],
        ("retried under a new id".into(), 4, None),
        "A1..A4 each failed once and were retried: not failures of their own"
    );
    let xlsx = world.path("all.xlsx");
    let out = world
        .bulkrefund(&["export", "--out", xlsx.to_str().unwrap()])
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    use calamine::{open_workbook, Reader, Xlsx};
    let mut workbook: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let summary = workbook.worksheet_range("summary").unwrap();
    let refunded = summary.rows().find(|r| r[0] == "refunded").unwrap();
    assert_eq!(refunded[2].to_string(), paid_fen.to_string());
    let by_day = workbook.worksheet_range("by day").unwrap();
    // The days, then a blank row and the note saying whose days they are.
    let per_day: u64 = by_day
        .rows()
        .skip(2)
        .take_while(|r| !r[0].to_string().is_empty())
        .map(|r| r[2].to_string().parse::<u64>().unwrap())
        .sum();
    assert_eq!(per_day, paid_fen);
    let note = by_day.rows().next_back().unwrap()[0].to_string();
    assert!(
        note.starts_with("days: the gateway's success time in Asia/Shanghai"),
        "{note}"
    );
}
