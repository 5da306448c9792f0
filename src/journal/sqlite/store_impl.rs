//! The SQLite journal as a [`JournalStore`]: each named operation is the
//! inherent method of the same name (kept where it was, beside its SQL), so
//! this file only says which is which. The few operations whose inherent form
//! is generic (an iterator, a caller's error type) are adapted here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::batches::UnfinishedImport;
use super::chain::RetryStart;
use super::due::{DueReader, DueRefund};
use super::file::BackupError;
use super::history::{AttemptRow, Listing, RefundTimes, Transition};
use super::import::{BatchMeta, CheckedRow, ImportError, Refusal, Tally};
use super::imports::InterruptedImport;
use super::latency::LatencyCurve;
use super::money::{FailureGroup, IntentTotal};
use super::outgoing::Waiting;
use super::reconcile::{FindingRecord, JournalRefund, ReconciliationMeta};
use super::reconciled::{FoundInBill, ReconciledDay, RecordedReconciliation};
use super::reports::{AttentionRow, BatchSummary, ExportFilter, ExportRow, ResultsRow, RetryLink};
use super::{
    AttemptRecord, Change, JournalError, Op, RefundRecord, RowStatus, Scope, SqliteJournal, State,
    Status,
};
use crate::batch::FileError;
use crate::gateway::GatewayKind;
use crate::journal::approval::{
    ApprovalRecord, ApprovalStore, BatchApproval, Hold, Person, Verdict, WaitingBatch,
};
use crate::journal::claim::{Claim, ClaimOwner, HeldElsewhere, Lease};
use crate::journal::store::{DueReads, JournalStore};
use crate::money::Fen;

/// How a row callback's "stop" leaves the inherent row readers, which end at
/// the first error their caller's callback gives.
enum Halt {
    Stopped,
    Failed(JournalError),
}

impl From<JournalError> for Halt {
    fn from(e: JournalError) -> Halt {
        Halt::Failed(e)
    }
}

fn go_on(more: bool) -> Result<(), Halt> {
    if more {
        Ok(())
    } else {
        Err(Halt::Stopped)
    }
}

fn stopped_is_done(read: Result<(), Halt>) -> Result<(), JournalError> {
    match read {
        Ok(()) | Err(Halt::Stopped) => Ok(()),
        Err(Halt::Failed(e)) => Err(e),
    }
}

impl JournalStore for SqliteJournal {
    fn refund(&self, id: i64) -> Result<RefundRecord, JournalError> {
        SqliteJournal::refund(self, id)
    }

    fn refunds_named(&self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
        SqliteJournal::refunds_named(self, refund_id)
    }

