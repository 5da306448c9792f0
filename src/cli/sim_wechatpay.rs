//! The WeChat Pay flags of `bulkrefund sim` (docs/specs/wechatpay-v3.md,
//! "Limits, and what the simulator enforces"): its keys, its limits, its two
//! faults of its own and its trade bill. Defaults are the contract's limits and
//! the sample keys in `samples/keys/`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::values::parse_probability;

/// `--wechatpay-answer-mode`: which id names the key in `Wechatpay-Serial`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AnswerModeArg {
    /// The WeChat Pay public key's id.
    Pubkey,
    /// The platform certificate's serial.
    Cert,
}

/// `--bill-layout`: the merchant's settlement type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BillLayoutArg {
    /// 29 columns, 7-column summary.
    New,
    /// 26 columns, 5-column summary ("普通结算" merchants).
    Old,
}

#[derive(Debug, Args)]
pub struct WechatpaySimArgs {
    /// The merchant's public key (PEM) that verifies WeChat Pay requests (default: the sample key).
    #[arg(long)]
    pub wechatpay_merchant_public_key: Option<PathBuf>,
    /// The merchant certificate serial requests must carry as `serial_no`.
    #[arg(long, default_value = crate::sim::wechatpay::SAMPLE_MERCHANT_SERIAL)]
    pub wechatpay_merchant_serial: String,
    /// WeChat Pay's private key (PEM) that signs answers (default: the sample key).
    #[arg(long)]
    pub wechatpay_private_key: Option<PathBuf>,
    /// The WeChat Pay public key's id, named in answers in `pubkey` mode.
    #[arg(long, default_value = crate::sim::wechatpay::SAMPLE_PUBLIC_KEY_ID)]
    pub wechatpay_public_key_id: String,
    /// The platform certificate (PEM) whose serial names answers in `cert` mode (default: the sample).
    #[arg(long)]
    pub wechatpay_certificate: Option<PathBuf>,
    /// Which id answers name in `Wechatpay-Serial`.
    #[arg(long, value_enum, default_value = "pubkey")]
    pub wechatpay_answer_mode: AnswerModeArg,
    /// Refund applies allowed per second (then 429 FREQUENCY_LIMITED).
    #[arg(long, default_value = "150")]
    pub wechatpay_apply_qps: u32,
    /// Refund queries (and bill calls) allowed per second.
    #[arg(long, default_value = "300")]
    pub wechatpay_query_qps: u32,
    /// Bad apply answers (400, 401, 403, 404) per second; beyond, 429 instead.
    #[arg(long, default_value = "6")]
    pub wechatpay_bad_qps: u32,
    /// The least time between two refunds of one order, e.g. `60s`, `0s`.
    #[arg(long, default_value = "60s", value_parser = crate::limits::parse_duration)]
    pub wechatpay_order_gap: Duration,
    /// The merchant's refundable balance in fen; an apply above what is left is 403 NOT_ENOUGH.
    #[arg(long)]
    pub wechatpay_balance_fen: Option<u64>,
    /// Share of WeChat Pay refunds that end ABNORMAL (resolve with POST /__sim/wechatpay/resolve-abnormal).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub abnormal_rate: f64,
    /// Share of WeChat Pay answers whose Wechatpay-Timestamp is 10 minutes old.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub stale_answer_rate: f64,
    /// How long a bill's download URL lives (WeChat Pay and Alipay), e.g. `30s`.
    #[arg(long, default_value = "30s", value_parser = crate::limits::parse_duration)]
    pub bill_url_ttl: Duration,
    /// The trade bill's layout.
    #[arg(long, value_enum, default_value = "new")]
    pub bill_layout: BillLayoutArg,
    /// Serve today's bill at once (WeChat Pay and Alipay), for trying reconciliation.
    #[arg(long)]
    pub bill_same_day: bool,
}
