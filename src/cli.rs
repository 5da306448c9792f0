//! The command line (cli.md): clap definitions of every subcommand and flag, as
//! raw values. Each command module checks what it is given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bulkrefund",
    version,
    about = "Pays refunds back in bulk, each exactly once."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log more (-v: debug, -vv: trace). Logs go to stderr and never show a secret.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format: `text` or `json`.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local gateway simulator (both gateways), e.g.
    /// `bulkrefund sim --listen 127.0.0.1:0 --orders samples/orders.csv --busy-rate 0.1`
    Sim(SimArgs),
}

/// Parses `MS` or `MS..MS`.
fn parse_latency(text: &str) -> Result<(u64, u64), String> {
    let parse = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not milliseconds"))
    };
    match text.split_once("..") {
        Some((low, high)) => {
            let (low, high) = (parse(low)?, parse(high)?);
            if low > high {
                return Err(format!(
                    "{low}..{high}: the first number must not be larger"
                ));
            }
            Ok((low, high))
        }
        None => parse(text).map(|ms| (ms, ms)),
    }
}

/// Parses a probability from 0 to 1.
fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{text:?} is not a probability from 0 to 1 (e.g. 0.05)"
        )),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 500ms, 10s or 10m: {e}"))
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on; `127.0.0.1:0` picks a free port (printed as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:8900")]
    pub listen: SocketAddr,
    /// The paid orders the simulator knows (CSV: gateway,merchant_id,third_order_id,gateway_order_id,appid,amount_fen,currency,status).
    #[arg(long)]
    pub orders: PathBuf,
    /// Leshua trade key, as a file of key text (default: the sample test key).
    #[arg(long)]
    pub leshua_trade_key_file: Option<PathBuf>,
    /// Leshua notify key, as a file of key text (default: the sample test key).
    #[arg(long)]
    pub leshua_notify_key_file: Option<PathBuf>,
    /// The merchant's RSA public key (PEM) that verifies Lianshang requests (default: the sample key).
    #[arg(long)]
    pub lianshang_public_key: Option<PathBuf>,
    /// Added latency per answer: `MS` or `MS..MS`, e.g. `50` or `20..80`.
    #[arg(long, value_parser = parse_latency)]
    pub latency: Option<(u64, u64)>,
    /// Answer 429 with Retry-After above N requests per second.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Share of refund requests answered HTTP 500 after the refund was recorded.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub fail_rate: f64,
    /// Share of requests answered 503 or a busy code, nothing recorded.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub busy_rate: f64,
    /// Share of refund requests recorded, then the connection closed without an answer.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub drop_rate: f64,
    /// Share of Leshua answers signed with a wrong key.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub bad_sign_rate: f64,
    /// How long a refund stays processing before it turns final, e.g. `2s`.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub processing_for: Duration,
    /// Share of refunds that end failed.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub fail_refund_rate: f64,
    /// Seed for the fault dice, for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_forms() {
        assert_eq!(parse_latency("50"), Ok((50, 50)));
        assert_eq!(parse_latency("20..80"), Ok((20, 80)));
        assert!(parse_latency("80..20").is_err());
        assert!(parse_latency("x").is_err());
        assert!(parse_probability("1.5").is_err());
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
