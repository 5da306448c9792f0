//! `bulkrefund retry --batch ID --failed [--new-ids]`: send a batch's failed
//! refunds again. A refund the gateway never created goes again under its own
//! id (its idempotency protects the payer even if the gateway lied); one the
//! gateway confirms it created and failed needs a new id, derived from the
//! first one (`R123` → `R123R2` → `R123R3`) and recorded as retrying it. With
//! `--new-ids`, the gateway's answer decides which: "failed" gives a new id,
//! "no such refund" resends the same id, never a new one (docs/DESIGN.md).
//!
//! A retry chain belongs to the refund, not to the batch row: only the head of
//! a chain is retried, a refund that already has a retry never gets another
//! (from any batch), and before a new id is derived the gateway is asked about
//! the refund it replaces and every earlier link: only "failed" lets the new
//! id be made ("no such refund" about the refund itself resends it under its
//! own id). Whatever else it says is recorded and reported, and that refund
//! is skipped; when it is skipped for want of an answer and nothing is sent,
//! retry fails ([`NothingConfirmed`], exit 1). Nothing is sent before the operator
//! has seen the plan (retry_plan.rs) and confirmed it (`--yes`), nor over the
//! profile's caps (caps.rs) without `--allow-over-limit`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::app::{App, Paces, RunOutcome};
use super::caps::{self, Outgoing};
pub use super::retry_plan::{Plan, Planned};
use crate::cli::RetryArgs;
use crate::engine::ask::{query_once, record_answer, Asked};
use crate::exit::{self, Interrupted, UsageError};
use crate::gateway::{GatewayKind, IdUse, NoDerivedId, Outcome};
use crate::journal::chain::RetryStart;
use crate::journal::{Journal, RefundRecord, Scope, State};
use crate::options::{Locations, RunOptions};

/// The next id of a chain whose first id is `root`, not yet used in the
/// journal nor by an earlier refund of this plan.
fn next_free_id(
    journal: &Journal,
    record: &RefundRecord,
    root: &str,
    taken: &mut HashSet<(GatewayKind, String, String)>,
) -> anyhow::Result<Result<String, NoDerivedId>> {
    let (gateway, merchant) = (record.gateway, &record.merchant_id);
    let mut n = 2;
    loop {
        match gateway.spec().derived_id(root, n) {
            Err(why) => return Ok(Err(why)),
            Ok(id) => {
                if !journal.id_taken(gateway, merchant, &id)?
                    && taken.insert((gateway, merchant.clone(), id.clone()))
                {
                    return Ok(Ok(id));
                }
                n += 1;
            }
        }
    }
}

const USED_UP: &str =
    "the gateway created it and it ended failed: its id cannot be used again; retry with --new-ids";
const REFUSED_WHEN_SENT: &str =
    "the gateway refused it when it was sent: nothing was created; sent again under its own id";
const TURNED_AWAY: &str = "the gateway turned every send of it away (busy): nothing was created; sent again under its own id";
const SAYS_NO_SUCH_REFUND: &str =
    "the gateway says it has no such refund: sent again under its own id";
const NEVER_SHOWN: &str = "the gateway never said it holds it: sent again under its own id";
const CONFIRMED_FAILED: &str =
    "the gateway confirms it exists and failed: its id is used up, so a new one";
const GATEWAY_HAS_NONE: &str = "the gateway says it has no refund with this id: sent again under the same id, never a new one (if the gateway were wrong, its idempotency still keeps the payer from being paid twice)";

/// Decides what retry would do from the journal alone; writes nothing.
/// (`check_with_gateway` then asks the gateway before any new id is made.)
pub fn plan(journal: &Journal, batch: i64, new_ids: bool) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let mut heads = HashSet::new();
    let mut taken = HashSet::new();
    for listed in journal.batch_refunds(batch)? {
        let head = journal.chain_head(listed)?;
        if !heads.insert(head) {
            continue;
        }
        let links = journal.chain_links(head)?;
        let record = links[0].clone();
        let root = links[links.len() - 1].refund_id.clone();
        if record.state != State::Failed {
            if links.len() > 1 {
                plan.skipped.push((
                    root,
                    format!(
                        "already retried as {}, {}",
                        record.refund_id,
                        record.state.status()
                    ),
                ));
            }
            continue;
        }
        let planned = |new_id, links, why: &str| Planned {
            id: record.id,
            refund_id: record.refund_id.clone(),
            amount: record.amount,
            error: format!(
                "{} {}",
                record.error_code.as_deref().unwrap_or(""),
                record.error_message.as_deref().unwrap_or("")
            )
            .trim()
            .to_owned(),
            new_id,
            why: why.to_owned(),
            links,
            profile: record.profile.clone(),
        };
        if !new_ids {
            if record.ever_created {
                plan.used_up.push(planned(None, Vec::new(), USED_UP));
            } else {
                // Why: from the last answer about it, read for all of them at once below.
                plan.send.push(planned(None, Vec::new(), ""));
            }
            continue;
        }
        match next_free_id(journal, &record, &root, &mut taken)? {
            Ok(id) => plan.send.push(planned(Some(id), links, "")),
            Err(why) => plan
                .skipped
                .push((record.refund_id.clone(), why.to_string())),
        }
    }
    say_why_never_created(journal, &mut plan)?;
    Ok(plan)
}

