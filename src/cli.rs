//! The command line (docs/specs/cli.md): clap definitions of every subcommand and flag, as
//! raw values. Each command module checks what it is given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gateway::GatewayKind;

mod approve;
mod journal;
mod places;
mod reconcile;
mod report;
mod sim_alipay;
mod sim_wechatpay;
mod values;
pub use approve::ApproveArgs;
pub use journal::{BackupArgs, CopyArgs, JournalArgs, JournalCommand};
pub use places::Places;
pub use reconcile::ReconcileArgs;
pub use report::{ExportArgs, ReportArgs};
pub use sim_alipay::AlipaySimArgs;
pub use sim_wechatpay::{AnswerModeArg, BillLayoutArg, WechatpaySimArgs};
use values::parse_probability;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Shown after every `--help` (docs/specs/cli.md, "Exit codes").
pub const EXIT_CODES: &str = "\
Exit codes:
  0  every row succeeded (or repeats a row that did)
  1  the run could not go on (journal, I/O, the gateway refusing every request; retry: unreachable)
  2  usage error, unreadable batch, bad configuration, not confirmed, over a cap: nothing was sent
  3  finished, and some rows failed, are invalid, conflict, need review or are abnormal (WeChat: the money reached nobody)
  4  some refunds are still unresolved (processing, unknown, pending): run `bulkrefund resume`; an import killed midway: run its file again";

#[derive(Debug, Parser)]
#[command(
    name = "bulkrefund",
    version,
    about = "Pays refunds back in bulk, each exactly once.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log more (-v: debug, -vv: trace). Logs go to stderr and never show a secret.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Errors only: no progress, no summary, no notes on stderr (data on stdout stays).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log format: `text` or `json` (then stderr holds only JSON lines, messages included).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How to read a batch file.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Force the batch's encoding: `utf-8` or `gbk` (GB18030). Default: detected.
    #[arg(long)]
    pub encoding: Option<String>,
    /// The batch's delimiter: one character, or `tab`.
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
}

impl InputArgs {
    pub fn read_options(&self) -> crate::batch::ReadOptions {
        crate::batch::ReadOptions {
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
        }
    }
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        other => Err(format!("{other:?} is not one ASCII character (or `tab`)")),
    }
}

/// How the engine works a run. The numbers keep the bounds of [`crate::limits`],
/// the same as in the configuration, with the same messages.
#[derive(Debug, Args, Clone, Default)]
pub struct EngineArgs {
    /// Requests per second, queries included, 1 to 100000 (default: the profile's `rate`).
    #[arg(long, value_parser = crate::limits::parse_rate)]
    pub rate: Option<u32>,
    /// Requests in flight at once, 1 to 4096 (default: the profile's `concurrency`).
    #[arg(long, value_parser = crate::limits::parse_concurrency)]
    pub concurrency: Option<u32>,
    /// Attempts per refund before giving up, 1 to 100 (default: the profile's `max_attempts`).
    #[arg(long, value_parser = crate::limits::parse_max_attempts)]
    pub max_attempts: Option<u32>,
    /// How long to keep polling refunds that are processing, e.g. `30s`; then `resume` finishes them.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub poll_for: Duration,
    /// Start the results file with a BOM so that Excel shows Chinese text.
    #[arg(long)]
    pub excel: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub places: Places,
    /// The batch CSV.
    pub batch: PathBuf,
    /// The gateway profile in the configuration, e.g. `--profile leshua`.
    #[arg(long)]
    pub profile: String,
    /// The results file (default: BATCH.results.csv beside the input).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Send without showing the plan and asking (required when there is no terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Send even when the batch is over the profile's max_batch_yuan or max_refund_yuan.
    #[arg(long)]
    pub allow_over_limit: bool,
    /// No BOM at the start of the results file, even for a GBK batch or one that starts with a BOM (Excel's "CSV UTF-8"), which get one by default, for Excel.
    #[arg(long, conflicts_with = "excel")]
    pub no_bom: bool,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub places: Places,
    /// Only this batch (its journal id, as `status` lists it).
    #[arg(long)]
    pub batch: Option<i64>,
    /// With --batch: write that batch's results here from now on (when its
    /// results file cannot be written where it was).
    #[arg(long, requires = "batch")]
    pub out: Option<PathBuf>,
    /// Ask the gateway once about each refund in review (an answer that did not
    /// match its request): a verified answer about that very refund settles it.
    #[arg(long)]
    pub review: bool,
    /// Send even when what is left is over its profile's max_batch_yuan or max_refund_yuan.
    #[arg(long)]
    pub allow_over_limit: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub places: Places,
    /// The batch (its journal id, as `status` lists it).
    #[arg(long)]
    pub batch: i64,
    /// Retry the batch's failed refunds (the only kind retry sends).
    #[arg(long, required = true)]
    pub failed: bool,
    /// A new id (R123 -> R123R2) for each refund the gateway confirms failed; never created: same id.
    #[arg(long)]
    pub new_ids: bool,
    /// Send without asking (required when there is no terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Send even when the retry is over the profile's max_batch_yuan or max_refund_yuan.
    #[arg(long)]
    pub allow_over_limit: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub places: Places,
    /// The batch CSV.
    pub batch: PathBuf,
    /// The gateway profile in the configuration, e.g. `--profile leshua`.
    #[arg(long)]
    pub profile: String,
    /// Check as `run --allow-over-limit` would: over max_batch_yuan or max_refund_yuan is no exit 2.
    #[arg(long)]
    pub allow_over_limit: bool,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Whose batch format to write.
    #[arg(long)]
    pub gateway: GatewayKind,
    /// How many refunds.
    #[arg(long)]
    pub rows: u64,
    /// Prefix of every id, so that generated batches never collide.
    #[arg(long, default_value = "G")]
    pub prefix: String,
    /// The batch file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the simulator's orders that make the batch valid.
    #[arg(long)]
    pub orders: Option<PathBuf>,
}

