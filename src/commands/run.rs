//! `bulkrefund run` and `bulkrefund resume`: the checks before anything is sent
//! (the batch file, the output path, the journal), the import (for run), the
//! engine, the results files and the summary, and the exit code the outcome
//! deserves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::batch::{file_sha256, CheckedBatch, ReadOptions};
use crate::cli::EngineArgs;
use crate::config::{Config, Profile};
use crate::engine::ask::ask_once;
use crate::engine::pacing::Pace;
use crate::engine::{self, EngineOptions, EngineReport};
use crate::exit::{self, Interrupted, UsageError};
use crate::gateway::Outcome;
use crate::journal::import::{self, BatchMeta, ImportError};
use crate::journal::{Journal, Scope, State};
use crate::paths::{self, Protected};
use crate::report::results;
use crate::report::summary::StatusCounts;

/// Where profiles come from: the configuration, and (for the demo and tests) a base URL to aim them at.
pub struct Profiles<'a> {
    pub config: &'a Config,
    pub base_url: Option<url::Url>,
}

impl Profiles<'_> {
    pub fn get(&self, name: &str) -> Result<Profile, UsageError> {
        let profile = self.config.profile(name)?;
        Ok(match &self.base_url {
            Some(url) => profile.with_base_url(url.clone()),
            None => profile,
        })
    }
}

/// The pace (rate limiter, in-flight bound, client) of each profile a command
/// uses, made once: every request of a profile in one process, the retry's
/// checks as much as the engine's, is counted by the same limiter.
pub struct Paces<'a> {
    profiles: &'a Profiles<'a>,
    engine: &'a EngineArgs,
    made: HashMap<String, Arc<Pace>>,
}

