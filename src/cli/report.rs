//! The flags of the two commands that write what the journal holds over a
//! batch or a period: `bulkrefund export` (the rows, CSV or XLSX) and
//! `bulkrefund report` (the HTML page). Both read `--since/--until` the same
//! way: the gateway's days (Asia/Shanghai), whatever `--timezone` says.

use std::path::PathBuf;

use clap::Args;

use super::Places;
use crate::report::export::ExportFormat;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub places: Places,
    /// Only this batch's refunds.
    #[arg(long)]
    pub batch: Option<i64>,
    /// Refunds that count for this gateway day or later: a date (2026-11-01, a day in
    /// Asia/Shanghai, as the gateway's statements) or an RFC 3339 time with its offset.
    /// A refund counts for its gateway success time, else bulkrefund's.
    #[arg(long)]
    pub since: Option<String>,
    /// Refunds that count for this gateway day (Asia/Shanghai) or earlier, or before
    /// this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only refunds with this status (repeatable): succeeded, failed, abnormal, review, processing, unknown, pending.
    #[arg(long)]
    pub status: Vec<String>,
    /// The file to write: `.csv` or `.xlsx` (the format follows the extension), or `-` for CSV on stdout.
    #[arg(long)]
    pub out: PathBuf,
    /// The format, when --out's extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// CSV only: start with a BOM so that Excel shows Chinese text.
    #[arg(long)]
    pub excel: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub places: Places,
    /// Only this batch's refunds.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub batch: Option<i64>,
    /// Refunds that count for this gateway day or later, as `export` reads it: a date
    /// (2026-11-01, a day in Asia/Shanghai, the gateway's days, whatever --timezone) or an
    /// RFC 3339 time with its offset. A refund counts for its gateway success time, else
    /// bulkrefund's.
    #[arg(long)]
    pub since: Option<String>,
    /// Refunds that count for this gateway day (Asia/Shanghai) or earlier, or before
    /// this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// The HTML file to write (`.html` or `.htm`).
    #[arg(long)]
    pub out: PathBuf,
}
