//! `bulkrefund sim`: the simulator as a foreground process.

use std::io::Write;

use anyhow::Context;

use crate::cli::{AlipaySimArgs, AnswerModeArg, BillLayoutArg, GenArgs, SimArgs, WechatpaySimArgs};
use crate::exit;
use crate::gateway::rsa_sign::RsaVerifier;
use crate::secret::Secret;
use crate::sim::alipay::AlipayConfig;
use crate::sim::wechatpay::{AnswerMode, BillLayout, WechatpayConfig};
use crate::sim::{self, faults::FaultConfig, ledger, sample_keys, SimConfig};

/// `bulkrefund gen`: a generated batch and the simulator orders that match it.
pub fn generate(args: GenArgs) -> anyhow::Result<u8> {
    sim::generate::write_batch(
        args.gateway,
        args.rows,
        &args.prefix,
        &args.out,
        args.orders.as_deref(),
    )?;
    Ok(exit::SUCCESS)
}

pub async fn run(args: SimArgs) -> anyhow::Result<u8> {
    let orders = ledger::read_orders(&args.orders)
        .map_err(|e| exit::UsageError(crate::messages::describe(&e.into())))?;
    let mut config = SimConfig::with_sample_keys(orders);
    let read = |path: &std::path::Path| {
        crate::small_files::read(path, crate::small_files::MAX_KEY, "64 KiB")
            .map(|(text, _)| text)
            .with_context(|| format!("cannot read {}", path.display()))
    };
    if let Some(path) = &args.leshua_trade_key_file {
        config.leshua_trade_key = Secret::new(read(path)?.trim());
    }
    if let Some(path) = &args.leshua_notify_key_file {
        config.leshua_notify_key = Secret::new(read(path)?.trim());
    }
    if let Some(path) = &args.lianshang_public_key {
        config.lianshang_public_key =
            RsaVerifier::from_pem(&read(path)?).with_context(|| format!("{}", path.display()))?;
    }
    config.faults = FaultConfig {
        latency_ms: args.latency,
        rate_limit: args.rate_limit,
        fail_rate: args.fail_rate,
        busy_rate: args.busy_rate,
        drop_rate: args.drop_rate,
        bad_sign_rate: args.bad_sign_rate,
        processing_for: args.processing_for,
        fail_refund_rate: args.fail_refund_rate,
        seed: args.seed,
        mismatch_rate: args.mismatch_rate,
        mismatch_field: args.mismatch_field,
        pad_rate: args.pad_rate,
        redirect_rate: args.redirect_rate,
        redirect_to: args.redirect_to,
        oversize_rate: args.oversize_rate,
        endless_rate: args.endless_rate,
        retry_after_secs: args.retry_after,
        wrong_key: args.wrong_key,
        signed_refusals: args.signed_refusals,
        contradict: args.contradict,
        lie_rate: args.lie_rate,
        abnormal_rate: args.wechatpay.abnormal_rate,
        stale_answer_rate: args.wechatpay.stale_answer_rate,
        fund_change_n_rate: args.alipay.fund_change_n_rate,
        ..FaultConfig::default()
    };
    config.wechatpay = wechatpay_config(&args.wechatpay, &read)?;
    config.alipay = alipay_config(&args.alipay, &args.wechatpay, &read)?;
    let handle = sim::start(config, args.listen).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", handle.base_url())?;
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(exit::SUCCESS)
}

/// WeChat Pay's keys (each file, else the sample) and limits, from its flags.
fn wechatpay_config(
    args: &WechatpaySimArgs,
    read: &impl Fn(&std::path::Path) -> anyhow::Result<String>,
) -> anyhow::Result<WechatpayConfig> {
    let text = |path: &Option<std::path::PathBuf>, sample: &str| match path {
        Some(path) => read(path),
        None => Ok(sample.to_owned()),
    };
    let mut config = WechatpayConfig::with_keys(
        &text(
            &args.wechatpay_merchant_public_key,
            sample_keys::WECHATPAY_MERCHANT_PUBLIC_KEY,
        )?,
        &text(
            &args.wechatpay_private_key,
            sample_keys::WECHATPAY_PRIVATE_KEY,
        )?,
        &text(
            &args.wechatpay_certificate,
            sample_keys::WECHATPAY_CERTIFICATE,
        )?,
    )
    .map_err(|e| exit::UsageError(e.to_string()))?;
    config.merchant_serial = args.wechatpay_merchant_serial.clone();
    config.public_key_id = args.wechatpay_public_key_id.clone();
    config.answer_mode = match args.wechatpay_answer_mode {
        AnswerModeArg::Pubkey => AnswerMode::PublicKey,
        AnswerModeArg::Cert => AnswerMode::Certificate,
    };
    config.apply_qps = args.wechatpay_apply_qps;
    config.query_qps = args.wechatpay_query_qps;
    config.bad_qps = args.wechatpay_bad_qps;
    config.order_gap = args.wechatpay_order_gap;
    config.balance_fen = args.wechatpay_balance_fen;
    config.bill_url_ttl = args.bill_url_ttl;
    config.bill_layout = match args.bill_layout {
        BillLayoutArg::New => BillLayout::New,
        BillLayoutArg::Old => BillLayout::Old,
    };
    config.bill_same_day = args.bill_same_day;
    Ok(config)
}

/// Alipay's keys (each file, else the sample) and limits, from its flags;
/// the bill's URL lifetime and same-day flag are the ones WeChat's bill uses.
fn alipay_config(
    args: &AlipaySimArgs,
    bills: &WechatpaySimArgs,
    read: &impl Fn(&std::path::Path) -> anyhow::Result<String>,
) -> anyhow::Result<AlipayConfig> {
    let text = |path: &Option<std::path::PathBuf>, sample: &str| match path {
        Some(path) => read(path),
        None => Ok(sample.to_owned()),
    };
    let mut config = AlipayConfig::with_keys(
        &text(
            &args.alipay_app_public_key,
            sample_keys::ALIPAY_APP_PUBLIC_KEY,
        )?,
        &text(&args.alipay_private_key, sample_keys::ALIPAY_PRIVATE_KEY)?,
    )
    .map_err(|e| exit::UsageError(e.to_string()))?;
    config.qps = args.alipay_qps;
    config.refund_window = args.alipay_refund_window;
    config.trade_gap = args.alipay_trade_gap;
    config.balance_fen = args.alipay_balance_fen;
    config.bill_url_ttl = bills.bill_url_ttl;
    config.bill_same_day = bills.bill_same_day;
    Ok(config)
}
