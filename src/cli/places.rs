//! The flags that say where the configuration and the journal are, shared
//! by the commands that use them (`cli.rs` and `cli/journal.rs` both take
//! them, so they live apart from both).

use std::path::PathBuf;

use clap::Args;

/// Where the configuration and the journal are, and the time zone: taken by
/// the commands that use them (`sim` and `demo` bring their own).
#[derive(Debug, Args, Clone, Default)]
pub struct Places {
    /// The configuration file (default: $BULKREFUND_CONFIG, else ./bulkrefund.toml).
    #[arg(long, env = "BULKREFUND_CONFIG")]
    pub config: Option<PathBuf>,
    /// The journal (default: `journal` in the configuration, else ./bulkrefund.db).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Time zone for dates and times shown, and for --since/--until days, e.g.
    /// `Asia/Shanghai` (default: `timezone` in the configuration, else the machine's).
    #[arg(long, env = "BULKREFUND_TIMEZONE")]
    pub timezone: Option<String>,
}
