//! How a second person's approval is shown (`status`, `show`): the batches
//! that wait, and each batch's approvals and refusals (time, person, verdict,
//! why), as text lines and as JSON.

use std::io::Write;

use serde_json::{json, Value};

use crate::journal::approval::{ApprovalRecord, ApprovalStore, WaitingBatch};
use crate::journal::{Journal, JournalError};
use crate::zone::Zone;

/// `2026-12-02 10:00:00 +08:00  refused   alice (uid:1000): alice (uid:1000) recorded this batch: ...`
pub fn record_line(record: &ApprovalRecord, zone: &Zone) -> String {
    format!(
        "{}  {:<8}  {}: {}",
        zone.show(&record.at),
        record.verdict.as_str(),
        record.person,
        record.why
    )
}

pub fn record_json(record: &ApprovalRecord, zone: &Zone) -> Value {
    json!({
        "batch": record.batch,
        "at": zone.show(&record.at),
        "person": record.person.name,
        "person_key": record.person.key,
        "verdict": record.verdict.as_str(),
        "why": record.why,
    })
}

pub fn waiting_json(waiting: &WaitingBatch) -> Value {
    json!({
        "batch": waiting.batch,
        "recorded_by": waiting.hold.recorded_by.name,
        "recorded_by_key": waiting.hold.recorded_by.key,
        "approve_over_fen": waiting.hold.over_fen.0,
        "refunds": waiting.refunds,
        "fen": waiting.fen.0,
        "what_to_do": waiting.describe(),
    })
}

/// What the journal says of the approval of `batches` (each once, in the
/// order given): whether each waits, and every approval and refusal.
pub struct BatchesApproval {
    pub waiting: Vec<WaitingBatch>,
    pub records: Vec<ApprovalRecord>,
}

impl BatchesApproval {
    pub fn read(journal: &Journal, batches: &[i64]) -> Result<BatchesApproval, JournalError> {
        let mut seen = Vec::new();
        let mut records = Vec::new();
        for &batch in batches {
            if !seen.contains(&batch) {
                seen.push(batch);
                records.extend(journal.approvals_of(batch)?);
            }
        }
        let mut waiting = journal.batches_waiting()?;
        waiting.retain(|w| seen.contains(&w.batch));
        Ok(BatchesApproval { waiting, records })
    }

    /// The waiting batches' lines, then each approval and refusal, indented.
    pub fn write(&self, zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
        for waiting in &self.waiting {
            writeln!(out, "  {}", waiting.describe())?;
        }
        if !self.records.is_empty() {
            writeln!(out, "  approvals and refusals:")?;
        }
        for record in &self.records {
            writeln!(
                out,
                "    batch {}  {}",
                record.batch,
                record_line(record, zone)
            )?;
        }
        Ok(())
    }

    pub fn json(&self, zone: &Zone) -> Value {
        json!({
            "waiting": self.waiting.iter().map(waiting_json).collect::<Vec<_>>(),
            "approvals": self.records.iter().map(|r| record_json(r, zone)).collect::<Vec<_>>(),
        })
    }
}
