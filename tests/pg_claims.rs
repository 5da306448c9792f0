//! Claims, leases and fenced writes on a PostgreSQL journal, against a real
//! server each test starts (tests/pg/server.rs; skipped, saying so, where no
//! server binaries exist). Two owners, each with its own connection, as two
//! processes on two machines: who may claim what, the fence on a late write,
//! renewal, recovery of lapsed refunds in flight, the claim a final change
//! frees, and two claimers racing for the same refunds. Leases lapse on the
//! SERVER's clock, which the tests poll; what must stay alive is leased for
//! an hour, so no assert depends on how fast the machine is.

use bulkrefund::journal::claim::ClaimOwner;
use bulkrefund::journal::fence::LAPSED_IN_FLIGHT;
use bulkrefund::journal::{AttemptKind, AttemptRecord, Change, GatewayTimes, Op, State, Update};
use bulkrefund::journal::{JournalError, PARKED};

#[path = "pg/server.rs"]
mod server;

#[path = "pg/claims_fixture.rs"]
mod fixture;
use fixture::*;

#[test]
fn a_claim_skips_another_owners_live_claim_and_takes_a_lapsed_one() {
    let Some(fx) = Fixture::start(
        "a_claim_skips_another_owners_live_claim_and_takes_a_lapsed_one",
        3,
    ) else {
        return;
    };
    let (a, b) = owners();
    let (mut ja, mut jb) = (fx.journal(), fx.journal());
    let before = ja.clock_ms().unwrap();
    let taken = ja.claim(&a, &[1], long()).unwrap();
    let after = ja.clock_ms().unwrap();
    assert_eq!(claimed(&taken), [(1, 1)]);
    assert_eq!(taken[0].1.owner, a);
    let (owner, generation, until) = fx.claim_of(1);
    assert_eq!((owner.as_deref(), generation), (Some(a.as_str()), 1));
    let until = until.unwrap();
    assert!(
        before + long().ms() <= until && until <= after + long().ms(),
        "{before} {until} {after}"
    );
    let short_claim = ja.claim(&a, &[2], short()).unwrap();
    assert_eq!(claimed(&short_claim), [(2, 1)]);
    // 1 is alive for an hour: b is skipped, not kept waiting; the free one is its.
    let taken = jb.claim(&b, &[1, 3], long()).unwrap();
    assert_eq!(claimed(&taken), [(3, 1)]);
    assert_eq!(fx.claim_of(1).0.as_deref(), Some(a.as_str()));
    // 2 lapses on the server's clock: b takes it, under a new generation.
    wait_past(&mut jb, fx.claim_of(2).2.unwrap());
    let taken = jb.claim(&b, &[2, 1], long()).unwrap();
    assert_eq!(claimed(&taken), [(2, 2)]);
    assert_eq!(fx.claim_of(2).0.as_deref(), Some(b.as_str()));
    assert!(ja.claim(&a, &[2, 3], long()).unwrap().is_empty());
    // An owner's own claim is taken again, under a new generation; the
    // claims come back in the order asked, each once.
    let taken = jb.claim(&b, &[3, 2, 3], long()).unwrap();
    assert_eq!(claimed(&taken), [(3, 2), (2, 3)]);
}

#[test]
fn settled_and_in_flight_refunds_are_never_claimed() {
    let Some(fx) = Fixture::start("settled_and_in_flight_refunds_are_never_claimed", 2) else {
        return;
    };
    let (a, b) = owners();
    let (mut ja, mut jb) = (fx.journal(), fx.journal());
    let taken = ja.claim(&a, &[1, 2], short()).unwrap();
    ja.commit_fenced(&to_in_flight(1, &taken[0].1)).unwrap();
    ja.commit_fenced(&to_in_flight(2, &taken[1].1)).unwrap();
    ja.commit_fenced(&succeeded(2, &taken[1].1)).unwrap();
    assert_eq!(fx.state(2), State::Succeeded);
    // Its own refund in flight is work in progress; a settled one needs no claim.
    assert!(ja.claim(&a, &[1, 2], long()).unwrap().is_empty());
    assert_eq!(fx.state(1), State::InFlight);
    assert!(jb.claim(&b, &[2], long()).unwrap().is_empty());
    // Lapsed in flight: not taken, but made unknown to be queried; then taken.
    wait_past(&mut jb, fx.claim_of(1).2.unwrap());
    assert!(jb.claim(&b, &[1], long()).unwrap().is_empty());
    assert_eq!(fx.state(1), State::Unknown);
    assert_eq!(fx.last_why(1), LAPSED_IN_FLIGHT);
    assert_eq!(fx.claim_of(1), (None, 2, None));
    let taken = jb.claim(&b, &[1], long()).unwrap();
    assert_eq!(claimed(&taken), [(1, 3)]);
}

