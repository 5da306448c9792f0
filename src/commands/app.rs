//! The one application path that `run`, `resume`, `retry` and `demo` share: the
//! configuration and the journal, the profiles (aimed at a simulator for the
//! demo), one pace per profile within one per gateway merchant, the engine
//! over a scope, then each affected batch's results file and the exit code
//! the outcome deserves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{Config, Profile};
use crate::engine::merchant_pace::MerchantPace;
use crate::engine::pacing::Pace;
use crate::engine::pg_ledger::PgRateLedger;
use crate::engine::rate_keys::{shared_rates, Merchant, ProfileRates};
use crate::engine::rate_ledger::{InProcessLedger, RateLedger};
use crate::engine::{self, EngineOptions, EngineReport};
use crate::exit::{self, UsageError};
use crate::journal::approval::{ApprovalStore, WaitingBatch};
use crate::journal::JournalLocation;
use crate::journal::{Journal, Scope};
use crate::options::{Locations, RunOptions};
use crate::paths::Protected;
use crate::report::results;
use crate::report::summary::BatchMoney;
use crate::zone::Zone;

/// What a command that sends works with.
pub struct App {
    pub config: Config,
    pub journal_at: JournalLocation,
    pub options: RunOptions,
    pub cancel: CancellationToken,
    /// Where times are shown (the results files' times carry its offset).
    pub zone: Zone,
    /// Every profile aimed at this simulator instead (the demo's): its
    /// scheme, host and port, each profile keeping its own path.
    base_url: Option<Url>,
}

impl App {
    pub fn new(
        config: Config,
        journal_at: JournalLocation,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> App {
        App {
            zone: crate::options::zone_of(&config),
            config,
            journal_at,
            options,
            cancel,
            base_url: None,
        }
    }

    /// The configuration and journal the command line names.
    pub fn load(
        locations: &Locations,
        options: RunOptions,
        cancel: CancellationToken,
    ) -> Result<App, UsageError> {
        let (config, journal_at) = locations.load()?;
        let zone = locations.zone(Some(&config))?;
        Ok(App {
            zone,
            ..App::new(config, journal_at, options, cancel)
        })
    }

    /// Aims every profile at the simulator at `base_url` (the demo). Each
    /// profile keeps its path: Alipay's gateway is `/gateway.do`, where the
    /// simulator serves it too, not the root the other gateways start from.
    pub fn aimed_at(self, base_url: Url) -> App {
        App {
            base_url: Some(base_url),
            ..self
        }
    }

    pub fn profile(&self, name: &str) -> Result<Profile, UsageError> {
        let profile = self.config.profile(name)?;
        Ok(match &self.base_url {
            Some(simulator) => {
                let mut url = simulator.clone();
                url.set_path(profile.base_url.path());
                profile.with_base_url(url)
            }
            None => profile,
        })
    }

    /// The paces of this command's profiles. On a PostgreSQL journal the
    /// merchants' rates are kept in the journal, shared by every process
    /// on it, over a connection of their own.
    pub fn paces(&self) -> anyhow::Result<Paces<'_>> {
        let ledger: Arc<dyn RateLedger> = match &self.journal_at {
            JournalLocation::File(_) => Arc::new(InProcessLedger::default()),
            JournalLocation::Postgres(place) => {
                Arc::new(PgRateLedger::on_journal(place.connect()?))
            }
        };
        Ok(Paces {
            app: self,
            made: HashMap::new(),
            merchants: HashMap::new(),
            ledger,
        })
    }

    /// The files an output path must never be: the journal and its companions,
    /// the configuration, and every batch input the journal knows.
    pub fn protected_files(&self, journal: Option<&Journal>) -> anyhow::Result<Protected> {
        let mut protected = Protected::new();
        self.journal_at
            .protect(&mut protected)
            .add(self.config.path(), "the configuration");
        if let Some(journal) = journal {
            for input in journal.batch_inputs()? {
                protected.add(&input, "the input of a batch in the journal");
            }
        }
        Ok(protected)
    }

