//! `bulkrefund reconcile --profile P --date D [--file BILL]... [--out FILE]`
//! (statements.md, "The command"): has the bill of Beijing day D (read from
//! `--file`, or fetched through the gateway's bill API and kept beside the
//! report as `D.<gateway>.bill.<ext>`), matches it against the journal
//! (`reconcile::matching`), writes the report, records the reconciliation in
//! the journal and prints the summary. The bills of D−1 and D+1 are read only
//! to look for refunds missing from D: given as more `--file`s, or fetched
//! only when some refund is missing (one that is not ready or cannot be had
//! is noted, not an error). Read-only on refunds; nothing is recorded on any
//! error.
//!
//! Exit codes: 0 when every finding is `matched` or `not_in_journal`; 3 for
//! any difference or missing refund; 2 for usage or a bad bill file (also one
//! of another merchant); 1 when the bill could not be had through the API:
//! not ready, the network, or a fetched bill refused (a hash that does not
//! match, another merchant's): the operator typed nothing wrong, and trying
//! again later, or asking the gateway, is what helps.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::anyhow;
use jiff::civil::Date;
use sha2::{Digest, Sha256};

use super::reconcile_paths::{keep_raw, protected_paths};
use crate::cli::ReconcileArgs;
use crate::config::Profile;
use crate::exit::{self, UsageError};
use crate::gateway::bill::{self, Bill, BillError, BillSource};
use crate::journal::reconcile::{ReconciliationMeta, API};
use crate::journal::Journal;
use crate::journal::JournalLocation;
use crate::options::Locations;
use crate::paths::{directory_of, Protected};
use crate::reconcile::matching::{self, DayBills, JournalSide, Matched, Outcome};
use crate::reconcile::{record, report};
use crate::report::export::ExportFormat;

/// What `reconcile` is asked, checked.
#[derive(Clone, Debug)]
pub struct Request {
    pub date: Date,
    /// Bill files and the day each covers: D's, and maybe D−1's and D+1's.
    pub files: Vec<(Date, PathBuf)>,
    pub out: PathBuf,
    pub format: report::ReportFormat,
    pub excel: bool,
}

/// A bill had, with where it came from.
struct Had {
    bill: Bill,
    /// `api`, or the file's path.
    source: String,
    /// The raw bytes' file: the given file, or the fetched bill kept; none
    /// for a day the gateway says has no bill (nothing to keep).
    raw_path: Option<PathBuf>,
    sha256: String,
}

/// A neighbour day's bill: had, or why not.
enum Neighbour {
    Had(Box<Had>),
    Missing(String),
}

fn shift(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(date)
}

fn parse_date(text: &str, flag: &str) -> Result<Date, UsageError> {
    (text.len() == 10)
        .then(|| Date::from_str(text).ok())
        .flatten()
        .ok_or_else(|| UsageError(format!("{flag} {text:?} is not a date (2026-11-30)")))
}

impl Request {
    pub fn from_args(args: &ReconcileArgs, gateway: &str) -> Result<Request, UsageError> {
        let date = parse_date(&args.date, "--date")?;
        let out = args.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "{date}.{gateway}.reconcile.{}",
                extension(args.format)
            ))
        });
        let format = report::format_for(&out, args.format)?;
        Ok(Request {
            date,
            files: bill_files(date, &args.files)?,
            out,
            format,
            excel: args.excel,
        })
    }
}

/// The default `--out`'s extension: the rows, as CSV unless `--format` says XLSX.
fn extension(format: Option<ExportFormat>) -> &'static str {
    match format {
        Some(ExportFormat::Xlsx) => "xlsx",
        _ => "csv",
    }
}

