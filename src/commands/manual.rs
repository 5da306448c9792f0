//! `bulkrefund completions SHELL` and `bulkrefund man`: generated from the
//! clap definitions (clap_complete, clap_mangen), so they never drift from
//! the flags. The man pages add what clap does not know: EXIT STATUS,
//! ENVIRONMENT, FILES and EXAMPLES (each page the examples of its command).
//! Written to stdout, to be redirected where the shell looks.

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
            render(Cli::command(), &mut out)?;
            out.flush()?;
        }
    }
    Ok(exit::SUCCESS)
}

/// One page per command and subcommand in `dir`, named as
/// `clap_mangen::generate_to` names them, each with this file's sections and
/// written through a fresh file (never through a link planted at a page's
/// name: `generate_to` would follow it).
fn write_pages(command: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    fn write(command: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            write(sub.clone(), dir)?;
        }
        let path = dir.join(clap_mangen::Man::new(command.clone()).get_filename());
        crate::paths::write_replacing(&path, |mut file| render(command, &mut file))
    }
    let mut command = command.disable_help_subcommand(true);
    command.build();
    write(command, dir)
}

/// One command's man page: clap_mangen's, with this file's sections before
/// its VERSION (or at its end).
pub fn render(command: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    // `bulkrefund run` is named `run` with `bulkrefund-run` as its display name.
    let name = command.get_name().to_owned();
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let ours = sections(if name == "bulkrefund" { "" } else { &name });
    match page.find("\n.SH VERSION") {
        Some(at) => write!(out, "{}\n{}{}", &page[..at], ours, &page[at + 1..]),
        None => write!(out, "{page}{ours}"),
    }
}

/// (command, what it does, the command line): "" is the main page's.
const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "",
        "Try everything against the built-in simulator:",
        "bulkrefund demo",
    ),
    (
        "",
        "Check a batch without sending anything:",
        "bulkrefund validate refunds.csv --profile leshua",
    ),
    (
        "",
        "Send it, at most 20 requests a second:",
        "bulkrefund run refunds.csv --profile leshua --rate 20",
    ),
    ("", "See where every batch stands:", "bulkrefund status"),
    (
        "",
        "Finish what a run left unresolved (exit 4):",
        "bulkrefund resume",
    ),
    (
        "",
        "Reconcile November as a spreadsheet:",
        "bulkrefund export --since 2026-11-01 --until 2026-11-30 --out november.xlsx",
    ),
    (
        "run",
        "Send a batch under the profile leshua:",
        "bulkrefund run refunds.csv --profile leshua",
    ),
    (
        "run",
        "Without the question (scripts), results to a chosen file:",
        "bulkrefund run refunds.csv --profile leshua --yes --out refunds.done.csv",
    ),
    (
        "resume",
        "Finish every batch's unresolved refunds:",
        "bulkrefund resume",
    ),
    (
        "resume",
        "Ask the gateway once more about batch 3's refunds in review:",
        "bulkrefund resume --batch 3 --review",
    ),
    (
        "retry",
        "See what a retry of batch 3's failures would send, then send it:",
        "bulkrefund retry --batch 3 --failed",
    ),
    (
        "retry",
        "Retry under new ids the refunds the gateway created and failed:",
        "bulkrefund retry --batch 3 --failed --new-ids",
    ),
    (
        "export",
        "November, every refund, for Excel:",
        "bulkrefund export --since 2026-11-01 --until 2026-11-30 --out november.xlsx",
    ),
    (
        "export",
        "The failed refunds of batch 3 as CSV on stdout:",
        "bulkrefund export --batch 3 --status failed --out -",
    ),
    (
        "report",
        "November as one page to look at and print (no script, nothing fetched):",
        "bulkrefund report --since 2026-11-01 --until 2026-11-30 --out november.html",
    ),
    (
        "report",
        "One batch, with the figures `status --batch 3` gives:",
        "bulkrefund report --batch 3 --out batch-3.html",
    ),
    (
        "reconcile",
        "Fetch the WeChat Pay bill of 30 November and match it against the journal:",
        "bulkrefund reconcile --profile wechatpay --date 2026-11-30 --out 2026-11-30.xlsx",
    ),
    (
        "reconcile",
        "A Leshua portal statement, with the next day's for refunds near midnight:",
        "bulkrefund reconcile --profile leshua --date 2026-11-30 --file nov30.csv --file 2026-12-01=dec01.csv",
    ),
    (
        "validate",
        "Check a tab-separated paste:",
        "bulkrefund validate pasted.tsv --profile leshua --delimiter tab",
    ),
    (
        "status",
        "Every batch, then batch 3 with its rows that did not succeed:",
        "bulkrefund status && bulkrefund status --batch 3 --rows",
    ),
    (
        "status",
        "For a program:",
        "bulkrefund status --format json",
    ),
    (
        "show",
        "One refund's whole story:",
        "bulkrefund show RF202611300029",
    ),
    (
        "show",
        "What to do about an abnormal refund (accepted, the money reached nobody):",
        "bulkrefund show RF202611300031",
    ),
    (
        "approve",
        "A second person approves batch 3 (over approve_over_yuan), which resume then sends:",
        "bulkrefund approve --batch 3 && bulkrefund resume --batch 3",
    ),
    (
        "demo",
        "Run the samples against the simulator:",
        "bulkrefund demo",
    ),
    (
        "completions",
        "Completions for bash:",
        "bulkrefund completions bash > ~/.local/share/bash-completion/completions/bulkrefund",
    ),
    (
        "man",
        "Install the man pages:",
        "bulkrefund man --dir ~/.local/share/man/man1",
    ),
    (
        "journal",
        "A whole copy of the journal, safe while a run holds it:",
        "bulkrefund journal backup bulkrefund-2026-11-30.db",
    ),
    (
        "journal",
        "Forget the trace of import 3, killed midway, whose file will not be run:",
        "bulkrefund journal forget-import 3",
    ),
    (
        "sim",
        "A simulator on a free port, busy one time in ten:",
        "bulkrefund sim --listen 127.0.0.1:0 --orders samples/orders.csv --busy-rate 0.1",
    ),
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Every refund succeeded (or repeats a row that did)."),
    ("1", "The run could not go on: the journal, a file, or the gateway refused the requests themselves (a wrong key, an unknown merchant)."),
    ("2", "A usage error, an unreadable batch, a bad configuration, or a cap refused: nothing was sent."),
    ("3", "Finished, and some refunds failed, are in review or abnormal (accepted, the money reached nobody: `bulkrefund show ID` says what to do), or rows are invalid or conflict: see the results file."),
    ("4", "Some refunds are unresolved (processing, unknown, pending), or the run was interrupted: run bulkrefund resume."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("BULKREFUND_CONFIG", "The configuration file, when --config is not given."),
    ("BULKREFUND_TIMEZONE", "The time zone of the times shown and of --since/--until days (e.g. Asia/Shanghai), when --timezone is not given; else the configuration's timezone, else the machine's."),
    ("BULKREFUND_LOG", "Which log lines to show, as a tracing filter (e.g. bulkrefund=debug); -v and -vv are shorter."),
    ("NO_COLOR", "When set and not empty, messages are not coloured."),
    ("TZ", "The machine's zone, used when neither --timezone nor the configuration names one."),
];

