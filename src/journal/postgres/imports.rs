//! Batches and their imports: recording a batch and its rows (deciding each
//! row), the preview of one, the traces of imports, and a batch's results
//! file.
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
    pub fn import_deciding(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
    ) -> Result<Tally, ImportError> {
        Err(ImportError::Journal(not_yet("import_deciding")))
    }

    pub fn preview(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        on_problem: &mut dyn FnMut(&str),
    ) -> Result<Tally, ImportError> {
        Err(ImportError::Journal(not_yet("preview")))
    }

    pub fn begin_import(&mut self, meta: &BatchMeta) -> Result<i64, JournalError> {
        Err(not_yet("begin_import"))
    }

    pub fn interrupted_imports(&mut self) -> Result<Vec<InterruptedImport>, JournalError> {
        Err(not_yet("interrupted_imports"))
    }

    pub fn forget_import(&mut self, id: i64) -> Result<Option<InterruptedImport>, JournalError> {
        Err(not_yet("forget_import"))
    }

    pub fn unfinished_imports(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError> {
        Err(not_yet("unfinished_imports"))
    }

    pub fn batch_exists(&mut self, batch: i64) -> Result<bool, JournalError> {
        Err(not_yet("batch_exists"))
    }

    pub fn batch_inputs(&mut self) -> Result<Vec<PathBuf>, JournalError> {
        Err(not_yet("batch_inputs"))
    }

    pub fn results_path(&mut self, batch: i64) -> Result<Option<PathBuf>, JournalError> {
        Err(not_yet("results_path"))
    }

    pub fn results_bom(&mut self, batch: i64) -> Result<bool, JournalError> {
        Err(not_yet("results_bom"))
    }

    pub fn set_results_path(&mut self, batch: i64, path: &Path) -> Result<(), JournalError> {
        Err(not_yet("set_results_path"))
    }

    pub fn set_finished(&mut self, batch: i64, finished: bool) -> Result<(), JournalError> {
        Err(not_yet("set_finished"))
    }
}
