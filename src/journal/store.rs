//! The journal's named operations, whatever stores it: [`JournalStore`] is
//! what the commands, the engine and the reports ask of a journal, one method
//! per question or change, and [`DueReads`] the scheduler's reads beside the
//! writer. A store (SQLite today, PostgreSQL next) implements both; the
//! decisions every store shares (the state machine, the statuses, which states
//! count as what money) live beside this, in `state`, `status` and
//! `money_rules`. Object-safe: the handle ([`super::Journal`]) holds a
//! `Box<dyn JournalStore>`, and the writer thread owns that handle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;

use super::approval::{ApprovalRecord, BatchApproval, Hold, Person, Verdict, WaitingBatch};
use super::batch_meta::BatchMeta;
use super::change::{AttemptRecord, Change, Op};
use super::claim::{Claim, ClaimOwner, HeldElsewhere, Lease};
use super::error::BackupError;
use super::import_rows::{ImportError, InterruptedImport, Refusal, Tally, UnfinishedImport};
use super::latency_curve::LatencyCurve;
use super::reconcile_rows::{
    FindingRecord, FoundInBill, JournalRefund, ReconciledDay, ReconciliationMeta,
    RecordedReconciliation,
};
use super::records::{DueRefund, RefundRecord, RetryStart, Scope, Waiting};
use super::report_rows::{
    AttemptRow, AttentionRow, BatchSummary, ExportFilter, ExportRow, FailureGroup, IntentTotal,
    Listing, RefundTimes, ResultsRow, RetryLink, Transition,
};
use super::state::State;
use super::status::{RowStatus, Status};
use super::JournalError;
use crate::batch::{CheckedRow, FileError};
use crate::gateway::GatewayKind;
use crate::money::Fen;