/// Says why each failed refund the gateway never showed it holds goes again
/// under its own id, in the words of the last answer about it.
fn say_why_never_created(journal: &Journal, plan: &mut Plan) -> anyhow::Result<()> {
    let unsaid = |p: &Planned| p.new_id.is_none() && p.why.is_empty();
    let ids: Vec<i64> = plan
        .send
        .iter()
        .filter(|p| unsaid(p))
        .map(|p| p.id)
        .collect();
    let last = journal.last_attempts(&ids)?;
    for planned in plan.send.iter_mut().filter(|p| unsaid(p)) {
        let answer = last.get(&planned.id);
        planned.why = match answer.map(|(kind, outcome)| (kind.as_str(), outcome.as_str())) {
            Some(("query", outcome)) if outcome == crate::engine::task::NOT_FOUND => {
                SAYS_NO_SUCH_REFUND
            }
            Some(("submit", outcome)) if outcome.starts_with("retry") => TURNED_AWAY,
            Some(("submit", _)) => REFUSED_WHEN_SENT,
            _ => NEVER_SHOWN,
        }
        .to_owned();
    }
    Ok(())
}

/// Why the gateway's answer about one link of a chain stops a new id being
/// derived; `None` when the link exists and failed. `head` tells the refund
/// to replace from an earlier link: the head may instead be unknown to the
/// gateway (then it is resent under its own id, which the caller decides), an
/// earlier link may not (a new id would pay twice if the gateway is wrong).
fn blocks_new_id(link: &RefundRecord, asked: &Asked, head: bool) -> Option<String> {
    let id = &link.refund_id;
    match &asked.outcome {
        Outcome::Failed {
            id: IdUse::Spent, ..
        } => None,
        // A failure that used no id proves nothing exists to replace.
        Outcome::Failed {
            id: IdUse::Free, ..
        } => Some(format!(
            "the gateway says nothing was created under {id}: not given a new id; `retry --failed` without --new-ids sends it again under its own"
        )),
        Outcome::NotFound if head => None,
        Outcome::NotFound => Some(format!(
            "the gateway now says it has no refund {id}, which it said had failed: not retried; see `bulkrefund show {id}`"
        )),
        Outcome::Succeeded(_) => Some(format!(
            "the gateway says {id} succeeded (it was recorded failed): not retried"
        )),
        Outcome::Processing(_) => Some(format!(
            "the gateway is still refunding {id} (it was recorded failed): followed, not retried"
        )),
        Outcome::Abnormal(_) => Some(format!(
            "the gateway says {id} is abnormal (accepted; the money reached nobody): never resent, never a new id; act in the gateway's merchant platform"
        )),
        Outcome::Mismatch { what } => Some(format!("{id}: {what}; sent to review, not retried")),
        Outcome::Unknown { why } | Outcome::Retry { why, .. } => Some(format!(
            "could not confirm with the gateway that {id} failed ({why}): not retried; run retry again later"
        )),
        Outcome::Rejected { code, why } => Some(format!(
            "the gateway refused the query itself ({code}: {why}): not retried"
        )),
    }
}

/// Asks the gateway about every refund a new id would replace, and every
/// earlier link of its chain (docs/DESIGN.md: "a failed refund gets a new id only
/// after a query proves the old id exists and failed"; one the gateway says
/// never existed is sent again under its own id). Keeps in the plan only the
/// chains the gateway confirmed. The queries run at once, within each
/// profile's pace; every answer is recorded, and one that contradicts the
/// journal corrects it.
pub async fn check_with_gateway(
    journal: &Journal,
    paces: &mut Paces<'_>,
    mut plan: Plan,
    cancel: &CancellationToken,
) -> anyhow::Result<Plan> {
    let links: Vec<&RefundRecord> = plan
        .send
        .iter()
        .filter(|planned| planned.new_id.is_some())
        .flat_map(|planned| &planned.links)
        .collect();
    let mut profile_paces = HashMap::new();
    for link in &links {
        if !profile_paces.contains_key(&link.profile) {
            profile_paces.insert(link.profile.clone(), paces.get(&link.profile)?);
        }
    }
    let answers: Vec<_> = futures::stream::iter(links)
        .map(|link| {
            let pace = profile_paces[&link.profile].clone();
            async move { (link, query_once(&pace, link, cancel).await) }
        })
        .buffer_unordered(MAX_CHECKS_AT_ONCE)
        .collect()
        .await;
    let mut asked: HashMap<i64, Asked> = HashMap::new();
    for (link, answer) in answers {
        let Some(answer) = answer else { continue };
        let now = record_answer(journal, link, answer)?;
        if now.state != State::Failed {
            plan.corrected.push(link.id);
        }
        asked.insert(link.id, now);
    }
    settle(&mut plan, &asked);
    Ok(plan)
}

