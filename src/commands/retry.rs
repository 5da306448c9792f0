//! `bulkrefund retry --batch ID --failed [--new-ids]`: send a batch's failed
//! refunds again. A refund the gateway never created may go again under its own
//! id; one the gateway created (and failed) needs a new id, derived from the old
//! one (`R123` → `R123R2` → `R123R3`) and recorded as retrying it. Succeeded,
//! processing and unknown refunds are never touched. Nothing is sent before the
//! operator has seen the plan and confirmed it (`--yes`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use tokio_util::sync::CancellationToken;

use super::run::{finish, open_existing, Profiles, RunOutcome};
use crate::cli::EngineArgs;
use crate::engine::Scope;
use crate::exit::UsageError;
use crate::gateway::lianshang::is_valid_id;
use crate::gateway::GatewayKind;
use crate::journal::{self, now_text, Change, Journal, State, RECORD_COLUMNS};
use crate::money::Fen;

/// The id that retries `root` for the `n`-th time (n ≥ 2), if the gateway accepts it.
pub fn derived_id(root: &str, n: u32, gateway: GatewayKind) -> Result<String, String> {
    let id = format!("{root}R{n}");
    let valid = match gateway {
        GatewayKind::Leshua => id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
        GatewayKind::Lianshang => is_valid_id(&id),
    };
    if valid {
        Ok(id)
    } else {
        Err(format!(
            "the new id {id:?} would be longer than the gateway's 64 characters"
        ))
    }
}

/// One failed refund and what retry will do with it.
#[derive(Debug)]
pub struct Planned {
    pub id: i64,
    pub refund_id: String,
    pub amount: Fen,
    pub error: String,
    /// `Some` to send under a new id; `None` to send again with the same id.
    pub new_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub send: Vec<Planned>,
    /// (refund id, why it is not retried).
    pub skipped: Vec<(String, String)>,
}

impl Plan {
    pub fn total(&self) -> Fen {
        self.send.iter().map(|p| p.amount).sum()
    }
}

fn gateway_of(scope: &str) -> GatewayKind {
    if scope.starts_with("lianshang:") {
        GatewayKind::Lianshang
    } else {
        GatewayKind::Leshua
    }
}

/// The first refund of a retry chain.
fn root_id(conn: &Connection, mut id: i64) -> rusqlite::Result<String> {
    loop {
        let (refund_id, retry_of): (String, Option<i64>) = conn.query_row(
            "SELECT refund_id, retry_of FROM refunds WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        match retry_of {
            Some(parent) => id = parent,
            None => return Ok(refund_id),
        }
    }
}

