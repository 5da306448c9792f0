//! The reports: batches, a batch's results rows and rows needing attention,
//! retries, export rows and the attempts' latency.
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
    pub fn batches(&mut self) -> Result<Vec<BatchSummary>, JournalError> {
        Err(not_yet("batches"))
    }

    pub fn batches_with_hash(&mut self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError> {
        Err(not_yet("batches_with_hash"))
    }

    pub fn batch(&mut self, id: i64) -> Result<Option<BatchSummary>, JournalError> {
        Err(not_yet("batch"))
    }

    pub fn batch_header(&mut self, batch: i64) -> Result<Vec<String>, JournalError> {
        Err(not_yet("batch_header"))
    }

    pub fn results_rows_while(
        &self,
        batch: i64,
        each: &mut dyn FnMut(ResultsRow) -> bool,
    ) -> Result<(), JournalError> {
        Err(not_yet("results_rows_while"))
    }

    pub fn rows_needing_attention(
        &mut self,
        batch: i64,
    ) -> Result<Vec<AttentionRow>, JournalError> {
        Err(not_yet("rows_needing_attention"))
    }

    pub fn retries_in_batch(&mut self, batch: i64) -> Result<Vec<RetryLink>, JournalError> {
        Err(not_yet("retries_in_batch"))
    }

    pub fn export_rows_while(
        &self,
        filter: &ExportFilter,
        each: &mut dyn FnMut(ExportRow) -> bool,
    ) -> Result<(), JournalError> {
        Err(not_yet("export_rows_while"))
    }

    pub fn export_span(&mut self) -> Result<Option<(String, String)>, JournalError> {
        Err(not_yet("export_span"))
    }

    pub fn export_merchants(&mut self, filter: &ExportFilter) -> Result<Vec<String>, JournalError> {
        Err(not_yet("export_merchants"))
    }

    pub fn attempt_latency(
        &self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError> {
        Err(not_yet("attempt_latency"))
    }
}
