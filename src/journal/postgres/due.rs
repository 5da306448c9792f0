//! The scheduler's side (what may still leave, the due reader on its own
//! connection) and the money of a batch.
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
    pub fn waiting(&mut self, scope: &Scope) -> Result<Vec<Waiting>, JournalError> {
        Err(not_yet("waiting"))
    }

    pub fn due_reader(
        &mut self,
        scope: &Scope,
        gaps: bool,
    ) -> Result<Box<dyn DueReads>, JournalError> {
        Err(not_yet("due_reader"))
    }

    pub fn batch_intents(&mut self, batch: i64) -> Result<Vec<IntentTotal>, JournalError> {
        Err(not_yet("batch_intents"))
    }

    pub fn batch_unsent(&mut self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError> {
        Err(not_yet("batch_unsent"))
    }

    pub fn refunded_in_all(&mut self) -> Result<(u64, Fen), JournalError> {
        Err(not_yet("refunded_in_all"))
    }

    pub fn failures_by_code(&mut self, batch: i64) -> Result<Vec<FailureGroup>, JournalError> {
        Err(not_yet("failures_by_code"))
    }

    pub fn status_totals(
        &self,
        batch: i64,
        as_repeated: bool,
    ) -> Result<Vec<(Status, u64, Fen)>, JournalError> {
        Err(not_yet("status_totals"))
    }
}