impl<'a> Paces<'a> {
    pub fn new(profiles: &'a Profiles<'a>, engine: &'a EngineArgs) -> Paces<'a> {
        Paces {
            profiles,
            engine,
            made: HashMap::new(),
        }
    }

    pub fn get(&mut self, name: &str) -> anyhow::Result<Arc<Pace>> {
        if let Some(pace) = self.made.get(name) {
            return Ok(pace.clone());
        }
        let profile = self.profiles.get(name).map_err(|e| {
            UsageError(format!(
                "refunds of profile '{name}' need work, but the profile cannot be used: {e}"
            ))
        })?;
        let pace = Arc::new(
            Pace::new(
                profile.client()?,
                self.engine.rate.unwrap_or(profile.rate),
                self.engine.concurrency.unwrap_or(profile.concurrency),
                self.engine.max_attempts.unwrap_or(profile.max_attempts),
            )
            .with_same_order_gap(profile.same_order_gap),
        );
        self.made.insert(name.to_owned(), pace.clone());
        Ok(pace)
    }

    /// The paces of these profiles, for the engine.
    fn for_names(&mut self, names: &[String]) -> anyhow::Result<HashMap<String, Arc<Pace>>> {
        names
            .iter()
            .map(|name| Ok((name.clone(), self.get(name)?)))
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

/// What `run` needs besides the engine flags.
pub struct RunRequest<'a> {
    pub batch: &'a Path,
    pub profile: &'a str,
    pub read: ReadOptions,
    pub out: Option<PathBuf>,
    pub journal_path: &'a Path,
    pub engine: EngineArgs,
}

/// The outcome of a run or resume, for the caller to print or test.
pub struct RunOutcome {
    pub exit_code: u8,
    pub batches: Vec<(i64, PathBuf, StatusCounts)>,
    pub report: EngineReport,
    /// What went wrong besides the refunds themselves (a results file that
    /// could not be written, an import left unfinished), for the operator.
    pub problems: Vec<String>,
    /// What `resume --review` learned about each refund in review.
    pub notes: Vec<String>,
}

/// The files an output path must never be: the journal and its companions,
/// the configuration, and every batch input the journal knows.
fn protected_files(
    journal_path: &Path,
    config: &Config,
    journal: Option<&Journal>,
) -> anyhow::Result<Protected> {
    let mut protected = Protected::new();
    protected
        .journal(journal_path)
        .add(config.path(), "the configuration");
    if let Some(journal) = journal {
        for input in journal.batch_inputs()? {
            protected.add(&input, "the input of a batch in the journal");
        }
    }
    Ok(protected)
}

pub async fn run(
    request: RunRequest<'_>,
    profiles: &Profiles<'_>,
    cancel: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let profile = profiles.get(request.profile)?;
    // Every file-level problem is found before the journal is touched.
    let prescan = CheckedBatch::open(
        request.batch,
        &request.read,
        profile.spec(),
        profile.row_defaults(),
    )
    .map_err(usage)?;
    let header = prescan.header.clone();
    // The import reads with the encoding the scan found, instead of detecting it again.
    let read = ReadOptions {
        encoding: Some(prescan.encoding_name().to_owned()),
        ..request.read.clone()
    };
    for row in prescan {
        row.map_err(usage)?;
    }
    // The results file must be writable, and not a file that matters, before
    // anything is recorded or sent.
    let results_path = request
        .out
        .clone()
        .unwrap_or_else(|| default_results_path(request.batch));
    let mut protected = protected_files(request.journal_path, profiles.config, None)?;
    protected.add(request.batch, "the input batch");
    protected.check(&results_path, "--out")?;
    paths::check_writable(&results_path, "--out")?;
    let meta = BatchMeta {
        file_name: request.batch.display().to_string(),
        file_hash: file_sha256(request.batch).map_err(usage)?,
        profile: profile.name.clone(),
        gateway: profile.gateway,
        merchant_id: profile.merchant_id.clone(),
        header,
        input_path: std::fs::canonicalize(request.batch)
            .ok()
            .map(|p| p.display().to_string()),
        results_path: Some(results_path.display().to_string()),
    };
    let mut journal = Journal::open(request.journal_path)?;
    protected_files(request.journal_path, profiles.config, Some(&journal))?
        .check(&results_path, "--out")?;
    let rows = CheckedBatch::open(request.batch, &read, profile.spec(), profile.row_defaults())
        .map_err(usage)?;
    let mut shown = 0;
    let tally = import::import(
        &mut journal,
        &meta,
        rows,
        || cancel.is_cancelled(),
        |problem| {
            shown += 1;
            if shown <= 20 {
                crate::say!("{problem}");
            } else if shown == 21 {
                crate::say!("... more problems are listed in the results file");
            }
        },
    )
    .map_err(|e| match e {
        ImportError::File(e) => usage(e),
        ImportError::Journal(e) => anyhow::Error::new(e)
            .context("the batch could not be recorded, and nothing of it was: nothing was sent"),
        ImportError::Interrupted => Interrupted(e.to_string()).into(),
    })?;
    let batch_id = tally.batch_id.expect("import returns the batch id");
    tracing::info!(
        batch_id,
        new = tally.new,
        known = tally.known,
        "batch recorded"
    );
    let mut paces = Paces::new(profiles, &request.engine);
    finish(journal, &mut paces, Scope::Batches(vec![batch_id]), cancel).await
}

/// What `resume` is asked to do besides finishing what is unresolved.
#[derive(Clone, Debug, Default)]
pub struct ResumeRequest<'a> {
    /// Only this batch.
    pub batch: Option<i64>,
    /// With a batch: its results file from now on.
    pub out: Option<&'a Path>,
    /// Ask the gateway once about each refund in review.
    pub review: bool,
}

/// `resume`: the engine over what is unresolved (in one batch, or all). With
/// `out` (and a batch), that batch's results go to a new file from now on;
/// with `review`, each refund in review is asked about once first.
pub async fn resume(
    journal_path: &Path,
    request: ResumeRequest<'_>,
    profiles: &Profiles<'_>,
    engine: &EngineArgs,
    cancel: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let ResumeRequest { batch, out, review } = request;
    let journal = open_existing(journal_path, batch)?;
    if let Some(out) = out {
        let Some(batch) = batch else {
            return Err(UsageError(
                "--out names the results file of one batch: give --batch too".into(),
            )
            .into());
        };
        protected_files(journal_path, profiles.config, Some(&journal))?.check(out, "--out")?;
        paths::check_writable(out, "--out")?;
        journal.set_results_path(batch, out)?;
    }
    let scope = match batch {
        Some(id) => Scope::Batches(vec![id]),
        None => Scope::All,
    };
    let mut paces = Paces::new(profiles, engine);
    let notes = if review {
        settle_reviews(&journal, &mut paces, &scope, &cancel).await?
    } else {
        Vec::new()
    };
    let mut outcome = finish(journal, &mut paces, scope, cancel).await?;
    outcome.notes = notes;
    Ok(outcome)
}

/// `resume --review`: one query for each refund in review, asked for by the
/// operator (never by the engine). A verified answer about that very refund
/// settles it; anything else leaves it in review.
async fn settle_reviews(
    journal: &Journal,
    paces: &mut Paces<'_>,
    scope: &Scope,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for record in journal.refunds_in_review(scope)? {
        let pace = paces.get(&record.profile)?;
        let id = &record.refund_id;
        let Some(asked) = ask_once(journal, &pace, &record, cancel).await? else {
            notes.push(format!("{id}: interrupted before the gateway was asked"));
            break;
        };
        if asked.state == State::Review {
            let why = match asked.outcome {
                Outcome::Mismatch { what } => what,
                Outcome::Unknown { why } | Outcome::Retry { why, .. } => why,
                Outcome::Rejected { code, why } => format!("{code}: {why}"),
                other => format!("{other:?}"),
            };
            notes.push(format!("{id}: still in review ({why})"));
        } else {
            notes.push(format!(
                "{id}: settled by the gateway's answer about it: {}",
                asked.state.status()
            ));
        }
    }
    Ok(notes)
}

/// Opens a journal that must already exist, for writing; `batch`, when given,
/// must be one of its batches. (`resume` and `retry` work only on what is there.)
pub(crate) fn open_existing(journal_path: &Path, batch: Option<i64>) -> anyhow::Result<Journal> {
    if !journal_path.exists() {
        return Err(UsageError(format!(
            "There is no journal at '{}': nothing has been run",
            journal_path.display()
        ))
        .into());
    }
    let journal = Journal::open(journal_path)?;
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

pub(crate) async fn finish(
    journal: Journal,
    paces: &mut Paces<'_>,
    scope: Scope,
    cancel: CancellationToken,
) -> anyhow::Result<RunOutcome> {
    let engine_args = paces.engine;
    let affected = journal.affected_batches(&scope)?;
    let names = journal.unresolved_profiles(&scope)?;
    let paces = paces.for_names(&names)?;
    let options = EngineOptions {
        poll_for: engine_args.poll_for,
        show_progress: !engine_args.quiet,
    };
    let (journal, report) = engine::run(journal, paces, scope.clone(), options, cancel).await?;
    let mut outcome = RunOutcome {
        exit_code: exit::SUCCESS,
        batches: Vec::new(),
        report,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    // A batch whose import an older bulkrefund left unfinished is reported, not
    // written: its results would miss rows.
    let unfinished = journal.unfinished_imports(scope.batches())?;
    for import in &unfinished {
        outcome.problems.push(import.describe());
        outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
    }
    for batch in affected {
        if unfinished.iter().any(|u| u.batch == batch) {
            continue;
        }
        let counts = StatusCounts::outcomes_for_batch(&journal, batch)?;
        outcome.exit_code = outcome.exit_code.max(counts.exit_code());
        let Some(path) = journal.results_path(batch)? else {
            continue;
        };
        // One batch's unwritable results file does not keep the others from theirs.
        if let Err(e) = results::write(&journal, batch, &path, engine_args.excel) {
            outcome.problems.push(format!(
                "the results of batch {batch} cannot be written to '{}' ({e:#}); they are safe in \
                 the journal: fix that, or run `bulkrefund resume --batch {batch} --out OTHER.csv`",
                path.display()
            ));
            outcome.exit_code = exit::FATAL;
            continue;
        }
        outcome
            .batches
            .push((batch, path, StatusCounts::for_batch(&journal, batch)?));
        // Only once its results file is written with nothing unresolved is a
        // batch finished: one that is not has its results rewritten by the
        // next resume, until every refund it lists has ended.
        journal.set_finished(batch, counts.exit_code() != exit::UNRESOLVED)?;
    }
    if outcome.report.interrupted {
        outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
    }
    if outcome.report.stopped.is_some() {
        outcome.exit_code = exit::FATAL;
    }
    Ok(outcome)
}

fn usage(e: crate::batch::FileError) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// The summary on stderr: counts and yuan per status, time, achieved rate.
pub fn print_summary(outcome: &RunOutcome) {
    let report = &outcome.report;
    for note in &outcome.notes {
        crate::say!("{note}");
    }
    for (batch, path, counts) in &outcome.batches {
        crate::say!("batch {batch}:");
        crate::say_part!("{}", counts.table());
        crate::say!("results: {}", path.display());
    }
    if outcome.batches.is_empty() && outcome.problems.is_empty() {
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
    if let Some(why) = &report.stopped {
        crate::say!(
            "Error: the run stopped sending: {why}. Nothing more was sent; the refunds it refused \
             are pending again (never created). Fix the profile, then run `bulkrefund resume`."
        );
    }
    for problem in &outcome.problems {
        crate::say!("Error: {problem}");
    }
}
