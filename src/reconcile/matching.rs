//! Matching one day's bill against the journal, refund by refund
//! (statements.md, "Outcomes" and "Days"). Pure: it is given the bill of day
//! D (and, where available, of D−1 and D+1) and what the journal holds of this
//! (gateway, merchant), and returns one [`Finding`] per bill row of D and per
//! journal refund missing from the bills, with the totals. It assumes the
//! journal side was read for the same merchant as the bills (the command
//! refuses another merchant's bill before it gets here).
//!
//! The key is the refund id. A row whose order ids disagree with the journal
//! refund of that id is another refund under the same id (Alipay makes
//! `out_request_no` unique only within a trade, so outside rows are told apart
//! by (trade number, request number)), never ours. A retry chain (`R123`,
//! `R123R2`) is matched link by link: each link is its own refund id.

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;

use crate::gateway::bill::{Bill, BillRow, BillStatus, BillTotals};
use crate::journal::days::DayBasis;
use crate::journal::{State, Status};
use crate::money::Fen;
use crate::report::summary::Sum;

/// What reconciling found of one refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Matched,
    AmountDiffers,
    StatusDiffers,
    NotInJournal,
    MissingFromBill,
}

impl Outcome {
    /// In the order the report lists them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Matched,
        Outcome::AmountDiffers,
        Outcome::StatusDiffers,
        Outcome::NotInJournal,
        Outcome::MissingFromBill,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::AmountDiffers => "amount_differs",
            Outcome::StatusDiffers => "status_differs",
            Outcome::NotInJournal => "not_in_journal",
            Outcome::MissingFromBill => "missing_from_bill",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// A difference someone must look at (exit 3); `matched` and
    /// `not_in_journal` (refunds made outside bulkrefund) are not.
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            Outcome::AmountDiffers | Outcome::StatusDiffers | Outcome::MissingFromBill
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::journal::reconcile::JournalRefund;

/// How the journal placed a refund on its day, for notes.
fn basis_note(refund: &JournalRefund) -> &'static str {
    match refund.basis {
        DayBasis::Gateway => "by the gateway's success time",
        DayBasis::Bulkrefund => {
            "by bulkrefund's clock: the journal has no success time from the gateway"
        }
    }
}

/// What the journal holds for one reconciliation.
#[derive(Clone, Debug, Default)]
pub struct JournalSide {
    /// The refunds of this merchant whose ids the bill rows of D name.
    pub named: Vec<JournalRefund>,
    /// The succeeded refunds counted on D−1, D or D+1.
    pub expected: Vec<JournalRefund>,
    /// The unresolved refunds that may be at the gateway (in flight, unknown
    /// even with no submit counted, processing, abnormal, pending after a
    /// send), placed on D by their first submit, else their creation.
    pub unresolved: Vec<JournalRefund>,
}

/// The bills of a reconciliation: day D's, and its neighbours' where they were had.
#[derive(Clone, Copy, Debug)]
pub struct DayBills<'a> {
    pub day: &'a Bill,
    pub before: Option<&'a Bill>,
    pub after: Option<&'a Bill>,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub outcome: Outcome,
    pub refund_id: String,
    pub journal: Option<JournalRefund>,
    pub bill: Option<BillRow>,
    /// The day of the bill the row came from (D, or D±1 for a refund found
    /// in a neighbour's bill); `None` when no bill lists it.
    pub bill_day: Option<Date>,
    pub note: String,
}

/// Count and money of one outcome, as the journal and as the bill have it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeSum {
    pub count: u64,
    pub journal_fen: Fen,
    pub bill_fen: Fen,
}

/// The summary of a reconciliation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// The refund rows of D's bill, counted here, whatever their status.
    pub bill: Sum,
    /// The succeeded refund rows of D's bill: what compares with
    /// [`Totals::expected`], both sides filtered the same way.
    pub bill_succeeded: Sum,
    /// What the bill states of itself, where it does.
    pub stated: BillTotals,
    /// Per outcome, in [`Outcome::ALL`] order.
    pub outcomes: [OutcomeSum; 5],
    /// The journal's succeeded refunds counted on D.
    pub expected: Sum,
    /// Unresolved journal refunds sent on D that no bill lists: not findings.
    pub unresolved_not_in_bill: Sum,
}

