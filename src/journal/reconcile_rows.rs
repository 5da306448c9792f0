//! What a reconciliation reads and records, whatever stores the journal: a
//! journal refund as matching sees it ([`JournalRefund`]), the record of a
//! reconciliation and its findings, and what `status`, `show` and the HTML
//! report read back of them.

use jiff::civil::Date;

use super::days::{gateway_zone, DayBasis};
use super::state::State;
use crate::gateway::GatewayKind;
use crate::money::Fen;

/// Whether a refund may be at the gateway: SQL over `refunds`, the same on
/// both stores. A refund leaves `pending` only through `in_flight`, which
/// the engine commits before the submit leaves and without counting it
/// (`submits` counts an answered submit; `state::check`,
/// `engine::writer::intent`). So any state but `pending` means an intent was
/// committed and the request may have left (a crash leaves it `unknown` with
/// `submits` 0); a `pending` refund was sent if a submit was counted or the
/// gateway showed it holds it.
pub(crate) const SENT: &str = "(state <> 'pending' OR submits > 0 OR ever_created <> 0)";

/// The journal time an unresolved refund counts for, SQL over `refunds`:
/// its first counted submit, else (an intent whose submit was never
/// answered) its creation.
pub(crate) const SENT_AT: &str = "COALESCE(first_sent_at, created_at)";

/// A journal refund as reconciliation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalRefund {
    /// The journal's row id (`show` finds the reconciliations by it).
    pub id: i64,
    pub refund_id: String,
    pub state: State,
    pub fen: Fen,
    /// The merchant's and the gateway's order ids ("" where the batch gave none).
    pub order_id: String,
    pub gateway_order_id: String,
    pub gateway_refund_id: Option<String>,
    /// The journal time (RFC 3339, UTC) the refund counts by (`days.rs`).
    pub counted_at: Option<String>,
    pub basis: DayBasis,
    /// Ever sent to the gateway: a refund never sent is not bulkrefund's at the gateway.
    pub sent: bool,
    pub batch_id: i64,
    pub line: u64,
    /// The link this one retries, and the one that retries it.
    pub retry_of: Option<String>,
    pub retried_as: Option<String>,
}

impl JournalRefund {
    /// The Beijing day the refund counts for.
    pub fn day(&self) -> Option<Date> {
        self.counted_at
            .as_deref()
            .and_then(|at| gateway_zone().day_of(at))
    }
}

/// The outcomes a reconciliation counts, in the order its count columns
/// (and [`ReconciliationMeta::counts`]) hold them.
pub const OUTCOMES: [&str; 5] = [
    "matched",
    "amount_differs",
    "status_differs",
    "not_in_journal",
    "missing_from_bill",
];

/// A count of refunds and their money.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Money {
    pub count: u64,
    pub fen: Fen,
}

impl Money {
    pub fn add(&mut self, count: u64, fen: Fen) {
        self.count += count;
        self.fen = self.fen.saturating_add(fen);
    }
}

/// What a reconciliation records besides its findings.
#[derive(Clone, Debug)]
pub struct ReconciliationMeta {
    pub profile: String,
    pub gateway: GatewayKind,
    pub merchant_id: String,
    /// `api`, or the bill file's path.
    pub source: String,
    /// The raw bill kept beside the report (a given file is its own).
    pub raw_path: Option<String>,
    pub raw_sha256: String,
    /// The neighbours' bills: which were read, and why the others were not.
    pub neighbours: String,
    pub bill_date: Date,
    /// The bill's refund rows.
    pub bill: Money,
    /// Findings per outcome, in [`OUTCOMES`] order.
    pub counts: [u64; 5],
    pub unresolved_not_in_bill: u64,
    /// The journal's succeeded refunds counted on `bill_date`, as matched.
    pub expected: Money,
}

/// One finding as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingRecord {
    pub outcome: &'static str,
    pub refund_id: String,
    /// The journal's refund (its row id), when it has one.
    pub refund: Option<i64>,
    pub bill_day: Option<Date>,
    pub bill_line: Option<u64>,
    pub gateway_refund_id: Option<String>,
    pub journal_status: Option<&'static str>,
    pub bill_status: Option<String>,
    pub journal_fen: Option<Fen>,
    pub bill_fen: Option<Fen>,
    /// A journal time (RFC 3339, UTC).
    pub bill_success_at: Option<String>,
    pub note: String,
}

/// The source of a bill fetched through the gateway's API.
pub const API: &str = "api";

/// Where a refund was found by a reconciliation, for `show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundInBill {
    pub reconciliation: i64,
    /// The day reconciled.
    pub bill_date: String,
    /// The bill that lists it (D, or a neighbour); `None` when none did.
    pub bill_day: Option<String>,
    pub bill_line: Option<u64>,
    pub outcome: String,
    pub note: String,
    pub reconciled_at: String,
    pub source: String,
}

/// The latest reconciliation of a day, for `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestReconciliation {
    pub id: i64,
    pub reconciled_at: String,
    pub bill: Money,
    /// Per outcome, in [`OUTCOMES`] order.
    pub counts: [u64; 5],
    pub unresolved_not_in_bill: u64,
    /// The journal's succeeded refunds on the day when it was reconciled.
    pub expected: Money,
}

/// A Beijing day of one gateway and merchant: its succeeded refunds in the
/// journal and its latest reconciliation, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconciledDay {
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub day: String,
    pub succeeded: Money,
    pub latest: Option<LatestReconciliation>,
}

impl ReconciledDay {
    /// Whether the day's succeeded refunds (count or sum) are no longer
    /// those its latest reconciliation matched: its verdict is stale.
    pub fn changed_since_reconciled(&self) -> bool {
        self.latest
            .as_ref()
            .is_some_and(|latest| latest.expected != self.succeeded)
    }
}

/// A recorded reconciliation with the findings that are not `matched`, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedReconciliation {
    pub id: i64,
    pub profile: String,
    pub gateway: GatewayKind,
    pub merchant_id: String,
    pub bill_date: String,
    pub source: String,
    pub reconciled_at: String,
    pub bill: Money,
    /// Per outcome, in [`OUTCOMES`] order.
    pub counts: [u64; 5],
    pub unresolved_not_in_bill: u64,
    /// Every finding but the matched ones, ordered by outcome (as the
    /// report lists them) then refund id.
    pub findings: Vec<RecordedFinding>,
}

/// One finding as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedFinding {
    pub outcome: String,
    pub refund_id: String,
    pub journal_fen: Option<Fen>,
    pub bill_fen: Option<Fen>,
    pub bill_day: Option<String>,
    pub note: String,
}