#[test]
fn a_late_write_of_the_owner_that_lost_the_claim_changes_nothing() {
    let Some(fx) = Fixture::start(
        "a_late_write_of_the_owner_that_lost_the_claim_changes_nothing",
        1,
    ) else {
        return;
    };
    let (a, b) = owners();
    let (mut ja, mut jb) = (fx.journal(), fx.journal());
    let old = ja.claim(&a, &[1], short()).unwrap()[0].1.clone();
    ja.commit_fenced(&to_in_flight(1, &old)).unwrap();
    // a stalls past its lease; b recovers the refund (unknown) and claims it.
    wait_past(&mut jb, fx.claim_of(1).2.unwrap());
    let now = jb.clock_ms().unwrap();
    assert_eq!(jb.recover_lapsed(&b, now).unwrap(), 1);
    let new = jb.claim(&b, &[1], long()).unwrap();
    assert_eq!(claimed(&new), [(1, 3)]);
    let before = fx.everything(1);
    assert_eq!(before[2].len(), 0, "no attempt yet");
    let late = ja.commit_fenced(&succeeded(1, &old));
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
    assert!(
        message.contains(&format!("held by {b}, claim 3")),
        "{message}"
    );
    assert_eq!(fx.everything(1), before);
    // A transition and a reschedule under the old claim are fenced alike.
    let from_unknown = |claim| Op::Transition {
        refund: 1,
        from: State::Unknown,
        change: Change::to(State::Processing, "the gateway is refunding it"),
        claim,
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
    let results = ja.commit_group([from_unknown(old.clone()), reschedule].iter());
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(JournalError::Fenced { .. }))),
        "{results:?}"
    );
    assert_eq!(fx.everything(1), before);
    // The new owner's writes go through: its transition, then its settle
    // with the attempt, which frees the claim (succeeded is final).
    jb.commit_fenced(&from_unknown(new[0].1.clone())).unwrap();
    assert_eq!(fx.state(1), State::Processing);
    jb.commit_fenced(&succeeded_from(1, State::Processing, &new[0].1))
        .unwrap();
    assert_eq!(fx.state(1), State::Succeeded);
    assert_eq!(fx.claim_of(1), (None, 3, None));
    let after = fx.everything(1);
    assert_eq!(after[1].len(), before[1].len() + 2, "{after:?}");
    assert_eq!(after[2].len(), 1, "{after:?}");
    assert!(
        after[2][0].contains("\"outcome\":\"succeeded\""),
        "{after:?}"
    );
}

#[test]
fn renewal_extends_live_claims_only_never_one_taken_over() {
    let Some(fx) = Fixture::start("renewal_extends_live_claims_only_never_one_taken_over", 2)
    else {
        return;
    };
    let (a, b) = owners();
    let (mut ja, mut jb) = (fx.journal(), fx.journal());
    ja.claim(&a, &[1], short()).unwrap();
    ja.claim(&a, &[2], long()).unwrap();
    wait_past(&mut jb, fx.claim_of(1).2.unwrap());
    assert_eq!(claimed(&jb.claim(&b, &[1], long()).unwrap()), [(1, 2)]);
    let (taken_over, live) = (fx.claim_of(1), fx.claim_of(2));
    let before = ja.clock_ms().unwrap();
    assert_eq!(ja.renew(&a, long()).unwrap(), 1);
    assert_eq!(fx.claim_of(1), taken_over);
    let (owner, generation, until) = fx.claim_of(2);
    assert_eq!((owner.as_deref(), generation), (Some(a.as_str()), 1));
    assert!(until.unwrap() >= before + long().ms(), "{live:?} {until:?}");
    // A lapsed claim not taken over is not renewed either.
    let c = ClaimOwner::named("gamma:3:cccc");
    let mut jc = fx.journal();
    let lapsing = jc.claim(&c, &[2], long()).unwrap();
    assert!(lapsing.is_empty(), "a's claim on 2 is alive");
    ja.claim(&a, &[2], short()).unwrap();
    wait_past(&mut ja, fx.claim_of(2).2.unwrap());
    let lapsed = fx.claim_of(2);
    assert_eq!(ja.renew(&a, long()).unwrap(), 0);
    assert_eq!(fx.claim_of(2), lapsed);
}