impl Totals {
    pub fn of(&self, outcome: Outcome) -> OutcomeSum {
        self.outcomes[outcome as usize]
    }

    fn add(&mut self, finding: &Finding) {
        let sum = &mut self.outcomes[finding.outcome as usize];
        sum.count += 1;
        if let Some(journal) = &finding.journal {
            sum.journal_fen = sum.journal_fen.saturating_add(journal.fen);
        }
        if let Some(row) = &finding.bill {
            sum.bill_fen = sum.bill_fen.saturating_add(row.fen);
        }
    }

    /// Whether anything needs a person (exit 3).
    pub fn needs_attention(&self) -> bool {
        Outcome::ALL
            .into_iter()
            .any(|o| o.needs_attention() && self.of(o).count > 0)
    }
}

/// A reconciliation's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub date: Date,
    /// Ordered by outcome, then refund id, then bill line.
    pub findings: Vec<Finding>,
    pub totals: Totals,
}

/// Matches the bills against the journal.
pub fn reconcile(bills: DayBills, journal: &JournalSide) -> Matched {
    let date = bills.day.date;
    let mut by_id: HashMap<&str, &JournalRefund> = HashMap::new();
    for refund in journal.named.iter().chain(&journal.expected) {
        by_id.insert(refund.refund_id.as_str(), refund);
    }
    let mut claimed: HashMap<i64, u64> = HashMap::new();
    let mut findings = Vec::with_capacity(bills.day.rows.len());
    let mut rows: Vec<&BillRow> = bills.day.rows.iter().collect();
    rows.sort_by_key(|row| row.line);
    for row in rows {
        let journal = by_id.get(row.refund_id.as_str()).copied();
        findings.push(bill_row(row, journal, date, &mut claimed));
    }
    let mut totals = Totals {
        stated: bills.day.totals.clone(),
        ..Totals::default()
    };
    for row in &bills.day.rows {
        totals.bill.add(1, row.fen);
        if row.status == BillStatus::Succeeded {
            totals.bill_succeeded.add(1, row.fen);
        }
    }
    let neighbours: Vec<&Bill> = [bills.before, bills.after].into_iter().flatten().collect();
    for refund in &journal.expected {
        if refund.day() != Some(date) {
            continue;
        }
        totals.expected.add(1, refund.fen);
        if claimed.contains_key(&refund.id) {
            continue;
        }
        findings.push(match find_in(&neighbours, refund) {
            Some((bill, row)) => compare(refund, row, bill.date, date),
            None => missing(refund, date, bills),
        });
    }
    for refund in &journal.unresolved {
        let listed = claimed.contains_key(&refund.id) || find_in(&neighbours, refund).is_some();
        if !listed {
            totals.unresolved_not_in_bill.add(1, refund.fen);
        }
    }
    findings.sort_by(|a, b| {
        let line = |f: &Finding| f.bill.as_ref().map(|r| r.line);
        (a.outcome, &a.refund_id, a.bill_day, line(a)).cmp(&(
            b.outcome,
            &b.refund_id,
            b.bill_day,
            line(b),
        ))
    });
    for finding in &findings {
        totals.add(finding);
    }
    Matched {
        date,
        findings,
        totals,
    }
}

/// Whether a bill row is of the journal refund's order, where both name one.
fn orders_agree(journal: &JournalRefund, row: &BillRow) -> bool {
    let agree = |ours: &str, theirs: &Option<String>| match theirs.as_deref() {
        Some(theirs) if !ours.is_empty() && !theirs.is_empty() => ours == theirs,
        _ => true,
    };
    agree(&journal.order_id, &row.order_id)
        && agree(&journal.gateway_order_id, &row.gateway_order_id)
}