    /// Opens a journal that must already exist, for writing; `batch`, when
    /// given, must be one of its batches (`resume` and `retry` work only on
    /// what is there).
    pub fn open_existing(&self, batch: Option<i64>) -> anyhow::Result<Journal> {
        if !self.journal_at.exists() {
            return Err(UsageError(format!(
                "There is no journal at '{}': nothing has been run",
                self.journal_at.display()
            ))
            .into());
        }
        let journal = self.journal_at.open()?;
        if let Some(id) = batch {
            if !journal.batch_exists(id)? {
                return Err(UsageError(format!(
                    "There is no batch {id} in the journal; `bulkrefund status` lists them"
                ))
                .into());
            }
        }
        Ok(journal)
    }

    /// Works every unresolved refund in `scope` to its end (or to the end of
    /// polling), then writes the results of every batch that lists one.
    pub async fn finish(
        &self,
        journal: Journal,
        paces: &mut Paces<'_>,
        scope: Scope,
    ) -> anyhow::Result<RunOutcome> {
        let affected = journal.affected_batches(&scope)?;
        let names = journal.unresolved_profiles(&scope)?;
        let paces = paces.for_names(&names)?;
        let settings = EngineOptions {
            poll_for: self.options.poll_for,
            show_progress: !self.options.quiet,
            zone: self.zone.clone(),
        };
        let (journal, report) =
            engine::run(journal, paces, scope.clone(), settings, self.cancel.clone()).await?;
        let mut outcome = RunOutcome::new(report);
        self.write_results(&journal, &scope, affected, &mut outcome)?;
        if outcome.report.interrupted {
            outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
        }
        if outcome.report.stopped.is_some() {
            outcome.exit_code = exit::FATAL;
        }
        Ok(outcome)
    }

    /// Each affected batch's results file and counts. A batch whose import an
    /// older bulkrefund left unfinished is reported, not written: its results
    /// would miss rows.
    fn write_results(
        &self,
        journal: &Journal,
        scope: &Scope,
        affected: Vec<i64>,
        outcome: &mut RunOutcome,
    ) -> anyhow::Result<()> {
        let unfinished = journal.unfinished_imports(scope.batches())?;
        for import in &unfinished {
            outcome.problems.push(import.describe());
            outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
        }
        // The run released its own claims: any live one is another process's.
        // Only said, never in the way of the results files below.
        outcome.held_elsewhere = match journal.held_elsewhere(scope) {
            Ok(held) => held.iter().map(|h| h.describe(&self.zone)).collect(),
            Err(e) => {
                tracing::warn!("which refunds other processes hold could not be read: {e}");
                Vec::new()
            }
        };
        // A batch waiting for approval sent nothing: its refunds stay pending (exit 4).
        outcome.waiting = journal.batches_waiting()?;
        outcome.waiting.retain(|w| affected.contains(&w.batch));
        if !outcome.waiting.is_empty() {
            outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
        }
        for batch in affected {
            if unfinished.iter().any(|u| u.batch == batch) {
                continue;
            }
            let money = BatchMoney::for_batch(journal, batch)?;
            outcome.exit_code = outcome.exit_code.max(money.exit_code());
            let Some(path) = journal.results_path(batch)? else {
                continue;
            };
            // One batch's unwritable results file does not keep the others from theirs.
            let bom = self.options.excel || journal.results_bom(batch)?;
            if let Err(e) = results::write(journal, batch, &path, bom, &self.zone) {
                outcome.problems.push(format!(
                    "the results of batch {batch} cannot be written to '{}' ({e:#}); they are safe in \
                     the journal: fix that, or run `bulkrefund resume --batch {batch} --out OTHER.csv`",
                    path.display()
                ));
                outcome.exit_code = exit::FATAL;
                continue;
            }
            let finished = money.exit_code() != exit::UNRESOLVED;
            outcome.batches.push((batch, path, money));
            // Only once its results file is written with nothing unresolved is a
            // batch finished: one that is not has its results rewritten by the
            // next resume, until every refund it lists has ended.
            journal.set_finished(batch, finished)?;
        }
        Ok(())
    }
}

/// The pace (rate limiter, in-flight bound, client) of each profile a command
/// uses, made once: every request of a profile in one process, the retry's
/// checks as much as the engine's, is counted by the same limiter, and every
/// profile of one gateway merchant by that merchant's one limiter.
pub struct Paces<'a> {
    app: &'a App,
    made: HashMap<String, Arc<Pace>>,
    merchants: HashMap<Merchant, Arc<MerchantPace>>,
    /// Where the merchants' rates are kept: in this process, or in a
    /// PostgreSQL journal.
    ledger: Arc<dyn RateLedger>,
}