#[test]
fn recovery_leaves_another_owners_live_work_exactly_as_it_was() {
    let Some(fx) = Fixture::start(
        "recovery_leaves_another_owners_live_work_exactly_as_it_was",
        4,
    ) else {
        return;
    };
    let (a, b) = owners();
    let recoverer = ClaimOwner::named("gamma:3:cccc");
    let (mut ja, mut jb, mut jr) = (fx.journal(), fx.journal(), fx.journal());
    let of_a = ja.claim(&a, &[1], short()).unwrap();
    let of_b = jb.claim(&b, &[2, 4], long()).unwrap();
    ja.commit_fenced(&to_in_flight(1, &of_a[0].1)).unwrap();
    jb.commit_fenced(&to_in_flight(2, &of_b[0].1)).unwrap();
    // In flight under no claim, as a journal older than claims leaves it.
    fx.server
        .exec(DB, "UPDATE refunds SET state = 'in_flight' WHERE id = 3");
    let (live, claimed_pending) = (fx.everything(2), fx.everything(4));
    wait_past(&mut jr, fx.claim_of(1).2.unwrap());
    let now = jr.clock_ms().unwrap();
    assert_eq!(jr.recover_lapsed(&recoverer, now).unwrap(), 2);
    for refund in [1, 3] {
        assert_eq!(fx.state(refund), State::Unknown);
        assert_eq!(fx.last_why(refund), LAPSED_IN_FLIGHT);
    }
    assert_eq!(fx.claim_of(1), (None, 2, None));
    assert_eq!(fx.claim_of(3), (None, 1, None));
    // b's live claims, in flight or not, are exactly as they were.
    assert_eq!(fx.everything(2), live);
    assert_eq!(fx.everything(4), claimed_pending);
    assert_eq!(jr.recover_lapsed(&recoverer, now).unwrap(), 0);
    // b's own recovery never touches its own work in progress.
    assert_eq!(jb.recover_lapsed(&b, i64::MAX).unwrap(), 0);
    assert_eq!(fx.everything(2), live);
}

#[test]
fn a_final_or_parked_change_frees_the_claim_and_release_frees_the_rest() {
    let Some(fx) = Fixture::start(
        "a_final_or_parked_change_frees_the_claim_and_release_frees_the_rest",
        3,
    ) else {
        return;
    };
    let (a, _) = owners();
    let mut ja = fx.journal();
    let taken = ja.claim(&a, &[1, 2, 3], long()).unwrap();
    for (id, claim) in &taken {
        ja.commit_fenced(&to_in_flight(*id, claim)).unwrap();
    }
    ja.commit_fenced(&succeeded(1, &taken[0].1)).unwrap();
    assert_eq!(fx.claim_of(1), (None, 1, None));
    let mut parked = Change::to(State::Unknown, "given up for this run");
    parked.next_attempt_at = Some(PARKED);
    let park = Op::Transition {
        refund: 2,
        from: State::InFlight,
        change: parked,
        claim: taken[1].1.clone(),
    };
    ja.commit_fenced(&park).unwrap();
    assert_eq!(fx.claim_of(2), (None, 1, None));
    // At the end, a refund still in flight keeps its claim, lapsed.
    assert_eq!(ja.release(&a).unwrap(), 0);
    assert_eq!(fx.claim_of(3), (Some(a.to_string()), 1, Some(0)));
    let again = ja.claim(&a, &[1, 2], long()).unwrap();
    assert_eq!(claimed(&again), [(2, 2)], "a settled refund is not claimed");
    assert_eq!(ja.release(&a).unwrap(), 1);
    assert_eq!(fx.claim_of(2), (None, 2, None));
}

