//! Claims, leases and fenced writes on SQLite ([`super::claim`] holds the
//! types): the named operations a store offers the engine — [`SqliteJournal::claim`],
//! [`SqliteJournal::renew`], [`SqliteJournal::release`], [`SqliteJournal::recover_lapsed`]. The
//! fence of the writes of [`super::changes`] is [`super::fence`]. Times are
//! the journal's clock ([`SqliteJournal::clock_ms`]).
//!
//! SQLite admits one writing process ([`super::lock`]), so no claim of another
//! process can be alive when a journal is opened for writing: [`lapse_all`]
//! says so in the journal right after the lock is taken, and the same
//! recovery as on a shared server then runs.

use rusqlite::{params, Connection, OptionalExtension};

use super::changes;
use super::claim::{Claim, ClaimOwner, HeldElsewhere, Lease};
use super::clock::journal_now;
#[cfg(test)]
use super::clock::set_test_clock;
use super::state::{sql_list, State, FINAL, SETTLED};
use super::{now_text, JournalError, SqliteJournal};
use crate::journal::records::Scope;

use crate::journal::fence::LAPSED_IN_FLIGHT;

/// A lapsed claim's `lease_until_ms`: before any clock's now.
const LAPSED: i64 = 0;

/// Marks every claim in the journal lapsed: one UPDATE, right after the lock
/// is taken. Holding SQLite's lock proves that no other process is alive, so
/// none of its claims can be either; [`SqliteJournal::recover_lapsed`] then treats
/// its refunds as a shared server's store treats a dead process's.
pub(super) fn lapse_all(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE refunds SET lease_until_ms = ?1
         WHERE claim_owner IS NOT NULL AND lease_until_ms IS NOT ?1",
        [LAPSED],
    )
}

/// Turns each refund of `ids` that is in flight under a lapsed claim (or
/// none, as in journals older than claims), and not claimed by `owner`, into
/// unknown; frees its claim and counts a new generation, so that the late
/// answer of the process that lost it is fenced off. One UPDATE decides and
/// writes (`RETURNING`), so two processes recovering at once never both turn
/// one refund, nor turn one another just claimed again: the loser skips it.
/// Within the caller's transaction. The refunds it turned.
fn recover(
    conn: &Connection,
    owner: &ClaimOwner,
    now: i64,
    only: Option<i64>,
) -> Result<Vec<i64>, JournalError> {
    // One refund by its key (a claim asks for each), or all found by state.
    let which = match only {
        Some(_) => "id = ?3 AND state = 'in_flight'",
        None => "state = 'in_flight' AND ?3 IS NULL",
    };
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE refunds SET state = 'unknown', next_attempt_at = 0, finished_at = NULL,
                 error_code = NULL, error_message = NULL,
                 claim_owner = NULL, lease_until_ms = NULL,
                 claim_generation = claim_generation + 1
             WHERE {which}
             AND (claim_owner IS NULL
                  OR (claim_owner <> ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?2)))
             RETURNING id"
        ))?;
        let ids = stmt
            .query_map(params![owner.as_str(), now, only], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        ids
    };
    let at = now_text();
    for &id in &ids {
        changes::event(
            conn,
            id,
            &at,
            State::InFlight,
            State::Unknown,
            LAPSED_IN_FLIGHT,
        )?;
    }
    Ok(ids)
}

impl SqliteJournal {
    /// Now on the journal's clock, in unix milliseconds: on SQLite, this
    /// machine's (every process of a journal runs on it).
    pub fn clock_ms(&self) -> i64 {
        journal_now()
    }

    /// Claims for `owner` each refund of `ids` that is still to be worked on
    /// and whose claim is free, `owner`'s own or lapsed: a new generation,
    /// leased until now + `lease`. A refund another owner holds under a live
    /// claim is skipped, not waited for; an in-flight one is never taken (if
    /// its claim lapsed it becomes unknown first, to be queried: a later
    /// claim takes it then). The claims taken, in the order of `ids`.
    pub fn claim(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        let now = self.clock_ms();
        self.claim_at(owner, ids, lease, now)
    }