/// `--file`s with their days: `DATE=FILE`, else by position (D, D−1, D+1).
fn bill_files(date: Date, files: &[PathBuf]) -> Result<Vec<(Date, PathBuf)>, UsageError> {
    let by_position = [date, shift(date, -1), shift(date, 1)];
    let mut days: Vec<(Date, PathBuf)> = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let named = file.to_str().and_then(|text| {
            let (day, path) = text.split_once('=')?;
            Some((parse_date(day, "--file").ok()?, PathBuf::from(path)))
        });
        let (day, path) = match named {
            Some(named) => named,
            None => match by_position.get(i) {
                Some(day) => (*day, file.clone()),
                None => return Err(UsageError(
                    "--file: at most three bills: the day's, the day before's and the day after's"
                        .into(),
                )),
            },
        };
        if !by_position.contains(&day) {
            return Err(UsageError(format!(
                "--file {}: {day} is not {date} or a day next to it",
                file.display()
            )));
        }
        if days.iter().any(|(d, _)| *d == day) {
            return Err(UsageError(format!("--file: two bills for {day}; give one")));
        }
        days.push((day, path));
    }
    if !days.is_empty() && !days.iter().any(|(d, _)| *d == date) {
        return Err(UsageError(format!(
            "--file: no bill for {date} itself (the first --file, or {date}=FILE)"
        )));
    }
    Ok(days)
}

