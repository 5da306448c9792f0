//! `bulkrefund run`: the checks before anything is sent (the batch file, the
//! output path, the journal), the import, then the application path every
//! sending command shares ([`App::finish`]).
//!
//! The batch is read twice: a scan (encoding, text, quoting, header, hash)
//! before the journal is touched, then the import, which checks each row once.

use std::path::{Path, PathBuf};

use super::app::{default_results_path, App, RunOutcome};
use super::look::Look;
use crate::batch::{self, CheckedBatch, ReadOptions, Scanned};
use crate::cli::RunArgs;
use crate::config::Profile;
use crate::exit::{Interrupted, UsageError};
use crate::journal::approval::ApprovalStore;
use crate::journal::import::{self, BatchMeta, ImportError};
use crate::journal::{Journal, Scope};
use crate::options::{Locations, RunOptions};
use crate::paths;

/// `bulkrefund run BATCH --profile P`.
pub async fn main(locations: &Locations, args: RunArgs) -> anyhow::Result<u8> {
    let app = App::load(
        locations,
        RunOptions::from(&args.engine),
        super::interrupt::install(),
    )?;
    let request = RunRequest {
        batch: &args.batch,
        profile: &args.profile,
        read: args.input.read_options(),
        out: args.out,
        yes: args.yes,
        allow_over_limit: args.allow_over_limit,
        excel: args.engine.excel,
        no_bom: args.no_bom,
    };
    let outcome = run(&app, request).await?;
    outcome.print();
    Ok(outcome.exit_code)
}

/// What `run` is asked to do.
pub struct RunRequest<'a> {
    pub batch: &'a Path,
    pub profile: &'a str,
    pub read: ReadOptions,
    /// The results file (default: `BATCH.results.csv` beside the input).
    pub out: Option<PathBuf>,
    /// Send without asking (required without a terminal).
    pub yes: bool,
    /// Send a batch over the profile's `max_batch_yuan` / `max_refund_yuan`.
    pub allow_over_limit: bool,
    /// `--excel`: the results file starts with a BOM.
    pub excel: bool,
    /// `--no-bom`: it does not, even for a GBK batch.
    pub no_bom: bool,
}

impl<'a> RunRequest<'a> {
    /// `run BATCH --profile P --yes`, every other flag at its default: what
    /// the demo and the tests ask for.
    pub fn confirmed(batch: &'a Path, profile: &'a str) -> RunRequest<'a> {
        RunRequest {
            batch,
            profile,
            read: ReadOptions::default(),
            out: None,
            yes: true,
            allow_over_limit: false,
            excel: false,
            no_bom: false,
        }
    }
}

/// Records the batch, then sends what it holds that is new.
pub async fn run(app: &App, request: RunRequest<'_>) -> anyhow::Result<RunOutcome> {
    let profile = app.profile(request.profile)?;
    // Every file-level problem is found before the journal is touched.
    let scanned = batch::scan(
        request.batch,
        &request.read,
        profile.spec(),
        profile.row_defaults(),
    )
    .map_err(|e| super::suggest::file_error(&app.config, &profile.name, e))?;
    let results_path = request
        .out
        .clone()
        .unwrap_or_else(|| default_results_path(request.batch));
    // The results file must be writable, and not a file that matters, before
    // anything is recorded or sent.
    let mut protected = app.protected_files(None)?;
    protected.add(request.batch, "the input batch");
    protected.check(&results_path, "--out")?;
    paths::check_writable(&results_path, "--out")?;
    let mut journal = app.journal_at.open()?;
    app.protected_files(Some(&journal))?
        .check(&results_path, "--out")?;
    let meta = batch_meta(&request, &profile, &scanned, &results_path);
    let rows = CheckedBatch::open_scanned(
        request.batch,
        &scanned,
        profile.spec(),
        profile.row_defaults(),
    )
    .map_err(usage)?;
    let look = Look {
        profile: &profile,
        file: request.batch,
        earlier: journal.batches_with_hash(&scanned.sha256)?,
        yes: request.yes,
        allow_over_limit: request.allow_over_limit,
        zone: &app.zone,
        person: journal.person()?,
    };
    super::interrupt::set_phase(super::interrupt::Phase::Importing);
    let recorded = record(app, &mut journal, &meta, rows, &look);
    super::interrupt::set_phase(super::interrupt::Phase::Sending);
    let batch_id = recorded?;
    let mut paces = app.paces()?;
    app.finish(journal, &mut paces, Scope::Batches(vec![batch_id]))
        .await
}

fn batch_meta(
    request: &RunRequest,
    profile: &Profile,
    scanned: &Scanned,
    results_path: &Path,
) -> BatchMeta {
    BatchMeta {
        file_name: request.batch.display().to_string(),
        file_hash: scanned.sha256.clone(),
        profile: profile.name.clone(),
        gateway: profile.gateway,
        merchant_id: profile.merchant_id.clone(),
        header: scanned.header.clone(),
        input_path: std::fs::canonicalize(request.batch)
            .ok()
            .map(|p| p.display().to_string()),
        results_path: Some(results_path.display().to_string()),
        results_bom: !request.no_bom && (request.excel || scanned.results_want_bom()),
    }
}

/// The import: the batch's second read, each row checked once and recorded,
/// all in one transaction, which commits only once the look before paying
/// says yes. Returns the batch's id.
fn record(
    app: &App,
    journal: &mut Journal,
    meta: &BatchMeta,
    rows: CheckedBatch,
    look: &Look,
) -> anyhow::Result<i64> {
    let mut shown = 0;
    let tally = import::import_deciding(
        journal,
        meta,
        rows,
        || app.cancel.is_cancelled(),
        |problem| {
            shown += 1;
            if shown <= 20 {
                crate::say!("{problem}");
            } else if shown == 21 {
                crate::say!("... more problems are listed in the results file");
            }
        },
        |tally| look.decide(tally, || app.cancel.is_cancelled()),
    )
    .map_err(|e| match e {
        ImportError::File(e) => usage(e),
        ImportError::Journal(e) => anyhow::Error::new(e)
            .context("the batch could not be recorded, and nothing of it was: nothing was sent"),
        ImportError::Interrupted => Interrupted(e.to_string()).into(),
        ImportError::Refused(refusal) => UsageError(refusal.why).into(),
    })?;
    let batch_id = tally.batch_id.expect("import returns the batch id");
    tracing::info!(
        batch_id,
        new = tally.new,
        known = tally.known,
        "batch recorded"
    );
    Ok(batch_id)
}

fn usage(e: crate::batch::FileError) -> anyhow::Error {
    UsageError(e.to_string()).into()
}
