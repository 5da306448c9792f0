//! `bulkrefund show REFUND_ID`: one refund's whole story from the journal:
//! the refund, its order and amount, its retry chain (earlier and later ids),
//! the batch rows that list it, and every transition and HTTP attempt, with
//! local times; for an abnormal refund, what the operator must do; whether its
//! batches wait for a second person's approval, and their approvals and
//! refusals. As a table, JSON, or CSV (one line per transition or attempt).

use std::io::Write;

use serde_json::{json, Value};

use crate::cli::{OutputFormat, ShowArgs};
use crate::exit::{self, UsageError};
use crate::journal::history::{AttemptRow, Listing, RefundTimes, Transition};
use crate::journal::reconciled::FoundInBill;
use crate::journal::JournalLocation;
use crate::journal::{Journal, RefundRecord, State};
use crate::options::Locations;
use crate::reconcile::status as reconciled;
use crate::report::approvals::BatchesApproval;
use crate::report::results::formula_safe_record;
use crate::zone::Zone;

/// What the operator does about an abnormal refund (accepted, but the money
/// reached nobody): `None` for any other. Its next query's time in `zone`.
fn what_to_do(record: &RefundRecord, zone: &Zone) -> Option<Vec<String>> {
    if record.state != State::Abnormal {
        return None;
    }
    let next = jiff::Timestamp::from_millisecond(record.next_attempt_at)
        .map(|at| format!(" (next after {})", zone.show(&at.to_string())))
        .unwrap_or_default();
    Some(vec![
        "the gateway accepted this refund, but the money reached nobody: the payer's card is \
         cancelled or frozen"
            .to_owned(),
        "act at the gateway: in WeChat Pay's merchant platform (交易中心), or through its \
         apply-abnormal-refund API, have the money paid to the payer another way"
            .to_owned(),
        format!(
            "bulkrefund asks the gateway about it at most hourly, on `bulkrefund resume`{next}, and \
             reports it succeeded (paid through channel OTHER_BALANCE or OTHER_BANKCARD) or closed"
        ),
        "never resend it and never give it a new id: `retry` leaves it alone".to_owned(),
    ])
}

/// Everything the journal knows about one refund.
struct Story {
    record: RefundRecord,
    times: RefundTimes,
    /// The chain, root first (this refund among them).
    chain: Vec<RefundRecord>,
    listed_by: Vec<Listing>,
    transitions: Vec<Transition>,
    attempts: Vec<AttemptRow>,
    /// The reconciliations that found it (`reconcile`).
    bills: Vec<FoundInBill>,
    /// Whether the batches that list it wait for approval, and their approvals and refusals.
    approval: BatchesApproval,
}

impl Story {
    fn read(journal: &Journal, record: RefundRecord) -> anyhow::Result<Story> {
        let head = journal.chain_head(record.id)?;
        let mut chain = journal.chain_links(head)?;
        chain.reverse();
        let listed_by = journal.listings(head)?;
        let batches: Vec<i64> = listed_by.iter().map(|l| l.batch).collect();
        Ok(Story {
            approval: BatchesApproval::read(journal, &batches)?,
            times: journal.refund_times(record.id)?,
            listed_by,
            transitions: journal.transitions(record.id)?,
            attempts: journal.attempts(record.id)?,
            bills: journal.found_in_bills(record.id)?,
            chain,
            record,
        })
    }

    fn position(&self) -> usize {
        self.chain
            .iter()
            .position(|link| link.id == self.record.id)
            .unwrap_or(0)
    }

    fn retry_of(&self) -> Option<&str> {
        let at = self.position();
        (at > 0).then(|| self.chain[at - 1].refund_id.as_str())
    }

    fn retried_as(&self) -> Option<&str> {
        self.chain
            .get(self.position() + 1)
            .map(|link| link.refund_id.as_str())
    }

