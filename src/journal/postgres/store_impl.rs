//! The PostgreSQL journal as a [`JournalStore`]: each named operation is the
//! inherent method of the same name on the connection ([`PgJournal`]), kept
//! beside its SQL in the module of its kind, so this file only says which is
//! which. The trait reads through `&self` and the driver's connection wants
//! `&mut`: the connection sits in a `RefCell`, borrowed for one operation
//! at a time (a row callback that called back into the journal would find
//! it borrowed; none does).

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::{outside_async, PgJournal};
use crate::batch::{CheckedRow, FileError};
use crate::gateway::GatewayKind;
use crate::journal::approval::{
    ApprovalRecord, ApprovalStore, BatchApproval, Hold, Person, Verdict, WaitingBatch,
};
use crate::journal::batch_meta::BatchMeta;
use crate::journal::change::{AttemptRecord, Change, Op};
use crate::journal::claim::{Claim, ClaimOwner, HeldElsewhere, Lease};
use crate::journal::error::BackupError;
use crate::journal::import_rows::{
    ImportError, InterruptedImport, Refusal, Tally, UnfinishedImport,
};
use crate::journal::latency_curve::LatencyCurve;
use crate::journal::reconcile_rows::{
    FindingRecord, FoundInBill, JournalRefund, ReconciledDay, ReconciliationMeta,
    RecordedReconciliation,
};
use crate::journal::records::{RefundRecord, RetryStart, Scope, Waiting};
use crate::journal::report_rows::{
    AttemptRow, AttentionRow, BatchSummary, ExportFilter, ExportRow, FailureGroup, IntentTotal,
    Listing, RefundTimes, ResultsRow, RetryLink, Transition,
};
use crate::journal::state::State;
use crate::journal::status::{RowStatus, Status};
use crate::journal::store::{DueReads, JournalStore};
use crate::journal::JournalError;
use crate::money::Fen;

/// A PostgreSQL journal, as the rest of the program holds one.
pub struct PgStore {
    /// Always `Some` until dropped (see `Drop`).
    conn: RefCell<Option<PgJournal>>,
}

impl PgStore {
    pub fn new(journal: PgJournal) -> PgStore {
        PgStore {
            conn: RefCell::new(Some(journal)),
        }
    }

    /// The connection, for one operation.
    fn conn(&self) -> RefMut<'_, PgJournal> {
        RefMut::map(self.conn.borrow_mut(), |conn| {
            conn.as_mut().expect("the connection is held until dropped")
        })
    }

    fn conn_mut(&mut self) -> &mut PgJournal {
        self.conn
            .get_mut()
            .as_mut()
            .expect("the connection is held until dropped")
    }
}

impl Drop for PgStore {
    /// Closing the connection blocks on the driver's runtime, as every
    /// statement does: a journal dropped in async code closes it outside.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().take() {
            outside_async(|| drop(conn));
        }
    }
}

impl JournalStore for PgStore {
    fn refund(&self, id: i64) -> Result<RefundRecord, JournalError> {
        outside_async(|| self.conn().refund(id))
    }

    fn refunds_named(&self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
        outside_async(|| self.conn().refunds_named(refund_id))
    }

