//! Helpers shared by the integration tests: a simulator on 127.0.0.1:0 seeded
//! with known orders, and clients wired to it with the sample keys.
#![allow(dead_code)]

pub mod chaos;

use std::collections::BTreeMap;
use std::time::Duration;

use bulkrefund::gateway::leshua::{LeshuaClient, LeshuaSettings};
use bulkrefund::gateway::lianshang::{LianshangClient, LianshangSettings};
use bulkrefund::gateway::rsa_sign::{RsaDigest, RsaSigner};
use bulkrefund::gateway::{GatewayKind, RefundOrder};
use bulkrefund::money::Fen;
use bulkrefund::secret::Secret;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{OrderRow, OrderStatus};
use bulkrefund::sim::{self, sample_keys, SimConfig, SimHandle};

pub const LESHUA_MERCHANT: &str = "0000000018";
pub const LIANSHANG_MERCHANT: &str = "pay001";

pub fn order(
    gateway: GatewayKind,
    third: &str,
    gateway_id: &str,
    amount: u64,
    status: OrderStatus,
) -> OrderRow {
    let (merchant, appid) = match gateway {
        GatewayKind::Leshua => (LESHUA_MERCHANT, ""),
        GatewayKind::Lianshang => (LIANSHANG_MERCHANT, "app01"),
    };
    OrderRow {
        gateway,
        merchant_id: merchant.into(),
        third_order_id: third.into(),
        gateway_order_id: gateway_id.into(),
        appid: appid.into(),
        amount_fen: amount,
        currency: "CNY".into(),
        status,
    }
}

/// Orders T1..T9 (1000 fen, paid) for both gateways, plus a closed order TC.
pub fn standard_orders() -> Vec<OrderRow> {
    let mut orders = Vec::new();
    for i in 1..=9 {
        orders.push(order(
            GatewayKind::Leshua,
            &format!("T{i}"),
            &format!("L{i}"),
            1000,
            OrderStatus::Paid,
        ));
        orders.push(order(
            GatewayKind::Lianshang,
            &format!("T{i}"),
            &format!("WK{i}"),
            1000,
            OrderStatus::Paid,
        ));
    }
    orders.push(order(
        GatewayKind::Leshua,
        "TC",
        "LC",
        1000,
        OrderStatus::Closed,
    ));
    orders.push(order(
        GatewayKind::Lianshang,
        "TC",
        "WKC",
        1000,
        OrderStatus::Closed,
    ));
    orders
}

