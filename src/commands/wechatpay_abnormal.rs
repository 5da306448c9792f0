//! An abnormal refund end to end over WeChat Pay: the simulator, over TCP,
//! turns two chosen refunds `ABNORMAL` after a short processing time (its
//! `abnormal_refunds` hook, no dice). The run polls them, shows them apart in
//! the results and the summary and exits 3; `retry --failed --new-ids` sends
//! the failed row again and leaves them alone (no new id, never resent);
//! `resume` does not ask about them before their hour; once a person resolved
//! them at WeChat Pay and their hour is up, one `resume` reports them
//! succeeded and exits 0. Here, beside the commands, because it moves the
//! journal's clock with the test-only `Journal::make_due`.

use crate::journal::JournalLocation;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::commands::app::{default_results_path, App, RunOutcome};
use crate::commands::resume::{self, ResumeRequest};
use crate::commands::retry::{self, RetryRequest};
use crate::commands::run::{self, RunRequest};
use crate::config::Config;
use crate::gateway::GatewayKind;
use crate::journal::Journal;
use crate::options::RunOptions;
use crate::sim::faults::FaultConfig;
use crate::sim::ledger::{OrderRow, OrderStatus, RefundState};
use crate::sim::{self, generate, SimConfig, SimHandle};

/// A paid WeChat order `T{n}` / `W{n}` of `fen`.
fn order(n: u32, fen: u64) -> OrderRow {
    generate::sample_order(
        GatewayKind::Wechatpay,
        &format!("T{n}"),
        &format!("W{n}"),
        fen,
        OrderStatus::Paid,
    )
}

/// R1 (1 yuan) succeeds; A2 and A3 (2 and 3 yuan) turn abnormal; F4 (50
/// yuan) is over the merchant's balance of 10 yuan, whatever the order.
const BATCH: &str = "out_refund_no,out_trade_no,transaction_id,refund_amount,order_total\n\
                     R1,T1,W1,100,100\nA2,T2,W2,200,200\nA3,T3,W3,300,300\nF4,T4,W4,5000,5000\n";

async fn start_sim() -> SimHandle {
    let orders = vec![order(1, 100), order(2, 200), order(3, 300), order(4, 5000)];
    let mut config = SimConfig::with_sample_keys(orders);
    config.wechatpay.balance_fen = Some(1000);
    config.faults = FaultConfig {
        processing_for: Duration::from_millis(200),
        abnormal_refunds: vec!["A2".into(), "A3".into()],
        ..FaultConfig::default()
    };
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The sample WeChat profile aimed at `sim`, polled every half second.
fn app(dir: &Path, sim: &SimHandle) -> App {
    let keys = generate::write_sample_keys(dir).unwrap();
    let mut text = generate::simulator_config(&sim.base_url(), &keys, 100, 8);
    assert!(
        text.trim_end().ends_with("max_attempts = 8"),
        "wechatpay is last"
    );
    text.push_str("poll_schedule = [\"500ms\"]\n");
    let path = dir.join("bulkrefund.toml");
    std::fs::write(&path, text).unwrap();
    let options = RunOptions {
        poll_for: Duration::from_secs(30),
        quiet: true,
        ..RunOptions::default()
    };
    let journal = dir.join("journal.db");
    App::new(
        Config::load(&path).unwrap(),
        JournalLocation::file(&journal),
        options,
        CancellationToken::new(),
    )
}

/// The results file's rows by `out_refund_no`: (status, error_code, gateway_refund_id).
fn results(path: &Path) -> HashMap<String, (String, String, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, status) = (column("out_refund_no"), column("status"));
    let (code, gateway_id) = (column("error_code"), column("gateway_refund_id"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row = (r[status].into(), r[code].into(), r[gateway_id].into());
            (r[id].to_owned(), row)
        })
        .collect()
}

/// (submissions, created) of an id in the simulator's ledger.
fn sent(sim: &SimHandle, id: &str) -> Option<(u32, u32)> {
    sim.ledger().id(id).map(|id| (id.submissions, id.created))
}

/// Their hour passes: the refunds named `ids` fall due now.
fn hour_passes(journal: &Path, ids: &[&str]) {
    let journal = Journal::open(journal).unwrap();
    for id in ids {
        for record in journal.refunds_named(id).unwrap() {
            journal.make_due(record.id).unwrap();
        }
    }
}

