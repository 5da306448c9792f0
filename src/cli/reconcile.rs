//! `bulkrefund reconcile`'s flags (statements.md, "The command").

use std::path::PathBuf;

use clap::Args;

use super::Places;
use crate::report::export::ExportFormat;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub places: Places,
    /// The gateway profile whose merchant is reconciled, e.g. `--profile wechatpay`.
    #[arg(long)]
    pub profile: String,
    /// The day the bill covers: a Beijing (Asia/Shanghai) day, whatever --timezone says, e.g. 2026-11-30.
    #[arg(long)]
    pub date: String,
    /// A bill file, instead of fetching it (required for Leshua and Lianshang). The first
    /// is the bill of --date; a second and a third are the bills of the day before and the
    /// day after (looked in for refunds near midnight). `DATE=FILE` names a file's day
    /// instead, e.g. `--file 2026-11-30.csv --file 2026-12-01=next.csv`.
    #[arg(long = "file", value_name = "BILL")]
    pub files: Vec<PathBuf>,
    /// The report: `.csv`, `.xlsx` or `.html` (a page to look at; the format follows the
    /// extension), default `DATE.GATEWAY.reconcile.csv`. The fetched raw bill is kept beside
    /// it, never over a different one (then named by its SHA-256). One row per
    /// finding; its `line` is the bill file's line, `batch_id` the batch that sent the refund.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The format, when --out's extension does not say it.
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// CSV only: start with a BOM so that Excel shows Chinese text.
    #[arg(long)]
    pub excel: bool,
}
