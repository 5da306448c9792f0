//! `bulkrefund demo`: for a newcomer. Starts the simulator in-process on a free
//! port with the sample orders (a little processing time and a few faults, so
//! polling and retries show), runs every gateway's sample batch against it with a
//! journal in a fresh directory, and prints the summaries and where the results are.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::app::App;
use super::run::{self, RunRequest};
use crate::cli::{DemoArgs, ReportArgs};
use crate::config::Config;
use crate::exit;
use crate::journal::JournalLocation;
use crate::options::RunOptions;
use crate::sim::{self, faults::FaultConfig, sample_keys, SimConfig};
use crate::zone::Zone;

/// The sample files, built into the binary (the WeChat and Alipay batches are
/// GBK, as a finance sheet saved from Excel on a Chinese Windows is).
const SAMPLES: &[(&str, &[u8])] = &[
    (
        "bulkrefund.toml",
        include_bytes!("../../samples/bulkrefund.toml"),
    ),
    ("orders.csv", include_bytes!("../../samples/orders.csv")),
    (
        "leshua-batch.csv",
        include_bytes!("../../samples/leshua-batch.csv"),
    ),
    (
        "lianshang-batch.csv",
        include_bytes!("../../samples/lianshang-batch.csv"),
    ),
    (
        "wechatpay-batch.csv",
        include_bytes!("../../samples/wechatpay-batch.csv"),
    ),
    (
        "alipay-batch.csv",
        include_bytes!("../../samples/alipay-batch.csv"),
    ),
    (
        "keys/leshua-trade.key",
        sample_keys::LESHUA_TRADE_KEY.as_bytes(),
    ),
    (
        "keys/merchant-test-2048.pem",
        sample_keys::LIANSHANG_PRIVATE_KEY.as_bytes(),
    ),
    (
        "keys/wechatpay-merchant-test.pem",
        sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY.as_bytes(),
    ),
    (
        "keys/wechatpay-platform-test.pub.pem",
        sample_keys::WECHATPAY_PUBLIC_KEY.as_bytes(),
    ),
    (
        "keys/alipay-app-test.pem",
        sample_keys::ALIPAY_APP_PRIVATE_KEY.as_bytes(),
    ),
    (
        "keys/alipay-sim-test.pub.pem",
        sample_keys::ALIPAY_PUBLIC_KEY.as_bytes(),
    ),
];

fn write_samples(dir: &Path) -> anyhow::Result<()> {
    for (name, text) in SAMPLES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Key files are readable by their owner only, as bulkrefund asks of any key file.
        let written = if name.starts_with("keys/") {
            let text = std::str::from_utf8(text).expect("the sample keys are PEM text");
            crate::sim::generate::write_private(&path, text)
        } else {
            std::fs::write(&path, text)
        };
        written.with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

pub async fn main(_args: DemoArgs) -> anyhow::Result<u8> {
    let dir = tempfile::Builder::new()
        .prefix("bulkrefund-demo-")
        .tempdir()?
        .keep();
    write_samples(&dir)?;
    let mut sim_config =
        SimConfig::with_sample_keys(sim::ledger::read_orders(&dir.join("orders.csv"))?);
    sim_config.faults = FaultConfig {
        processing_for: Duration::from_secs(1),
        busy_rate: 0.03,
        fail_rate: 0.03,
        seed: Some(2026),
        ..FaultConfig::default()
    };
    let simulator = sim::start(sim_config, "127.0.0.1:0".parse()?).await?;
    crate::say!(
        "simulator listening on {} (every gateway; 3% busy answers, 3% errors after recording: HTTP 500, Alipay ACQ.SYSTEM_ERROR)",
        simulator.base_url()
    );
    crate::say!("working directory: {}\n", dir.display());
    let config = Config::load(&dir.join("bulkrefund.toml"))?;
    let zone = match config.timezone() {
        Some(name) => Zone::named(name)?,
        None => Zone::system(),
    };
    let journal = JournalLocation::file(dir.join("bulkrefund.db"));
    let options = RunOptions {
        poll_for: Duration::from_secs(60),
        quiet: crate::messages::quiet(),
        ..RunOptions::default()
    };
    let app = App::new(
        config,
        journal.clone(),
        options,
        super::interrupt::install(),
    )
    .aimed_at(simulator.base_url().parse()?);
    let mut all_final = true;
    for (batch, profile) in [
        ("leshua-batch.csv", "leshua"),
        ("lianshang-batch.csv", "lianshang"),
        ("wechatpay-batch.csv", "wechatpay"),
        ("alipay-batch.csv", "alipay"),
    ] {
        crate::say!("== bulkrefund run {batch} --profile {profile}");
        let path = dir.join(batch);
        let request = RunRequest::confirmed(&path, profile);
        let outcome = run::run(&app, request).await?;
        outcome.print();
        all_final &= outcome.exit_code != exit::UNRESOLVED;
        crate::say!();
    }
    let ledger = simulator.ledger();
    let doubled = ledger.ids.iter().filter(|id| id.created > 1).count();
    crate::say!(
        "simulator ledger: {} refunds created, {} refund ids submitted, {} created twice",
        ledger.refunds.len(),
        ledger.ids.len(),
        doubled
    );
    crate::say!("(the Leshua sample's last row fails on purpose: it refunds an order that was already refunded in full)");
    crate::say!("journal: {}", journal.display());
    simulator.stop().await;
    // The month as one page to look at (`bulkrefund report`).
    let report = ReportArgs {
        places: Default::default(),
        batch: None,
        since: None,
        until: None,
        out: dir.join("report.html"),
    };
    super::report::run(&journal, None, &zone, &report)?;
    Ok(if all_final && doubled == 0 {
        exit::SUCCESS
    } else {
        exit::UNRESOLVED
    })
}
