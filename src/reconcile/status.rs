//! What `status` and `show` say of reconciliations: which Beijing days of
//! each merchant are reconciled (the latest reconciliation's outcome counts)
//! and which are not, and in which bills a refund was found. The reads are
//! the journal's (`journal::reconcile`); this is only their wording.

use std::io::Write;

use serde_json::{json, Value};

use super::matching::Outcome;
use crate::journal::reconcile::Money;
use crate::journal::reconciled::{FoundInBill, ReconciledDay};
use crate::zone::Zone;

/// "matched 998, amount_differs 1, …": the non-zero counts, or "nothing".
fn counts(counts: &[u64; 5]) -> String {
    let parts: Vec<String> = Outcome::ALL
        .into_iter()
        .zip(counts)
        .filter(|(_, count)| **count > 0)
        .map(|(outcome, count)| format!("{outcome} {count}"))
        .collect();
    if parts.is_empty() {
        "an empty bill".to_owned()
    } else {
        parts.join(", ")
    }
}

/// "2 refunds changed", when the day's succeeded refunds are no longer those
/// its latest reconciliation matched. Only counts and sums are kept, so a
/// change that leaves the count is told by its sum.
fn changed(day: &ReconciledDay) -> Option<String> {
    if !day.changed_since_reconciled() {
        return None;
    }
    let then = day.latest.as_ref()?.expected;
    let now = day.succeeded;
    Some(if then.count != now.count {
        format!("{} refunds changed", then.count.abs_diff(now.count))
    } else {
        format!(
            "refunds changed (their sum was {} yuan)",
            then.fen.grouped()
        )
    })
}

/// One line per day, under a heading per gateway and merchant.
pub fn write_days(days: &[ReconciledDay], zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "days by the gateway's day (Beijing time), reconciled against the gateway's bill or not:"
    )?;
    let mut merchant: Option<(String, String)> = None;
    for day in days {
        let this = (day.gateway.as_str().to_owned(), day.merchant_id.clone());
        if merchant.as_ref() != Some(&this) {
            writeln!(out, "  {} merchant {}", this.0, this.1)?;
            merchant = Some(this);
        }
        let state = match &day.latest {
            None => "not reconciled".to_owned(),
            Some(latest) => {
                let verdict = format!(
                    "{} (#{}): {}{}",
                    zone.show(&latest.reconciled_at),
                    latest.id,
                    counts(&latest.counts),
                    if latest.unresolved_not_in_bill > 0 {
                        format!(
                            "; {} unresolved, not in the bill",
                            latest.unresolved_not_in_bill
                        )
                    } else {
                        String::new()
                    }
                );
                match changed(day) {
                    Some(changed) => {
                        format!("reconciled, but {changed} since: reconcile again ({verdict})")
                    }
                    None => format!("reconciled {verdict}"),
                }
            }
        };
        writeln!(
            out,
            "    {}  {:>7} succeeded {:>16} yuan  {state}",
            day.day,
            day.succeeded.count,
            day.succeeded.fen.grouped()
        )?;
    }
    Ok(())
}

/// `{"count": 3, "fen": 1234, "yuan": "12.34"}`, as `status` writes sums.
fn money(money: Money) -> Value {
    json!({"count": money.count, "fen": money.fen.0, "yuan": money.fen.to_string()})
}

pub fn days_json(days: &[ReconciledDay], zone: &Zone) -> Value {
    days.iter()
        .map(|day| {
            let latest = day.latest.as_ref().map(|latest| {
                let mut outcomes = serde_json::Map::new();
                for (outcome, count) in Outcome::ALL.into_iter().zip(latest.counts) {
                    outcomes.insert(outcome.as_str().to_owned(), json!(count));
                }
                json!({
                    "id": latest.id,
                    "reconciled_at": zone.show(&latest.reconciled_at),
                    "bill": money(latest.bill),
                    "outcomes": outcomes,
                    "unresolved_not_in_bill": latest.unresolved_not_in_bill,
                    "succeeded_when_reconciled": money(latest.expected),
                    "changed_since": day.changed_since_reconciled(),
                })
            });
            json!({
                "gateway": day.gateway.as_str(),
                "merchant_id": day.merchant_id,
                "day": day.day,
                "succeeded": money(day.succeeded),
                "reconciled": latest,
            })
        })
        .collect()
}