    /// [`SqliteJournal::claim`] at `now` on the journal's clock.
    pub(crate) fn claim_at(
        &mut self,
        owner: &ClaimOwner,
        ids: &[i64],
        lease: Lease,
        now: i64,
    ) -> Result<Vec<(i64, Claim)>, JournalError> {
        #[cfg(test)]
        set_test_clock(now);
        let tx = self.conn.transaction()?;
        let mut claims = Vec::with_capacity(ids.len());
        {
            // Settled refunds need no claim; an abnormal one is still asked
            // about, hourly, so it is claimed like the rest.
            let mut take = tx.prepare_cached(&format!(
                "UPDATE refunds SET claim_owner = ?2, claim_generation = claim_generation + 1,
                 lease_until_ms = ?3
                 WHERE id = ?1 AND state NOT IN {} AND state <> 'in_flight'
                 AND (claim_owner IS NULL OR claim_owner = ?2
                      OR lease_until_ms IS NULL OR lease_until_ms < ?4)
                 RETURNING claim_generation",
                sql_list(&SETTLED)
            ))?;
            for &id in ids {
                if !recover(&tx, owner, now, Some(id))?.is_empty() {
                    // Unknown now, to be queried: the caller read it in flight.
                    continue;
                }
                let until = now.saturating_add(lease.ms());
                let taken: Option<i64> = take
                    .query_row(params![id, owner.as_str(), until, now], |row| row.get(0))
                    .optional()?;
                if let Some(generation) = taken {
                    let owner = owner.clone();
                    claims.push((id, Claim { owner, generation }));
                }
            }
        }
        tx.commit()?;
        Ok(claims)
    }

    /// Extends every live claim of `owner` to now + `lease` (generations
    /// unchanged). A claim another process took over is no longer `owner`'s,
    /// and one that lapsed may be taken over at any moment: neither is
    /// renewed. How many were.
    pub fn renew(&mut self, owner: &ClaimOwner, lease: Lease) -> Result<u64, JournalError> {
        let now = self.clock_ms();
        self.renew_at(owner, lease, now)
    }

    /// [`SqliteJournal::renew`] at `now` on the journal's clock.
    pub(crate) fn renew_at(
        &mut self,
        owner: &ClaimOwner,
        lease: Lease,
        now: i64,
    ) -> Result<u64, JournalError> {
        #[cfg(test)]
        set_test_clock(now);
        let renewed = self.conn.execute(
            "UPDATE refunds SET lease_until_ms = ?2 WHERE claim_owner = ?1 AND lease_until_ms >= ?3",
            params![owner.as_str(), now.saturating_add(lease.ms()), now],
        )?;
        Ok(renewed as u64)
    }

    /// At the clean end of a run: frees `owner`'s claims on refunds not in
    /// flight. One still in flight (its answer was never recorded) keeps its
    /// claim, lapsed: `owner` writes nothing more, so the next recovery may
    /// make it unknown at once. How many claims were freed.
    pub fn release(&mut self, owner: &ClaimOwner) -> Result<u64, JournalError> {
        let tx = self.conn.transaction()?;
        let freed = tx.execute(
            "UPDATE refunds SET claim_owner = NULL, lease_until_ms = NULL
             WHERE claim_owner = ?1 AND state <> 'in_flight'",
            [owner.as_str()],
        )?;
        tx.execute(
            "UPDATE refunds SET lease_until_ms = ?2 WHERE claim_owner = ?1",
            params![owner.as_str(), LAPSED],
        )?;
        tx.commit()?;
        Ok(freed as u64)
    }

    /// The refunds of `scope` not yet final held under a live claim, by
    /// owner ([`crate::journal::JournalStore::held_elsewhere`]). On SQLite,
    /// after a run released its own claims, none: the lock lapsed every
    /// other one when it was taken.
    pub fn held_elsewhere(&self, scope: &Scope) -> Result<Vec<HeldElsewhere>, JournalError> {
        let sql = format!(
            "SELECT claim_owner, COUNT(*), MAX(lease_until_ms) FROM refunds
             WHERE id IN ({}) AND state NOT IN {} AND claim_owner IS NOT NULL
             AND lease_until_ms >= ?1 GROUP BY claim_owner ORDER BY claim_owner",
            scope.ids_sql(),
            sql_list(&FINAL)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([self.clock_ms()], |row| {
            Ok(HeldElsewhere {
                owner: row.get(0)?,
                refunds: row.get::<_, i64>(1)? as u64,
                until_ms: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every refund in flight whose claim lapsed before `now` (or that has
    /// none: journals from before claims) becomes unknown, with its event;
    /// its claim is freed and its generation grows, so the late write of the
    /// process that lost it is fenced off. A live claim of another process is
    /// never touched, nor any claim of `owner` (its own work in progress).
    /// The refunds recovered.
    pub fn recover_lapsed(&mut self, owner: &ClaimOwner, now: i64) -> Result<usize, JournalError> {
        #[cfg(test)]
        set_test_clock(now);
        let tx = self.conn.transaction()?;
        let recovered = recover(&tx, owner, now, None)?.len();
        tx.commit()?;
        Ok(recovered)
    }
}
