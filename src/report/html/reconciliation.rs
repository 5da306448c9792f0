//! A reconciliation on the page (statements.md, "Outcomes"): the bill's
//! totals beside the journal's, each outcome with its refunds and yuan, and
//! every finding that is not `matched` with what to do about it. The same
//! section is one part of `bulkrefund report` (one per reconciled day, read
//! back from the journal by [`recorded`]) and the whole of
//! `reconcile --out day.html` ([`render_page`]). Nothing is matched or
//! counted here: the figures are the reconciliation's own. Every text that a
//! bill or the journal holds is escaped where it is written.

use std::fmt::Write as _;

use super::markup::{self, escape, with_code, yuan};
use super::{Heading, MoneyLine};
use crate::journal::reconcile::Money;
use crate::journal::reconciled::{RecordedFinding, RecordedReconciliation};
use crate::money::Fen;

/// One outcome's refunds and yuan: the journal's side and the bill's, where
/// the outcome has them (`not_in_journal` has no journal side,
/// `missing_from_bill` no bill side).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeLine {
    /// As the report names it: `matched`, `amount_differs`, ...
    pub outcome: String,
    pub count: u64,
    pub journal_fen: Option<Fen>,
    pub bill_fen: Option<Fen>,
}

/// One refund a reconciliation found something about (never `matched`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finding {
    /// As the report names it: `amount_differs`, `not_in_journal`, ...
    pub outcome: String,
    pub refund_id: String,
    pub journal_fen: Option<Fen>,
    pub bill_fen: Option<Fen>,
    /// The bill that lists it (the day's, or a neighbour's); empty when none does.
    pub bill_day: String,
    /// The reconciliation's own note on this refund.
    pub note: String,
    /// statements.md's "what to do" for the outcome ([`what_to_do`]).
    pub what_to_do: String,
}

/// A reconciliation of one gateway day against its bill.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconciliationSection {
    /// The gateway's day, `2026-11-30`.
    pub date: String,
    /// Whose bill, and where it came from.
    pub source: String,
    /// The bill's totals beside the journal's, in reading order.
    pub totals: Vec<MoneyLine>,
    /// Every outcome, in the order the report lists them.
    pub outcomes: Vec<OutcomeLine>,
    /// Every finding but the matched ones, by outcome then refund id.
    pub findings: Vec<Finding>,
}

/// What to do about a finding, as statements.md's Outcomes table says.
/// `journal_unresolved` tells a `status_differs` on a refund the journal
/// holds as pending, processing, unknown or abnormal (`resume` settles it)
/// from one on a final refund (a person must look); `None` when not known.
pub fn what_to_do(outcome: &str, journal_unresolved: Option<bool>) -> &'static str {
    match (outcome, journal_unresolved) {
        ("matched", _) => "nothing",
        ("amount_differs", _) => {
            "alarm: the gateway moved a different amount; a person compares the two"
        }
        ("status_differs", Some(true)) => {
            "the journal's refund is unresolved: run `bulkrefund resume`, it queries the gateway"
        }
        ("status_differs", Some(false)) => {
            "alarm: the journal's final status is not the bill's; a person looks at the refund \
             (`bulkrefund show REFUND`) and asks the gateway"
        }
        ("status_differs", None) => {
            "if the journal's refund is unresolved (pending, processing, unknown, abnormal): run \
             `bulkrefund resume`, it queries; if it is final: alarm, a person looks at it and asks \
             the gateway"
        }
        ("not_in_journal", _) => {
            "a refund made outside bulkrefund (merchant portal, customer service, another tool): \
             listed for finance, not an error"
        }
        ("missing_from_bill", _) => {
            "alarm: the money may not have moved: `bulkrefund show REFUND`, then ask the gateway \
             and tell it"
        }
        _ => "look at the note",
    }
}

/// The outcomes as the journal records them, in its order.
const RECORDED_OUTCOMES: [&str; 5] = crate::journal::reconcile::OUTCOMES;