/// Keeps in the plan what the gateway's answers (`asked`, by refund) allow:
/// a new id where the refund's head exists and failed, the same id where the
/// gateway has no such refund; the rest is skipped, and counted apart when
/// the gateway gave no usable answer.
fn settle(plan: &mut Plan, asked: &HashMap<i64, Asked>) {
    let mut confirmed = Vec::with_capacity(plan.send.len());
    for mut planned in std::mem::take(&mut plan.send) {
        if planned.new_id.is_none() {
            confirmed.push(planned);
            continue;
        }
        // Head first: the first link the gateway did not confirm is the reason.
        let skip =
            planned
                .links
                .iter()
                .enumerate()
                .find_map(|(i, link)| match asked.get(&link.id) {
                    Some(answer) => blocks_new_id(link, answer, i == 0).map(|why| {
                        // A refused query says nothing about the refund: unanswered too.
                        let unanswered = match answer.outcome {
                            Outcome::Unknown { .. } | Outcome::Retry { .. } => Some(false),
                            Outcome::Rejected { .. } => Some(true),
                            _ => None,
                        };
                        (why, unanswered)
                    }),
                    None => Some((
                        "interrupted before the gateway was asked".into(),
                        Some(false),
                    )),
                });
        if let Some((why, unanswered)) = skip {
            if let Some(refused) = unanswered {
                if plan.unanswered == 0 {
                    plan.first_unanswered = why.clone();
                }
                plan.unanswered += 1;
                plan.refused += usize::from(refused);
            }
            plan.skipped.push((planned.refund_id.clone(), why));
            continue;
        }
        let head_never_created = planned
            .links
            .first()
            .and_then(|head| asked.get(&head.id))
            .is_some_and(|answer| matches!(answer.outcome, Outcome::NotFound));
        if head_never_created {
            planned.new_id = None;
            planned.why = GATEWAY_HAS_NONE.into();
        } else {
            planned.why = CONFIRMED_FAILED.into();
        }
        confirmed.push(planned);
    }
    plan.send = confirmed;
}

/// The most gateway checks in the air at once (each profile's own bound on
/// requests in flight applies too).
const MAX_CHECKS_AT_ONCE: usize = 256;

/// Carries a confirmed plan out in the journal, in one transaction: same-id
/// refunds go back to pending; new ids start retries of their chains' heads.
/// Returns the refunds to send.
pub fn apply(journal: &mut Journal, batch: i64, plan: &Plan) -> anyhow::Result<Vec<i64>> {
    let starts: Vec<RetryStart> = plan
        .send
        .iter()
        .map(|planned| RetryStart {
            refund: planned.id,
            new_id: planned.new_id.clone(),
            why: match &planned.new_id {
                None => format!("retry --failed: sent again with the same id: {}", planned.why),
                Some(_) => format!(
                    "retry --failed --new-ids: retries {} with a new id, the gateway having confirmed that it failed",
                    planned.refund_id
                ),
            },
        })
        .collect();
    Ok(journal.start_retries(batch, &starts)?)
}

/// `bulkrefund retry --batch ID --failed [--new-ids] [--yes] [--allow-over-limit]`.
pub async fn main(locations: &Locations, args: RetryArgs) -> anyhow::Result<u8> {
    let app = App::load(
        locations,
        RunOptions::from(&args.engine),
        super::interrupt::install(),
    )?;
    let request = RetryRequest {
        batch: args.batch,
        new_ids: args.new_ids,
        yes: args.yes,
        allow_over_limit: args.allow_over_limit,
    };
    Ok(match run(&app, request).await? {
        Some(outcome) => {
            outcome.print();
            outcome.exit_code
        }
        None => exit::SUCCESS,
    })
}

pub struct RetryRequest {
    pub batch: i64,
    pub new_ids: bool,
    pub yes: bool,
    /// Send even over the profile's `max_batch_yuan` / `max_refund_yuan`.
    pub allow_over_limit: bool,
}

