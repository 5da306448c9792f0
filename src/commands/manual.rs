//! `bulkrefund completions SHELL` and `bulkrefund man`: generated from the
//! clap definitions (clap_complete, clap_mangen), so they never drift from
//! the flags. Written to stdout, to be redirected where the shell looks.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "bulkrefund", &mut out);
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// The man page of `bulkrefund` (its flags, its subcommands, the exit codes)
/// on stdout; with a directory, that page and one per subcommand
/// (`bulkrefund-run.1`, …) written there.
pub fn man(dir: Option<&std::path::Path>) -> anyhow::Result<u8> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(Cli::command(), dir)?;
            crate::say!("man pages written to {}", dir.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(exit::SUCCESS)
}