/// A row that is not bulkrefund's. The contract makes any row whose status
/// bulkrefund does not know `status_differs`, the raw value in the note,
/// whoever made the refund: nobody can say what the gateway did.
fn outside(row: &BillRow, day: Date, note: String) -> Finding {
    let (outcome, note) = match &row.status {
        BillStatus::Other(raw) => {
            let why = format!(
                "the bill gives a status bulkrefund does not know ({raw:?}): a person checks with the gateway"
            );
            let note = if note.is_empty() {
                why
            } else {
                format!("{why}; {note}")
            };
            (Outcome::StatusDiffers, note)
        }
        _ => (Outcome::NotInJournal, note),
    };
    Finding {
        outcome,
        refund_id: row.refund_id.clone(),
        journal: None,
        bill: Some(row.clone()),
        bill_day: Some(day),
        note,
    }
}

/// The finding of one row of D's bill; `claimed` maps each journal refund a
/// row was matched with to that row's line.
fn bill_row(
    row: &BillRow,
    journal: Option<&JournalRefund>,
    day: Date,
    claimed: &mut HashMap<i64, u64>,
) -> Finding {
    let Some(refund) = journal.filter(|_| !row.refund_id.is_empty()) else {
        let note = if row.refund_id.is_empty() {
            "the bill gives no refund id".to_owned()
        } else {
            String::new()
        };
        return outside(row, day, note);
    };
    if !orders_agree(refund, row) {
        let order = [&refund.order_id, &refund.gateway_order_id]
            .into_iter()
            .find(|id| !id.is_empty())
            .cloned()
            .unwrap_or_default();
        return outside(
            row,
            day,
            format!("another refund under the same id: bulkrefund's {} refunds order {order}, this row another order", refund.refund_id),
        );
    }
    if let Some(first) = claimed.get(&refund.id) {
        return outside(
            row,
            day,
            format!("the bill lists this refund id again: bulkrefund's refund is matched with line {first}"),
        );
    }
    if !refund.sent {
        return outside(
            row,
            day,
            format!(
                "the journal holds this id ({}) but never sent it",
                refund.state.status()
            ),
        );
    }
    claimed.insert(refund.id, row.line);
    compare(refund, row, day, day)
}

/// The first row of the neighbours' bills that lists `refund`.
fn find_in<'a>(bills: &[&'a Bill], refund: &JournalRefund) -> Option<(&'a Bill, &'a BillRow)> {
    bills.iter().find_map(|bill| {
        bill.rows
            .iter()
            .find(|row| row.refund_id == refund.refund_id && orders_agree(refund, row))
            .map(|row| (*bill, row))
    })
}

/// A journal refund compared with the bill row that lists it, a row of the
/// bill of `bill_day` in the reconciliation of `date`.
fn compare(refund: &JournalRefund, row: &BillRow, bill_day: Date, date: Date) -> Finding {
    let mut notes = Vec::new();
    if bill_day != date {
        notes.push(format!(
            "listed in the bill of {bill_day}, line {}",
            row.line
        ));
    }
    let journal_day = refund.day();
    if refund.state == State::Succeeded && journal_day != Some(bill_day) {
        let day = journal_day.map_or_else(|| "no day".to_owned(), |d| d.to_string());
        notes.push(format!(
            "the journal counts it on {day} ({})",
            basis_note(refund)
        ));
    }
    let status = status_verdict(refund, &row.status);
    let outcome = if row.fen != refund.fen {
        notes.insert(
            0,
            format!(
                "alarm: the gateway moved {} yuan, the journal asked for {} yuan: a person compares the two",
                row.fen, refund.fen
            ),
        );
        if let Err(why) = status {
            notes.push(why);
        }
        Outcome::AmountDiffers
    } else if let Err(why) = status {
        notes.insert(0, why);
        Outcome::StatusDiffers
    } else {
        Outcome::Matched
    };
    Finding {
        outcome,
        refund_id: refund.refund_id.clone(),
        journal: Some(refund.clone()),
        bill: Some(row.clone()),
        bill_day: Some(bill_day),
        note: notes.join("; "),
    }
}

