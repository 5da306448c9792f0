//! A reconciliation as the journal records it: its summary and one
//! [`FindingRecord`] per finding (the journal knows nothing of matching's
//! types; this is the one translation).

use super::matching::{bill_status_name, Matched, Outcome};
use crate::journal::reconcile::{FindingRecord, Money, ReconciliationMeta};

/// Where the bill came from, for the record.
#[derive(Clone, Debug)]
pub struct Source {
    pub profile: String,
    pub gateway: crate::gateway::GatewayKind,
    pub merchant_id: String,
    pub source: String,
    pub raw_path: Option<String>,
    pub raw_sha256: String,
    pub neighbours: String,
}

pub fn meta(source: Source, matched: &Matched) -> ReconciliationMeta {
    let t = &matched.totals;
    ReconciliationMeta {
        profile: source.profile,
        gateway: source.gateway,
        merchant_id: source.merchant_id,
        source: source.source,
        raw_path: source.raw_path,
        raw_sha256: source.raw_sha256,
        neighbours: source.neighbours,
        bill_date: matched.date,
        bill: Money {
            count: t.bill.count,
            fen: t.bill.fen,
        },
        counts: Outcome::ALL.map(|o| t.of(o).count),
        unresolved_not_in_bill: t.unresolved_not_in_bill.count,
        expected: Money {
            count: t.expected.count,
            fen: t.expected.fen,
        },
    }
}

pub fn findings(matched: &Matched) -> Vec<FindingRecord> {
    matched
        .findings
        .iter()
        .map(|f| {
            let journal = f.journal.as_ref();
            let bill = f.bill.as_ref();
            FindingRecord {
                outcome: f.outcome.as_str(),
                refund_id: f.refund_id.clone(),
                refund: journal.map(|j| j.id),
                bill_day: f.bill_day,
                bill_line: bill.map(|b| b.line),
                gateway_refund_id: bill
                    .and_then(|b| b.gateway_refund_id.clone())
                    .or_else(|| journal.and_then(|j| j.gateway_refund_id.clone())),
                journal_status: journal.map(|j| j.state.status().as_str()),
                bill_status: bill.map(|b| bill_status_name(&b.status).to_owned()),
                journal_fen: journal.map(|j| j.fen),
                bill_fen: bill.map(|b| b.fen),
                bill_success_at: bill
                    .and_then(|b| b.success_at)
                    .map(crate::zone::journal_time),
                note: f.note.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::reconcile::OUTCOMES;

    #[test]
    fn the_journal_counts_outcomes_in_matchings_order() {
        assert_eq!(Outcome::ALL.map(Outcome::as_str), OUTCOMES);
    }
}
