//! A retry's plan (built and checked with the gateway by retry.rs) and what
//! `retry` shows of it before it sends: which refunds leave under a new id and
//! which under their own (and why each), what is not retried and why, and
//! the profile's caps it is over. Refunds not retried for the same reason
//! (an id used up, without `--new-ids`) are grouped by error code with their
//! count and total, as `status --batch` groups failures: forty-one refunds
//! that failed alike are one line, not forty-one.

use std::io::Write;

use crate::journal::money::{FailureGroup, FAILURE_SAMPLES};
use crate::journal::{RefundRecord, Status};
use crate::money::Fen;

/// One failed refund (the head of its chain) and what retry will do with it.
#[derive(Debug)]
pub struct Planned {
    pub id: i64,
    pub refund_id: String,
    pub amount: Fen,
    pub error: String,
    /// `Some` to send under a new id; `None` to send again with the same id.
    pub new_id: Option<String>,
    /// Why it gets a new id or keeps its own, as the plan says it.
    pub why: String,
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
    /// Failed refunds the gateway created, not retried without `--new-ids`:
    /// their ids are used up (shown grouped by error code).
    pub used_up: Vec<Planned>,
    /// Refunds whose recorded state the gateway check corrected (those found
    /// still refunding among them are followed to their end).
    pub corrected: Vec<i64>,
    /// Refunds skipped because the gateway gave no answer that could be used
    /// (unreachable, busy, unverifiable, the query refused, interrupted), and
    /// the first reason.
    pub unanswered: usize,
    pub first_unanswered: String,
    /// Of those, the refunds whose query the gateway refused (a wrong key).
    pub refused: usize,
}

impl Plan {
    pub fn total(&self) -> Fen {
        self.send.iter().map(|p| p.amount).sum()
    }
}

/// The plan, as the operator reads it.
pub fn print_plan(batch: i64, plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "retry of batch {batch} will send {} refunds, {} yuan:",
        plan.send.len(),
        plan.total().grouped()
    )?;
    let (renamed, same): (Vec<&Planned>, Vec<&Planned>) =
        plan.send.iter().partition(|p| p.new_id.is_some());
    for (list, heading) in [(renamed, "under a new id"), (same, "under the same id")] {
        let Some(first) = list.first() else { continue };
        // The reason once, when every refund of the list shares it.
        let shared = list.iter().all(|p| p.why == first.why);
        if shared {
            writeln!(out, "  {heading} ({}):", first.why)?;
        } else {
            writeln!(out, "  {heading}:")?;
        }
        for p in list {
            let id = match &p.new_id {
                Some(new_id) => format!("{} -> {new_id}", p.refund_id),
                None => p.refund_id.clone(),
            };
            write!(
                out,
                "    {id:<40} {:>14} yuan   was failed: {}",
                p.amount.grouped(),
                p.error
            )?;
            if !shared {
                write!(out, "; {}", p.why)?;
            }
            writeln!(out)?;
        }
    }
    if !plan.used_up.is_empty() {
        let first = &plan.used_up[0];
        writeln!(out, "not retried: {}:", first.why)?;
        for group in groups(&plan.used_up) {
            writeln!(out, "{}", super::status::failure_line(&group))?;
        }
    }
    if !plan.skipped.is_empty() {
        writeln!(out, "not retried:")?;
        for (refund_id, why) in &plan.skipped {
            writeln!(out, "  {refund_id}: {why}")?;
        }
    }
    Ok(())
}

/// Failed refunds grouped by their error (code and message), in the order
/// each first appears: count, total and a few ids.
pub fn groups(failed: &[Planned]) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for p in failed {
        let (code, message) = p.error.split_once(' ').unwrap_or((&p.error, ""));
        let i = match groups
            .iter()
            .position(|g| g.code == code && g.message == message)
        {
            Some(i) => i,
            None => {
                groups.push(FailureGroup {
                    status: Some(Status::Failed),
                    code: code.to_owned(),
                    message: message.to_owned(),
                    ..FailureGroup::default()
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[i];
        group.count += 1;
        group.fen = group.fen.saturating_add(p.amount);
        if group.samples.len() < FAILURE_SAMPLES {
            group.samples.push(p.refund_id.clone());
        }
    }
    groups
}