    fn json(&self, zone: &Zone) -> Value {
        let r = &self.record;
        let (order_id, gateway_order_id) = r.gateway.spec().order_ids(&r.fields);
        let time = |t: &Option<String>| t.as_deref().map(|t| zone.show(t));
        let mut value = json!({
            "refund_id": r.refund_id,
            "gateway": r.gateway.as_str(),
            "merchant_id": r.merchant_id,
            "profile": r.profile,
            "order_id": order_id,
            "gateway_order_id": gateway_order_id,
            "amount_fen": r.amount.0,
            "amount_yuan": r.amount.to_string(),
            "status": r.state.status().as_str(),
            "state": r.state.as_str(),
            "gateway_refund_id": r.gateway_refund_id,
            "error_code": r.error_code,
            "error_message": r.error_message,
            "batch": self.times.batch,
            "line": self.times.line,
            "recorded_at": zone.show(&self.times.created_at),
            "first_sent_at": time(&self.times.first_sent_at),
            "finished_at": time(&self.times.finished_at),
            "gateway_success_at": time(&self.times.gateway_success_at),
            "gateway_created_at": time(&self.times.gateway_created_at),
            "retry_of": self.retry_of(),
            "retried_as": self.retried_as(),
            "chain": self.chain.iter().map(|l| json!({
                "refund_id": l.refund_id,
                "status": l.state.status().as_str(),
                "amount_fen": l.amount.0,
            })).collect::<Vec<_>>(),
            "listed_by": self.listed_by.iter().map(|l| json!({
                "batch": l.batch,
                "file": l.file_name,
                "line": l.line,
                "row_status": l.row_status,
            })).collect::<Vec<_>>(),
            "transitions": self.transitions.iter().map(|t| json!({
                "at": zone.show(&t.at),
                "from": t.from,
                "to": t.to,
                "why": t.why,
            })).collect::<Vec<_>>(),
            "attempts": self.attempts.iter().map(|a| json!({
                "kind": a.kind,
                "at": zone.show(&a.at),
                "latency_ms": a.latency_ms,
                "http_status": a.http_status,
                "gateway_codes": a.gateway_codes,
                "outcome": a.outcome,
            })).collect::<Vec<_>>(),
        });
        if let Some(steps) = what_to_do(r, zone) {
            value["what_to_do"] = json!(steps);
        }
        value["bills"] = reconciled::found_json(&self.bills, zone);
        value["approval"] = self.approval.json(zone);
        value
    }

    /// The transitions and attempts in time order, as CSV records (an
    /// attempt before the transition it caused, when they share a time).
    fn timeline(&self, zone: &Zone) -> Vec<[String; 11]> {
        let r = &self.record;
        let mut lines: Vec<(String, u8, [String; 11])> = Vec::new();
        for a in &self.attempts {
            lines.push((
                a.at.clone(),
                0,
                [
                    r.refund_id.clone(),
                    zone.show(&a.at),
                    "attempt".into(),
                    a.kind.clone(),
                    String::new(),
                    String::new(),
                    a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                    a.gateway_codes.clone().unwrap_or_default(),
                    a.latency_ms.to_string(),
                    a.outcome.clone(),
                    String::new(),
                ],
            ));
        }
        for t in &self.transitions {
            lines.push((
                t.at.clone(),
                1,
                [
                    r.refund_id.clone(),
                    zone.show(&t.at),
                    "transition".into(),
                    String::new(),
                    t.from.clone().unwrap_or_default(),
                    t.to.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    t.why.clone(),
                ],
            ));
        }
        lines.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        lines.into_iter().map(|(_, _, record)| record).collect()
    }

    /// bulkrefund's times, then the gateway's own, each labelled as whose.
    fn times_line(&self, zone: &Zone) -> String {
        let t = &self.times;
        let time = |t: &Option<String>| t.as_deref().map_or("-".into(), |t| zone.show(t));
        format!(
            "times: recorded {}, first sent {}, finished {} (bulkrefund's clock); \
             gateway's own: created {}, succeeded {}",
            zone.show(&t.created_at),
            time(&t.first_sent_at),
            time(&t.finished_at),
            time(&t.gateway_created_at),
            time(&t.gateway_success_at)
        )
    }

    fn table(&self, zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
        self.identity(zone, out)?;
        self.links(out)?;
        self.approval.write(zone, out)?;
        self.history(zone, out)
    }

