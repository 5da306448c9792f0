//! The rows a journal gives for people, whatever stores it: batches as
//! `status` lists them, a batch's rows as its results file reports them, the
//! export's refunds, and a batch's money by intent ([`IntentTotal`]) and by
//! failure ([`FailureGroup`]). What a person reads is made of them in
//! `report/`; which states count as what money is [`super::money_rules`].
//! One refund's history for `show` ([`Transition`], [`AttemptRow`],
//! [`Listing`], [`RefundTimes`]) is here too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::days::Counted;
use super::status::{RowStatus, Status};
use crate::gateway::GatewayKind;
use crate::money::Fen;

/// A batch as `status` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    pub id: i64,
    pub file_name: String,
    pub profile: String,
    pub started_at: String,
    /// Every row recorded (false only for an import an older version left unfinished).
    pub imported: bool,
    pub finished_at: Option<String>,
    pub results_path: Option<PathBuf>,
}

/// One row of a batch, as its results file reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultsRow {
    pub line: u64,
    /// The row's cells as read.
    pub cells: Vec<String>,
    /// The row's own verdict, when it was never a refund to send (or repeats one).
    pub row_status: Option<RowStatus>,
    /// The status of the refund the row names (for a duplicate, the row it repeats).
    pub refund_status: Option<Status>,
    /// The refund's amount, else the row's.
    pub fen: Option<Fen>,
    pub gateway_refund_id: Option<String>,
    /// The row's own error, else the refund's.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: u64,
    pub first_sent_at: Option<String>,
    pub finished_at: Option<String>,
    /// The batch that sent the refund (the head of its chain).
    pub owner_batch: Option<i64>,
}

impl ResultsRow {
    /// What the row reports.
    pub fn status(&self) -> Status {
        match (self.row_status, self.refund_status) {
            (Some(row), _) => row.status(),
            (None, Some(refund)) => refund,
            (None, None) => Status::Unknown,
        }
    }
}

/// A row that did not succeed, for `status --batch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttentionRow {
    pub line: u64,
    pub refund_id: String,
    pub status: Status,
    pub error_code: String,
    pub error_message: String,
}

/// A refund of a batch that retries another: (line, the one it retries, new).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryLink {
    pub line: u64,
    pub retried: (String, Status),
    pub retry: (String, Status),
}

/// Which refunds an export holds.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    pub batch: Option<i64>,
    /// RFC 3339 UTC bounds on the time a refund counts by
    /// ([`super::days::COUNTED_AT`]: the gateway's success time, else bulkrefund's);
    /// a date is a gateway day (`days::gateway_zone().bound`).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Empty for all.
    pub statuses: Vec<Status>,
}

/// One refund, as the reconciliation export reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    pub profile: String,
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub refund_id: String,
    /// The refund this one retries.
    pub retry_of: Option<String>,
    /// The refund that retries this one: this link is no longer its intent's status.
    pub retried_as: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub fen: Fen,
    pub status: Status,
    pub gateway_refund_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: u64,
    pub first_sent_at: Option<String>,
    pub finished_at: Option<String>,
    pub batch_id: i64,
    pub source_file: String,
    pub line: u64,
    /// The gateway's own success time, when an answer gave one.
    pub gateway_success_at: Option<String>,
    /// The time the refund counts by, and whose clock it is.
    pub counted: Counted,
}

/// Intents of one status whose head belongs to `owner` (the batch that sent it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentTotal {
    pub status: Status,
    pub owner: i64,
    pub count: u64,
    pub fen: Fen,
}

/// Failures of a batch that share a status and an error code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureGroup {
    pub status: Option<Status>,
    pub code: String,
    /// The gateway's (or the check's) message of the first of them.
    pub message: String,
    pub count: u64,
    pub fen: Fen,
    /// The first few refund ids (or `line N` for a row with no refund).
    pub samples: Vec<String>,
}

/// How many ids a failure group names.
pub const FAILURE_SAMPLES: usize = 3;

/// A transition of a refund's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: String,
    /// `None` when the refund was recorded.
    pub from: Option<String>,
    pub to: String,
    pub why: String,
}

/// One HTTP request about a refund and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    /// `submit` or `query`.
    pub kind: String,
    pub at: String,
    pub http_status: Option<u16>,
    pub gateway_codes: Option<String>,
    pub outcome: String,
    pub latency_ms: u64,
}

/// A batch row that lists a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub batch: i64,
    pub file_name: String,
    pub line: u64,
    /// The row's own verdict (a duplicate row), if any.
    pub row_status: Option<String>,
}

/// The journal's times, gateway refund ids aside, for one refund:
/// bulkrefund's own (recorded, first sent, finished) and the gateway's own
/// (its success and creation times, when an answer gave them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundTimes {
    pub batch: i64,
    pub line: u64,
    pub created_at: String,
    pub first_sent_at: Option<String>,
    pub finished_at: Option<String>,
    pub gateway_success_at: Option<String>,
    pub gateway_created_at: Option<String>,
}