/// What the rest of the program reads from and changes in a journal.
pub trait JournalStore: Send {
    // Refunds: one refund, the refunds of a scope, and the chains of retries.
    /// The refund with this journal id.
    fn refund(&self, id: i64) -> Result<RefundRecord, JournalError>;
    /// Every refund recorded under this id (one per gateway and merchant).
    fn refunds_named(&self, refund_id: &str) -> Result<Vec<RefundRecord>, JournalError>;
    /// The refunds in review within `scope`.
    fn refunds_in_review(&self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError>;
    /// The refunds a batch's rows name, each once, in input order.
    fn batch_refunds(&self, batch: i64) -> Result<Vec<i64>, JournalError>;
    /// The profiles that unresolved refunds in `scope` belong to, and abnormal
    /// ones whose hourly query is due.
    fn unresolved_profiles(&self, scope: &Scope) -> Result<Vec<String>, JournalError>;
    /// Batches whose results the work on `scope` may change: every batch whose
    /// rows name an unresolved or abnormal refund in scope (whichever batch brought it in
    /// scope: a refund's end is reported by every batch that lists it), and the
    /// scope's batches not yet finished; for a retry, every batch whose rows
    /// name one of its refunds.
    fn affected_batches(&self, scope: &Scope) -> Result<Vec<i64>, JournalError>;
    /// The last link of the chain `id` belongs to (`id` itself when never retried).
    fn chain_head(&self, id: i64) -> Result<i64, JournalError>;
    /// `id` and every link before it, newest first (the root, the id the
    /// operator asked for, comes last).
    fn chain_links(&self, id: i64) -> Result<Vec<RefundRecord>, JournalError>;
    /// True when the journal holds `refund_id` for this gateway and merchant
    /// (used, so never derived again).
    fn id_taken(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError>;

    // A refund's history: its transitions, its attempts, its listings in batches.
    /// When the refund was recorded, first sent, finished, and what the gateway said of its times.
    fn refund_times(&self, refund: i64) -> Result<RefundTimes, JournalError>;
    /// The refund's transitions, oldest first.
    fn transitions(&self, refund: i64) -> Result<Vec<Transition>, JournalError>;
    /// The refund's HTTP attempts, oldest first.
    fn attempts(&self, refund: i64) -> Result<Vec<AttemptRow>, JournalError>;
    /// The last HTTP attempt about each of `refunds` that has one, as (kind,
    /// outcome): one pass over the attempts, whatever their number.
    fn last_attempts(
        &self,
        refunds: &[i64],
    ) -> Result<HashMap<i64, (String, String)>, JournalError>;
    /// The batch rows that list the chain whose head is `head`, in batch order.
    fn listings(&self, head: i64) -> Result<Vec<Listing>, JournalError>;
    /// Every reconciliation that found this journal refund, oldest first.
    fn found_in_bills(&self, refund: i64) -> Result<Vec<FoundInBill>, JournalError>;

    // Changes: the only ways a refund's state or schedule changes.
    // Claims ([`super::claim`]): a process works only on refunds it claimed,
    // under a lease it renews, and every write of one names its claim.
    /// Now on the journal's clock, in unix ms: the clock every lease is read on.
    fn clock_ms(&self) -> Result<i64, JournalError>;
    /// Claims each of `ids` that is not settled and whose claim is free, this
    /// owner's, or lapsed; skips one another process holds live. An in-flight
    /// refund is never taken: one whose claim lapsed becomes `unknown` first.
    fn claim(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
    ) -> Result<Vec<(i64, Claim)>, JournalError>;
    /// Extends every live claim of `owner`; one taken over is not renewed.
    fn renew(&mut self, owner: &ClaimOwner, lease: Lease) -> Result<u64, JournalError>;
    /// Frees `owner`'s claims at a clean end.
    fn release(&mut self, owner: &ClaimOwner) -> Result<u64, JournalError>;
    /// Every in-flight refund whose claim lapsed (or that has none) becomes
    /// `unknown`, to be queried; a live claim of another process is never touched.
    fn recover_lapsed(&mut self, owner: &ClaimOwner, now: i64) -> Result<usize, JournalError>;
    /// The refunds of `scope` not yet final held under a live claim, by
    /// owner: after a run released its own, what other processes hold.
    fn held_elsewhere(&self, scope: &Scope) -> Result<Vec<HeldElsewhere>, JournalError>;
    #[cfg(test)]
    /// [`JournalStore::claim`] at a given time.
    fn claim_at(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
        now: i64,
    ) -> Result<Vec<(i64, Claim)>, JournalError>;
    /// A state change with no attempt behind it (checked, with its event).
    fn apply(&self, refund: i64, expected: State, change: &Change) -> Result<(), JournalError>;
    /// A state change, recording the attempt whose answer caused it.
    fn settle(
        &self,
        refund: i64,
        expected: State,
        change: &Change,
        attempt: &AttemptRecord,
    ) -> Result<(), JournalError>;
    /// An attempt that changed nothing about its refund.
    fn note_attempt(&self, refund: i64, attempt: &AttemptRecord) -> Result<(), JournalError>;
    /// Commits a group of changes in one transaction: one result each. A
    /// refused change fails alone; any other error fails the whole group.
    /// (The handle's `commit_group` takes any iterator.)
    fn commit_ops(
        &mut self,
        ops: &mut dyn ExactSizeIterator<Item = &Op>,
    ) -> Vec<Result<(), JournalError>>;
    /// Test-only: the refund's next request falls due now, as if its wait had passed.
    #[cfg(test)]
    fn make_due(&self, refund: i64) -> Result<(), JournalError>;
    /// Refunds in `scope` an earlier run gave up on (still unknown) are taken up again.
    fn unpark(&self, scope: &Scope) -> Result<(), JournalError>;
    /// Marks unfinished every batch whose rows list `refund`: its outcome
    /// changed, so its results are rewritten by the run that changed it.
    fn reopen_listing(&self, refund: i64) -> Result<(), JournalError>;
    /// Carries out a retry in one transaction: same-id refunds go back to
    /// pending; new ids start retries of their chains' heads. Returns the
    /// refunds to send, in order. The refunds `batch`'s retry makes belong to that batch.
    fn start_retries(
        &mut self,
        batch: i64,
        starts: &[RetryStart],
    ) -> Result<Vec<i64>, JournalError>;

    // A second person's approval ([`super::approval`]: the rule; these, what the store keeps).
    /// Who is asking, as this store knows it (SQLite: the OS user of the
    /// process; PostgreSQL: the database role, `current_user`).
    fn person(&self) -> Result<Person, JournalError>;
    /// What the store knows of `batch`'s approval; `None`: no such batch.
    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError>;
    /// Appends an approval or a refusal to the audit trail (and an event to
    /// each refund the batch holds back), in one transaction.
    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, JournalError>;
    /// Every approval and refusal of `batch`, oldest first.
    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError>;
    /// The batches that wait, in batch order.
    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError>;

    // Batches and their imports.
    /// Records a batch and its rows, every row or none (the handle's
    /// [`super::import::import_deciding`] is the way to call it): `interrupted`
    /// is asked every few thousand rows; `check` sees the tally before the
    /// batch is committed and may refuse it, leaving nothing recorded, or
    /// hold it for a second person's approval, written with the rows.
    fn import_deciding(
        &mut self,
        meta: &BatchMeta,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        interrupted: &dyn Fn() -> bool,
        on_problem: &mut dyn FnMut(&str),
        check: &mut dyn FnMut(&Tally) -> Result<Option<Hold>, Refusal>,
    ) -> Result<Tally, ImportError>;
    /// The verdict an import would give every row, deciding against this
    /// journal and writing nothing of the batch (`validate`).
    fn preview(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        rows: &mut dyn Iterator<Item = Result<CheckedRow, FileError>>,
        on_problem: &mut dyn FnMut(&str),
    ) -> Result<Tally, ImportError>;
    /// Commits the trace of an import about to begin, as an import
    /// does first: what a process killed right after leaves (for tests).
    fn begin_import(&self, meta: &BatchMeta) -> Result<i64, JournalError>;
    /// Imports that began and never ended (killed), oldest first.
    fn interrupted_imports(&self) -> Result<Vec<InterruptedImport>, JournalError>;
    /// Deletes the trace `id` (the operator will not run its file): returns
    /// what it was, `None` when there is no such trace.
    fn forget_import(&self, id: i64) -> Result<Option<InterruptedImport>, JournalError>;
    /// Unfinished imports, among `only` when given.
    fn unfinished_imports(
        &self,
        only: Option<&[i64]>,
    ) -> Result<Vec<UnfinishedImport>, JournalError>;
    /// Whether the journal holds this batch.
    fn batch_exists(&self, batch: i64) -> Result<bool, JournalError>;
    /// Every batch's input file (its canonical path when recorded, else its name as given).
    fn batch_inputs(&self) -> Result<Vec<PathBuf>, JournalError>;
    /// Where the batch's results file was last written, if it was.
    fn results_path(&self, batch: i64) -> Result<Option<PathBuf>, JournalError>;
    /// Whether the batch's results file starts with a BOM.
    fn results_bom(&self, batch: i64) -> Result<bool, JournalError>;
    /// Records where the batch's results file is written.
    fn set_results_path(&self, batch: i64, path: &Path) -> Result<(), JournalError>;
    /// Records whether a batch, whose results were just written, is finished:
    /// nothing of it unresolved. A batch that had finished is not any more when
    /// a refund it lists is unresolved again (a retry that now reports for it):
    /// its results are then rewritten until that refund ends.
    fn set_finished(&self, batch: i64, finished: bool) -> Result<(), JournalError>;

    // The scheduler: what may still leave, and what is due.
    /// The refunds in `scope` that may still leave, by batch and profile, in
    /// batch order.
    fn waiting(&self, scope: &Scope) -> Result<Vec<Waiting>, JournalError>;
    /// A reader of what is due in `scope` that reads beside the writer (its
    /// own connection), for the scheduler; `gaps` when some profile keeps a
    /// pause between refunds of one order.
    fn due_reader(&self, scope: &Scope, gaps: bool) -> Result<Box<dyn DueReads>, JournalError>;

    // Money (README "The money"; which states count as what: [`super::money_rules`]).
    /// The intents `batch` lists, by their head's status and owning batch.
    fn batch_intents(&self, batch: i64) -> Result<Vec<IntentTotal>, JournalError>;
    /// The rows of `batch` that were never a refund to send, by verdict.
    fn batch_unsent(&self, batch: i64) -> Result<Vec<(RowStatus, u64, Fen)>, JournalError>;
    /// Every succeeded gateway refund of the journal, each once: what the
    /// gateways paid through bulkrefund.
    fn refunded_in_all(&self) -> Result<(u64, Fen), JournalError>;
    /// What did not succeed in `batch` and is not waiting on the gateway:
    /// intents that failed, are in review or abnormal, and rows never sent (a duplicate
    /// aside: the row it repeats is counted), grouped by status and error code,
    /// largest count first.
    fn failures_by_code(&self, batch: i64) -> Result<Vec<FailureGroup>, JournalError>;
    /// Count and amount per status of a batch's rows. With `as_repeated`, a
    /// duplicate row counts as the status of the row it repeats (what the
    /// exit code is decided from); without, as `duplicate` (what people read).
    fn status_totals(
        &self,
        batch: i64,
        as_repeated: bool,
    ) -> Result<Vec<(Status, u64, Fen)>, JournalError>;

    // Reports: status, show, results files, export.
    /// Every batch, oldest first.
    fn batches(&self) -> Result<Vec<BatchSummary>, JournalError>;
    /// The batches recorded from a file with this SHA-256 (the same bytes), oldest first.
    fn batches_with_hash(&self, sha256: &str) -> Result<Vec<BatchSummary>, JournalError>;
    /// One batch, `None` when the journal has no such batch.
    fn batch(&self, id: i64) -> Result<Option<BatchSummary>, JournalError>;
    /// The column names of a batch's input file.
    fn batch_header(&self, batch: i64) -> Result<Vec<String>, JournalError>;
    /// A batch's rows in input order, as its results file reports them, each
    /// handed to `each` until it says stop (`false`). The handle's
    /// `results_rows` carries the caller's own error through.
    fn results_rows_while(
        &self,
        batch: i64,
        each: &mut dyn FnMut(ResultsRow) -> bool,
    ) -> Result<(), JournalError>;
    /// The rows of a batch that did not succeed, in input order.
    fn rows_needing_attention(&self, batch: i64) -> Result<Vec<AttentionRow>, JournalError>;
    /// Each refund of a batch that retries another, with the one it retries.
    fn retries_in_batch(&self, batch: i64) -> Result<Vec<RetryLink>, JournalError>;
    /// Every refund the filter holds, oldest first, each handed to `each`
    /// until it says stop (`false`); the handle's `export_rows` carries the
    /// caller's own error through.
    fn export_rows_while(
        &self,
        filter: &ExportFilter,
        each: &mut dyn FnMut(ExportRow) -> bool,
    ) -> Result<(), JournalError>;
    /// The times the journal's refunds count by ([`super::days::COUNTED_AT`]), as
    /// an export's period selects them: the earliest and the latest, or
    /// `None` when the journal holds no refund.
    fn export_span(&self) -> Result<Option<(String, String)>, JournalError>;
    /// The merchants of the refunds the filter holds (for an export's title).
    fn export_merchants(&self, filter: &ExportFilter) -> Result<Vec<String>, JournalError>;
    /// The latency of the attempts `filter` holds (its `statuses` aside), in
    /// at most `max_buckets` buckets. Buckets start on the clock of a zone
    /// `utc_offset` seconds east of UTC (a 6-hour bucket at 00:00, 06:00, ...).
    fn attempt_latency(
        &self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError>;

    // Reconciliation against the gateway's bills.
    /// The refunds of this gateway and merchant with these ids.
    fn refunds_for_bill(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        ids: &[String],
    ) -> Result<Vec<JournalRefund>, JournalError>;
    /// The succeeded refunds of this gateway and merchant that count on
    /// `date`−1, `date` or `date`+1 in Beijing time.
    fn refunds_expected_around(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError>;
    /// The refunds of this gateway and merchant still unresolved that were
    /// sent on Beijing day `date` ([`super::reconcile::SENT`], by [`super::reconcile::SENT_AT`]).
    fn refunds_unresolved_on(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        date: Date,
    ) -> Result<Vec<JournalRefund>, JournalError>;
    /// Records a reconciliation and its findings in one transaction; returns its id.
    fn record_reconciliation(
        &mut self,
        meta: &ReconciliationMeta,
        findings: &[FindingRecord],
    ) -> Result<i64, JournalError>;
    /// The Beijing days with succeeded refunds, or with a reconciliation, per
    /// gateway and merchant, each with its latest reconciliation; by
    /// gateway, merchant and day.
    fn reconciled_days(&self) -> Result<Vec<ReconciledDay>, JournalError>;
    /// The latest reconciliation of each gateway, merchant and Beijing day
    /// from `first` to `last` (`YYYY-MM-DD`, both included), by day.
    fn recorded_reconciliations(
        &self,
        first: &str,
        last: &str,
    ) -> Result<Vec<RecordedReconciliation>, JournalError>;

    // The store as a whole.
    /// Copies the whole journal, consistent, into `target` (a file that must
    /// not exist yet) while writers may go on; returns how many refunds the copy holds.
    fn backup(&self, target: &Path) -> Result<i64, BackupError>;
}

/// The scheduler's reads within one scope, on a connection (or session) of
/// their own, so that they go on while the writer commits.
pub trait DueReads: Send {
    /// Refunds due to be sent or queried after `cursor`, in id order (polls
    /// aside; an abnormal refund whose hourly query is due among them).
    fn page(&self, cursor: i64) -> Result<Vec<DueRefund>, JournalError>;
    /// Up to `limit` refunds still processing whose next poll is due, the
    /// longest due first.
    fn polls(&self, limit: usize) -> Result<Vec<DueRefund>, JournalError>;
    /// When the next refund in scope falls due, if any still can.
    fn next_due(&self, poll_open: bool) -> Result<Option<i64>, JournalError>;
    /// How many times a query found no refund with this one's id right after
    /// the gateway had answered a send of it: its moves from unknown back to
    /// pending marked [`super::DENIED_AFTER_AN_ANSWER`], over every run.
    fn denials(&self, refund: i64) -> Result<u32, JournalError>;
    /// Refunds in scope (only the final ones, with `finals_only`).
    fn count(&self, finals_only: bool) -> Result<u64, JournalError>;
}
