//! A look before paying (`run`): what the batch will send (its new refunds
//! and the earlier ones it names that are not yet sent), where and how much,
//! its limits (caps.rs), and whether the same file was run before. Decided inside
//! the import's transaction, so a "no" (or a limit) leaves nothing recorded
//! and nothing that a later `resume` could send; a batch over the profile's
//! `approve_over_yuan` is recorded held, in that same transaction, and waits
//! for a second person's approval (journal/approval.rs).

use std::fmt::Write as _;
use std::path::Path;

use super::caps::{self, Outgoing};
use crate::config::Profile;
use crate::journal::approval::{self, Hold, Person};
use crate::journal::import::{Refusal, Tally};
use crate::journal::reports::BatchSummary;

/// What `run` checks and shows before it sends.
pub struct Look<'a> {
    pub profile: &'a Profile,
    pub file: &'a Path,
    /// Batches recorded from the very same bytes.
    pub earlier: Vec<BatchSummary>,
    /// `--yes`: send without asking.
    pub yes: bool,
    /// `--allow-over-limit`: send a batch over the profile's limits.
    pub allow_over_limit: bool,
    /// Where the earlier batch's time is shown.
    pub zone: &'a crate::zone::Zone,
    /// Who records the batch (the journal's idea of the person asking): the
    /// one person who may not approve it, should it need approval.
    pub person: Person,
}

impl Look<'_> {
    /// The plan, as the operator reads it.
    pub fn plan(&self, tally: &Tally) -> String {
        let profile = self.profile;
        let host = match (profile.base_url.host_str(), profile.base_url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => profile.base_url.to_string(),
        };
        let mut text = String::new();
        let _ = writeln!(
            text,
            "run {} with profile {} ({}, merchant {}, gateway {host}):",
            self.file.display(),
            profile.name,
            profile.gateway.as_str(),
            profile.merchant_id
        );
        let outgoing = Outgoing::of_tally(tally);
        let _ = writeln!(
            text,
            "  to send:   {} refunds, {} yuan in all",
            outgoing.count,
            outgoing.fen.grouped()
        );
        if !tally.earlier.is_empty() {
            // A killed run leaves refunds recorded and never sent: a file that
            // names them sends them now, and the operator agrees to that too.
            let mut earlier = Outgoing::default();
            tally.earlier.iter().for_each(|w| earlier.add_waiting(w));
            let _ = writeln!(
                text,
                "  new:       {} refunds, {} yuan\n  earlier:   {} refunds, {} yuan recorded before and not yet sent or settled ({})",
                tally.new,
                tally.new_fen.grouped(),
                earlier.count,
                earlier.fen.grouped(),
                caps::by_batch(&tally.earlier)
            );
        }
        if let Some((largest, place)) = &outgoing.largest {
            let _ = writeln!(text, "  largest:   {} yuan ({place})", largest.grouped());
        }
        if tally.known > 0 {
            let _ = writeln!(
                text,
                "  {} rows name refunds already in the journal: reported, not sent again",
                tally.known
            );
        }
        let unsent = tally.invalid + tally.conflict + tally.duplicate;
        if unsent > 0 {
            let _ = writeln!(
                text,
                "  not sent:  {} invalid, {} conflict, {} duplicate",
                tally.invalid, tally.conflict, tally.duplicate
            );
        }
        for limit in self.over_limits(tally) {
            let _ = writeln!(text, "  over the limit: {limit}");
        }
        if let Some(hold) = self.hold(tally) {
            let _ = writeln!(
                text,
                "  approval:  over approve_over_yuan = {}: recorded, then it waits for approval by someone other than {}; nothing of it is sent before",
                hold.over_fen.grouped(),
                hold.recorded_by
            );
        }
        if let Some(warning) = self.same_file() {
            let _ = writeln!(text, "  {warning}");
        }
        text
    }

    /// The profile's limits this batch is over (caps.rs: the check
    /// `validate`, `retry` and `resume` make too).
    pub fn over_limits(&self, tally: &Tally) -> Vec<String> {
        caps::over(self.profile, &Outgoing::of_tally(tally))
    }

    /// The hold the batch gets when what it would send is over the
    /// profile's `approve_over_yuan` (the very sum the caps check).
    /// `--allow-over-limit` has no say in it.
    pub fn hold(&self, tally: &Tally) -> Option<Hold> {
        let to_send = Outgoing::of_tally(tally).fen;
        approval::hold_for(self.profile.approve_over, to_send, &self.person)
    }

    fn same_file(&self) -> Option<String> {
        let ids: Vec<String> = self.earlier.iter().map(|b| b.id.to_string()).collect();
        let first = self.earlier.first()?;
        Some(format!(
            "this file was run before, byte for byte: batch {} ({}, started {}); its refunds are not sent again, but the batch is recorded again",
            ids.join(", batch "),
            first.file_name,
            self.zone.show(&first.started_at)
        ))
    }

    /// Ok to send (or, over `approve_over_yuan`, to record it held: the hold
    /// returned), or why not. Asked on the terminal when there is something
    /// to send (or the same file again); refused outright over a limit.
    pub fn decide(
        &self,
        tally: &Tally,
        cancelled: impl Fn() -> bool,
    ) -> Result<Option<Hold>, Refusal> {
        let over = self.over_limits(tally);
        let outgoing = Outgoing::of_tally(tally);
        let something_to_pay = outgoing.count > 0 || !self.earlier.is_empty();
        if something_to_pay || !over.is_empty() {
            crate::say_part!("{}", self.plan(tally));
        }
        if !over.is_empty() && !self.allow_over_limit {
            return Err(Refusal::decided(format!(
                "the batch is over the profile's limits ({}): nothing was recorded or sent. \
                 Split the batch, or pass --allow-over-limit if it is meant",
                over.join("; ")
            )));
        }
        if !something_to_pay {
            return Ok(None);
        }
        let hold = self.hold(tally);
        let question = match (self.earlier.first(), &hold) {
            (Some(first), _) => {
                format!("The same file was run as batch {}. Run it again?", first.id)
            }
            (None, Some(_)) => format!(
                "Record {} refunds, {} yuan, to wait for a second person's approval?",
                outgoing.count,
                outgoing.fen.grouped()
            ),
            (None, None) => format!(
                "Send {} refunds, {} yuan?",
                outgoing.count,
                outgoing.fen.grouped()
            ),
        };
        let not_confirmed = "not confirmed: nothing was recorded or sent";
        match super::confirm::confirmed(self.yes, "run", &question) {
            Ok(true) if !cancelled() => Ok(hold),
            // Interrupted at the question: no answer.
            _ if cancelled() => Err(Refusal::undecided(not_confirmed)),
            Ok(_) => Err(Refusal::decided(not_confirmed)),
            Err(e) => Err(Refusal::undecided(format!(
                "{}: nothing was recorded or sent",
                e.0
            ))),
        }
    }
}