/// `bulkrefund reconcile ...`.
pub async fn main(locations: &Locations, args: ReconcileArgs) -> anyhow::Result<u8> {
    let (config, journal_at) = locations.load()?;
    let profile = config.profile(&args.profile)?;
    let request = Request::from_args(&args, profile.gateway.as_str())?;
    run(&profile, &journal_at, Some(config.path()), &request).await
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a bill file; any problem is a usage error (exit 2) naming the file.
fn read_file(profile: &Profile, date: Date, path: &Path) -> Result<Had, UsageError> {
    // Read through the gateway's size cap: a file too large is refused unread.
    let (bytes, bill) = bill::read_path(profile.gateway, path, date)
        .map_err(|e| UsageError(format!("The bill file '{}': {e}", path.display())))?;
    // Whose bill it is, by the gateway's own rule (Alipay's `#账号` is a
    // PID, not the profile's app_id). A fetched bill is checked by its
    // fetcher the same way (`BillError::Refused`).
    if let Err(refused) = profile.owns_bill(&bill) {
        let why = match refused {
            BillError::Refused(why) => why,
            other => other.to_string(),
        };
        return Err(UsageError(format!(
            "The bill file '{}' is not profile {}'s ({} merchant {}): {why}; nothing was recorded",
            path.display(),
            profile.name,
            profile.gateway,
            profile.merchant_id
        )));
    }
    Ok(Had {
        bill,
        source: path.display().to_string(),
        raw_path: Some(path.to_owned()),
        sha256: sha256(&bytes),
    })
}

/// Fetches a day's bill and keeps its raw bytes beside the report.
async fn fetch(
    source: &dyn BillSource,
    (profile, protected): (&Profile, &Protected),
    date: Date,
    out: &Path,
) -> anyhow::Result<Had> {
    let fetched = source.fetch(date).await?;
    if fetched.bill.gateway != profile.gateway || fetched.bill.date != date {
        return Err(BillError::Refused(format!(
            "the gateway answered with the {} bill of {}, not the {} bill of {date}",
            fetched.bill.gateway, fetched.bill.date, profile.gateway
        ))
        .into());
    }
    let sha256 = sha256(&fetched.raw);
    let kept = (!fetched.raw.is_empty())
        .then(|| {
            keep_raw(
                directory_of(out),
                format!("{date}.{}.bill", profile.gateway),
                fetched.raw_extension,
                (&fetched.raw, &sha256),
                protected,
            )
        })
        .transpose()?;
    Ok(Had {
        sha256,
        bill: fetched.bill,
        source: API.to_owned(),
        raw_path: kept,
    })
}

/// Day D's bill and the neighbours given as files.
fn files(profile: &Profile, request: &Request) -> Result<(Had, [Neighbour; 2]), UsageError> {
    let mut day = None;
    let mut before = Neighbour::Missing("no --file for it".into());
    let mut after = Neighbour::Missing("no --file for it".into());
    for (date, path) in &request.files {
        let had = read_file(profile, *date, path)?;
        match date.cmp(&request.date) {
            std::cmp::Ordering::Equal => day = Some(had),
            std::cmp::Ordering::Less => before = Neighbour::Had(Box::new(had)),
            std::cmp::Ordering::Greater => after = Neighbour::Had(Box::new(had)),
        }
    }
    let day = day.ok_or_else(|| UsageError("no bill for the day itself".into()))?;
    Ok((day, [before, after]))
}

fn had(neighbour: &Neighbour) -> Option<&Bill> {
    match neighbour {
        Neighbour::Had(had) => Some(&had.bill),
        Neighbour::Missing(_) => None,
    }
}

fn read_side(journal: &Journal, profile: &Profile, day: &Bill) -> anyhow::Result<JournalSide> {
    let (gateway, merchant) = (profile.gateway, profile.merchant_id.as_str());
    Ok(JournalSide {
        named: journal.refunds_for_bill(gateway, merchant, &matching::named_ids(day))?,
        expected: journal.refunds_expected_around(gateway, merchant, day.date)?,
        unresolved: journal.refunds_unresolved_on(gateway, merchant, day.date)?,
    })
}

fn match_with(day: &Had, neighbours: &[Neighbour; 2], side: &JournalSide) -> Matched {
    let bills = DayBills {
        day: &day.bill,
        before: had(&neighbours[0]),
        after: had(&neighbours[1]),
    };
    matching::reconcile(bills, side)
}

/// What the neighbours were, for the record and the terminal.
fn neighbours_text(date: Date, neighbours: &[Neighbour; 2]) -> String {
    let parts: Vec<String> = [(-1, &neighbours[0]), (1, &neighbours[1])]
        .into_iter()
        .map(|(offset, neighbour)| {
            let day = shift(date, offset);
            match neighbour {
                Neighbour::Had(had) => format!("{day}: {}", had.source),
                Neighbour::Missing(why) => format!("{day}: not read ({why})"),
            }
        })
        .collect();
    parts.join("; ")
}

pub async fn run(
    profile: &Profile,
    journal_at: &JournalLocation,
    config: Option<&Path>,
    request: &Request,
) -> anyhow::Result<u8> {
    let source = if request.files.is_empty() {
        Some(profile.bills().map_err(|e| match e {
            BillError::NoApi { .. } => anyhow::Error::new(UsageError(e.to_string())),
            other => anyhow::Error::new(other),
        })?)
    } else {
        None
    };
    run_with(profile, journal_at, config, request, source.as_deref()).await
}

/// [`run`] with the bill API given (tests give their own); `None` with files.
pub async fn run_with(
    profile: &Profile,
    journal_at: &JournalLocation,
    config: Option<&Path>,
    request: &Request,
    source: Option<&dyn BillSource>,
) -> anyhow::Result<u8> {
    if !journal_at.exists() {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing to reconcile against",
            journal_at.display()
        ))
        .into());
    }
    let mut journal = journal_at.open()?;
    let protected = protected_paths(&journal, journal_at, config, (&request.files, &request.out))?;
    let (day, neighbours, matched) = if let Some(source) = source {
        fetch_all(&journal, source, (profile, &protected), request).await?
    } else {
        let (day, neighbours) = files(profile, request)?;
        let side = read_side(&journal, profile, &day.bill)?;
        let matched = match_with(&day, &neighbours, &side);
        (day, neighbours, matched)
    };
    let title = format!(
        "bulkrefund reconcile · {} merchant {} · bill of {} (Beijing day) · {} · generated {}",
        profile.gateway,
        profile.merchant_id,
        request.date,
        day.source,
        crate::journal::days::gateway_zone().now()
    );
    let described = report::Described {
        title: &title,
        merchant: &profile.merchant_id,
        source: &format!(
            "{} merchant {} (profile {}); bill: {}",
            profile.gateway, profile.merchant_id, profile.name, day.source
        ),
    };
    let source = record::Source {
        profile: profile.name.clone(),
        gateway: profile.gateway,
        merchant_id: profile.merchant_id.clone(),
        source: day.source.clone(),
        raw_path: day.raw_path.as_ref().map(|p| p.display().to_string()),
        raw_sha256: day.sha256.clone(),
        neighbours: neighbours_text(request.date, &neighbours),
    };
    let meta = record::meta(source, &matched);
    // Recorded first, then the report: a report on disk always has its
    // record (a kill between the two leaves a record without its report,
    // which `status` shows and a second run writes again).
    let id = journal.record_reconciliation(&meta, &record::findings(&matched))?;
    report::write_any(
        &matched,
        described,
        &request.out,
        request.format,
        request.excel,
    )
    .map_err(|e| {
        anyhow!(
            "the reconciliation is recorded (number {id}), but its report could not be written at '{}': {e}",
            request.out.display()
        )
    })?;
    tell(&matched, &meta, &day, id, &request.out);
    Ok(if matched.totals.needs_attention() {
        exit::SOME_FAILED
    } else {
        exit::SUCCESS
    })
}

