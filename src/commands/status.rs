//! `bulkrefund status`: the batches in the journal with their money (README,
//! "The money"), or one batch in detail: its money, its failures grouped by
//! error code, its retries, and its rows that did not succeed on request
//! (`--rows`). As a table for people, or JSON or CSV for programs, on stdout.

use std::io::Write;

use serde_json::json;

use crate::cli::{OutputFormat, StatusArgs};
use crate::exit::{self, UsageError};
use crate::journal::approval::{ApprovalStore, BatchApproval, WaitingBatch};
use crate::journal::money::FailureGroup;
use crate::journal::reports::{AttentionRow, BatchSummary, RetryLink};
use crate::journal::Journal;
use crate::journal::JournalLocation;
use crate::options::Locations;
use crate::reconcile::status as reconciled;
use crate::report::approvals::{waiting_json, BatchesApproval};
use crate::report::results::formula_safe_record;
use crate::report::summary::{BatchMoney, Sum};
use crate::zone::Zone;

/// `bulkrefund status [--batch ID] [--rows] [--format table|json|csv]`: reads
/// only the journal, so it works without a configuration file.
pub fn main(locations: &Locations, args: StatusArgs) -> anyhow::Result<u8> {
    let (journal, zone) = locations.journal_only()?;
    let view = View {
        format: args.format,
        rows: args.rows,
        zone,
    };
    run(&journal, args.batch, &view)
}

/// How `status` shows what it reads.
pub struct View {
    pub format: OutputFormat,
    /// With `--batch`: every row that did not succeed, too.
    pub rows: bool,
    pub zone: Zone,
}

pub fn run(journal_at: &JournalLocation, batch: Option<i64>, view: &View) -> anyhow::Result<u8> {
    if view.rows && batch.is_none() {
        return Err(UsageError("--rows lists one batch's rows: give --batch ID too".into()).into());
    }
    let Some(journal) = journal_at.open_read_only()? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing has been run",
            journal_at.display()
        ))
        .into());
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match batch {
        None => list(&journal, view, &mut out)?,
        Some(id) => detail(&journal, id, view, &mut out)?,
    }
    out.flush()?;
    // An import killed in the middle: said on stderr (stdout keeps its format),
    // and never an exit 0 while it stands.
    let interrupted = journal.interrupted_imports()?;
    for import in &interrupted {
        crate::say_error!(
            "Error: {}",
            import.describe_unlocked(&view.zone.show(&import.started_at))
        );
    }
    Ok(if interrupted.is_empty() {
        exit::SUCCESS
    } else {
        exit::UNRESOLVED
    })
}

fn batch_state(batch: &BatchSummary, zone: &Zone) -> String {
    match (batch.imported, &batch.finished_at) {
        (false, _) => "import unfinished".to_owned(),
        (true, Some(at)) => format!("finished {}", zone.show(at)),
        (true, None) => "not finished".to_owned(),
    }
}

fn batch_json(batch: &BatchSummary, money: &BatchMoney, zone: &Zone) -> serde_json::Value {
    json!({
        "id": batch.id,
        "file": batch.file_name,
        "profile": batch.profile,
        "started_at": zone.show(&batch.started_at),
        "finished_at": batch.finished_at.as_deref().map(|at| zone.show(at)),
        "imported": batch.imported,
        "results": batch.results_path.as_ref().map(|p| p.display().to_string()),
        "money": money,
    })
}

/// The columns of `status --format csv`: one line per batch. (The abnormal
/// refunds' columns came last, after the others: a program reading the
/// earlier columns by position still finds them.)
const LIST_COLUMNS: [&str; 26] = [
    "batch_id",
    "file",
    "profile",
    "started_at",
    "finished_at",
    "requested_count",
    "requested_fen",
    "refunded_count",
    "refunded_fen",
    "paid_by_this_batch_count",
    "paid_by_this_batch_fen",
    "failed_count",
    "failed_fen",
    "in_review_count",
    "in_review_fen",
    "unresolved_count",
    "unresolved_fen",
    "invalid_count",
    "conflict_count",
    "duplicate_count",
    "not_sent_fen",
    "abnormal_count",
    "abnormal_fen",
    "approval",
    "approval_recorded_by",
    "approved_by",
];

fn list_record(
    batch: &BatchSummary,
    money: &BatchMoney,
    approval: Option<&BatchApproval>,
    zone: &Zone,
) -> Vec<String> {
    let i = &money.intents;
    let sums = [
        i.requested,
        i.refunded,
        money.paid_by_this_batch,
        i.failed,
        i.in_review,
        i.unresolved,
    ];
    let not_sent = &money.not_sent;
    let unsent_fen = [not_sent.invalid, not_sent.conflict, not_sent.duplicate]
        .iter()
        .fold(Sum::default(), |mut all, sum| {
            all.add(sum.count, sum.fen);
            all
        });
    let mut record = vec![
        batch.id.to_string(),
        batch.file_name.clone(),
        batch.profile.clone(),
        zone.show(&batch.started_at),
        batch
            .finished_at
            .as_deref()
            .map(|at| zone.show(at))
            .unwrap_or_default(),
    ];
    for sum in sums {
        record.push(sum.count.to_string());
        record.push(sum.fen.0.to_string());
    }
    record.push(not_sent.invalid.count.to_string());
    record.push(not_sent.conflict.count.to_string());
    record.push(not_sent.duplicate.count.to_string());
    record.push(unsent_fen.fen.0.to_string());
    record.push(i.abnormal.count.to_string());
    record.push(i.abnormal.fen.0.to_string());
    record.extend(approval_cells(approval));
    record
}

