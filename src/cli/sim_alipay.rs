//! The Alipay flags of `bulkrefund sim` (docs/specs/alipay.md, "What the
//! simulator enforces"): its keys, its limits and its one fault of its own.
//! Defaults are the contract's and the sample keys in `samples/keys/`; the
//! bill's `--bill-url-ttl` and `--bill-same-day` are WeChat's flags, shared.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::parse_probability;

#[derive(Debug, Args)]
pub struct AlipaySimArgs {
    /// The app's public key (PEM) that verifies Alipay requests (default: the sample key).
    #[arg(long)]
    pub alipay_app_public_key: Option<PathBuf>,
    /// The private key (PEM) that signs answers as Alipay (default: the sample key).
    #[arg(long)]
    pub alipay_private_key: Option<PathBuf>,
    /// Alipay calls allowed per second (then 40005 isv.method-call-limited).
    #[arg(long, default_value = "50")]
    pub alipay_qps: u32,
    /// How old a trade may be and still be refunded (then ACQ.TRADE_HAS_FINISHED).
    #[arg(long, default_value = "365days", value_parser = crate::limits::parse_duration)]
    pub alipay_refund_window: Duration,
    /// The least time between two refunds of one trade (then ACQ.SYSTEM_ERROR), e.g. `3s`, `0s`.
    #[arg(long, default_value = "3s", value_parser = crate::limits::parse_duration)]
    pub alipay_trade_gap: Duration,
    /// The merchant's balance in fen; a refund above what is left is ACQ.SELLER_BALANCE_NOT_ENOUGH.
    #[arg(long)]
    pub alipay_balance_fen: Option<u64>,
    /// Share of Alipay refunds answered fund_change N without being executed (the query finds none).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub fund_change_n_rate: f64,
}