/// A reconciliation as the journal recorded it, for `bulkrefund report`.
/// `succeeded_now` is what the journal holds as succeeded on that day today
/// (the journal keeps no matched sum, so matched yuan are not shown; the
/// findings' sums are the recorded rows').
pub fn recorded(
    reconciliation: &RecordedReconciliation,
    succeeded_now: Option<Money>,
) -> ReconciliationSection {
    let r = reconciliation;
    let mut totals = vec![MoneyLine {
        label: format!("bill of {}: refund rows", r.bill_date),
        count: r.bill.count,
        fen: Some(r.bill.fen),
        part: false,
    }];
    if let Some(now) = succeeded_now {
        totals.push(MoneyLine {
            label: format!("journal: succeeded on {} (today)", r.bill_date),
            count: now.count,
            fen: Some(now.fen),
            part: false,
        });
    }
    totals.push(MoneyLine {
        label: "unresolved, not in the bill (run resume)".to_owned(),
        count: r.unresolved_not_in_bill,
        fen: None,
        part: false,
    });
    let outcomes = RECORDED_OUTCOMES
        .iter()
        .zip(r.counts)
        .map(|(outcome, count)| {
            let of: Vec<&RecordedFinding> = r
                .findings
                .iter()
                .filter(|f| f.outcome == *outcome)
                .collect();
            let total = |side: fn(&RecordedFinding) -> Option<Fen>| {
                of.iter()
                    .filter_map(|f| side(f))
                    .fold(Fen(0), Fen::saturating_add)
            };
            // Matched rows are not recorded one by one: no sum to show.
            let rows_kept = *outcome != "matched";
            OutcomeLine {
                outcome: (*outcome).to_owned(),
                count,
                journal_fen: (rows_kept && *outcome != "not_in_journal")
                    .then(|| total(|f| f.journal_fen)),
                bill_fen: (rows_kept && *outcome != "missing_from_bill")
                    .then(|| total(|f| f.bill_fen)),
            }
        })
        .collect();
    let findings = r
        .findings
        .iter()
        .map(|f| Finding {
            outcome: f.outcome.clone(),
            refund_id: f.refund_id.clone(),
            journal_fen: f.journal_fen,
            bill_fen: f.bill_fen,
            bill_day: f.bill_day.clone().unwrap_or_default(),
            note: f.note.clone(),
            what_to_do: what_to_do(&f.outcome, None).to_owned(),
        })
        .collect();
    ReconciliationSection {
        date: r.bill_date.clone(),
        source: format!(
            "{} merchant {} (profile {}); bill: {}; reconciliation #{} of {}",
            r.gateway, r.merchant_id, r.profile, r.source, r.id, r.reconciled_at
        ),
        totals,
        outcomes,
        findings,
    }
}

fn amount(fen: Option<Fen>) -> String {
    fen.map(yuan).unwrap_or_else(|| "-".to_owned())
}

/// The section: totals, outcomes, findings.
pub(super) fn section(html: &mut String, section: &ReconciliationSection) {
    let _ = writeln!(
        html,
        "<section class=\"reconciliation\">\n<h2>Reconciliation of {} against the gateway's bill</h2>\n\
         <p class=\"note\">{}. The bill's day is Beijing's (Asia/Shanghai).</p>",
        escape(&section.date),
        escape(&section.source)
    );
    html.push_str("<table class=\"money\">\n<thead><tr><th>the bill beside the journal</th><th class=\"num\">refunds</th><th class=\"num\">yuan</th></tr></thead>\n<tbody>\n");
    for line in &section.totals {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&line.label),
            line.count,
            amount(line.fen)
        );
    }
    html.push_str("</tbody>\n</table>\n");
    html.push_str("<table class=\"compact\">\n<thead><tr><th>outcome</th><th class=\"num\">refunds</th><th class=\"num\">journal yuan</th><th class=\"num\">bill yuan</th></tr></thead>\n<tbody>\n");
    for line in &section.outcomes {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&line.outcome),
            line.count,
            amount(line.journal_fen),
            amount(line.bill_fen)
        );
    }
    html.push_str("</tbody>\n</table>\n");
    findings(html, &section.findings);
    html.push_str("</section>\n");
}

fn findings(html: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        html.push_str("<p class=\"empty\">No finding: every refund of the bill and of the journal matched.</p>\n");
        return;
    }
    let _ = writeln!(
        html,
        "<h3>Findings ({})</h3>\n<table class=\"findings\">\n<thead><tr><th>outcome</th><th>refund</th>\
         <th class=\"num\">journal yuan</th><th class=\"num\">bill yuan</th><th>bill</th><th>note</th>\
         <th>what to do</th></tr></thead>\n<tbody>",
        findings.len()
    );
    for f in findings {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"ids\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"message\">{}</td><td class=\"message\">{}</td></tr>",
            escape(&f.outcome),
            escape(&f.refund_id),
            amount(f.journal_fen),
            amount(f.bill_fen),
            escape(&f.bill_day),
            with_code(&f.note),
            with_code(&f.what_to_do)
        );
    }
    html.push_str("</tbody>\n</table>\n");
}

/// The page of one reconciliation (`reconcile --out day.html`): the same
/// head, rules (CSP, no script, nothing fetched) and footer as the report's.
pub fn render_page(heading: &Heading, reconciliation: &ReconciliationSection) -> String {
    let mut html = String::with_capacity(16 * 1024 + reconciliation.findings.len() * 512);
    markup::head(&mut html, heading, "bulkrefund reconciliation");
    section(&mut html, reconciliation);
    markup::footer(&mut html, "from the gateway's bill and its journal");
    html
}

#[cfg(test)]
#[path = "reconciliation_tests.rs"]
mod tests;
