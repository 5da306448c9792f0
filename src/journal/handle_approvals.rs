//! The handle is an [`ApprovalStore`] whatever store it holds: the rule in
//! [`super::approval`] asks it, and it asks the store's named operations.

use super::approval::{
    ApprovalRecord, ApprovalStore, BatchApproval, Person, Verdict, WaitingBatch,
};
use super::{Journal, JournalError, JournalStore};

/// The handle answers for whichever store it holds.
impl ApprovalStore for Journal {
    type Error = JournalError;

    fn person(&self) -> Result<Person, Self::Error> {
        JournalStore::person(&**self)
    }
    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, Self::Error> {
        JournalStore::approval_state(&**self, batch)
    }
    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, Self::Error> {
        JournalStore::record_approval(&**self, batch, person, verdict, why)
    }
    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, Self::Error> {
        JournalStore::approvals_of(&**self, batch)
    }
    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, Self::Error> {
        JournalStore::batches_waiting(&**self)
    }
}

impl Journal {
    /// `batch`, when it waits for approval.
    pub fn batch_waiting(&self, batch: i64) -> Result<Option<WaitingBatch>, JournalError> {
        Ok(ApprovalStore::batches_waiting(self)?
            .into_iter()
            .find(|w| w.batch == batch))
    }
}