/// Nothing was retried because the gateway could not be asked about some
/// refunds (unreachable, busy, unverifiable answers, or the queries refused,
/// as with a wrong key). Exits 1: the retry could not go on; the refunds are
/// still failed, and retry may be run again.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct NothingConfirmed {
    pub batch: i64,
    pub count: usize,
    pub first: String,
    /// How many of the queries the gateway refused (the request itself).
    pub refused: usize,
}

impl NothingConfirmed {
    fn message(&self) -> String {
        let (batch, count, first) = (self.batch, self.count, &self.first);
        let again = format!("`bulkrefund retry --batch {batch} --failed --new-ids`");
        if self.refused == count {
            return format!(
                "the gateway refused the queries about {count} refunds ({first}), so nothing was retried; \
                 they are still failed: once the profile is fixed, run {again} again"
            );
        }
        let refused = match self.refused {
            0 => String::new(),
            n => format!("; it refused {n} of the queries"),
        };
        format!(
            "the gateway could not confirm how {count} refunds ended ({first}{refused}), so nothing was \
             retried; they are still failed: run {again} again once the gateway answers"
        )
    }
}

/// The profile caps the plan is over (caps.rs), for each profile it sends with.
fn over_caps(app: &App, plan: &Plan) -> anyhow::Result<Vec<String>> {
    let mut by_profile: BTreeMap<&str, Outgoing> = BTreeMap::new();
    for p in &plan.send {
        let place = format!("refund {}", p.refund_id);
        by_profile
            .entry(&p.profile)
            .or_default()
            .add(1, p.amount, (p.amount, place));
    }
    let mut over = Vec::new();
    for (name, outgoing) in by_profile {
        over.extend(caps::over(&app.profile(name)?, &outgoing));
    }
    Ok(over)
}

/// Plans, checks with the gateway, confirms, applies and runs. `None` when
/// nothing was sent (nothing to send, or the operator declined).
pub async fn run(app: &App, request: RetryRequest) -> anyhow::Result<Option<RunOutcome>> {
    let mut journal = app.open_existing(Some(request.batch))?;
    let mut paces = app.paces()?;
    let plan = plan(&journal, request.batch, request.new_ids)?;
    let plan = check_with_gateway(&journal, &mut paces, plan, &app.cancel).await?;
    // The plan is a message for the operator (stderr, like every message).
    let mut text = Vec::new();
    let _ = super::retry_plan::print_plan(request.batch, &plan, &mut text);
    let over = over_caps(app, &plan)?;
    for limit in &over {
        let _ = writeln!(text, "  over the limit: {limit}");
    }
    crate::say_part!("{}", String::from_utf8_lossy(&text));
    if !over.is_empty() && !request.allow_over_limit {
        let refused = UsageError(format!(
            "the retry is over the profile's limits ({}): nothing was sent. \
             Pass --allow-over-limit if it is meant",
            over.join("; ")
        ));
        // What the check corrected is followed (and its batches' results
        // rewritten), as when the operator declines.
        if !plan.corrected.is_empty() {
            app.finish(journal, &mut paces, Scope::Refunds(plan.corrected.clone()))
                .await?
                .print();
        }
        return Err(refused.into());
    }
    let confirmed =
        !plan.send.is_empty() && super::confirm::confirmed(request.yes, "retry", "Send them?")?;
    if plan.send.is_empty() && plan.unanswered > 0 && app.cancel.is_cancelled() {
        return Err(Interrupted(
            "interrupted while the gateway was asked about the failed refunds: nothing was retried"
                .into(),
        )
        .into());
    }
    let unconfirmed = (plan.send.is_empty() && plan.unanswered > 0).then(|| NothingConfirmed {
        batch: request.batch,
        count: plan.unanswered,
        first: plan.first_unanswered.clone(),
        refused: plan.refused,
    });
    if !confirmed && plan.corrected.is_empty() {
        if !plan.send.is_empty() {
            crate::say!("nothing sent");
        }
        return match unconfirmed {
            Some(e) => Err(e.into()),
            None => Ok(None),
        };
    }
    // What the check corrected is followed (and its batches' results rewritten)
    // whether or not the operator confirmed the sends.
    let mut refunds = plan.corrected.clone();
    if confirmed {
        refunds.extend(apply(&mut journal, request.batch, &plan)?);
    }
    let outcome = app
        .finish(journal, &mut paces, Scope::Refunds(refunds))
        .await?;
    if let Some(e) = unconfirmed {
        outcome.print();
        return Err(e.into());
    }
    Ok(confirmed.then_some(outcome))
}
