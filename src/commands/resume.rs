//! `bulkrefund resume`: finish what earlier runs left unresolved, in one batch
//! or all, through the application path every sending command shares. With
//! `--out` (and a batch), that batch's results go to a new file from now on;
//! with `--review`, each refund in review is asked about once first. What it
//! would send is held to each batch's profile caps (caps.rs) unless
//! `--allow-over-limit`; refunds left in review make it exit 3, as they make
//! `run` exit 3. Abnormal refunds (accepted, the money reached nobody) whose
//! hour is up are asked about once (never sent again): their batches' results
//! say what they became, and they too make it exit 3 while they stay abnormal.

use std::path::Path;

use super::app::{App, Paces, RunOutcome};
use super::caps::{self, Outgoing};
use crate::cli::ResumeArgs;
use crate::engine::ask::ask_once;
use crate::exit::{self, UsageError};
use crate::gateway::Outcome;
use crate::journal::approval::ApprovalStore;
use crate::journal::{Journal, Scope, State};
use crate::options::{Locations, RunOptions};
use crate::paths;

/// `bulkrefund resume [--batch ID [--out FILE]] [--review]`.
pub async fn main(locations: &Locations, args: ResumeArgs) -> anyhow::Result<u8> {
    let app = App::load(
        locations,
        RunOptions::from(&args.engine),
        super::interrupt::install(),
    )?;
    let request = ResumeRequest {
        batch: args.batch,
        out: args.out.as_deref(),
        review: args.review,
        allow_over_limit: args.allow_over_limit,
    };
    let outcome = resume(&app, request).await?;
    outcome.print();
    Ok(outcome.exit_code)
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
    /// Send even over the profiles' `max_batch_yuan` / `max_refund_yuan`.
    pub allow_over_limit: bool,
}

pub async fn resume(app: &App, request: ResumeRequest<'_>) -> anyhow::Result<RunOutcome> {
    let ResumeRequest {
        batch,
        out,
        review,
        allow_over_limit,
    } = request;
    let journal = app.open_existing(batch)?;
    if let Some(out) = out {
        let Some(batch) = batch else {
            return Err(UsageError(
                "--out names the results file of one batch: give --batch too".into(),
            )
            .into());
        };
        app.protected_files(Some(&journal))?.check(out, "--out")?;
        paths::check_writable(out, "--out")?;
        journal.set_results_path(batch, out)?;
    }
    let scope = match batch {
        Some(id) => Scope::Batches(vec![id]),
        None => Scope::All,
    };
    let mut paces = app.paces()?;
    let reviewing = std::time::Instant::now();
    let (notes, queries) = if review {
        settle_reviews(app, &journal, &mut paces, &scope).await?
    } else {
        (Vec::new(), 0)
    };
    let reviewing = reviewing.elapsed();
    check_caps(app, &journal, &scope, allow_over_limit)?;
    let mut outcome = app.finish(journal, &mut paces, scope.clone()).await?;
    outcome.notes = notes;
    // The summary's requests and time are the command's: the review's queries too.
    outcome.report.requests += queries;
    outcome.report.elapsed += reviewing;
    if let Some(journal) = app.journal_at.open_read_only()? {
        // An import killed in the middle recorded nothing that resume could
        // finish: the operator must run its file again.
        for import in journal.interrupted_imports()? {
            outcome
                .problems
                .push(import.describe(&app.zone.show(&import.started_at)));
            outcome.exit_code = outcome.exit_code.max(exit::UNRESOLVED);
        }
        // A refund in review has ended for the engine, not for the operator.
        outcome.in_review = journal.refunds_in_review(&scope)?.len();
        if outcome.in_review > 0 {
            outcome.exit_code = outcome.exit_code.max(exit::SOME_FAILED);
        }
    }
    Ok(outcome)
}

/// Refuses, before anything is sent, a resume that would send more than a
/// batch's profile allows (its caps may have been lowered since its run).
fn check_caps(app: &App, journal: &Journal, scope: &Scope, allow: bool) -> anyhow::Result<()> {
    let mut over = Vec::new();
    // A batch waiting for approval sends nothing now: its approval comes first.
    let held = journal.batches_waiting()?;
    for waiting in journal.waiting(scope)? {
        if held.iter().any(|h| h.batch == waiting.batch) {
            continue;
        }
        // A profile gone from the configuration is reported by the engine.
        let Ok(profile) = app.profile(&waiting.profile) else {
            continue;
        };
        let mut outgoing = Outgoing::default();
        outgoing.add_waiting(&waiting);
        for limit in caps::over(&profile, &outgoing) {
            over.push(format!(
                "batch {}: {} refunds not yet sent or settled, {limit}",
                waiting.batch, waiting.count
            ));
        }
    }
    if over.is_empty() {
        return Ok(());
    }
    for limit in &over {
        crate::say!("over the limit: {limit}");
    }
    if allow {
        return Ok(());
    }
    Err(UsageError(format!(
        "resume would send more than the profiles allow ({}): nothing was sent. \
         Pass --allow-over-limit if it is meant",
        over.join("; ")
    ))
    .into())
}

/// `resume --review`: one query for each refund in review, asked for by the
/// operator (never by the engine). A verified answer about that very refund
/// settles it; anything else leaves it in review. Returns a note per refund
/// and the number of queries sent.
async fn settle_reviews(
    app: &App,
    journal: &Journal,
    paces: &mut Paces<'_>,
    scope: &Scope,
) -> anyhow::Result<(Vec<String>, u64)> {
    let mut notes = Vec::new();
    let mut queries = 0;
    for record in journal.refunds_in_review(scope)? {
        let pace = paces.get(&record.profile)?;
        let id = &record.refund_id;
        let Some(asked) = ask_once(journal, &pace, &record, &app.cancel).await? else {
            notes.push(format!("{id}: interrupted before the gateway was asked"));
            break;
        };
        queries += 1;
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
    Ok((notes, queries))
}
