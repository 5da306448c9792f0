//! Claims with two owners on one journal, at explicit times on the journal's
//! clock: who may claim what, the fence on a late write, renewal, recovery of
//! lapsed refunds in flight, and the claim a final change frees.

use rusqlite::types::Value;

use super::claim::{Claim, ClaimOwner, Lease};
use super::tests::{import_rows, valid};
use super::*;
use crate::journal::fence::LAPSED_IN_FLIGHT;

/// A lease of one second (the shortest a run may ask for is shorter).
fn second() -> Lease {
    Lease::new(std::time::Duration::from_secs(1))
}

fn owners() -> (ClaimOwner, ClaimOwner) {
    (
        ClaimOwner::named("alpha:1:aaaa"),
        ClaimOwner::named("beta:2:bbbb"),
    )
}

/// A journal with refunds 1..=n, all pending.
fn journal_of(n: usize) -> SqliteJournal {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
    let rows = (1..=n)
        .map(|i| valid(i as u64 + 1, &format!("R{i}"), &format!("T{i}"), 100))
        .collect();
    let (_, problems) = super::tests::import_rows(&mut journal, rows);
    assert!(problems.is_empty(), "{problems:?}");
    journal
}

/// Every column of the rows `sql` selects for `refund`, as stored.
fn rows(journal: &SqliteJournal, sql: &str, refund: i64) -> Vec<Vec<Value>> {
    let mut stmt = journal.conn.prepare(sql).unwrap();
    let columns = stmt.column_count();
    stmt.query_map([refund], |row| {
        (0..columns).map(|i| row.get::<_, Value>(i)).collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Everything the journal holds about a refund: its row, its events, its attempts.
fn everything(journal: &SqliteJournal, refund: i64) -> Vec<Vec<Vec<Value>>> {
    [
        "SELECT * FROM refunds WHERE id = ?1",
        "SELECT * FROM events WHERE refund = ?1 ORDER BY id",
        "SELECT * FROM attempts WHERE refund = ?1 ORDER BY id",
    ]
    .into_iter()
    .map(|sql| rows(journal, sql, refund))
    .collect()
}

/// (owner, generation, lease_until_ms) of a refund.
fn claim_of(journal: &SqliteJournal, refund: i64) -> (Option<String>, i64, Option<i64>) {
    journal
        .conn
        .query_row(
            "SELECT claim_owner, claim_generation, lease_until_ms FROM refunds WHERE id = ?1",
            [refund],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap()
}

fn state(journal: &SqliteJournal, refund: i64) -> State {
    journal.refund(refund).unwrap().state
}

fn claimed(claims: &[(i64, Claim)]) -> Vec<(i64, i64)> {
    claims.iter().map(|(id, c)| (*id, c.generation)).collect()
}

/// One change under a claim, committed as the engine's writer commits it.
fn commit(journal: &mut SqliteJournal, op: Op) -> Result<(), JournalError> {
    journal.commit_group([op].iter()).pop().unwrap()
}

fn to_in_flight(refund: i64, claim: &Claim) -> Op {
    Op::Transition {
        refund,
        from: State::Pending,
        change: Change::to(State::InFlight, "submitting"),
        claim: claim.clone(),
    }
}

fn succeeded(refund: i64, claim: &Claim) -> Op {
    Op::Settle {
        refund,
        attempt: Box::new(AttemptRecord {
            kind: AttemptKind::Submit,
            at: "2026-12-02T05:00:00.000Z".into(),
            http_status: Some(200),
            gateway_codes: Some("SUCCESS".into()),
            outcome: "succeeded".into(),
            latency_ms: 12,
        }),
        update: Update::Transition {
            from: State::InFlight,
            change: Change::to(State::Succeeded, "the gateway refunded it"),
        },
        claim: claim.clone(),
    }
}

#[test]
fn a_claim_skips_another_owners_live_claim_and_takes_a_lapsed_one() {
    let mut journal = journal_of(3);
    let (a, b) = owners();
    let taken = journal.claim_at(&a, &[1, 2], second(), 10_000).unwrap();
    assert_eq!(claimed(&taken), [(1, 1), (2, 1)]);
    assert_eq!(taken[0].1.owner, a);
    assert_eq!(
        claim_of(&journal, 1),
        (Some(a.to_string()), 1, Some(11_000))
    );
    // Alive until 11,000: b is skipped, not kept waiting; the free one is its.
    let taken = journal.claim_at(&b, &[1, 2, 3], second(), 10_999).unwrap();
    assert_eq!(claimed(&taken), [(3, 1)]);
    assert_eq!(claim_of(&journal, 1).0.as_deref(), Some(a.as_str()));
    // Lapsed: b takes them, each under a new generation.
    let taken = journal.claim_at(&b, &[1, 2], second(), 11_001).unwrap();
    assert_eq!(claimed(&taken), [(1, 2), (2, 2)]);
    assert_eq!(
        claim_of(&journal, 2),
        (Some(b.to_string()), 2, Some(12_001))
    );
    assert!(journal
        .claim_at(&a, &[1, 2, 3], second(), 11_500)
        .unwrap()
        .is_empty());
    // An owner's own claim is taken again, under a new generation.
    let taken = journal.claim_at(&b, &[3], second(), 11_500).unwrap();
    assert_eq!(claimed(&taken), [(3, 2)]);
}

#[test]
fn settled_and_in_flight_refunds_are_never_claimed() {
    let mut journal = journal_of(2);
    let (a, b) = owners();
    let taken = journal.claim_at(&a, &[1, 2], second(), 10_000).unwrap();
    commit(&mut journal, to_in_flight(1, &taken[0].1)).unwrap();
    commit(&mut journal, to_in_flight(2, &taken[1].1)).unwrap();
    commit(&mut journal, succeeded(2, &taken[1].1)).unwrap();
    // Its own refund in flight is work in progress; a settled one needs no claim.
    assert!(journal
        .claim_at(&a, &[1, 2], second(), 10_500)
        .unwrap()
        .is_empty());
    assert!(journal
        .claim_at(&b, &[2], second(), 50_000)
        .unwrap()
        .is_empty());
    // Lapsed in flight: not taken, but made unknown to be queried; then taken.
    assert!(journal
        .claim_at(&b, &[1], second(), 11_001)
        .unwrap()
        .is_empty());
    assert_eq!(state(&journal, 1), State::Unknown);
    assert_eq!(claim_of(&journal, 1), (None, 2, None));
    let taken = journal.claim_at(&b, &[1], second(), 11_002).unwrap();
    assert_eq!(claimed(&taken), [(1, 3)]);
}

#[test]
fn a_late_write_of_the_owner_that_lost_the_claim_changes_nothing() {
    let mut journal = journal_of(1);
    let (a, b) = owners();
    let old = journal.claim_at(&a, &[1], second(), 10_000).unwrap()[0]
        .1
        .clone();
    commit(&mut journal, to_in_flight(1, &old)).unwrap();
    // a stalls past its lease; b recovers the refund (unknown) and claims it.
    assert_eq!(journal.recover_lapsed(&b, 11_001).unwrap(), 1);
    let new = journal.claim_at(&b, &[1], second(), 11_001).unwrap();
    assert_eq!(claimed(&new), [(1, 3)]);
    let before = everything(&journal, 1);
    let late = commit(&mut journal, succeeded(1, &old));
    assert!(
        matches!(
            late,
            Err(JournalError::Fenced {
                refund: 1,
                generation: 1,
                ..
            })
        ),
        "{late:?}"
    );
    let message = late.unwrap_err().to_string();
    assert!(
        message.contains("another process took this refund over"),
        "{message}"
    );
    assert!(message.contains(b.as_str()), "{message}");
    assert_eq!(everything(&journal, 1), before);
    // A transition and a reschedule under the old claim are fenced alike.
    let from_unknown = |claim: &Claim| Op::Transition {
        refund: 1,
        from: State::Unknown,
        change: Change::to(State::Processing, "the gateway is refunding it"),
        claim: claim.clone(),
    };
    let reschedule = Op::Settle {
        refund: 1,
        attempt: Box::new(AttemptRecord {
            kind: AttemptKind::Query,
            at: "2026-12-02T05:00:01.000Z".into(),
            http_status: Some(200),
            gateway_codes: None,
            outcome: "processing".into(),
            latency_ms: 3,
        }),
        update: Update::Reschedule {
            next_attempt_at: 99_000,
            note: None,
            gateway_refund_id: Some("G1".into()),
            gateway_times: GatewayTimes::default(),
        },
        claim: old.clone(),
    };
    let results = journal.commit_group([from_unknown(&old), reschedule].iter());
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(JournalError::Fenced { .. }))),
        "{results:?}"
    );
    assert_eq!(everything(&journal, 1), before);
    // The new owner's write goes through.
    commit(&mut journal, from_unknown(&new[0].1)).unwrap();
    assert_eq!(state(&journal, 1), State::Processing);
}

#[test]
fn renewal_extends_live_claims_only_never_one_taken_over() {
    let mut journal = journal_of(2);
    let (a, b) = owners();
    journal.claim_at(&a, &[1], second(), 10_000).unwrap();
    journal.claim_at(&a, &[2], second(), 10_800).unwrap();
    journal.claim_at(&b, &[1], second(), 11_001).unwrap();
    assert_eq!(journal.renew_at(&a, second(), 11_500).unwrap(), 1);
    assert_eq!(
        claim_of(&journal, 1),
        (Some(b.to_string()), 2, Some(12_001))
    );
    assert_eq!(
        claim_of(&journal, 2),
        (Some(a.to_string()), 1, Some(12_500))
    );
    // Lapsed and not taken over: a's claim is not renewed either.
    assert_eq!(journal.renew_at(&a, second(), 12_501).unwrap(), 0);
    assert_eq!(journal.renew_at(&b, second(), 12_000).unwrap(), 1);
    assert_eq!(
        claim_of(&journal, 1),
        (Some(b.to_string()), 2, Some(13_000))
    );
}

#[test]
fn recovery_turns_only_lapsed_refunds_in_flight_unknown() {
    let mut journal = journal_of(4);
    let (a, b) = owners();
    let recoverer = ClaimOwner::named("gamma:3:cccc");
    let of_a = journal.claim_at(&a, &[1], second(), 10_000).unwrap();
    commit(&mut journal, to_in_flight(1, &of_a[0].1)).unwrap();
    let of_b = journal.claim_at(&b, &[2, 4], second(), 12_000).unwrap();
    commit(&mut journal, to_in_flight(2, &of_b[0].1)).unwrap();
    // In flight under no claim, as a journal older than claims leaves it.
    journal
        .apply(3, State::Pending, &Change::to(State::InFlight, "sending"))
        .unwrap();
    let (live, claimed_pending) = (everything(&journal, 2), everything(&journal, 4));
    assert_eq!(journal.recover_lapsed(&recoverer, 12_500).unwrap(), 2);
    for refund in [1, 3] {
        assert_eq!(state(&journal, refund), State::Unknown);
        let why: String = journal
            .conn
            .query_row(
                "SELECT why FROM events WHERE refund = ?1 ORDER BY id DESC LIMIT 1",
                [refund],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(why, LAPSED_IN_FLIGHT);
    }
    assert_eq!(claim_of(&journal, 1), (None, 2, None));
    assert_eq!(claim_of(&journal, 3), (None, 1, None));
    // b's live claims, in flight or not, are exactly as they were.
    assert_eq!(everything(&journal, 2), live);
    assert_eq!(everything(&journal, 4), claimed_pending);
    // Nothing left to recover until b's lease lapses.
    assert_eq!(journal.recover_lapsed(&recoverer, 13_000).unwrap(), 0);
    assert_eq!(journal.recover_lapsed(&recoverer, 13_001).unwrap(), 1);
    assert_eq!(state(&journal, 2), State::Unknown);
}

#[test]
fn a_final_or_parked_change_frees_the_claim_and_release_frees_the_rest() {
    let mut journal = journal_of(3);
    let (a, _) = owners();
    let taken = journal.claim_at(&a, &[1, 2, 3], second(), 10_000).unwrap();
    for (id, claim) in &taken {
        commit(&mut journal, to_in_flight(*id, claim)).unwrap();
    }
    assert_eq!(
        claim_of(&journal, 1),
        (Some(a.to_string()), 1, Some(11_000))
    );
    commit(&mut journal, succeeded(1, &taken[0].1)).unwrap();
    assert_eq!(claim_of(&journal, 1), (None, 1, None));
    let mut parked = Change::to(State::Unknown, "given up for this run");
    parked.next_attempt_at = Some(PARKED);
    let park = Op::Transition {
        refund: 2,
        from: State::InFlight,
        change: parked,
        claim: taken[1].1.clone(),
    };
    commit(&mut journal, park).unwrap();
    assert_eq!(claim_of(&journal, 2), (None, 1, None));
    // At the end, a refund still in flight keeps its claim, lapsed.
    assert_eq!(journal.release(&a).unwrap(), 0);
    assert_eq!(claim_of(&journal, 3), (Some(a.to_string()), 1, Some(0)));
    let again = journal.claim_at(&a, &[1, 2], second(), 10_500).unwrap();
    assert_eq!(claimed(&again), [(2, 2)], "a settled refund is not claimed");
    assert_eq!(journal.release(&a).unwrap(), 1);
    assert_eq!(claim_of(&journal, 2), (None, 2, None));
}

#[test]
fn opening_for_writing_lapses_every_claim_and_recovery_follows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let (a, b) = owners();
    {
        let mut journal = SqliteJournal::open(&path).unwrap();
        import_rows(
            &mut journal,
            vec![valid(2, "R1", "T1", 100), valid(3, "R2", "T2", 100)],
        );
        let now = journal.clock_ms();
        let taken = journal
            .claim_at(&a, &[1, 2], Lease::default(), now)
            .unwrap();
        commit(&mut journal, to_in_flight(1, &taken[0].1)).unwrap();
    }
    // a died holding a minute's lease; the lock proves it is gone.
    let mut journal = SqliteJournal::open(&path).unwrap();
    assert_eq!(claim_of(&journal, 1), (Some(a.to_string()), 1, Some(0)));
    assert_eq!(claim_of(&journal, 2), (Some(a.to_string()), 1, Some(0)));
    let now = journal.clock_ms();
    assert_eq!(journal.recover_lapsed(&b, now).unwrap(), 1);
    assert_eq!(state(&journal, 1), State::Unknown);
    let taken = journal.claim(&b, &[1, 2], Lease::default()).unwrap();
    assert_eq!(claimed(&taken), [(1, 3), (2, 2)]);
}

/// A process that stalled past its lease, its claim not (yet) taken over:
/// its intent is refused, since another process may take the refund over and
/// query it at any moment, and it writes nothing.
#[test]
fn an_intent_under_a_lapsed_lease_is_fenced_and_writes_nothing() {
    let mut journal = journal_of(1);
    let (a, _) = owners();
    // Claimed a second long, long ago on the journal's clock.
    let taken = journal.claim_at(&a, &[1], second(), 10_000).unwrap();
    let before = everything(&journal, 1);
    super::clock::set_test_clock(11_001);
    let refused = commit(&mut journal, to_in_flight(1, &taken[0].1));
    assert!(
        matches!(&refused, Err(JournalError::Fenced { refund: 1, now, .. }) if now.contains("lease ran out")),
        "{refused:?}"
    );
    assert_eq!(everything(&journal, 1), before);
    assert_eq!(state(&journal, 1), State::Pending);
    // Under a live lease the same intent is written.
    let live = journal.claim(&a, &[1], second()).unwrap();
    commit(&mut journal, to_in_flight(1, &live[0].1)).unwrap();
    assert_eq!(state(&journal, 1), State::InFlight);
}

#[test]
fn a_refund_in_flight_keeps_the_scope_waiting_until_its_lease_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    import_rows(&mut journal, vec![valid(2, "R1", "T1", 100)]);
    let (_, other) = owners();
    let of_other = journal.claim_at(&other, &[1], second(), 50_000).unwrap();
    commit(&mut journal, to_in_flight(1, &of_other[0].1)).unwrap();
    let reader = journal.due_reader(&Scope::All, false).unwrap();
    assert!(reader.page(0).unwrap().is_empty(), "in flight: not due");
    // Its lease's end: then it is recovered and queried, if its process died.
    assert_eq!(reader.next_due(true).unwrap(), Some(51_000));
    assert_eq!(reader.next_due(false).unwrap(), Some(51_000));
}
