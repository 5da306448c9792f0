//! The `bulkrefund` binary: parses the command line, starts logging and the
//! async runtime, runs [`bulkrefund::run`], and turns its result into the exit
//! code of docs/specs/cli.md ("Exit codes"), printing the error chain on stderr.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a run allocates and frees small
/// buffers for every request and every journal change, and glibc's malloc
/// and free were a sixth of a fast run's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[deny(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = bulkrefund::cli::Cli::parse();
    let json = cli.log_format == bulkrefund::cli::LogFormat::Json;
    bulkrefund::messages::set_mode(match (cli.quiet, json) {
        (true, _) => bulkrefund::messages::Mode::Quiet,
        (false, true) => bulkrefund::messages::Mode::Json,
        (false, false) => bulkrefund::messages::Mode::Text,
    });
    bulkrefund::init_logging(cli.verbose, json, cli.quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            bulkrefund::say_error!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(bulkrefund::exit::FATAL);
        }
    };
    match runtime.block_on(bulkrefund::run(cli)) {
        Ok(code) => ExitCode::from(code),
        // Data written to a closed stdout (`status | head`): done, quietly.
        Err(e) if bulkrefund::messages::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            bulkrefund::say_error!("Error: {}", bulkrefund::messages::describe(&e));
            ExitCode::from(bulkrefund::commands::exit_code_for(&e))
        }
    }
}