/// The bill's status as a results file names it, or its raw value.
pub fn bill_status_name(status: &BillStatus) -> &str {
    match status {
        BillStatus::Succeeded => "succeeded",
        BillStatus::Processing => "processing",
        BillStatus::Failed => "failed",
        BillStatus::Abnormal => "abnormal",
        BillStatus::Other(raw) => raw,
    }
}

/// `Ok` when the bill's status equals the journal's; else why not and what to do.
fn status_verdict(refund: &JournalRefund, bill: &BillStatus) -> Result<(), String> {
    let journal = refund.state.status();
    let same = matches!(
        (journal, bill),
        (Status::Succeeded, BillStatus::Succeeded)
            | (Status::Failed, BillStatus::Failed)
            | (Status::Processing, BillStatus::Processing)
            | (Status::Abnormal, BillStatus::Abnormal)
    );
    if same {
        return Ok(());
    }
    let said = match bill {
        BillStatus::Other(raw) => format!("a status bulkrefund does not know ({raw:?})"),
        known => bill_status_name(known).to_owned(),
    };
    if journal.is_unresolved() || journal == Status::Abnormal {
        return Err(format!(
            "the journal holds it {journal}, the bill says {said}: run `bulkrefund resume`, it queries the gateway"
        ));
    }
    Err(match (journal, bill) {
        (Status::Failed, BillStatus::Succeeded) => {
            let retry = refund.retried_as.as_deref().map_or_else(String::new, |r| {
                format!(" and its retry {r} was sent too: the payer may be paid twice")
            });
            format!("alarm: bulkrefund counts it failed (unpaid) but the bill says succeeded: it was paid{retry}; a person checks with the gateway")
        }
        (Status::Succeeded, _) => format!(
            "alarm: bulkrefund counts it succeeded, the bill says {said}: the money may not have moved; `bulkrefund show` it, then ask the gateway"
        ),
        (Status::Review, _) => format!(
            "the refund is in review, the bill says {said}: a person settles it (`bulkrefund resume --review` asks the gateway once)"
        ),
        _ => format!("alarm: bulkrefund counts it {journal}, the bill says {said}: a person checks with the gateway"),
    })
}

/// A refund the journal counts succeeded on `date` that no bill lists.
fn missing(refund: &JournalRefund, date: Date, bills: DayBills) -> Finding {
    let mut note = format!(
        "alarm: the journal counts it succeeded on {date} ({}) and no bill of {} lists it: the money may not have moved; `bulkrefund show` it, query it and tell the gateway",
        basis_note(refund),
        days_read(bills)
    );
    let unread: Vec<String> = [(bills.before, -1), (bills.after, 1)]
        .into_iter()
        .filter(|(bill, _)| bill.is_none())
        .filter_map(|(_, offset)| date.checked_add(jiff::Span::new().days(offset)).ok())
        .map(|d| d.to_string())
        .collect();
    if !unread.is_empty() {
        note.push_str(&format!(
            " (the bill of {} was not read: it may list it)",
            unread.join(" and ")
        ));
    }
    Finding {
        outcome: Outcome::MissingFromBill,
        refund_id: refund.refund_id.clone(),
        journal: Some(refund.clone()),
        bill: None,
        bill_day: None,
        note,
    }
}

/// "2026-11-29, 2026-11-30, 2026-12-01": the days whose bills were read.
fn days_read(bills: DayBills) -> String {
    let days: Vec<String> = [bills.before, Some(bills.day), bills.after]
        .into_iter()
        .flatten()
        .map(|b| b.date.to_string())
        .collect();
    days.join(", ")
}

/// The journal refunds a reconciliation needs by id: those a bill names.
pub fn named_ids(bill: &Bill) -> Vec<String> {
    let ids: HashSet<&str> = bill
        .rows
        .iter()
        .map(|row| row.refund_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    let mut ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    ids.sort();
    ids
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