    /// Who the refund is, its amount, status, times and what to do.
    fn identity(&self, zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
        let r = &self.record;
        let (order_id, gateway_order_id) = r.gateway.spec().order_ids(&r.fields);
        writeln!(
            out,
            "refund {}  {} merchant {}  profile {}",
            r.refund_id,
            r.gateway.as_str(),
            r.merchant_id,
            r.profile
        )?;
        writeln!(
            out,
            "  order {order_id}  gateway order {gateway_order_id}  amount {} yuan ({} fen)",
            r.amount.grouped(),
            r.amount.0
        )?;
        writeln!(
            out,
            "  status {} ({}){}{}",
            r.state.status(),
            r.state.as_str(),
            r.gateway_refund_id
                .as_deref()
                .map(|id| format!("  gateway refund id {id}"))
                .unwrap_or_default(),
            match (&r.error_code, &r.error_message) {
                (Some(code), Some(message)) => format!("  error {code}: {message}"),
                (Some(code), None) => format!("  error {code}"),
                _ => String::new(),
            }
        )?;
        writeln!(out, "  {}", self.times_line(zone))?;
        if let Some(steps) = what_to_do(r, zone) {
            writeln!(out, "  what to do:")?;
            for step in steps {
                writeln!(out, "    - {step}")?;
            }
        }
        Ok(())
    }

    /// Its retry chain and the batches that list it.
    fn links(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let r = &self.record;
        let chain: Vec<String> = self
            .chain
            .iter()
            .map(|l| {
                let mark = if l.id == r.id { "*" } else { "" };
                format!("{mark}{} ({})", l.refund_id, l.state.status())
            })
            .collect();
        writeln!(out, "  chain: {}", chain.join(" -> "))?;
        for l in &self.listed_by {
            writeln!(
                out,
                "  listed by batch {} ({}), line {}{}",
                l.batch,
                l.file_name,
                l.line,
                l.row_status
                    .as_deref()
                    .map(|s| format!(" as a {s} row"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    }

    /// Its events and attempts, oldest first.
    fn history(&self, zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "  history (times in {}):", zone.name())?;
        for line in self.timeline(zone) {
            if line[2] == "attempt" {
                writeln!(
                    out,
                    "    {}  {:<6} HTTP {:<4} {:>6} ms  {}  {}",
                    line[1],
                    line[3],
                    if line[6].is_empty() { "-" } else { &line[6] },
                    line[8],
                    if line[7].is_empty() { "-" } else { &line[7] },
                    line[9]
                )?;
            } else {
                let from = if line[4].is_empty() { "new" } else { &line[4] };
                writeln!(out, "    {}  {from} -> {}: {}", line[1], line[5], line[10])?;
            }
        }
        Ok(())
    }
}

const TIMELINE_COLUMNS: [&str; 11] = [
    "refund_id",
    "at",
    "what",
    "kind",
    "from",
    "to",
    "http_status",
    "gateway_codes",
    "latency_ms",
    "outcome",
    "why",
];

/// `bulkrefund show REFUND_ID [--format table|json|csv]`: reads only the journal.
pub fn main(locations: &Locations, args: ShowArgs) -> anyhow::Result<u8> {
    let (journal, zone) = locations.journal_only()?;
    run(
        &journal,
        &args.refund_id,
        args.format,
        &zone,
        &mut std::io::stdout().lock(),
    )
}

pub fn run(
    journal_at: &JournalLocation,
    refund_id: &str,
    format: OutputFormat,
    zone: &Zone,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let Some(journal) = journal_at.open_read_only()? else {
        return Err(UsageError(format!(
            "There is no journal at '{}' yet: nothing has been run",
            journal_at.display()
        ))
        .into());
    };
    let records = journal.refunds_named(refund_id)?;
    if records.is_empty() {
        return Err(UsageError(format!(
            "There is no refund {refund_id:?} in the journal ('{}'); `bulkrefund export` lists every refund",
            journal_at.display()
        ))
        .into());
    }
    let stories = records
        .into_iter()
        .map(|record| Story::read(&journal, record))
        .collect::<anyhow::Result<Vec<_>>>()?;
    match format {
        OutputFormat::Json => {
            let refunds: Vec<Value> = stories.iter().map(|s| s.json(zone)).collect();
            serde_json::to_writer_pretty(
                &mut *out,
                &json!({"timezone": zone.name(), "refunds": refunds}),
            )?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer.write_record(TIMELINE_COLUMNS)?;
            for story in &stories {
                for record in story.timeline(zone) {
                    // Gateway messages are the gateway's text: never a formula.
                    writer.write_record(formula_safe_record(record))?;
                }
            }
            writer.flush()?;
        }
        OutputFormat::Table => {
            for story in &stories {
                story.table(zone, out)?;
                reconciled::write_found(&story.bills, zone, out)?;
            }
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