    fn refunds_in_review(&self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError> {
        SqliteJournal::refunds_in_review(self, scope)
    }

    fn batch_refunds(&self, batch: i64) -> Result<Vec<i64>, JournalError> {
        SqliteJournal::batch_refunds(self, batch)
    }

    fn unresolved_profiles(&self, scope: &Scope) -> Result<Vec<String>, JournalError> {
        SqliteJournal::unresolved_profiles(self, scope)
    }

    fn affected_batches(&self, scope: &Scope) -> Result<Vec<i64>, JournalError> {
        SqliteJournal::affected_batches(self, scope)
    }

    fn chain_head(&self, id: i64) -> Result<i64, JournalError> {
        SqliteJournal::chain_head(self, id)
    }

    fn chain_links(&self, id: i64) -> Result<Vec<RefundRecord>, JournalError> {
        SqliteJournal::chain_links(self, id)
    }

    fn id_taken(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError> {
        SqliteJournal::id_taken(self, gateway, merchant_id, refund_id)
    }

    fn refund_times(&self, refund: i64) -> Result<RefundTimes, JournalError> {
        SqliteJournal::refund_times(self, refund)
    }

    fn transitions(&self, refund: i64) -> Result<Vec<Transition>, JournalError> {
        SqliteJournal::transitions(self, refund)
    }

    fn attempts(&self, refund: i64) -> Result<Vec<AttemptRow>, JournalError> {
        SqliteJournal::attempts(self, refund)
    }

    fn last_attempts(
        &self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        SqliteJournal::last_attempts(self, refunds)
    }

    fn listings(&self, head: i64) -> Result<Vec<Listing>, JournalError> {
        SqliteJournal::listings(self, head)
    }

    fn found_in_bills(&self, refund: i64) -> Result<Vec<FoundInBill>, JournalError> {
        SqliteJournal::found_in_bills(self, refund)
    }

    fn clock_ms(&self) -> Result<i64, JournalError> {
        Ok(SqliteJournal::clock_ms(self))
    }

    fn claim(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        SqliteJournal::claim(self, owner, ids, lease)
    }

    fn renew(&mut self, owner: &ClaimOwner, lease: Lease) -> Result<u64, JournalError> {
        SqliteJournal::renew(self, owner, lease)
    }

    fn release(&mut self, owner: &ClaimOwner) -> Result<u64, JournalError> {
        SqliteJournal::release(self, owner)
    }

    fn recover_lapsed(&mut self, owner: &ClaimOwner, now: i64) -> Result<usize, JournalError> {
        SqliteJournal::recover_lapsed(self, owner, now)
    }

    fn held_elsewhere(&self, scope: &Scope) -> Result<Vec<HeldElsewhere>, JournalError> {
        SqliteJournal::held_elsewhere(self, scope)
    }

    #[cfg(test)]
    fn claim_at(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
        now: i64,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        SqliteJournal::claim_at(self, owner, ids, lease, now)
    }

    fn apply(&self, refund: i64, expected: State, change: &Change) -> Result<(), JournalError> {
        SqliteJournal::apply(self, refund, expected, change)
    }

    fn settle(
        &self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        SqliteJournal::settle(self, refund, expected, change, attempt)
    }

    fn note_attempt(&self, refund: i64, attempt: &AttemptRecord) -> Result<(), JournalError> {
        SqliteJournal::note_attempt(self, refund, attempt)
    }

    fn commit_ops(
        &mut self,
        ops: &mut dyn ExactSizeIterator<Item = &Op>,
    ) -> Vec<Result<(), JournalError>> {
        SqliteJournal::commit_group(self, ops)
    }

    #[cfg(test)]
    fn make_due(&self, refund: i64) -> Result<(), JournalError> {
        SqliteJournal::make_due(self, refund)
    }

    fn unpark(&self, scope: &Scope) -> Result<(), JournalError> {
        SqliteJournal::unpark(self, scope)
    }

    fn reopen_listing(&self, refund: i64) -> Result<(), JournalError> {
        SqliteJournal::reopen_listing(self, refund)
    }

    fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError> {
        SqliteJournal::start_retries(self, batch, starts)
    }

    fn person(&self) -> Result<Person, JournalError> {
        ApprovalStore::person(self)
    }
    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError> {
        ApprovalStore::approval_state(self, batch)
    }
    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, JournalError> {
        ApprovalStore::record_approval(self, batch, person, verdict, why)
    }
    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError> {
        ApprovalStore::approvals_of(self, batch)
    }
    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError> {
        ApprovalStore::batches_waiting(self)
    }

    fn import_deciding(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
    ) -> Result<Tally, ImportError> {
        super::import::import_deciding(self, meta, rows, interrupted, on_problem, check)
    }

    fn preview(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        on_problem: &mut dyn FnMut(&str),
    ) -> Result<Tally, ImportError> {
        super::preview::preview(Some(self), gateway, merchant_id, rows, on_problem)
    }

    fn begin_import(&self, meta: &BatchMeta) -> Result<i64, JournalError> {
        SqliteJournal::begin_import(self, meta)
    }

    fn interrupted_imports(&self) -> Result<Vec<InterruptedImport>, JournalError> {
        SqliteJournal::interrupted_imports(self)
    }

    fn forget_import(&self, id: i64) -> Result<Option<InterruptedImport>, JournalError> {
        SqliteJournal::forget_import(self, id)
    }

    fn unfinished_imports(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError> {
        SqliteJournal::unfinished_imports(self, only)
    }

    fn batch_exists(&self, batch: i64) -> Result<bool, JournalError> {
        SqliteJournal::batch_exists(self, batch)
    }

    fn batch_inputs(&self) -> Result<Vec<PathBuf>, JournalError> {
        SqliteJournal::batch_inputs(self)
    }

    fn results_path(&self, batch: i64) -> Result<Option<PathBuf>, JournalError> {
        SqliteJournal::results_path(self, batch)
    }

    fn results_bom(&self, batch: i64) -> Result<bool, JournalError> {
        SqliteJournal::results_bom(self, batch)
    }

    fn set_results_path(&self, batch: i64, path: &Path) -> Result<(), JournalError> {
        SqliteJournal::set_results_path(self, batch, path)
    }

    fn set_finished(&self, batch: i64, finished: bool) -> Result<(), JournalError> {
        SqliteJournal::set_finished(self, batch, finished)
    }

    fn waiting(&self, scope: &Scope) -> Result<Vec<Waiting>, JournalError> {
        SqliteJournal::waiting(self, scope)
    }

    fn due_reader(&self, scope: &Scope, gaps: bool) -> Result<Box<dyn DueReads>, JournalError> {
        Ok(Box::new(SqliteJournal::due_reader(self, scope, gaps)?))
    }

    fn batch_intents(&self, batch: i64) -> Result<Vec<IntentTotal>, JournalError> {
        SqliteJournal::batch_intents(self, batch)
    }

    fn batch_unsent(&self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError> {
        SqliteJournal::batch_unsent(self, batch)
    }

    fn refunded_in_all(&self) -> Result<(u64, Fen), JournalError> {
        SqliteJournal::refunded_in_all(self)
    }

    fn failures_by_code(&self, batch: i64) -> Result<Vec<FailureGroup>, JournalError> {
        SqliteJournal::failures_by_code(self, batch)
    }

    fn status_totals(
        &self,
        batch: i64,
        as_repeated: bool,
    ) -> Result<Vec<(Status, u64, Fen)>, JournalError> {
        SqliteJournal::status_totals(self, batch, as_repeated)
    }

    fn batches(&self) -> Result<Vec<BatchSummary>, JournalError> {
        SqliteJournal::batches(self)
    }

    fn batches_with_hash(&self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError> {
        SqliteJournal::batches_with_hash(self, sha256)
    }

    fn batch(&self, id: i64) -> Result<Option<BatchSummary>, JournalError> {
        SqliteJournal::batch(self, id)
    }

    fn batch_header(&self, batch: i64) -> Result<Vec<String>, JournalError> {
        SqliteJournal::batch_header(self, batch)
    }

    fn results_rows_while(
        &self,
        batch: i64,
        each: &mut dyn FnMut(ResultsRow) -> bool,
    ) -> Result<(), JournalError> {
        stopped_is_done(SqliteJournal::results_rows(self, batch, |row| {
            go_on(each(row))
        }))
    }

    fn rows_needing_attention(&self, batch: i64) -> Result<Vec<AttentionRow>, JournalError> {
        SqliteJournal::rows_needing_attention(self, batch)
    }

    fn retries_in_batch(&self, batch: i64) -> Result<Vec<RetryLink>, JournalError> {
        SqliteJournal::retries_in_batch(self, batch)
    }

    fn export_rows_while(
        &self,
        filter: &ExportFilter,
        each: &mut dyn FnMut(ExportRow) -> bool,
    ) -> Result<(), JournalError> {
        stopped_is_done(SqliteJournal::export_rows(self, filter, |row| {
            go_on(each(row))
        }))
    }

    fn export_span(&self) -> Result<Option<(String, String)>, JournalError> {
        SqliteJournal::export_span(self)
    }

    fn export_merchants(&self, filter: &ExportFilter) -> Result<Vec<String>, JournalError> {
        SqliteJournal::export_merchants(self, filter)
    }

    fn attempt_latency(
        &self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError> {
        SqliteJournal::attempt_latency(self, filter, max_buckets, utc_offset)
    }

    fn refunds_for_bill(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        SqliteJournal::refunds_for_bill(self, gateway, merchant_id, ids)
    }

    fn refunds_expected_around(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        SqliteJournal::refunds_expected_around(self, gateway, merchant_id, date)
    }

    fn refunds_unresolved_on(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        SqliteJournal::refunds_unresolved_on(self, gateway, merchant_id, date)
    }

    fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError> {
        SqliteJournal::record_reconciliation(self, meta, findings)
    }

    fn reconciled_days(&self) -> Result<Vec<ReconciledDay>, JournalError> {
        SqliteJournal::reconciled_days(self)
    }

    fn recorded_reconciliations(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError> {
        SqliteJournal::recorded_reconciliations(self, first, last)
    }

    fn backup(&self, target: &Path) -> Result<i64, BackupError> {
        super::file::backup(self, target)
    }
}

impl DueReads for DueReader {
    fn page(&self, cursor: i64) -> Result<Vec<DueRefund>, JournalError> {
        DueReader::page(self, cursor)
    }

    fn polls(&self, limit: usize) -> Result<Vec<DueRefund>, JournalError> {
        DueReader::polls(self, limit)
    }

    fn next_due(&self, poll_open: bool) -> Result<Option<i64>, JournalError> {
        DueReader::next_due(self, poll_open)
    }

    fn denials(&self, refund: i64) -> Result<u32, JournalError> {
        DueReader::denials(self, refund)
    }

    fn count(&self, finals_only: bool) -> Result<u64, JournalError> {
        DueReader::count(self, finals_only)
    }
}
