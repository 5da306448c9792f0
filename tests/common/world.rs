//! The one fixture every scenario starts from: a simulator on 127.0.0.1:0
//! seeded with orders, a configuration aimed at it, and a journal, in a
//! temporary directory. Commands run in-process through the application path
//! the binary uses, or as the real binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bulkrefund::commands::app::{default_results_path, App, RunOutcome};
use bulkrefund::commands::resume::{self, ResumeRequest};
use bulkrefund::commands::retry::{self, Plan, RetryRequest};
use bulkrefund::commands::run::{self, RunRequest};
use bulkrefund::config::Config;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::{Journal, JournalLocation};
use bulkrefund::options::RunOptions;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::LedgerSnapshot;
use bulkrefund::sim::{self, SimConfig, SimHandle};
use tokio_util::sync::CancellationToken;

use super::build::{Orders, Profiles};

pub struct World {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    /// `bulkrefund.toml`, aimed at the simulator.
    pub config: PathBuf,
    /// A PostgreSQL journal the real binary uses instead of the SQLite file.
    pub pg: Option<PgJournalAt>,
}

pub use super::journal_at::PgJournalAt;

/// What the binary printed and how it ended.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub async fn start_sim(orders: impl Into<Orders>, faults: FaultConfig) -> SimHandle {
    let mut config = SimConfig::with_sample_keys(orders.into().into());
    config.faults = faults;
    sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// Engine options for tests: no progress bar, a minute of polling.
/// A gateway that fails every refund it creates: each id is used up.
pub fn every_refund_fails() -> FaultConfig {
    FaultConfig {
        fail_refund_rate: 1.0,
        ..FaultConfig::default()
    }
}

pub fn quick() -> RunOptions {
    RunOptions {
        poll_for: Duration::from_secs(60),
        quiet: true,
        ..RunOptions::default()
    }
}

impl World {
    /// A world with the sample profiles.
    pub async fn start(orders: impl Into<Orders>, faults: FaultConfig) -> World {
        World::with_profiles(orders, faults, Profiles::default()).await
    }

    pub async fn with_profiles(
        orders: impl Into<Orders>,
        faults: FaultConfig,
        profiles: Profiles,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let sim = start_sim(orders, faults).await;
        let config = profiles.write(dir.path(), &sim.base_url());
        World {
            dir,
            sim,
            config,
            pg: None,
        }
    }

    /// A world whose gateway knows the orders of a generated batch of `rows`
    /// refunds (ids prefixed `prefix`); returns the batch, in the world's directory.
    pub async fn with_generated(
        gateway: GatewayKind,
        rows: u64,
        prefix: &str,
        faults: FaultConfig,
    ) -> (World, PathBuf) {
        let scratch = tempfile::tempdir().unwrap();
        let (generated, orders) = super::generated(scratch.path(), gateway, rows, prefix);
        let world = World::start(orders, faults).await;
        let batch = world.path(generated.file_name().unwrap().to_str().unwrap());
        std::fs::rename(&generated, &batch)
            .or_else(|_| std::fs::copy(&generated, &batch).map(drop))
            .unwrap();
        (world, batch)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn journal(&self) -> PathBuf {
        self.path("journal.db")
    }

    /// Every attempt the journal holds, each refund's in the order they were
    /// made: (refund id, kind, outcome).
    pub fn attempts(&self) -> Vec<(String, String, String)> {
        let conn = rusqlite::Connection::open(self.journal()).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT f.refund_id, a.kind, a.outcome FROM attempts a \
                 JOIN refunds f ON f.id = a.refund ORDER BY a.refund, a.id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    }

    /// Writes a file into the world's directory.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn ledger(&self) -> LedgerSnapshot {
        self.sim.ledger()
    }

    /// A batch's results file, as rows of column → value.
    pub fn results(&self, batch: &Path) -> Vec<HashMap<String, String>> {
        super::read_results(&default_results_path(batch))
    }

    /// The journal, read-only.
    pub fn read_journal(&self) -> Journal {
        Journal::open_read_only(&self.journal())
            .unwrap()
            .expect("the journal exists")
    }

    pub fn app(&self, options: RunOptions) -> App {
        let config = Config::load(&self.config).unwrap();
        App::new(
            config,
            JournalLocation::file(self.journal()),
            options,
            CancellationToken::new(),
        )
    }

    pub async fn run(&self, batch: &Path, profile: &str, options: RunOptions) -> RunOutcome {
        let request = RunRequest::confirmed(batch, profile);
        run::run(&self.app(options), request)
            .await
            .expect("run completes")
    }

    pub async fn resume(&self, options: RunOptions) -> RunOutcome {
        self.resume_with(ResumeRequest::default(), options).await
    }

    pub async fn resume_with(&self, request: ResumeRequest<'_>, options: RunOptions) -> RunOutcome {
        resume::resume(&self.app(options), request)
            .await
            .expect("resume completes")
    }

    /// `retry --batch B --failed [--new-ids] --yes`.
    pub async fn retry(&self, batch: i64, new_ids: bool) -> Option<RunOutcome> {
        self.retry_with(batch, new_ids, quick()).await
    }

    pub async fn retry_with(
        &self,
        batch: i64,
        new_ids: bool,
        options: RunOptions,
    ) -> Option<RunOutcome> {
        let request = RetryRequest {
            batch,
            new_ids,
            yes: true,
            allow_over_limit: false,
        };
        retry::run(&self.app(options), request)
            .await
            .expect("retry completes")
    }

    /// What `retry` would do, before it asks the gateway.
    pub fn plan(&self, batch: i64, new_ids: bool) -> Plan {
        retry::plan(&self.read_journal(), batch, new_ids).unwrap()
    }

    /// The real binary with this world's configuration and `journal`
    /// (`--quiet` for the commands that send).
    pub fn command_with_journal(&self, journal: &Path, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"));
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--journal")
            .arg(journal)
            // No terminal here: `run` sends only when told to.
            .args(matches!(args.first(), Some(&"run")).then_some("--yes"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// The real binary on the world's journal: its SQLite file, or its
    /// PostgreSQL journal when it has one.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        match &self.pg {
            None => self.command_with_journal(&self.journal(), args),
            Some(pg) => {
                let mut command = self.command_with_journal(Path::new(&pg.url), args);
                command.env("PGPASSFILE", &pg.passfile);
                command
            }
        }
    }

    /// The rows `sql` selects from the world's journal, whichever it is,
    /// every column as text (write `CAST(x AS TEXT)`: both databases read
    /// it); none when there is no journal yet.
    pub fn journal_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.pg {
            None => {
                if !self.journal().exists() {
                    return Vec::new();
                }
                let conn = rusqlite::Connection::open(self.journal()).unwrap();
                let mut select = conn.prepare(sql).unwrap();
                let width = select.column_count();
                let rows = select
                    .query_map([], |r| (0..width).map(|i| r.get(i)).collect())
                    .unwrap();
                rows.collect::<Result<_, _>>().unwrap()
            }
            Some(pg) => bulkrefund::journal::postgres::outside_async(|| {
                let mut client = pg.reader.connect(postgres::NoTls).unwrap();
                client
                    .query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                    .collect()
            }),
        }
    }

    /// Runs the real binary to its end.
    pub async fn bulkrefund(&self, args: &[&str]) -> Output {
        output(self.command(args)).await
    }

    pub async fn bulkrefund_with_journal(&self, journal: &Path, args: &[&str]) -> Output {
        output(self.command_with_journal(journal, args)).await
    }
}

async fn output(mut command: tokio::process::Command) -> Output {
    let output = command.output().await.unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