pub async fn start_sim(orders: Vec<OrderRow>, faults: FaultConfig) -> SimHandle {
    let mut config = SimConfig::with_sample_keys(orders);
    config.faults = faults;
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

pub fn leshua_client(sim: &SimHandle, key: &str) -> LeshuaClient {
    LeshuaClient::new(LeshuaSettings {
        base_url: sim.base_url().parse().unwrap(),
        merchant_id: LESHUA_MERCHANT.into(),
        trade_key: Secret::new(key),
        notify_url: Some("https://shop.example.com/refund/notify".into()),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

pub fn sample_leshua_client(sim: &SimHandle) -> LeshuaClient {
    leshua_client(sim, sample_keys::LESHUA_TRADE_KEY.trim())
}

pub fn lianshang_client_with(sim: &SimHandle, pem: &str, compress: bool) -> LianshangClient {
    LianshangClient::new(LianshangSettings {
        base_url: sim.base_url().parse().unwrap(),
        merchant_id: LIANSHANG_MERCHANT.into(),
        signer: RsaSigner::from_pem(pem, RsaDigest::Sha256).unwrap(),
        timeout: Duration::from_secs(5),
        allow_insecure_http: false,
        compress,
    })
    .unwrap()
}

pub fn lianshang_client(sim: &SimHandle) -> LianshangClient {
    lianshang_client_with(sim, sample_keys::LIANSHANG_PRIVATE_KEY, false)
}

pub fn leshua_refund(id: &str, order: &str, fen: u64) -> RefundOrder {
    let mut fields = BTreeMap::new();
    fields.insert("third_order_id".to_string(), order.to_string());
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

/// A Lianshang refund with every field the contract requires.
pub fn lianshang_refund(id: &str, order: &str, wk_order: &str, fen: u64) -> RefundOrder {
    let mut fields = BTreeMap::new();
    for (name, value) in [
        ("out_trade_id", order),
        ("original_wk_trade_id", wk_order),
        ("appid", "app01"),
        ("platform", "Online"),
        ("client_user_id", "finance"),
        ("guest_id", "GUESTER"),
        ("refund_type", "cash"),
        ("refund_msg", "月末退款"),
        ("refund_coin_amount", "0"),
        ("coin_type", "lianshang_coin"),
        ("refund_currency", "CNY"),
        ("refund_product_subject", "[]"),
        ("notify_url", "https://shop.example.com/refund/notify"),
        ("refund_expire", "30"),
        ("risk_extend", "{\"risk\":100}"),
    ] {
        fields.insert(name.to_string(), value.to_string());
    }
    RefundOrder {
        refund_id: id.into(),
        amount: Fen(fen),
        fields,
        gateway_refund_id: None,
    }
}

/// A bulkrefund.toml whose profiles point at `base_url`, with the sample keys
/// written beside it (readable by their owner only).
pub fn write_config(dir: &std::path::Path, base_url: &str) -> std::path::PathBuf {
    let keys = bulkrefund::sim::generate::write_sample_keys(dir).unwrap();
    let path = dir.join("bulkrefund.toml");
    std::fs::write(
        &path,
        bulkrefund::sim::generate::simulator_config(base_url, &keys, 2000, 32),
    )
    .unwrap();
    path
}

/// A generated batch of `rows` refunds and the orders that make them valid.
pub fn generated(
    dir: &std::path::Path,
    gateway: GatewayKind,
    rows: u64,
    prefix: &str,
) -> (std::path::PathBuf, Vec<OrderRow>) {
    let batch = dir.join(format!("{prefix}-{gateway}.csv"));
    let orders = dir.join(format!("{prefix}-{gateway}-orders.csv"));
    bulkrefund::sim::generate::write_batch(gateway, rows, prefix, &batch, Some(&orders)).unwrap();
    (
        batch,
        bulkrefund::sim::ledger::read_orders(&orders).unwrap(),
    )
}

/// The results file as (header, rows of column → value).
pub fn read_results(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

/// Every row's status is what the ledger holds for its refund; no refund was
/// created twice; a row is reported succeeded only if the ledger says so.
pub fn assert_results_match_ledger(
    rows: &[std::collections::HashMap<String, String>],
    id_column: &str,
    ledger: &bulkrefund::sim::ledger::LedgerSnapshot,
) {
    use bulkrefund::sim::ledger::RefundState;
    assert!(ledger.ids.iter().all(|id| id.created <= 1));
    for row in rows {
        let id = &row[id_column];
        let status = row["status"].as_str();
        match ledger.refund(id) {
            Some(refund) => {
                let expected = match refund.status {
                    RefundState::Succeeded => "succeeded",
                    RefundState::Failed => "failed",
                    RefundState::Processing => "processing",
                };
                assert_eq!(status, expected, "row for {id}: {row:?}");
                assert_eq!(row["gateway_refund_id"], refund.gateway_refund_id, "{id}");
                assert_eq!(row["refund_fen"], refund.amount_fen.to_string(), "{id}");
            }
            None => assert!(
                matches!(status, "failed" | "invalid" | "conflict" | "pending"),
                "row for {id} is {status} but the gateway never created it"
            ),
        }
    }
}

/// Engine flags for tests: no progress bar, a minute of polling.
pub fn quick() -> bulkrefund::cli::EngineArgs {
    bulkrefund::cli::EngineArgs {
        poll_for: Duration::from_secs(60),
        quiet: true,
        ..Default::default()
    }
}

/// A simulator, a configuration aimed at it and a journal in a temporary directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: bulkrefund::config::Config,
    pub sim: SimHandle,
}

pub async fn setup(orders: Vec<OrderRow>, faults: FaultConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(orders, faults).await;
    let config =
        bulkrefund::config::Config::load(&write_config(dir.path(), &sim.base_url())).unwrap();
    Setup { dir, config, sim }
}

impl Setup {
    pub fn journal(&self) -> std::path::PathBuf {
        self.dir.path().join("journal.db")
    }

    fn profiles(&self) -> bulkrefund::commands::run::Profiles<'_> {
        bulkrefund::commands::run::Profiles {
            config: &self.config,
            base_url: None,
        }
    }

    pub async fn run(
        &self,
        batch: &std::path::Path,
        profile: &str,
        engine: bulkrefund::cli::EngineArgs,
    ) -> bulkrefund::commands::run::RunOutcome {
        let request = bulkrefund::commands::run::RunRequest {
            batch,
            profile,
            read: bulkrefund::batch::ReadOptions::default(),
            out: None,
            journal_path: &self.journal(),
            engine,
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        bulkrefund::commands::run::run(request, &self.profiles(), cancel)
            .await
            .expect("run completes")
    }

    pub async fn resume(
        &self,
        engine: bulkrefund::cli::EngineArgs,
    ) -> bulkrefund::commands::run::RunOutcome {
        self.resume_with(Default::default(), engine).await
    }

    pub async fn resume_with(
        &self,
        request: bulkrefund::commands::run::ResumeRequest<'_>,
        engine: bulkrefund::cli::EngineArgs,
    ) -> bulkrefund::commands::run::RunOutcome {
        let cancel = tokio_util::sync::CancellationToken::new();
        bulkrefund::commands::run::resume(
            &self.journal(),
            request,
            &self.profiles(),
            &engine,
            cancel,
        )
        .await
        .expect("resume completes")
    }

    pub async fn retry(
        &self,
        batch: i64,
        new_ids: bool,
    ) -> Option<bulkrefund::commands::run::RunOutcome> {
        let request = bulkrefund::commands::retry::RetryRequest {
            journal_path: &self.journal(),
            batch,
            new_ids,
            yes: true,
            engine: quick(),
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        bulkrefund::commands::retry::run(request, &self.profiles(), cancel)
            .await
            .expect("retry completes")
    }

    pub fn plan(&self, batch: i64, new_ids: bool) -> bulkrefund::commands::retry::Plan {
        let journal = bulkrefund::journal::Journal::open_read_only(&self.journal())
            .unwrap()
            .unwrap();
        bulkrefund::commands::retry::plan(&journal, batch, new_ids).unwrap()
    }
}