const FILES: &[(&str, &str)] = &[
    ("./bulkrefund.toml", "The configuration: the profiles, their keys (or where to read them), rates and caps."),
    ("./bulkrefund.db", "The journal (SQLite): every batch, refund and request. It is what makes a refund never be paid twice: keep it, and back it up."),
    ("./bulkrefund.db-wal, ./bulkrefund.db-shm", "SQLite's write-ahead log beside the journal while a run holds it, and after a crash: part of the journal until a clean end folds it in. Never copy the journal without them; bulkrefund journal backup FILE makes a whole copy at any time."),
    ("./bulkrefund.db.lock", "Names the process that holds the journal (pid, host, since)."),
    ("BATCH.results.csv", "The results of a batch, beside its input unless --out says otherwise: one line per input row, with its outcome."),
];

/// The man page's own sections for `command` ("" for the main page).
fn sections(command: &str) -> String {
    let mut roff = String::new();
    roff.push_str(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_STATUS {
        roff.push_str(&format!(".TP\n.B {code}\n{}\n", escape(meaning)));
    }
    for (title, entries) in [("ENVIRONMENT", ENVIRONMENT), ("FILES", FILES)] {
        roff.push_str(&format!(".SH {title}\n"));
        for (name, meaning) in entries {
            roff.push_str(&format!(".TP\n.B {}\n{}\n", escape(name), escape(meaning)));
        }
    }
    roff.push_str(".SH EXAMPLES\n");
    for (_, what, line) in EXAMPLES.iter().filter(|(c, _, _)| *c == command) {
        roff.push_str(&format!(
            ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE\n",
            escape(what),
            escape(line)
        ));
    }
    roff
}

/// Text as roff reads it literally: a backslash and a minus escaped, and a
/// line that would start with a control character protected.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(command: clap::Command) -> String {
        let mut out = Vec::new();
        render(command, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_pages_have_exit_status_environment_files_and_examples() {
        let mut command = Cli::command().disable_help_subcommand(true);
        command.build();
        let main = page(command.clone());
        for header in [
            "\n.SH \"EXIT STATUS\"\n",
            "\n.SH ENVIRONMENT\n",
            "\n.SH FILES\n",
            "\n.SH EXAMPLES\n",
        ] {
            assert!(main.contains(header), "{header} in {main}");
        }
        assert!(
            main.contains("\n.B 4\nSome refunds are unresolved"),
            "{main}"
        );
        assert!(main.contains("\n.B BULKREFUND_CONFIG\n"), "{main}");
        assert!(
            main.contains("\nbulkrefund run refunds.csv \\-\\-profile leshua \\-\\-rate 20\n"),
            "{main}"
        );
        // Each subcommand's page has its own examples, and every section.
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let text = page(sub.clone());
            let name = sub.get_name();
            assert!(text.contains("\n.SH EXAMPLES\n.PP\n"), "{name}: {text}");
            assert!(text.contains("\n.SH FILES\n"), "{name}");
            assert!(
                text.contains(&format!(".nf\nbulkrefund {name}")),
                "{name}: {text}"
            );
        }
    }

    #[test]
    fn every_example_is_a_command_line_bulkrefund_takes() {
        use clap::Parser;
        for (_, _, line) in EXAMPLES {
            for command in line.split(" && ") {
                let command = command.split(" > ").next().unwrap();
                let words = command.split_whitespace();
                if let Err(e) = Cli::try_parse_from(words) {
                    panic!("{command}: {e}");
                }
            }
        }
    }

    #[test]
    fn roff_is_escaped() {
        assert_eq!(escape("--rate"), "\\-\\-rate");
        assert_eq!(escape(".hidden"), "\\&.hidden");
        assert_eq!(escape("a\\b"), "a\\eb");
    }
}
