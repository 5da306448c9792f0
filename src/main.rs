use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bulkrefund::cli::Cli::parse();
    bulkrefund::init_logging(cli.verbose, cli.log_format == "json");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(bulkrefund::exit::FATAL);
        }
    };
    match runtime.block_on(bulkrefund::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(bulkrefund::exit::code_for(&e))
        }
    }
}