/// "found in the bill of 2026-11-30 (reconciliation #4, 2026-12-01T09:00:00+08:00): matched".
pub fn found_line(found: &FoundInBill, zone: &Zone) -> String {
    let place = match (&found.bill_day, found.bill_line) {
        (Some(day), Some(line)) if *day != found.bill_date => {
            format!(
                "found in the bill of {day}, line {line}, reconciling {}",
                found.bill_date
            )
        }
        (Some(day), Some(line)) => format!("found in the bill of {day}, line {line}"),
        _ => format!("in no bill around {}", found.bill_date),
    };
    let note = if found.note.is_empty() {
        String::new()
    } else {
        format!(" ({})", found.note)
    };
    format!(
        "{place} (reconciliation #{}, {}): {}{note}",
        found.reconciliation,
        zone.show(&found.reconciled_at),
        found.outcome
    )
}

/// `show`'s lines: the bills that listed the refund (or found it missing).
pub fn write_found(found: &[FoundInBill], zone: &Zone, out: &mut dyn Write) -> std::io::Result<()> {
    if !found.is_empty() {
        writeln!(out, "  reconciled against the gateway's bills:")?;
    }
    for found in found {
        writeln!(out, "    {}", found_line(found, zone))?;
    }
    Ok(())
}

pub fn found_json(found: &[FoundInBill], zone: &Zone) -> Value {
    found
        .iter()
        .map(|f| {
            json!({
                "reconciliation": f.reconciliation,
                "bill_date": f.bill_date,
                "bill_day": f.bill_day,
                "bill_line": f.bill_line,
                "outcome": f.outcome,
                "note": f.note,
                "reconciled_at": zone.show(&f.reconciled_at),
                "source": f.source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::GatewayKind;
    use crate::journal::reconciled::LatestReconciliation;
    use crate::money::Fen;

    #[test]
    fn days_say_reconciled_or_not() {
        let zone = Zone::named("Asia/Shanghai").unwrap();
        let day = |day: &str, latest| ReconciledDay {
            gateway: GatewayKind::Leshua,
            merchant_id: "0000000018".into(),
            day: day.into(),
            succeeded: Money {
                count: 3,
                fen: Fen(123_456),
            },
            latest,
        };
        let latest = LatestReconciliation {
            id: 4,
            reconciled_at: "2026-12-01T01:00:00.000Z".into(),
            bill: Money::default(),
            counts: [2, 1, 0, 0, 0],
            unresolved_not_in_bill: 1,
            expected: Money {
                count: 3,
                fen: Fen(123_456),
            },
        };
        // The day's refunds changed since: one more, then the same count with another sum.
        let grown = LatestReconciliation {
            expected: Money {
                count: 2,
                fen: Fen(100_000),
            },
            ..latest.clone()
        };
        let moved = LatestReconciliation {
            expected: Money {
                count: 3,
                fen: Fen(100_000),
            },
            ..latest.clone()
        };
        let mut out = Vec::new();
        write_days(
            &[
                day("2026-11-29", None),
                day("2026-11-30", Some(latest)),
                day("2026-12-01", Some(grown)),
                day("2026-12-02", Some(moved)),
            ],
            &zone,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            [
                "days by the gateway's day (Beijing time), reconciled against the gateway's bill or not:",
                "  leshua merchant 0000000018",
                "    2026-11-29        3 succeeded         1,234.56 yuan  not reconciled",
                "    2026-11-30        3 succeeded         1,234.56 yuan  reconciled 2026-12-01T09:00:00+08:00 (#4): matched 2, amount_differs 1; 1 unresolved, not in the bill",
                "    2026-12-01        3 succeeded         1,234.56 yuan  reconciled, but 1 refunds changed since: reconcile again (2026-12-01T09:00:00+08:00 (#4): matched 2, amount_differs 1; 1 unresolved, not in the bill)",
                "    2026-12-02        3 succeeded         1,234.56 yuan  reconciled, but refunds changed (their sum was 1,000.00 yuan) since: reconcile again (2026-12-01T09:00:00+08:00 (#4): matched 2, amount_differs 1; 1 unresolved, not in the bill)",
                "",
            ]
            .join("\n")
        );
        let found = FoundInBill {
            reconciliation: 4,
            bill_date: "2026-11-30".into(),
            bill_day: Some("2026-12-01".into()),
            bill_line: Some(7),
            outcome: "matched".into(),
            note: String::new(),
            reconciled_at: "2026-12-01T01:00:00.000Z".into(),
            source: "api".into(),
        };
        assert_eq!(
            found_line(&found, &zone),
            "found in the bill of 2026-12-01, line 7, reconciling 2026-11-30 (reconciliation #4, 2026-12-01T09:00:00+08:00): matched"
        );
    }
}
