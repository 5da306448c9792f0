//! Reconciliation against a gateway's bills: the journal refunds a bill is
//! matched against, and the recorded reconciliations.
//! (Being written: each operation says "not yet" until its SQL is here.)
#![allow(unused_imports, unused_variables)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::store::not_yet;
use super::PgJournal;
use crate::batch::{CheckedRow, FileError};
use crate::gateway::GatewayKind;
use crate::journal::approval::Hold;
use crate::journal::batch_meta::BatchMeta;
use crate::journal::change::{AttemptRecord, Change};
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
use crate::journal::store::DueReads;
use crate::journal::JournalError;
use crate::money::Fen;

impl PgJournal {
    pub fn refunds_for_bill(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError> {
        Err(not_yet("refunds_for_bill"))
    }

    pub fn refunds_expected_around(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        Err(not_yet("refunds_expected_around"))
    }

    pub fn refunds_unresolved_on(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError> {
        Err(not_yet("refunds_unresolved_on"))
    }

    pub fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError> {
        Err(not_yet("record_reconciliation"))
    }

    pub fn reconciled_days(&mut self) -> Result<Vec<ReconciledDay>, JournalError> {
        Err(not_yet("reconciled_days"))
    }

    pub fn recorded_reconciliations(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError> {
        Err(not_yet("recorded_reconciliations"))
    }
}
