//! bulkrefund: pays refunds back in bulk through the Leshua and Lianshang
//! gateways, each exactly once, and reports only outcomes the gateway gave.
//! `main.rs` builds the runtime and calls [`run`]; tests call it too.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit;
pub mod gateway;
pub mod journal;
pub mod limits;
pub mod messages;
pub mod money;
pub mod options;
pub mod paths;
pub mod reconcile;
pub mod report;
pub mod secret;
pub mod setting;
pub mod sim;
pub mod small_files;
pub mod zone;

/// Runs one command line and returns the process exit code.
pub async fn run(cli: cli::Cli) -> anyhow::Result<u8> {
    use cli::Command;
    let locations = options::Locations::from_cli(&cli);
    match cli.command {
        Command::Run(args) => commands::run::main(&locations, args).await,
        Command::Resume(args) => commands::resume::main(&locations, args).await,
        Command::Retry(args) => commands::retry::main(&locations, args).await,
        Command::Demo(args) => commands::demo::main(args).await,
        Command::Validate(args) => commands::validate::main(&locations, args),
        Command::Export(args) => commands::export::main(&locations, args),
        Command::Report(args) => commands::report::main(&locations, args),
        Command::Reconcile(args) => commands::reconcile::main(&locations, args).await,
        Command::Status(args) => commands::status::main(&locations, args),
        Command::Show(args) => commands::show::main(&locations, args),
        Command::Approve(args) => commands::approve::main(&locations, args),
        Command::Journal(args) => commands::journal::main(&locations, args),
        Command::Completions(args) => commands::manual::completions(args.shell),
        Command::Man(args) => commands::manual::man(args.dir.as_deref()),
        Command::Gen(args) => commands::sim::generate(args),
        Command::Sim(args) => commands::sim::run(args).await,
    }
}

/// Sets up `tracing` on stderr. Secrets cannot reach it: they are only ever
/// held in types whose `Debug` and `Display` print `***`.
pub fn init_logging(verbose: u8, json: bool, quiet: bool) {
    // `--quiet` is errors only: warnings are silenced with the rest (-v still logs).
    let level = match (verbose, quiet) {
        (0, true) => "error",
        (0, false) => "warn",
        (1, _) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULKREFUND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("bulkrefund={level}")));
    // A closed stderr must not panic: tracing reports its own write errors with
    // `eprintln!` unless told not to.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(messages::colour_on_stderr())
        .log_internal_errors(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