/// Decides what retry would do; writes nothing.
pub fn plan(conn: &Connection, batch: i64, new_ids: bool) -> anyhow::Result<Plan> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS}, scope FROM refunds
         WHERE state = 'failed' AND id IN (SELECT refund FROM batch_rows WHERE batch_id = ?1) ORDER BY line"
    );
    let mut stmt = conn.prepare(&sql)?;
    let failed = stmt
        .query_map([batch], |row| {
            Ok((journal::read_record(row)?, row.get::<_, String>(13)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut plan = Plan::default();
    let mut taken = std::collections::HashSet::new();
    for (record, scope) in failed {
        let error = format!(
            "{} {}",
            record.error_code.as_deref().unwrap_or(""),
            record.error_message.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned();
        let planned = |new_id| Planned {
            id: record.id,
            refund_id: record.refund_id.clone(),
            amount: record.amount,
            error: error.clone(),
            new_id,
        };
        if !new_ids {
            if record.ever_created {
                let gateway_id = record.gateway_refund_id.as_deref().unwrap_or("its id");
                plan.skipped.push((
                    record.refund_id.clone(),
                    format!("the gateway created this refund ({gateway_id}) and it ended failed: its id cannot be used again; retry with --new-ids"),
                ));
            } else {
                plan.send.push(planned(None));
            }
            continue;
        }
        let root = root_id(conn, record.id)?;
        let mut n = 2;
        let new_id = loop {
            match derived_id(&root, n, gateway_of(&scope)) {
                Err(why) => break Err(why),
                Ok(id) => {
                    let used: Option<i64> = conn
                        .query_row(
                            "SELECT id FROM refunds WHERE scope = ?1 AND refund_id = ?2",
                            params![scope, id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if used.is_none() && taken.insert((scope.clone(), id.clone())) {
                        break Ok(id);
                    }
                    n += 1;
                }
            }
        };
        match new_id {
            Ok(id) => plan.send.push(planned(Some(id))),
            Err(why) => plan.skipped.push((record.refund_id.clone(), why)),
        }
    }
    Ok(plan)
}

/// Carries a confirmed plan out in the journal: same-id refunds go back to
/// pending; new ids become new refunds that the batch's rows now point at.
pub fn apply(journal: &mut Journal, batch: i64, plan: &Plan) -> anyhow::Result<()> {
    let tx = journal.conn_mut().transaction()?;
    for planned in &plan.send {
        match &planned.new_id {
            None => journal::apply(
                &tx,
                planned.id,
                State::Failed,
                &Change::to(
                    State::Pending,
                    "retry --failed: never created at the gateway, so sent again with the same id",
                ),
            )?,
            Some(new_id) => {
                let now = now_text();
                tx.execute(
                    "INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line, amount_fen, fields, state, retry_of, created_at)
                     SELECT scope, ?2, fingerprint, profile, batch_id, line, amount_fen, fields, 'pending', id, ?3 FROM refunds WHERE id = ?1",
                    params![planned.id, new_id, now],
                )?;
                let new = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO events (refund, at, from_state, to_state, why) VALUES (?1, ?2, NULL, 'pending', ?3)",
                    params![new, now, format!("retry --failed --new-ids: retries {} with a new id", planned.refund_id)],
                )?;
                tx.execute(
                    "UPDATE batch_rows SET refund = ?1 WHERE batch_id = ?2 AND refund = ?3",
                    params![new, batch, planned.id],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

fn print_plan(batch: i64, plan: &Plan, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "retry of batch {batch} will send {} refunds, {} yuan:",
        plan.send.len(),
        plan.total()
    )?;
    for p in &plan.send {
        let id = match &p.new_id {
            Some(new_id) => format!("{} -> {new_id}", p.refund_id),
            None => format!("{} (same id)", p.refund_id),
        };
        writeln!(
            out,
            "  {id:<40} {:>14} yuan   was failed: {}",
            p.amount.to_string(),
            p.error
        )?;
    }
    if !plan.skipped.is_empty() {
        writeln!(out, "not retried:")?;
        for (refund_id, why) in &plan.skipped {
            writeln!(out, "  {refund_id}: {why}")?;
        }
    }
    Ok(())
}

/// Asks on the terminal; without one, `--yes` is required.
fn confirmed(yes: bool) -> Result<bool, UsageError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "retry sends money: without a terminal to confirm on, pass --yes".into(),
        ));
    }
    eprint!("Send them? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub struct RetryRequest<'a> {
    pub journal_path: &'a Path,
    pub batch: i64,
    pub new_ids: bool,
    pub yes: bool,
    pub engine: EngineArgs,
}

/// Plans, confirms, applies and runs. `None` when there was nothing to send or the operator declined.
pub async fn run(
    request: RetryRequest<'_>,
    profiles: &Profiles<'_>,
    cancel: CancellationToken,
) -> anyhow::Result<Option<RunOutcome>> {
    let mut journal = open_existing(request.journal_path, Some(request.batch))?;
    let plan = plan(journal.conn(), request.batch, request.new_ids)?;
    print_plan(request.batch, &plan, &mut std::io::stdout().lock())?;
    if plan.send.is_empty() {
        return Ok(None);
    }
    if !confirmed(request.yes)? {
        eprintln!("nothing sent");
        return Ok(None);
    }
    apply(&mut journal, request.batch, &plan)?;
    let outcome = finish(
        journal,
        request.journal_path,
        profiles,
        Scope::Batches(vec![request.batch]),
        &request.engine,
        cancel,
    )
    .await?;
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_follow_the_gateways_rules() {
        assert_eq!(
            derived_id("R123", 2, GatewayKind::Leshua),
            Ok("R123R2".into())
        );
        assert_eq!(
            derived_id("R123", 3, GatewayKind::Leshua),
            Ok("R123R3".into())
        );
        assert_eq!(
            derived_id("LS-RF_1", 2, GatewayKind::Lianshang),
            Ok("LS-RF_1R2".into())
        );
        let long = "A".repeat(62);
        assert_eq!(
            derived_id(&long, 9, GatewayKind::Leshua).map(|id| id.len()),
            Ok(64)
        );
        assert!(derived_id(&long, 10, GatewayKind::Leshua)
            .unwrap_err()
            .contains("longer than the gateway's 64"));
        assert!(derived_id(&long, 10, GatewayKind::Lianshang).is_err());
    }
}