    fn refunds_in_review(&self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError> {
        outside_async(|| self.conn().refunds_in_review(scope))
    }

    fn batch_refunds(&self, batch: i64) -> Result<Vec<i64>, JournalError> {
        outside_async(|| self.conn().batch_refunds(batch))
    }

    fn unresolved_profiles(&self, scope: &Scope) -> Result<Vec<String>, JournalError> {
        outside_async(|| self.conn().unresolved_profiles(scope))
    }

    fn affected_batches(&self, scope: &Scope) -> Result<Vec<i64>, JournalError> {
        outside_async(|| self.conn().affected_batches(scope))
    }

    fn chain_head(&self, id: i64) -> Result<i64, JournalError> {
        outside_async(|| self.conn().chain_head(id))
    }

    fn chain_links(&self, id: i64) -> Result<Vec<RefundRecord>, JournalError> {
        outside_async(|| self.conn().chain_links(id))
    }

    fn id_taken(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError> {
        outside_async(|| self.conn().id_taken(gateway, merchant_id, refund_id))
    }

    fn refund_times(&self, refund: i64) -> Result<RefundTimes, JournalError> {
        outside_async(|| self.conn().refund_times(refund))
    }

    fn transitions(&self, refund: i64) -> Result<Vec<Transition>, JournalError> {
        outside_async(|| self.conn().transitions(refund))
    }

    fn attempts(&self, refund: i64) -> Result<Vec<AttemptRow>, JournalError> {
        outside_async(|| self.conn().attempts(refund))
    }

    fn last_attempts(
        &self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        outside_async(|| self.conn().last_attempts(refunds))
    }

    fn listings(&self, head: i64) -> Result<Vec<Listing>, JournalError> {
        outside_async(|| self.conn().listings(head))
    }

    fn found_in_bills(&self, refund: i64) -> Result<Vec<FoundInBill>, JournalError> {
        outside_async(|| self.conn().found_in_bills(refund))
    }

    fn clock_ms(&self) -> Result<i64, JournalError> {
        outside_async(|| self.conn().clock_ms())
    }

    fn claim(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        outside_async(|| self.conn_mut().claim(owner, ids, lease))
    }

    fn renew(&mut self, owner: &ClaimOwner, lease: Lease) -> Result<u64, JournalError> {
        outside_async(|| self.conn_mut().renew(owner, lease))
    }

    fn release(&mut self, owner: &ClaimOwner) -> Result<u64, JournalError> {
        outside_async(|| self.conn_mut().release(owner))
    }

    fn recover_lapsed(&mut self, owner: &ClaimOwner, now: i64) -> Result<usize, JournalError> {
        outside_async(|| self.conn_mut().recover_lapsed(owner, now))
    }

    fn held_elsewhere(&self, scope: &Scope) -> Result<Vec<HeldElsewhere>, JournalError> {
        outside_async(|| self.conn().held_elsewhere(scope))
    }

    #[cfg(test)]
    fn claim_at(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
        now: i64,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        let _ = (owner, ids, lease, now);
        Err(JournalError::Store(
            "claim_at: a PostgreSQL journal claims on the server's clock only".into(),
        ))
    }

    fn apply(&self, refund: i64, expected: State, change: &Change) -> Result<(), JournalError> {
        outside_async(|| self.conn().apply(refund, expected, change))
    }

    fn settle(
        &self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        outside_async(|| self.conn().settle(refund, expected, change, attempt))
    }

    fn note_attempt(&self, refund: i64, attempt: &AttemptRecord) -> Result<(), JournalError> {
        outside_async(|| self.conn().note_attempt(refund, attempt))
    }

    fn commit_ops(
        &mut self,
        ops: &mut dyn ExactSizeIterator<Item = &Op>,
    ) -> Vec<Result<(), JournalError>> {
        outside_async(|| self.conn_mut().commit_group(ops))
    }

    #[cfg(test)]
    fn make_due(&self, refund: i64) -> Result<(), JournalError> {
        outside_async(|| self.conn().make_due(refund))
    }

    fn unpark(&self, scope: &Scope) -> Result<(), JournalError> {
        outside_async(|| self.conn().unpark(scope))
    }

    fn reopen_listing(&self, refund: i64) -> Result<(), JournalError> {
        outside_async(|| self.conn().reopen_listing(refund))
    }

    fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError> {
        outside_async(|| self.conn_mut().start_retries(batch, starts))
    }

    fn person(&self) -> Result<Person, JournalError> {
        outside_async(|| ApprovalStore::person(&self.conn().approvals()))
    }

    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError> {
        outside_async(|| ApprovalStore::approval_state(&self.conn().approvals(), batch))
    }

    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, JournalError> {
        outside_async(|| {
            ApprovalStore::record_approval(&self.conn().approvals(), batch, person, verdict, why)
        })
    }

    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError> {
        outside_async(|| ApprovalStore::approvals_of(&self.conn().approvals(), batch))
    }

    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError> {
        outside_async(|| ApprovalStore::batches_waiting(&self.conn().approvals()))
    }

    fn import_deciding(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
    ) -> Result<Tally, ImportError> {
        outside_async(|| {
            self.conn_mut()
                .import_deciding(meta, rows, interrupted, on_problem, check)
        })
    }

    fn preview(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        on_problem: &mut dyn FnMut(&str),
    ) -> Result<Tally, ImportError> {
        outside_async(|| self.conn().preview(gateway, merchant_id, rows, on_problem))
    }

    fn begin_import(&self, meta: &BatchMeta) -> Result<i64, JournalError> {
        outside_async(|| self.conn().begin_import(meta))
    }

    fn interrupted_imports(&self) -> Result<Vec<InterruptedImport>, JournalError> {
        outside_async(|| self.conn().interrupted_imports())
    }

    fn forget_import(&self, id: i64) -> Result<Option<InterruptedImport>, JournalError> {
        outside_async(|| self.conn().forget_import(id))
    }

    fn unfinished_imports(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError> {
        outside_async(|| self.conn().unfinished_imports(only))
    }

    fn batch_exists(&self, batch: i64) -> Result<bool, JournalError> {
        outside_async(|| self.conn().batch_exists(batch))
    }

    fn batch_inputs(&self) -> Result<Vec<PathBuf>, JournalError> {
        outside_async(|| self.conn().batch_inputs())
    }

    fn results_path(&self, batch: i64) -> Result<Option<PathBuf>, JournalError> {
        outside_async(|| self.conn().results_path(batch))
    }

    fn results_bom(&self, batch: i64) -> Result<bool, JournalError> {
        outside_async(|| self.conn().results_bom(batch))
    }

    fn set_results_path(&self, batch: i64, path: &Path) -> Result<(), JournalError> {
        outside_async(|| self.conn().set_results_path(batch, path))
    }

    fn set_finished(&self, batch: i64, finished: bool) -> Result<(), JournalError> {
        outside_async(|| self.conn().set_finished(batch, finished))
    }

    fn waiting(&self, scope: &Scope) -> Result<Vec<Waiting>, JournalError> {
        outside_async(|| self.conn().waiting(scope))
    }

    fn due_reader(&self, scope: &Scope, gaps: bool) -> Result<Box<dyn DueReads>, JournalError> {
        outside_async(|| self.conn().due_reader(scope, gaps))
    }

    fn batch_intents(&self, batch: i64) -> Result<Vec<IntentTotal>, JournalError> {
        outside_async(|| self.conn().batch_intents(batch))
    }

    fn batch_unsent(&self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError> {
        outside_async(|| self.conn().batch_unsent(batch))
    }

    fn refunded_in_all(&self) -> Result<(u64, Fen), JournalError> {
        outside_async(|| self.conn().refunded_in_all())
    }

    fn failures_by_code(&self, batch: i64) -> Result<Vec<FailureGroup>, JournalError> {
        outside_async(|| self.conn().failures_by_code(batch))
    }

    fn status_totals(
        &self,
        batch: i64,
        as_repeated: bool,
    ) -> Result<Vec<(Status, u64, Fen)>, JournalError> {
        outside_async(|| self.conn().status_totals(batch, as_repeated))
    }

    fn batches(&self) -> Result<Vec<BatchSummary>, JournalError> {
        outside_async(|| self.conn().batches())
    }

    fn batches_with_hash(&self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError> {
        outside_async(|| self.conn().batches_with_hash(sha256))
    }

    fn batch(&self, id: i64) -> Result<Option<BatchSummary>, JournalError> {
        outside_async(|| self.conn().batch(id))
    }

    fn batch_header(&self, batch: i64) -> Result<Vec<String>, JournalError> {
        outside_async(|| self.conn().batch_header(batch))
    }

    fn results_rows_while(
        &self,
        batch: i64,
        each: &mut dyn FnMut(ResultsRow) -> bool,
    ) -> Result<(), JournalError> {
        outside_async(|| self.conn().results_rows_while(batch, each))
    }

    fn rows_needing_attention(&self, batch: i64) -> Result<Vec<AttentionRow>, JournalError> {
        outside_async(|| self.conn().rows_needing_attention(batch))
    }

    fn retries_in_batch(&self, batch: i64) -> Result<Vec<RetryLink>, JournalError> {
        outside_async(|| self.conn().retries_in_batch(batch))
    }

    fn export_rows_while(
        &self,
        filter: &ExportFilter,
        each: &mut dyn FnMut(ExportRow) -> bool,
    ) -> Result<(), JournalError> {
        outside_async(|| self.conn().export_rows_while(filter, each))
    }

    fn export_span(&self) -> Result<Option<(String, String)>, JournalError> {
        outside_async(|| self.conn().export_span())
    }

    fn export_merchants(&self, filter: &ExportFilter) -> Result<Vec<String>, JournalError> {
        outside_async(|| self.conn().export_merchants(filter))
    }

    fn attempt_latency(
        &self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError> {
        outside_async(|| self.conn().attempt_latency(filter, max_buckets, utc_offset))
    }

    fn refunds_for_bill(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        outside_async(|| self.conn().refunds_for_bill(gateway, merchant_id, ids))
    }

    fn refunds_expected_around(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        outside_async(|| {
            self.conn()
                .refunds_expected_around(gateway, merchant_id, date)
        })
    }

    fn refunds_unresolved_on(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        outside_async(|| {
            self.conn()
                .refunds_unresolved_on(gateway, merchant_id, date)
        })
    }

    fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError> {
        outside_async(|| self.conn_mut().record_reconciliation(meta, findings))
    }

    fn reconciled_days(&self) -> Result<Vec<ReconciledDay>, JournalError> {
        outside_async(|| self.conn().reconciled_days())
    }

    fn recorded_reconciliations(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError> {
        outside_async(|| self.conn().recorded_reconciliations(first, last))
    }

    fn backup(&self, target: &Path) -> Result<i64, BackupError> {
        let _ = target;
        Err(BackupError::Journal(JournalError::Store(
            "a PostgreSQL journal is backed up by its server (pg_dump, or the team's own backups), \
             not by bulkrefund".into(),
        )))
    }
}
