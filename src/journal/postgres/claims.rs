//! Claims and leases on PostgreSQL, for processes on many machines sharing
//! one journal: [`PgJournal::claim`], [`PgJournal::renew`],
//! [`PgJournal::release`], [`PgJournal::recover_lapsed`], with the same
//! decisions as the SQLite store's (`journal/sqlite/claims.rs`), on the
//! server's clock ([`PgJournal::clock_ms`]). The fenced writes are
//! [`super::fenced`].
//!
//! Rows are read `FOR UPDATE SKIP LOCKED`: a refund another transaction is
//! claiming or writing at this moment is skipped, never waited for, and a
//! refund read here cannot change before this transaction commits, so the
//! decisions taken on it in Rust stay true until they are written.

use postgres::Transaction;

use super::clock::{server_ms, NOW_MS};
use super::fenced::{pg_error, transition};
use super::fenced_sql::FencedStatements;
use super::refund_rows::scope_ids_sql;
use super::PgJournal;
use crate::journal::change::Change;
use crate::journal::claim::{Claim, ClaimOwner, HeldElsewhere, Lease};
use crate::journal::fence::LAPSED_IN_FLIGHT;
use crate::journal::records::Scope;
use crate::journal::state::{sql_list, State, FINAL, SETTLED};
use crate::journal::JournalError;

/// A lapsed claim's `lease_until_ms`: before any clock's now (SQLite's too).
const LAPSED: i64 = 0;

/// A refund as a claim reads it, locked until the transaction ends.
struct Locked {
    id: i64,
    state: Option<State>,
    owner: Option<String>,
    lease_until_ms: Option<i64>,
}

impl Locked {
    /// Its claim is free, `owner`'s own, or lapsed at `now`.
    fn open_to(&self, owner: &ClaimOwner, now: i64) -> bool {
        match (&self.owner, self.lease_until_ms) {
            (None, _) | (_, None) => true,
            (Some(held), Some(until)) => held == owner.as_str() || until < now,
        }
    }

    /// In flight under a lapsed claim of another owner (or none, as in
    /// journals older than claims): to be made unknown and queried.
    fn lapsed_in_flight(&self, owner: &ClaimOwner, now: i64) -> bool {
        self.state == Some(State::InFlight)
            && (self.owner.is_none()
                || (self.owner.as_deref() != Some(owner.as_str())
                    && self.lease_until_ms.is_none_or(|until| until < now)))
    }
}

/// Makes refund `id`, in flight under a lapsed claim, unknown (with
/// [`LAPSED_IN_FLIGHT`]), frees its claim and counts a new generation, so
/// that the late answer of the process that lost it is fenced off. Within
/// `tx`, which holds the refund's row.
fn recover_one(
    tx: &mut Transaction<'_>,
    sql: &FencedStatements,
    id: i64,
    now_ms: i64,
) -> Result<(), JournalError> {
    let change = Change::to(State::Unknown, LAPSED_IN_FLIGHT);
    let from = (State::InFlight, &change);
    transition(tx, sql, id, from, None, None, now_ms)?;
    tx.execute(
        "UPDATE refunds SET claim_owner = NULL, lease_until_ms = NULL,
         claim_generation = claim_generation + 1 WHERE id = $1",
        &[&id],
    )
    .map_err(pg_error("freeing a lapsed claim"))?;
    Ok(())
}