async fn resume(app: &App) -> RunOutcome {
    resume::resume(app, ResumeRequest::default()).await.unwrap()
}

/// The run: R1 paid, F4 failed NOT_ENOUGH, A2 and A3 abnormal, apart.
async fn run_shows_them_apart(app: &App, sim: &SimHandle, batch: &Path) {
    let outcome = run::run(app, RunRequest::confirmed(batch, "wechatpay"))
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 3, "F4 failed, A2 and A3 are abnormal");
    assert_eq!(
        outcome.batches[0].2.table(),
        [
            "  requested                                4           56.00 yuan",
            "  refunded                                 1            1.00 yuan",
            "    paid by this batch                     1            1.00 yuan",
            "  failed                                   1           50.00 yuan",
            "  in review                                0            0.00 yuan",
            "  abnormal                                 2            5.00 yuan",
            "  unresolved                               0            0.00 yuan",
            "",
        ]
        .join("\n")
    );
    let rows = results(&default_results_path(batch));
    let ledger = sim.ledger();
    for id in ["A2", "A3"] {
        let held = ledger.refund(id).unwrap();
        assert_eq!(held.status, RefundState::Abnormal);
        let expected = (
            "abnormal".into(),
            "ABNORMAL".into(),
            held.gateway_refund_id.clone(),
        );
        assert_eq!(rows[id], expected, "{id}");
        assert_eq!(sent(sim, id), Some((1, 1)));
    }
    assert_eq!(rows["R1"].0, "succeeded");
    assert_eq!(
        (rows["F4"].0.as_str(), rows["F4"].1.as_str()),
        ("failed", "NOT_ENOUGH")
    );
}

/// Topped up, `retry --failed --new-ids`: F4 goes again under its own id (the
/// gateway holds no refund under it, so it needs no new one); A2 and A3 are
/// neither resent nor given a new id.
async fn retry_leaves_them_alone(app: &App, sim: &SimHandle, batch: &Path) {
    sim.set_wechatpay_balance(None);
    let request = RetryRequest {
        batch: 1,
        new_ids: true,
        yes: true,
        allow_over_limit: false,
    };
    let retried = retry::run(app, request)
        .await
        .unwrap()
        .expect("F4 is retried");
    assert_eq!(retried.exit_code, 3, "A2 and A3 are still abnormal");
    assert_eq!(sent(sim, "F4"), Some((2, 1)));
    assert_eq!(sent(sim, "F4R2"), None);
    for id in ["A2", "A3"] {
        assert_eq!(sent(sim, id), Some((1, 1)), "{id}: never sent again");
        assert_eq!(sent(sim, &format!("{id}R2")), None, "{id}: never a new id");
    }
    let rows = results(&default_results_path(batch));
    assert_eq!(rows["A2"].0, "abnormal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abnormal_refunds_over_wechat_are_apart_left_alone_and_resolved_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim().await;
    let app = app(dir.path(), &sim);
    let batch: PathBuf = dir.path().join("wx.csv");
    std::fs::write(&batch, BATCH).unwrap();
    run_shows_them_apart(&app, &sim, &batch).await;
    retry_leaves_them_alone(&app, &sim, &batch).await;

    // A person resolves both at WeChat Pay; before their hour, resume asks nothing.
    assert!(sim.resolve_abnormal("A2") && sim.resolve_abnormal("A3"));
    let before = sim.ledger().requests;
    let early = resume(&app).await;
    assert_eq!((early.exit_code, early.report.requests), (3, 0));
    assert_eq!(sim.ledger().requests, before);
    // Their hour up, one resume learns they succeeded.
    hour_passes(&dir.path().join("journal.db"), &["A2", "A3"]);
    let resumed = resume(&app).await;
    assert_eq!(resumed.exit_code, 0, "every refund of the batch is paid");
    assert_eq!(sim.ledger().requests, before + 2, "one query each");
    let rows = results(&default_results_path(&batch));
    let ledger = sim.ledger();
    for id in ["A2", "A3"] {
        assert_eq!(ledger.refund(id).unwrap().status, RefundState::Succeeded);
        assert_eq!(rows[id].0, "succeeded", "{id}");
        assert_eq!(sent(&sim, id), Some((1, 1)), "{id}: one submit, ever");
    }
    assert_eq!(ledger.refunds.len(), 4, "R1, A2, A3, F4");
}