impl Paces<'_> {
    pub fn get(&mut self, name: &str) -> anyhow::Result<Arc<Pace>> {
        if let Some(pace) = self.made.get(name) {
            return Ok(pace.clone());
        }
        let profile = self.app.profile(name).map_err(|e| {
            UsageError(format!(
                "refunds of profile '{name}' need work, but the profile cannot be used: {e}"
            ))
        })?;
        let settings = self.app.options.pace_for(&profile);
        let merchant = self.merchant_pace(&profile);
        let pace = Arc::new(Pace::new(profile.client()?, &settings, merchant));
        self.made.insert(name.to_owned(), pace.clone());
        Ok(pace)
    }

    /// The pace of `profile`'s gateway merchant, made at the first of its
    /// profiles, at the lowest rates of every profile of the configuration
    /// that is that merchant (those whose settings do not check send
    /// nothing): a run says once when they differ.
    fn merchant_pace(&mut self, profile: &Profile) -> Arc<MerchantPace> {
        let merchant = Merchant {
            gateway: profile.gateway,
            merchant_id: profile.merchant_id.clone(),
        };
        if let Some(pace) = self.merchants.get(&merchant) {
            return pace.clone();
        }
        let options = &self.app.options;
        let own = options.pace_for(profile);
        let mut profiles = vec![ProfileRates {
            name: profile.name.clone(),
            merchant: merchant.clone(),
            rate: own.rate,
            query_rate: own.query_rate,
            concurrency: own.concurrency,
        }];
        let config = &self.app.config;
        for name in config.profile_names().filter(|n| *n != profile.name) {
            if let Some(other) = config.pace_of(name) {
                profiles.push(ProfileRates {
                    name: name.to_owned(),
                    merchant: Merchant {
                        gateway: other.gateway,
                        merchant_id: other.merchant_id,
                    },
                    // The flags apply to every profile alike.
                    rate: options.rate.unwrap_or(other.rate),
                    query_rate: other.query_rate,
                    concurrency: options.concurrency.unwrap_or(other.concurrency),
                });
            }
        }
        let (rates, warning) = shared_rates(&merchant, &profiles).expect("the profile is its own");
        if let Some(warning) = warning {
            crate::say!("{warning}");
        }
        let pace = Arc::new(MerchantPace::new(
            merchant.clone(),
            rates,
            self.ledger.clone(),
        ));
        self.merchants.insert(merchant, pace.clone());
        pace
    }

    /// The paces of these profiles, for the engine.
    fn for_names(&mut self, names: &[String]) -> anyhow::Result<HashMap<String, Arc<Pace>>> {
        names
            .iter()
            .map(|name| Ok((name.clone(), self.get(name)?)))
            .collect()
    }
}

/// The outcome of a run, resume or retry, for the caller to print or test.
pub struct RunOutcome {
    pub exit_code: u8,
    pub batches: Vec<(i64, PathBuf, BatchMoney)>,
    pub report: EngineReport,
    /// What went wrong besides the refunds themselves (a results file that
    /// could not be written, an import left unfinished), for the operator.
    pub problems: Vec<String>,
    /// What `resume --review` learned about each refund in review.
    pub notes: Vec<String>,
    /// Refunds left in review in the command's scope (`resume` says so, and exits 3).
    pub in_review: usize,
    /// The batches in scope that wait for a second person's approval: nothing of them was sent.
    pub waiting: Vec<WaitingBatch>,
    /// Refunds of the scope other processes hold under a live claim (a
    /// shared journal), said: why this run could not finish them.
    pub held_elsewhere: Vec<String>,
}

impl RunOutcome {
    fn new(report: EngineReport) -> RunOutcome {
        RunOutcome {
            exit_code: exit::SUCCESS,
            batches: Vec::new(),
            report,
            problems: Vec::new(),
            notes: Vec::new(),
            in_review: 0,
            waiting: Vec::new(),
            held_elsewhere: Vec::new(),
        }
    }