/// Fetches D's bill, matches, and only when some refund is missing fetches
/// D−1's and D+1's and matches again.
async fn fetch_all(
    journal: &Journal,
    source: &dyn BillSource,
    (profile, protected): (&Profile, &Protected),
    request: &Request,
) -> anyhow::Result<(Had, [Neighbour; 2], Matched)> {
    let fetch = |date| fetch(source, (profile, protected), date, &request.out);
    let day = fetch(request.date).await?;
    let side = read_side(journal, profile, &day.bill)?;
    let not_needed = || Neighbour::Missing(format!("nothing was missing from {}", request.date));
    let mut neighbours = [not_needed(), not_needed()];
    let matched = match_with(&day, &neighbours, &side);
    if matched.totals.of(Outcome::MissingFromBill).count == 0 {
        return Ok((day, neighbours, matched));
    }
    for (slot, offset) in [(0, -1), (1, 1)] {
        let date = shift(request.date, offset);
        neighbours[slot] = match fetch(date).await {
            Ok(had) => Neighbour::Had(Box::new(had)),
            Err(e) => Neighbour::Missing(format!("{e:#}")),
        };
    }
    let matched = match_with(&day, &neighbours, &side);
    Ok((day, neighbours, matched))
}

/// The summary on the terminal: where the bill and the report are, the
/// figures, the neighbours, and what to do.
fn tell(matched: &Matched, meta: &ReconciliationMeta, day: &Had, id: i64, out: &Path) {
    crate::say!(
        "reconciled {} merchant {}, bill of {} ({}, sha256 {}): reconciliation {id} in the journal",
        meta.gateway,
        meta.merchant_id,
        matched.date,
        day.source,
        &meta.raw_sha256[..12.min(meta.raw_sha256.len())]
    );
    crate::say!("  report: {}", out.display());
    match (&day.raw_path, meta.source == API) {
        (Some(kept), true) => crate::say!("  raw bill kept: {}", kept.display()),
        (None, _) => crate::say!("  the gateway has no bill of that day: nothing kept"),
        (Some(_), false) => {}
    }
    crate::say_part!("{}", report::table(matched));
    crate::say!("  neighbour days' bills: {}", meta.neighbours);
    let t = &matched.totals;
    let stated_count = t.stated.count.is_some_and(|c| c != t.bill.count);
    let stated_fen = t.stated.fen.is_some_and(|f| f != t.bill.fen);
    if stated_count || stated_fen {
        crate::say!(
            "Note: the bill's own totals ({} refunds, {} yuan) are not its rows' ({} refunds, {} yuan): ask the gateway for the bill again",
            t.stated.count.map_or("-".to_owned(), |c| c.to_string()),
            t.stated.fen.map_or("-".to_owned(), |f| f.grouped()),
            t.bill.count,
            t.bill.fen.grouped()
        );
    }
    let attention: u64 = Outcome::ALL
        .into_iter()
        .filter(|o| o.needs_attention())
        .map(|o| t.of(o).count)
        .sum();
    if attention > 0 {
        crate::say!("{attention} finding(s) need a person: each says what to do in the report's note column");
    }
    if t.unresolved_not_in_bill.count > 0 {
        crate::say!(
            "{} unresolved refund(s) sent on {} are in no bill: run `bulkrefund resume`, it queries them",
            t.unresolved_not_in_bill.count,
            matched.date
        );
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
