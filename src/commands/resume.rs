//! `bulkrefund resume`: finish what earlier runs left unresolved, in one batch
//! or all, through the application path every sending command shares. With
//! `--out` (and a batch), that batch's results go to a new file from now on;
//! with `--review`, each refund in review is asked about once first.

use std::path::Path;

use super::app::{App, Paces, RunOutcome};
use crate::cli::ResumeArgs;
use crate::engine::ask::ask_once;
use crate::exit::UsageError;
use crate::gateway::Outcome;
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
}

pub async fn resume(app: &App, request: ResumeRequest<'_>) -> anyhow::Result<RunOutcome> {
    let ResumeRequest { batch, out, review } = request;
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
    let mut paces = app.paces();
    let reviewing = std::time::Instant::now();
    let (notes, queries) = if review {
        settle_reviews(app, &journal, &mut paces, &scope).await?
    } else {
        (Vec::new(), 0)
    };
    let reviewing = reviewing.elapsed();
    let mut outcome = app.finish(journal, &mut paces, scope).await?;
    outcome.notes = notes;
    // The summary's requests and time are the command's: the review's queries too.
    outcome.report.requests += queries;
    outcome.report.elapsed += reviewing;
    Ok(outcome)
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