/// How `status` and `show` print what they read (on stdout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text, for people.
    Table,
    /// One JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub places: Places,
    /// One batch in detail (its journal id, as `status` lists it).
    #[arg(long)]
    pub batch: Option<i64>,
    /// With --batch: also every row that did not succeed (with --format csv: only those rows).
    #[arg(long)]
    pub rows: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write bulkrefund.1 and a page per subcommand into this directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub places: Places,
    /// The refund id (as in the batch, or a derived retry id such as R123R2).
    pub refund_id: String,
    /// Output format on stdout (csv: one line per transition or HTTP attempt).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a batch, record it in the journal, send every new refund under the
    /// profile's rate limit, settle what is unknown, poll what is processing,
    /// write the results CSV and print the summary, e.g.
    /// `bulkrefund run refunds.csv --profile leshua --rate 20`.
    Run(RunArgs),
    /// Finish what earlier runs left unresolved (pending, unknown, processing,
    /// waiting to retry; abnormal ones whose hour is up are queried, never sent)
    /// and rewrite those batches' results files, e.g. `bulkrefund resume --batch 3`.
    Resume(ResumeArgs),
    /// Start the simulator on a free port, run the sample batches against it with
    /// a temporary journal, and print the summaries and where the results are.
    Demo(DemoArgs),
    /// Send a batch's failed refunds again, e.g. `bulkrefund retry --batch 3 --failed --new-ids`.
    /// Shows what it will send and asks first (`--yes` skips the question).
    Retry(RetryArgs),
    /// Reconciliation export across runs, one row per refund, with totals, e.g.
    /// `bulkrefund export --since 2026-11-01 --until 2026-11-30 --out november.xlsx --format xlsx`.
    Export(ExportArgs),
    /// One self-contained HTML page about a batch or a period, to look at and
    /// print: the money, refunded per day, failures by code, the gateway's
    /// latency, the refunds a person must act on, the latest reconciliation of each
    /// day, e.g.
    /// `bulkrefund report --since 2026-11-01 --until 2026-11-30 --out november.html`.
    Report(ReportArgs),
    /// Match a day's bill from the gateway (对账单), refund by refund, against the journal
    /// and write the report; read-only on refunds. Exit 0 when everything matched (or was
    /// made outside bulkrefund), 3 for any difference or missing refund, 2 for a bad bill
    /// file, 1 when the bill could not be fetched, e.g.
    /// `bulkrefund reconcile --profile wechatpay --date 2026-11-30 --out 2026-11-30.xlsx`.
    Reconcile(ReconcileArgs),
    /// Check every row and the dedupe against the journal without sending or
    /// writing anything, e.g. `bulkrefund validate refunds.csv --profile leshua`.
    /// Exit 0 clean, 3 if any row is invalid or conflicts, 2 for a file-level problem.
    Validate(ValidateArgs),
    /// List batches with counts and yuan per status, or one batch in detail,
    /// e.g. `bulkrefund status --batch 3`.
    Status(StatusArgs),
    /// One refund's whole story: order and amount, retry chain, the batch rows
    /// that list it, every transition and HTTP attempt (and, for an abnormal
    /// refund, what to do), e.g. `bulkrefund show R123`.
    Show(ShowArgs),
    /// Approve a batch that waits for a second person (over its profile's
    /// approve_over_yuan): refused, and the refusal recorded, for the person
    /// who recorded it, e.g. `bulkrefund approve --batch 3`.
    Approve(ApproveArgs),
    /// Work on the journal itself: `bulkrefund journal backup FILE`,
    /// `bulkrefund journal forget-import ID`.
    Journal(JournalArgs),
    /// Write a generated batch and the simulator orders that match it (for tests and benchmarks).
    #[command(hide = true)]
    Gen(GenArgs),
    /// Print a shell completion script, e.g. `bulkrefund completions bash > ~/.local/share/bash-completion/completions/bulkrefund`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `bulkrefund man > bulkrefund.1`, or write
    /// one page per subcommand too: `bulkrefund man --dir ~/.local/share/man/man1`.
    Man(ManArgs),
    /// Run the local gateway simulator (Leshua, Lianshang, WeChat Pay and Alipay), e.g.
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
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::limits::parse_duration(text)
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on; `127.0.0.1:0` picks a free port (printed as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:8900")]
    pub listen: SocketAddr,
    /// The paid orders the simulator knows (CSV: gateway,merchant_id,third_order_id,gateway_order_id,appid,amount_fen,currency,status, optional paid_at).
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
    /// Share of answers, correctly signed, about another refund than the one asked
    /// (another id, amount, merchant, order or request; a replayed nonce).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub mismatch_rate: f64,
    /// The one field a mismatch changes, e.g. `merchant_refund_id`, `refund_amount`,
    /// `nonce_str`, `out_refund_id`, `out_refund_id_number`, `request_id` (default: any).
    #[arg(long)]
    pub mismatch_field: Option<String>,
    /// Share of answers pretty-printed: values padded with whitespace (signed without it).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub pad_rate: f64,
    /// Share of answers that are a 307 redirect, after the request was processed.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub redirect_rate: f64,
    /// Where redirects point (default: this simulator's /__sim/elsewhere, which counts hits).
    #[arg(long)]
    pub redirect_to: Option<String>,
    /// Share of answers with a 100 MB body, after the request was processed.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub oversize_rate: f64,
    /// Share of answers whose body never ends, after the request was processed.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub endless_rate: f64,
    /// The Retry-After, in seconds, of 429 and 503 answers, e.g. `99999999999`.
    #[arg(long)]
    pub retry_after: Option<u64>,
    /// Hold another key than the merchant's: every request fails its signature check.
    #[arg(long)]
    pub wrong_key: bool,
    /// Refuse a badly signed request with an answer signed by the simulator's key (Leshua).
    #[arg(long)]
    pub signed_refusals: bool,
    /// Answer 500 to each refund recorded, "already exists" to resends, "no such refund" to queries.
    #[arg(long)]
    pub contradict: bool,
    /// Share of refunds paid but answered with a signed refusal; their queries say "no such refund".
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub lie_rate: f64,
    #[command(flatten)]
    pub wechatpay: Box<WechatpaySimArgs>,
    #[command(flatten)]
    pub alipay: Box<AlipaySimArgs>,
}