/// A batch's approval in three cells: "not needed", "waiting" or
/// "approved"; who recorded a batch that needed one; who approved it.
fn approval_cells(approval: Option<&BatchApproval>) -> [String; 3] {
    let Some(hold) = approval.and_then(|a| a.hold.as_ref()) else {
        return ["not needed".into(), String::new(), String::new()];
    };
    let recorded_by = hold.recorded_by.name.clone();
    match approval.and_then(|a| a.approved.as_ref()) {
        None => ["waiting".into(), recorded_by, String::new()],
        Some(approved) => ["approved".into(), recorded_by, approved.person.name.clone()],
    }
}

pub(crate) fn list(journal: &Journal, view: &View, out: &mut dyn Write) -> anyhow::Result<()> {
    let batches = journal.batches()?;
    let waiting = journal.batches_waiting()?;
    let (count, fen) = journal.refunded_in_all()?;
    let refunded_in_all = Sum { count, fen };
    match view.format {
        OutputFormat::Json => {
            let listed = batches
                .iter()
                .map(|b| {
                    Ok(batch_json(
                        b,
                        &BatchMoney::for_batch(journal, b.id)?,
                        &view.zone,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let unfinished: Vec<String> = journal
                .unfinished_imports(None)?
                .iter()
                .map(|u| u.describe())
                .collect();
            serde_json::to_writer_pretty(
                &mut *out,
                &json!({
                    "timezone": view.zone.name(),
                    "batches": listed,
                    "waiting_for_approval": waiting.iter().map(waiting_json).collect::<Vec<_>>(),
                    "refunded_in_all": refunded_in_all,
                    "days": reconciled::days_json(&journal.reconciled_days()?, &view.zone),
                    "unfinished_imports": unfinished,
                    "interrupted_imports": journal
                        .interrupted_imports()?
                        .iter()
                        .map(|i| i.describe_unlocked(&view.zone.show(&i.started_at)))
                        .collect::<Vec<_>>(),
                }),
            )?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(LIST_COLUMNS)?;
            for batch in &batches {
                let money = BatchMoney::for_batch(journal, batch.id)?;
                let approval = journal.approval_state(batch.id)?;
                let record = list_record(batch, &money, approval.as_ref(), &view.zone);
                writer.write_record(formula_safe_record(record))?;
            }
            writer.flush()?;
        }
        OutputFormat::Table => {
            list_table(journal, &batches, &waiting, &refunded_in_all, view, out)?
        }
    }
    Ok(())
}

/// `status` as a table: each batch, its money and whether it waits for approval.
fn list_table(
    journal: &Journal,
    batches: &[BatchSummary],
    waiting: &[WaitingBatch],
    refunded_in_all: &Sum,
    view: &View,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if batches.is_empty() {
        writeln!(out, "no batches yet")?;
    }
    for batch in batches {
        let money = BatchMoney::for_batch(journal, batch.id)?;
        writeln!(
            out,
            "batch {}  {}  profile {}  started {}  {}",
            batch.id,
            batch.file_name,
            batch.profile,
            view.zone.show(&batch.started_at),
            batch_state(batch, &view.zone)
        )?;
        writeln!(out, "  {}", money.one_line())?;
        if let Some(waits) = waiting.iter().find(|w| w.batch == batch.id) {
            writeln!(out, "  {}", waits.describe())?;
        }
    }
    for unfinished in journal.unfinished_imports(None)? {
        writeln!(out, "{}", unfinished.describe())?;
    }
    writeln!(
        out,
        "refunded in all: {} gateway refunds, {} yuan (each counted once, whichever batches list it); times in {}",
        refunded_in_all.count,
        refunded_in_all.fen.grouped(),
        view.zone.name()
    )?;
    reconciled::write_days(&journal.reconciled_days()?, &view.zone, out)?;
    Ok(())
}

/// What `status --batch` reads about one batch.
struct Detail {
    batch: BatchSummary,
    money: BatchMoney,
    failures: Vec<FailureGroup>,
    retries: Vec<RetryLink>,
    /// Only with `--rows`.
    rows: Vec<AttentionRow>,
    /// Whether it waits for a second person's approval; its approvals and refusals.
    approval: BatchesApproval,
}

pub(crate) fn detail(
    journal: &Journal,
    id: i64,
    view: &View,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some(batch) = journal.batch(id)? else {
        return Err(UsageError(format!(
            "There is no batch {id} in the journal; `bulkrefund status` lists them"
        ))
        .into());
    };
    let detail = Detail {
        batch,
        money: BatchMoney::for_batch(journal, id)?,
        failures: journal.failures_by_code(id)?,
        retries: journal.retries_in_batch(id)?,
        approval: BatchesApproval::read(journal, &[id])?,
        rows: if view.rows {
            journal.rows_needing_attention(id)?
        } else {
            Vec::new()
        },
    };
    match view.format {
        OutputFormat::Json => detail_json(&detail, view, out),
        OutputFormat::Csv => detail_csv(detail, view, out),
        OutputFormat::Table => Ok(detail_table(&detail, view, out)?),
    }
}

fn detail_json(d: &Detail, view: &View, out: &mut dyn Write) -> anyhow::Result<()> {
    let failures: Vec<_> = d
        .failures
        .iter()
        .map(|g| {
            json!({
                "status": g.status.map(|s| s.as_str()),
                "code": g.code,
                "message": g.message,
                "count": g.count,
                "fen": g.fen.0,
                "yuan": g.fen.to_string(),
                "samples": g.samples,
            })
        })
        .collect();
    let retries: Vec<_> = d
        .retries
        .iter()
        .map(|l| {
            json!({
                "line": l.line,
                "retried": l.retried.0,
                "retried_status": l.retried.1.as_str(),
                "retry": l.retry.0,
                "retry_status": l.retry.1.as_str(),
            })
        })
        .collect();
    let mut value = json!({
        "timezone": view.zone.name(),
        "batch": batch_json(&d.batch, &d.money, &view.zone),
        "failures": failures,
        "retries": retries,
        "approval": d.approval.json(&view.zone),
    });
    if view.rows {
        value["rows"] = d
            .rows
            .iter()
            .map(|r| {
                json!({
                    "line": r.line,
                    "refund_id": r.refund_id,
                    "status": r.status.as_str(),
                    "error_code": r.error_code,
                    "error_message": r.error_message,
                })
            })
            .collect();
    }
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)?;
    Ok(())
}

/// With `--rows`, the rows that did not succeed; else the failure groups.
fn detail_csv(d: Detail, view: &View, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    if view.rows {
        writer.write_record(["line", "refund_id", "status", "error_code", "error_message"])?;
        for r in d.rows {
            writer.write_record(formula_safe_record([
                r.line.to_string(),
                r.refund_id,
                r.status.as_str().to_owned(),
                r.error_code,
                r.error_message,
            ]))?;
        }
    } else {
        writer.write_record([
            "status",
            "error_code",
            "message",
            "count",
            "fen",
            "yuan",
            "samples",
        ])?;
        for g in d.failures {
            writer.write_record(formula_safe_record([
                g.status.map_or("", |s| s.as_str()).to_owned(),
                g.code,
                g.message,
                g.count.to_string(),
                g.fen.0.to_string(),
                g.fen.to_string(),
                g.samples.join(" "),
            ]))?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// One group of failures as `status --batch` (and `retry`'s plan) shows it:
/// status, error code, count, yuan, the message and a few ids.
pub fn failure_line(g: &FailureGroup) -> String {
    format!(
        "  {:<11} {:<24} {:>7} {:>14} yuan  {}  e.g. {}",
        g.status.map_or("", |s| s.as_str()),
        if g.code.is_empty() { "-" } else { &g.code },
        g.count,
        g.fen.grouped(),
        g.message,
        g.samples.join(", ")
    )
}

fn detail_table(d: &Detail, view: &View, out: &mut dyn Write) -> std::io::Result<()> {
    let batch = &d.batch;
    writeln!(out, "batch {}: {}", batch.id, batch.file_name)?;
    writeln!(
        out,
        "  profile {}, started {}, {}",
        batch.profile,
        view.zone.show(&batch.started_at),
        batch_state(batch, &view.zone)
    )?;
    if let Some(results) = &batch.results_path {
        writeln!(out, "  results: {}", results.display())?;
    }
    d.approval.write(&view.zone, out)?;
    write!(out, "{}", d.money.table())?;
    if !d.failures.is_empty() {
        writeln!(out, "why refunds did not succeed, by error code:")?;
    }
    for g in &d.failures {
        writeln!(out, "{}", failure_line(g))?;
    }
    if !d.retries.is_empty() {
        writeln!(out, "retried with new ids:")?;
    }
    for link in &d.retries {
        writeln!(
            out,
            "  line {:<7} {} ({}) -> {} ({})",
            link.line, link.retried.0, link.retried.1, link.retry.0, link.retry.1
        )?;
    }
    if view.rows {
        writeln!(out, "rows that did not succeed:")?;
        for row in &d.rows {
            writeln!(
                out,
                "  line {:<7} {:<24} {:<11} {} {}",
                row.line,
                row.refund_id,
                row.status.as_str(),
                row.error_code,
                row.error_message
            )?;
        }
    } else if d.money.exit_code() != exit::SUCCESS {
        writeln!(out, "(each row that did not succeed: --rows)")?;
    }
    Ok(())
}
