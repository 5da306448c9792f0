//! One refund, the refunds of a scope, the chains of retries, and a refund's
//! history (transitions, attempts, listings, bills that found it).
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
    pub fn refund(&mut self, id: i64) -> Result<RefundRecord, JournalError> {
        Err(not_yet("refund"))
    }

    pub fn refunds_named(&mut self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError> {
        Err(not_yet("refunds_named"))
    }

    pub fn refunds_in_review(&mut self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError> {
        Err(not_yet("refunds_in_review"))
    }

    pub fn batch_refunds(&mut self, batch: i64) -> Result<Vec<i64>, JournalError> {
        Err(not_yet("batch_refunds"))
    }

    pub fn unresolved_profiles(&mut self, scope: &Scope) -> Result<Vec<String>, JournalError> {
        Err(not_yet("unresolved_profiles"))
    }

    pub fn affected_batches(&mut self, scope: &Scope) -> Result<Vec<i64>, JournalError> {
        Err(not_yet("affected_batches"))
    }

    pub fn chain_head(&mut self, id: i64) -> Result<i64, JournalError> {
        Err(not_yet("chain_head"))
    }

    pub fn chain_links(&mut self, id: i64) -> Result<Vec<RefundRecord>, JournalError> {
        Err(not_yet("chain_links"))
    }

    pub fn id_taken(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError> {
        Err(not_yet("id_taken"))
    }

    pub fn refund_times(&mut self, refund: i64) -> Result<RefundTimes, JournalError> {
        Err(not_yet("refund_times"))
    }

    pub fn transitions(&mut self, refund: i64) -> Result<Vec<Transition>, JournalError> {
        Err(not_yet("transitions"))
    }

    pub fn attempts(&mut self, refund: i64) -> Result<Vec<AttemptRow>, JournalError> {
        Err(not_yet("attempts"))
    }

    pub fn last_attempts(
        &self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        Err(not_yet("last_attempts"))
    }

    pub fn listings(&mut self, head: i64) -> Result<Vec<Listing>, JournalError> {
        Err(not_yet("listings"))
    }

    pub fn found_in_bills(&mut self, refund: i64) -> Result<Vec<FoundInBill>, JournalError> {
        Err(not_yet("found_in_bills"))
    }
}
