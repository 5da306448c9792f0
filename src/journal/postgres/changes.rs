//! The changes with no claim step of their own: a state change with or without
//! its attempt, an attempt alone, taking parked refunds up again, reopening a
//! listing batch, and starting retries.
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
    pub fn apply(
        &mut self,
        refund: i64,
        expected: State,
        change: &Change,
    ) -> Result<(), JournalError> {
        Err(not_yet("apply"))
    }

    pub fn settle(
        &self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        Err(not_yet("settle"))
    }

    pub fn note_attempt(
        &mut self,
        refund: i64,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError> {
        Err(not_yet("note_attempt"))
    }

    #[cfg(test)]
    pub fn make_due(&mut self, refund: i64) -> Result<(), JournalError> {
        Err(not_yet("make_due"))
    }

    pub fn unpark(&mut self, scope: &Scope) -> Result<(), JournalError> {
        Err(not_yet("unpark"))
    }

    pub fn reopen_listing(&mut self, refund: i64) -> Result<(), JournalError> {
        Err(not_yet("reopen_listing"))
    }

    pub fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError> {
        Err(not_yet("start_retries"))
    }
}