impl Command {
    /// The places this command was given (none for those that bring their own).
    pub fn places(&self) -> Places {
        match self {
            Command::Run(a) => a.places.clone(),
            Command::Resume(a) => a.places.clone(),
            Command::Retry(a) => a.places.clone(),
            Command::Export(a) => a.places.clone(),
            Command::Report(a) => a.places.clone(),
            Command::Reconcile(a) => a.places.clone(),
            Command::Validate(a) => a.places.clone(),
            Command::Status(a) => a.places.clone(),
            Command::Show(a) => a.places.clone(),
            Command::Approve(a) => a.places.clone(),
            Command::Journal(a) => match &a.command {
                JournalCommand::Backup(b) => b.places.clone(),
                JournalCommand::ForgetImport(f) => f.places.clone(),
                JournalCommand::Copy(c) => c.places.clone(),
            },
            Command::Demo(_)
            | Command::Gen(_)
            | Command::Sim(_)
            | Command::Completions(_)
            | Command::Man(_) => Places::default(),
        }
    }
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
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert!(parse_delimiter(";;").is_err());
    }

    #[test]
    fn sim_takes_the_wechatpay_flags_with_the_contracts_defaults() {
        use clap::Parser;
        let sim = |extra: &[&str]| {
            let mut argv = vec!["bulkrefund", "sim", "--orders", "o.csv"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Sim(args) => args.wechatpay,
                _ => unreachable!("sim parses as sim"),
            }
        };
        let defaults = sim(&[]);
        assert_eq!(
            (
                defaults.wechatpay_apply_qps,
                defaults.wechatpay_query_qps,
                defaults.wechatpay_bad_qps
            ),
            (150, 300, 6)
        );
        assert_eq!(defaults.wechatpay_order_gap, Duration::from_secs(60));
        assert_eq!(defaults.bill_url_ttl, Duration::from_secs(30));
        assert_eq!(defaults.wechatpay_answer_mode, AnswerModeArg::Pubkey);
        assert_eq!(defaults.bill_layout, BillLayoutArg::New);
        assert_eq!(defaults.wechatpay_balance_fen, None);
        let given = sim(&[
            "--wechatpay-answer-mode",
            "cert",
            "--bill-layout",
            "old",
            "--wechatpay-order-gap",
            "0s",
            "--abnormal-rate",
            "0.5",
            "--stale-answer-rate",
            "0.1",
            "--wechatpay-balance-fen",
            "100",
        ]);
        assert_eq!(given.wechatpay_answer_mode, AnswerModeArg::Cert);
        assert_eq!(given.bill_layout, BillLayoutArg::Old);
        assert_eq!(given.wechatpay_order_gap, Duration::ZERO);
        assert_eq!((given.abnormal_rate, given.stale_answer_rate), (0.5, 0.1));
        assert_eq!(given.wechatpay_balance_fen, Some(100));
    }

    #[test]
    fn sim_takes_the_alipay_flags_with_the_contracts_defaults() {
        use clap::Parser;
        let sim = |extra: &[&str]| {
            let mut argv = vec!["bulkrefund", "sim", "--orders", "o.csv"];
            argv.extend_from_slice(extra);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Sim(args) => args.alipay,
                _ => unreachable!("sim parses as sim"),
            }
        };
        let defaults = sim(&[]);
        assert_eq!(defaults.alipay_qps, 50);
        assert_eq!(defaults.alipay_trade_gap, Duration::from_secs(3));
        assert_eq!(
            defaults.alipay_refund_window,
            Duration::from_secs(365 * 24 * 3600)
        );
        assert_eq!(defaults.alipay_balance_fen, None);
        assert_eq!(defaults.fund_change_n_rate, 0.0);
        let given = sim(&[
            "--alipay-trade-gap",
            "0s",
            "--alipay-balance-fen",
            "100",
            "--fund-change-n-rate",
            "0.2",
        ]);
        assert_eq!(given.alipay_trade_gap, Duration::ZERO);
        assert_eq!(given.alipay_balance_fen, Some(100));
        assert_eq!(given.fund_change_n_rate, 0.2);
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_and_command_says_what_it_is_for() {
        use clap::CommandFactory;
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {}", sub.get_name()));
                }
                check(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "bulkrefund", &mut missing);
        assert!(missing.is_empty(), "without a description: {missing:?}");
    }
}
