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
            write_pages(Cli::command(), dir)?;
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

/// One page per command and subcommand in `dir`, as `clap_mangen::generate_to`
/// names them, each written through a fresh file (never through a link
/// planted at a page's name: `generate_to` would follow it).
fn write_pages(command: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    fn write(command: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            write(sub.clone(), dir)?;
        }
        let page = clap_mangen::Man::new(command);
        let path = dir.join(page.get_filename());
        crate::paths::write_replacing(&path, |mut file| page.render(&mut file))
    }
    let mut command = command.disable_help_subcommand(true);
    command.build();
    write(command, dir)
}
