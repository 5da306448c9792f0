//! `bulkrefund approve`: a second person's approval of a batch that waits
//! (over its profile's `approve_over_yuan`).

use clap::Args;

use super::places::Places;

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub places: Places,
    /// The batch (its journal id, as `status` lists it).
    #[arg(long)]
    pub batch: i64,
}
