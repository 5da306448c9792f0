//! `bulkrefund retry --batch ID --failed [--new-ids]`: send a batch's failed
//! refunds again. A refund the gateway never created may go again under its own
//! id; one the gateway created (and failed) needs a new id, derived from the
//! first one (`R123` → `R123R2` → `R123R3`) and recorded as retrying it.
//!
//! A retry chain belongs to the refund, not to the batch row: only the head of
//! a chain is retried, a refund that already has a retry never gets another
//! (from any batch), and before a new id is derived the gateway is asked about
//! the refund it replaces and every earlier link: only "failed" or "no such
//! refund" lets the new id be made. Whatever else it says is recorded and
//! reported, and that refund is skipped. Nothing is sent before the operator
//! has seen the plan and confirmed it (`--yes`).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::app::{App, Paces, RunOutcome};
use crate::cli::RetryArgs;
use crate::engine::ask::{query_once, record_answer, Asked};
use crate::exit;
use crate::gateway::{GatewayKind, NoDerivedId, Outcome};
use crate::journal::chain::RetryStart;
use crate::journal::{Journal, RefundRecord, Scope, State};
use crate::money::Fen;
use crate::options::{Locations, RunOptions};

/// One failed refund (the head of its chain) and what retry will do with it.
#[derive(Debug)]
pub struct Planned {
    pub id: i64,
    pub refund_id: String,
    pub amount: Fen,
    pub error: String,
    /// `Some` to send under a new id; `None` to send again with the same id.
    pub new_id: Option<String>,
    /// The head and every earlier link, newest first: what the gateway is asked
    /// about before a new id is derived.
    pub links: Vec<RefundRecord>,
    pub profile: String,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub send: Vec<Planned>,
    /// (refund id, why it is not retried).
    pub skipped: Vec<(String, String)>,
    /// Refunds whose recorded state the gateway check corrected (those found
    /// still refunding among them are followed to their end).
    pub corrected: Vec<i64>,
}

impl Plan {
    pub fn total(&self) -> Fen {
        self.send.iter().map(|p| p.amount).sum()
    }
}

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
        let planned = |new_id, links| Planned {
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
            links,
            profile: record.profile.clone(),
        };
        if !new_ids {
            if record.ever_created {
                let gateway_id = record.gateway_refund_id.as_deref().unwrap_or("its id");
                plan.skipped.push((
                    record.refund_id.clone(),
                    format!("the gateway created this refund ({gateway_id}) and it ended failed: its id cannot be used again; retry with --new-ids"),
                ));
            } else {
                plan.send.push(planned(None, Vec::new()));
            }
            continue;
        }
        match next_free_id(journal, &record, &root, &mut taken)? {
            Ok(id) => plan.send.push(planned(Some(id), links)),
            Err(why) => plan
                .skipped
                .push((record.refund_id.clone(), why.to_string())),
        }
    }
    Ok(plan)
}

/// Why the gateway's answer about one link of a chain stops a new id being
/// derived; `None` when the link failed or never existed (a new id cannot
/// then pay it twice).
fn blocks_new_id(link: &RefundRecord, asked: &Asked) -> Option<String> {
    let id = &link.refund_id;
    match &asked.outcome {
        Outcome::Failed { .. } | Outcome::NotFound => None,
        Outcome::Succeeded(_) => Some(format!(
            "the gateway says {id} succeeded (it was recorded failed): not retried"
        )),
        Outcome::Processing(_) => Some(format!(
            "the gateway is still refunding {id} (it was recorded failed): followed, not retried"
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
/// after a query proves the old id failed or never existed"). Keeps in the plan
/// only the chains the gateway confirmed. The queries run at once, within each
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
    let mut confirmed = Vec::with_capacity(plan.send.len());
    for planned in std::mem::take(&mut plan.send) {
        // Head first: the first link the gateway did not confirm is the reason.
        let skip = planned
            .links
            .iter()
            .find_map(|link| match asked.get(&link.id) {
                Some(answer) => blocks_new_id(link, answer),
                None => Some("interrupted before the gateway was asked".into()),
            });
        match skip {
            _ if planned.new_id.is_none() => confirmed.push(planned),
            None => confirmed.push(planned),
            Some(why) => plan.skipped.push((planned.refund_id.clone(), why)),
        }
    }
    plan.send = confirmed;
    Ok(plan)
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
                None => "retry --failed: never created at the gateway, so sent again with the same id".into(),
                Some(_) => format!(
                    "retry --failed --new-ids: retries {} with a new id, the gateway having confirmed that it failed",
                    planned.refund_id
                ),
            },
        })
        .collect();
    Ok(journal.start_retries(batch, &starts)?)
}

fn print_plan(batch: i64, plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "retry of batch {batch} will send {} refunds, {} yuan:",
        plan.send.len(),
        plan.total()
    )?;
    for p in &plan.send {
        let id = match &p.new_id {
            Some(new_id) => format!("{} -> {new_id}", p.refund_id),
            None => format!("{} (same id)", p.refund_id),
        };
        writeln!(
            out,
            "  {id:<40} {:>14} yuan   was failed: {}",
            p.amount.to_string(),
            p.error
        )?;
    }
    if !plan.skipped.is_empty() {
        writeln!(out, "not retried:")?;
        for (refund_id, why) in &plan.skipped {
            writeln!(out, "  {refund_id}: {why}")?;
        }
    }
    Ok(())
}

/// `bulkrefund retry --batch ID --failed [--new-ids] [--yes]`.
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
}

/// Plans, checks with the gateway, confirms, applies and runs. `None` when
/// nothing was sent (nothing to send, or the operator declined).
pub async fn run(app: &App, request: RetryRequest) -> anyhow::Result<Option<RunOutcome>> {
    let mut journal = app.open_existing(Some(request.batch))?;
    let mut paces = app.paces();
    let plan = plan(&journal, request.batch, request.new_ids)?;
    let plan = check_with_gateway(&journal, &mut paces, plan, &app.cancel).await?;
    // The plan is a message for the operator (stderr, like every message).
    let mut text = Vec::new();
    let _ = print_plan(request.batch, &plan, &mut text);
    crate::say_part!("{}", String::from_utf8_lossy(&text));
    let confirmed =
        !plan.send.is_empty() && super::confirm::confirmed(request.yes, "retry", "Send them?")?;
    if !confirmed && plan.corrected.is_empty() {
        if !plan.send.is_empty() {
            crate::say!("nothing sent");
        }
        return Ok(None);
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
    Ok(confirmed.then_some(outcome))
}
