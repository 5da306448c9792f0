//! `bulkrefund sim`: the simulator as a foreground process.

use std::io::Write;

use anyhow::Context;

use crate::cli::{GenArgs, SimArgs};
use crate::exit;
use crate::gateway::rsa_sign::RsaVerifier;
use crate::secret::Secret;
use crate::sim::{self, faults::FaultConfig, ledger, SimConfig};

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
        ..FaultConfig::default()
    };
    let handle = sim::start(config, args.listen).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", handle.base_url())?;
    stdout.flush()?;
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(exit::SUCCESS)
}
