//! bulkrefund: pays refunds back in bulk through the Leshua and Lianshang
//! gateways, each exactly once, and reports only outcomes the gateway gave.
//! `main.rs` builds the runtime and calls [`run`]; tests call it too.

pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod gateway;
pub mod journal;
pub mod money;
pub mod secret;
pub mod sim;

/// Runs one command line and returns the process exit code.
pub async fn run(cli: cli::Cli) -> anyhow::Result<u8> {
    match cli.command {
        cli::Command::Sim(args) => commands::sim::run(args).await,
    }
}

/// Sets up `tracing` on stderr. Secrets cannot reach it: they are only ever
/// held in types whose `Debug` and `Display` print `***`.
pub fn init_logging(verbose: u8, json: bool) {
    let level = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULKREFUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bulkrefund={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