    /// The summary on stderr: each batch's money, time, achieved rate.
    pub fn print(&self) {
        let report = &self.report;
        for note in &self.notes {
            crate::say!("{note}");
        }
        for waiting in &self.waiting {
            crate::say!("{}", waiting.describe());
        }
        if self.in_review > 0 {
            crate::say!(
                "{} refunds are in review (a verified answer about another refund): `bulkrefund status` \
                 shows them; `bulkrefund resume --review` asks the gateway about each once",
                self.in_review
            );
        }
        if self
            .batches
            .iter()
            .any(|(_, _, money)| !money.intents.abnormal.is_zero())
        {
            crate::say!(
                "abnormal refunds (accepted, but the money reached nobody) need a person at the gateway: \
                 `bulkrefund show REFUND_ID` says what to do; they are never resent, and \
                 `bulkrefund resume` asks the gateway about each at most hourly"
            );
        }
        for (batch, path, money) in &self.batches {
            crate::say!("batch {batch}:");
            crate::say_part!("{}", money.table());
            crate::say!("results: {}", path.display());
        }
        if self.batches.is_empty() && self.problems.is_empty() {
            crate::say!("nothing was unresolved");
        }
        let seconds = report
            .elapsed
            .as_secs_f64()
            .max(Duration::from_millis(1).as_secs_f64());
        crate::say!(
            "{} requests in {:.1}s ({:.1} requests/s){}",
            report.requests,
            report.elapsed.as_secs_f64(),
            report.requests as f64 / seconds,
            if report.interrupted {
                "; interrupted: run `bulkrefund resume` to finish"
            } else {
                ""
            }
        );
        // One line per gateway merchant: its profiles share its rate.
        for (merchant, limit) in &report.limits {
            if report.requests > 0 {
                crate::say!("{merchant}: {}", limit.describe());
            }
        }
        if let Some(why) = &report.stopped {
            crate::say_error!(
                "Error: the run stopped sending: {why}. Nothing more was sent. Fix the profile, then \
                 run `bulkrefund resume`: it sends the refunds never created, and queries those left unknown."
            );
        }
        for problem in &self.problems {
            crate::say_error!("Error: {problem}");
        }
        // An exit 4 that `resume` cannot help (an import to run again) has said so above.
        let resumable = self.report.interrupted || !self.unresolved().is_empty();
        let only_waiting = !self.waiting.is_empty() && !resumable;
        if self.exit_code == exit::UNRESOLVED
            && !only_waiting
            && (resumable || self.problems.is_empty())
        {
            crate::say!("{}", self.resume_hint());
        }
    }

    /// What to do about an exit 4: the batches with refunds still unresolved
    /// and the command that finishes them.
    pub fn resume_hint(&self) -> String {
        let unresolved: Vec<String> = self
            .unresolved()
            .into_iter()
            .map(|(batch, _, money)| {
                format!(
                    "batch {batch}: {} unresolved",
                    money.intents.unresolved.count
                )
            })
            .collect();
        let command = match self.batches.as_slice() {
            [(batch, _, _)] => format!("bulkrefund resume --batch {batch}"),
            _ => "bulkrefund resume".to_owned(),
        };
        if unresolved.is_empty() {
            format!("Not everything has ended: run `{command}` to finish it.")
        } else if self.held_elsewhere.is_empty() {
            format!(
                "Not everything has ended ({}): the gateway has not said how they end yet. Run `{command}` to finish them; nothing is sent twice.",
                unresolved.join(", ")
            )
        } else {
            format!(
                "Not everything has ended ({}): {}. Nothing is sent twice.",
                unresolved.join(", "),
                self.held_elsewhere.join("; ")
            )
        }
    }
}

impl RunOutcome {
    /// The batches with refunds unresolved that `resume` can finish now
    /// (those waiting for approval aside: they are said apart).
    fn unresolved(&self) -> Vec<&(i64, PathBuf, BatchMoney)> {
        self.batches
            .iter()
            .filter(|(batch, _, money)| {
                !money.intents.unresolved.is_zero()
                    && !self.waiting.iter().any(|w| w.batch == *batch)
            })
            .collect()
    }
}

/// The default results file: `BATCH.results.csv` beside the input.
pub fn default_results_path(batch: &Path) -> PathBuf {
    let stem = batch
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "batch".into());
    batch.with_file_name(format!("{stem}.results.csv"))
}