#[test]
fn two_claimers_racing_for_the_same_refunds_never_both_get_one() {
    const N: i64 = 1000;
    let Some(fx) = Fixture::start(
        "two_claimers_racing_for_the_same_refunds_never_both_get_one",
        N,
    ) else {
        return;
    };
    let ids: Vec<i64> = (1..=N).collect();
    let start = std::sync::Barrier::new(2);
    let (a, b) = owners();
    let grants: Vec<(ClaimOwner, Vec<(i64, i64)>)> = std::thread::scope(|scope| {
        let racers: Vec<_> = [(a.clone(), false), (b.clone(), true)]
            .into_iter()
            .map(|(owner, backwards)| {
                let (fx, ids, start) = (&fx, &ids, &start);
                scope.spawn(move || {
                    let mut journal = fx.journal();
                    let mut chunks: Vec<&[i64]> = ids.chunks(50).collect();
                    if backwards {
                        chunks.reverse();
                    }
                    start.wait();
                    // Each asks for every refund, chunk by chunk, twice: the
                    // second pass meets the other's claims alive, and
                    // takes its own again.
                    let mut got = Vec::new();
                    for chunk in chunks.iter().chain(chunks.iter()) {
                        for (id, claim) in journal.claim(&owner, chunk, long()).unwrap() {
                            assert_eq!(claim.owner, owner);
                            got.push((id, claim.generation));
                        }
                    }
                    (owner, got)
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let held: Vec<std::collections::BTreeMap<i64, Vec<i64>>> = grants
        .iter()
        .map(|(_, got)| {
            let mut by_id = std::collections::BTreeMap::<i64, Vec<i64>>::new();
            for &(id, generation) in got {
                by_id.entry(id).or_default().push(generation);
            }
            by_id
        })
        .collect();
    let both: Vec<&i64> = held[0]
        .keys()
        .filter(|id| held[1].contains_key(id))
        .collect();
    assert!(both.is_empty(), "granted to both claimers: {both:?}");
    let mut union: Vec<i64> = held.iter().flat_map(|h| h.keys().copied()).collect();
    union.sort();
    assert_eq!(union, ids, "every refund is claimed by one of them");
    // The journal agrees with what each was told: one generation per grant,
    // counted up from 1, the last one held.
    let journal = fx.all_claims();
    for ((owner, _), by_id) in grants.iter().zip(&held) {
        for (&id, generations) in by_id {
            let counted: Vec<i64> = (1..=generations.len() as i64).collect();
            assert_eq!(generations, &counted, "refund {id}");
            let (holder, generation) = &journal[&id];
            assert_eq!(holder.as_deref(), Some(owner.as_str()), "refund {id}");
            assert_eq!(*generation, counted.len() as i64, "refund {id}");
        }
    }
}

/// A process that stalled past its lease, its claim not (yet) taken over:
/// its intent is refused on the server's clock and writes nothing; under a
/// live lease the same intent is written.
#[test]
fn an_intent_under_a_lapsed_lease_is_fenced_and_writes_nothing() {
    let Some(fx) = Fixture::start(
        "an_intent_under_a_lapsed_lease_is_fenced_and_writes_nothing",
        1,
    ) else {
        return;
    };
    let (a, _) = owners();
    let mut ja = fx.journal();
    let taken = ja.claim(&a, &[1], short()).unwrap();
    wait_past(&mut ja, fx.claim_of(1).2.unwrap());
    let before = fx.everything(1);
    let refused = ja.commit_fenced(&to_in_flight(1, &taken[0].1));
    assert!(
        matches!(&refused, Err(JournalError::Fenced { refund: 1, now, .. }) if now.contains("lease ran out")),
        "{refused:?}"
    );
    assert_eq!(fx.everything(1), before);
    let live = ja.claim(&a, &[1], long()).unwrap();
    ja.commit_fenced(&to_in_flight(1, &live[0].1)).unwrap();
    assert_eq!(fx.state(1), State::InFlight);
}

/// A refund in flight under another process's claim keeps a scope's run
/// waiting until the claim's lease ends (then it is recovered, if its
/// process died), rather than letting it end with the refund unresolved.
#[test]
fn a_refund_in_flight_keeps_the_scope_waiting_until_its_lease_ends() {
    let Some(fx) = Fixture::start(
        "a_refund_in_flight_keeps_the_scope_waiting_until_its_lease_ends",
        1,
    ) else {
        return;
    };
    let (a, _) = owners();
    let mut ja = fx.journal();
    let taken = ja.claim(&a, &[1], long()).unwrap();
    ja.commit_fenced(&to_in_flight(1, &taken[0].1)).unwrap();
    let (_, _, until) = fx.claim_of(1);
    let reader = ja
        .due_reader(&bulkrefund::journal::Scope::All, false)
        .unwrap();
    assert!(reader.page(0).unwrap().is_empty(), "in flight: not due");
    assert_eq!(reader.next_due(true).unwrap(), until);
    assert_eq!(reader.next_due(false).unwrap(), until);
}
