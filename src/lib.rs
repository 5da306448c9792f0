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
pub mod paths;
pub mod report;
pub mod secret;
pub mod setting;
pub mod sim;

/// Runs one command line and returns the process exit code.
pub async fn run(cli: cli::Cli) -> anyhow::Result<u8> {
    use commands::context::Context;
    match cli.command {
        cli::Command::Sim(args) => commands::sim::run(args).await,
        cli::Command::Demo(ref args) => commands::demo::run(args.quiet).await,
        cli::Command::Run(ref args) => {
            let context = Context::load(cli.config.as_deref(), cli.journal.as_deref())?;
            let profiles = commands::run::Profiles {
                config: &context.config,
                base_url: None,
            };
            let request = commands::run::RunRequest {
                batch: &args.batch,
                profile: &args.profile,
                read: args.input.read_options(),
                out: args.out.clone(),
                journal_path: &context.journal_path,
                engine: args.engine.clone(),
            };
            let outcome =
                commands::run::run(request, &profiles, commands::interrupt::install()).await?;
            commands::run::print_summary(&outcome);
            Ok(outcome.exit_code)
        }
        cli::Command::Resume(ref args) => {
            let context = Context::load(cli.config.as_deref(), cli.journal.as_deref())?;
            let profiles = commands::run::Profiles {
                config: &context.config,
                base_url: None,
            };
            let cancel = commands::interrupt::install();
            let request = commands::run::ResumeRequest {
                batch: args.batch,
                out: args.out.as_deref(),
                review: args.review,
            };
            let outcome = commands::run::resume(
                &context.journal_path,
                request,
                &profiles,
                &args.engine,
                cancel,
            )
            .await?;
            commands::run::print_summary(&outcome);
            Ok(outcome.exit_code)
        }
        cli::Command::Retry(ref args) => {
            let context = Context::load(cli.config.as_deref(), cli.journal.as_deref())?;
            let profiles = commands::run::Profiles {
                config: &context.config,
                base_url: None,
            };
            let request = commands::retry::RetryRequest {
                journal_path: &context.journal_path,
                batch: args.batch,
                new_ids: args.new_ids,
                yes: args.yes,
                engine: args.engine.clone(),
            };
            match commands::retry::run(request, &profiles, commands::interrupt::install()).await? {
                Some(outcome) => {
                    commands::run::print_summary(&outcome);
                    Ok(outcome.exit_code)
                }
                None => Ok(exit::SUCCESS),
            }
        }
        cli::Command::Export(ref args) => {
            let journal = journal_only(&cli)?;
            let config = config::Config::locate(cli.config.as_deref());
            commands::export::run(&journal, Some(config.as_path()), args)
        }
        cli::Command::Validate(ref args) => {
            let context = Context::load(cli.config.as_deref(), cli.journal.as_deref())?;
            let profile = context.profile(&args.profile)?;
            commands::validate::run(
                &args.batch,
                &args.input.read_options(),
                &profile,
                &context.journal_path,
            )
        }
        cli::Command::Gen(ref args) => {
            sim::generate::write_batch(
                args.gateway,
                args.rows,
                &args.prefix,
                &args.out,
                args.orders.as_deref(),
            )?;
            Ok(exit::SUCCESS)
        }
        cli::Command::Status(ref args) => {
            // `status` reads only the journal: it works without a configuration file.
            let config_path = config::Config::locate(cli.config.as_deref());
            let journal = match cli.journal.clone() {
                Some(journal) => journal,
                None if config_path.exists() => {
                    config::Config::load(&config_path)?.journal_path(None)
                }
                None => config::DEFAULT_JOURNAL.into(),
            };
            commands::status::run(&journal, args.batch)
        }
    }
}

/// The journal path for commands that read only the journal: they work without a configuration file.
fn journal_only(cli: &cli::Cli) -> anyhow::Result<std::path::PathBuf> {
    let config_path = config::Config::locate(cli.config.as_deref());
    Ok(match cli.journal.clone() {
        Some(journal) => journal,
        None if config_path.exists() => config::Config::load(&config_path)?.journal_path(None),
        None => config::DEFAULT_JOURNAL.into(),
    })
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
