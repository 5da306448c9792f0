//! What the chaos harnesses (chaos.rs, team.rs) read from a journal and
//! check against the simulator's ledger, on either store (journal_at.rs):
//! each refund's state and gateway id, each batch line's refund state.

use std::collections::HashMap;

use bulkrefund::sim::ledger::{LedgerRefund, LedgerSnapshot, RefundState};

use super::journal_at::JournalAt;

/// A refund as the journal holds it: (state, gateway id, ever created).
pub type JournalRefund = (String, Option<String>, bool);

/// Every refund in the journal: refund id → (state, gateway id, ever created).
pub fn journal_refunds(journal: &JournalAt) -> HashMap<String, JournalRefund> {
    journal
        .rows("SELECT refund_id, state, gateway_refund_id, CAST(ever_created AS TEXT) FROM refunds")
        .into_iter()
        .map(|mut row| {
            let created = matches!(row[3].as_deref(), Some("1" | "true"));
            let gateway_id = row[2].take();
            let state = row[1].take().unwrap_or_default();
            (
                row[0].take().unwrap_or_default(),
                (state, gateway_id, created),
            )
        })
        .collect()
}

/// Each line of `batch` with the state of the refund it names, as the
/// journal holds it.
pub fn batch_heads(journal: &JournalAt, batch: i64) -> HashMap<u64, String> {
    journal
        .rows(&format!(
            "SELECT CAST(r.line AS TEXT), f.state FROM batch_rows r JOIN refunds f ON f.id = r.refund WHERE r.batch_id = {batch}"
        ))
        .into_iter()
        .filter_map(|mut row| {
            let line = row[0].as_deref()?.parse().ok()?;
            Some((line, row[1].take().unwrap_or_default()))
        })
        .collect()
}

/// Every refund of the journal whose state or gateway id is not the
/// ledger's: a state the gateway never gave that very refund. `review` (a
/// person decides) agrees with anything; `failed` of a refund never created
/// agrees with a ledger that does not hold it.
pub fn statuses_against_ledger(
    journal_refunds: &HashMap<String, JournalRefund>,
    ledger: &LedgerSnapshot,
) -> Vec<String> {
    let mut problems = Vec::new();
    let ledger_refunds: HashMap<&str, &LedgerRefund> = ledger
        .refunds
        .iter()
        .map(|r| (r.refund_id.as_str(), r))
        .collect();
    for (id, (state, gateway_id, created)) in journal_refunds {
        match (state.as_str(), ledger_refunds.get(id.as_str())) {
            ("succeeded", Some(r)) if r.status == RefundState::Succeeded => {}
            ("failed", Some(r)) if r.status == RefundState::Failed => {}
            ("abnormal", Some(r)) if r.status == RefundState::Abnormal => {}
            ("failed", None) if !created => {}
            ("review", _) => {}
            (state, found) => problems.push(format!(
                "{id}: the journal says {state}, the ledger {:?}",
                found.map(|r| r.status)
            )),
        }
        if let (Some(r), Some(gateway_id)) = (ledger_refunds.get(id.as_str()), gateway_id) {
            if &r.gateway_refund_id != gateway_id {
                problems.push(format!(
                    "{id}: gateway id {gateway_id} in the journal, {} at the gateway",
                    r.gateway_refund_id
                ));
            }
        }
    }
    problems
}