impl PgJournal {
    /// Claims for `owner` each refund of `ids` that is still to be worked on
    /// and whose claim is free, `owner`'s own or lapsed: a new generation,
    /// leased until now + `lease` on the server's clock. A refund another
    /// owner holds under a live claim, or that another transaction holds
    /// locked right now, is skipped, not waited for; an in-flight one is
    /// never taken (if its claim lapsed it becomes unknown first, to be
    /// queried: a later claim takes it then). The claims taken, in the
    /// order of `ids`.
    pub fn claim(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        let sql = self.fenced_statements()?;
        let mut tx = self
            .client
            .transaction()
            .map_err(pg_error("claiming refunds"))?;
        let now = server_ms(&mut tx)?;
        let rows = tx
            .query(
                "SELECT id, state, claim_owner, lease_until_ms FROM refunds
                 WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&ids],
            )
            .map_err(pg_error("claiming refunds"))?;
        let mut takeable = Vec::with_capacity(rows.len());
        for row in rows {
            let locked = Locked {
                id: row.get(0),
                state: State::parse(row.get(1)),
                owner: row.get(2),
                lease_until_ms: row.get(3),
            };
            let Some(state) = locked.state else {
                return Err(JournalError::Inconsistent(format!(
                    "refund #{} has the unknown state {:?}",
                    locked.id,
                    row.get::<_, &str>(1)
                )));
            };
            if locked.lapsed_in_flight(owner, now) {
                // Unknown now, to be queried: the caller read it in flight.
                recover_one(&mut tx, &sql, locked.id, now)?;
            } else if !SETTLED.contains(&state)
                && state != State::InFlight
                && locked.open_to(owner, now)
            {
                // Settled refunds need no claim; an abnormal one is still
                // asked about, hourly, so it is claimed like the rest.
                takeable.push(locked.id);
            }
        }
        let until = now.saturating_add(lease.ms());
        let taken = tx
            .query(
                "UPDATE refunds SET claim_owner = $2, claim_generation = claim_generation + 1,
                 lease_until_ms = $3 WHERE id = ANY($1) RETURNING id, claim_generation",
                &[&takeable, &owner.as_str(), &until],
            )
            .map_err(pg_error("claiming refunds"))?;
        tx.commit().map_err(pg_error("claiming refunds"))?;
        let generations: std::collections::HashMap<i64, i64> =
            taken.iter().map(|row| (row.get(0), row.get(1))).collect();
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| {
                let generation = *generations.get(id)?;
                let owner = owner.clone();
                Some((*id, Claim { owner, generation }))
            })
            .collect())
    }

    /// Extends every live claim of `owner` to now + `lease` on the server's
    /// clock (generations unchanged). A claim another process took over is
    /// no longer `owner`'s, and one that lapsed may be taken over at any
    /// moment: neither is renewed. How many were.
    pub fn renew(&mut self, owner: &ClaimOwner, lease: Lease) -> Result<u64, JournalError> {
        self.client
            .execute(
                &format!(
                    "WITH now AS (SELECT {NOW_MS} AS ms)
                     UPDATE refunds SET lease_until_ms = now.ms + $2 FROM now
                     WHERE claim_owner = $1 AND lease_until_ms >= now.ms"
                ),
                &[&owner.as_str(), &lease.ms()],
            )
            .map_err(pg_error("renewing claims"))
    }

    /// At the clean end of a run: frees `owner`'s claims on refunds not in
    /// flight. One still in flight (its answer was never recorded) keeps its
    /// claim, lapsed: `owner` writes nothing more, so the next recovery may
    /// make it unknown at once. How many claims were freed.
    pub fn release(&mut self, owner: &ClaimOwner) -> Result<u64, JournalError> {
        let doing = "releasing claims";
        let mut tx = self.client.transaction().map_err(pg_error(doing))?;
        let freed = tx
            .execute(
                "UPDATE refunds SET claim_owner = NULL, lease_until_ms = NULL
                 WHERE claim_owner = $1 AND state <> $2",
                &[&owner.as_str(), &State::InFlight.as_str()],
            )
            .map_err(pg_error(doing))?;
        tx.execute(
            "UPDATE refunds SET lease_until_ms = $2 WHERE claim_owner = $1",
            &[&owner.as_str(), &LAPSED],
        )
        .map_err(pg_error(doing))?;
        tx.commit().map_err(pg_error(doing))?;
        Ok(freed)
    }

    /// Every refund in flight whose claim lapsed before `now` on the
    /// server's clock (or that has none: journals from before claims)
    /// becomes unknown, with its event; its claim is freed and its
    /// generation grows, so the late write of the process that lost it is
    /// fenced off. A live claim of another process is never touched, nor any
    /// claim of `owner` (its own work in progress), nor a refund another
    /// transaction holds right now. The refunds recovered.
    pub fn recover_lapsed(&mut self, owner: &ClaimOwner, now: i64) -> Result<usize, JournalError> {
        let doing = "recovering lapsed claims";
        let sql = self.fenced_statements()?;
        let mut tx = self.client.transaction().map_err(pg_error(doing))?;
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM refunds WHERE state = $3
                 AND (claim_owner IS NULL
                      OR (claim_owner <> $1 AND (lease_until_ms IS NULL OR lease_until_ms < $2)))
                 ORDER BY id FOR UPDATE SKIP LOCKED",
                &[&owner.as_str(), &now, &State::InFlight.as_str()],
            )
            .map_err(pg_error(doing))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let at = server_ms(&mut tx)?;
        for &id in &ids {
            recover_one(&mut tx, &sql, id, at)?;
        }
        tx.commit().map_err(pg_error(doing))?;
        Ok(ids.len())
    }
}

impl PgJournal {
    /// The refunds of `scope` not yet final held under a live claim on the
    /// server's clock, by owner ([`crate::journal::JournalStore::held_elsewhere`]).
    pub fn held_elsewhere(&mut self, scope: &Scope) -> Result<Vec<HeldElsewhere>, JournalError> {
        let sql = format!(
            "SELECT claim_owner, COUNT(*), MAX(lease_until_ms) FROM refunds
             WHERE id IN ({}) AND state NOT IN {} AND claim_owner IS NOT NULL
             AND lease_until_ms >= {NOW_MS} GROUP BY claim_owner ORDER BY claim_owner",
            scope_ids_sql(scope),
            sql_list(&FINAL)
        );
        let rows = self
            .client
            .query(&sql, &[])
            .map_err(pg_error("reading the claims other processes hold"))?;
        Ok(rows
            .iter()
            .map(|row| HeldElsewhere {
                owner: row.get(0),
                refunds: row.get::<_, i64>(1) as u64,
                until_ms: row.get(2),
            })
            .collect())
    }

    /// Now on the journal's clock, in unix milliseconds: the server's (see
    /// `clock.rs` for why not this machine's), which the process's
    /// journal clock follows from this reading on.
    pub fn clock_ms(&mut self) -> Result<i64, JournalError> {
        super::clock::follow_server(&mut self.client)
            .map_err(pg_error("reading the server's clock"))
    }
}
