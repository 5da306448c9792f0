//! The run's claims on the refunds it works on. The scheduler claims due
//! refunds a chunk at a time, through the writer (one transaction), right
//! before it hands them out; a refund another process holds is skipped this
//! sweep. A task's every write names its claim ([`super::task`]), and the
//! writer renews the run's claims every third of a lease ([`renewing`]), so
//! that only a stalled or dead process loses them.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::writer::{Claims, Writer, WriterThread};
use super::{Dispatched, EngineError, Scheduler};
use crate::journal::claim::{ClaimOwner, Lease};
use crate::journal::due::DueRefund;
use crate::journal::{Journal, JournalError};

/// The most refunds claimed at once: few enough that the ones a sweep claims
/// but does not reach before it reads the polls again (at a low rate, most
/// of a chunk) cost little.
const CLAIM_CHUNK: usize = 64;

/// How often a run with nothing to take may recover what other processes
/// left in flight under a lapsed claim.
const RECOVERY_EVERY: Duration = Duration::from_secs(1);

/// What a run of [`Scheduler::dispatch_claimed`] did.
pub(super) struct Handed {
    /// Refunds handed to a task.
    pub sent: u64,
    /// The last refund passed over, handed out or not.
    pub last: Option<i64>,
    /// Sending stopped (an interrupt, the gateway's refusal, the journal's).
    pub stopping: bool,
}

impl Scheduler {
    /// Hands out `dues` in order, each that may go now and that this run
    /// could claim; with `until_poll_read`, stops early once the polls fall
    /// due (the rest of a page read before is stale by then).
    pub(super) async fn dispatch_claimed(
        &mut self,
        dues: Vec<DueRefund>,
        until_poll_read: bool,
    ) -> Handed {
        let mut handed = Handed {
            sent: 0,
            last: None,
            stopping: false,
        };
        let mut dues = dues.into_iter().peekable();
        while dues.peek().is_some() {
            let chunk: Vec<DueRefund> = dues.by_ref().take(CLAIM_CHUNK).collect();
            let mut admitted = Vec::with_capacity(chunk.len());
            for due in &chunk {
                match self.admit(due) {
                    ControlFlow::Break(()) => {
                        handed.stopping = true;
                        return handed;
                    }
                    ControlFlow::Continue(true) => admitted.push(due.record.id),
                    ControlFlow::Continue(false) => {}
                }
            }
            let mut claims = match self.claim(admitted).await {
                Some(claims) => claims.into_iter().peekable(),
                None => {
                    handed.stopping = true;
                    return handed;
                }
            };
            for due in chunk {
                handed.last = Some(due.record.id);
                // Claims come back in the order asked, which is the chunk's.
                let Some((_, claim)) = claims.next_if(|(id, _)| *id == due.record.id) else {
                    continue;
                };
                match self.dispatch(due, claim).await {
                    Dispatched::Sent => handed.sent += 1,
                    Dispatched::Skipped => {}
                    Dispatched::Stopping => {
                        handed.stopping = true;
                        return handed;
                    }
                }
                if until_poll_read && Instant::now() >= self.next_poll_read {
                    return handed;
                }
            }
        }
        handed
    }

    /// Recovers (makes `unknown`, to be queried) what other processes left
    /// in flight under a lapsed claim, at most once a second; a refusal is
    /// only a warning (the next renewal recovers it too).
    pub(super) async fn recover_lapsed(&mut self) {
        let now = Instant::now();
        if now < self.next_recovery {
            return;
        }
        self.next_recovery = now + RECOVERY_EVERY;
        if let Err(e) = self.shared.writer.recover().await {
            tracing::warn!("refunds left in flight by other processes could not be recovered: {e}");
        }
    }

    /// Claims `ids` for this run: the claims taken, in order, or `None` when
    /// the journal refused (the run stops).
    async fn claim(&mut self, ids: Vec<i64>) -> Option<Vec<(i64, crate::journal::claim::Claim)>> {
        if ids.is_empty() {
            return Some(Vec::new());
        }
        match self.shared.writer.claim(ids).await {
            Ok(claims) => Some(claims),
            Err(e) => {
                self.book.fatal.get_or_insert(e.into());
                None
            }
        }
    }
}

/// The run's claims, made before it starts: a new owner, the lease, and the
/// refunds left in flight under a claim that lapsed (or none) made unknown,
/// to be queried. Live claims of other processes are left alone.
pub(super) fn recover(journal: &mut Journal) -> Result<Claims, JournalError> {
    let claims = Claims {
        owner: ClaimOwner::new(),
        lease: Lease::from_env(),
    };
    let now = journal.clock_ms()?;
    let recovered = journal.recover_lapsed(&claims.owner, now)?;
    if recovered > 0 {
        tracing::warn!(
            "{recovered} refunds were in flight when an earlier run stopped; they will be queried"
        );
    }
    Ok(claims)
}

/// Waits for the writer to commit everything, then frees the run's claims
/// (a clean end); says how many refunds other processes took over.
pub(super) async fn release(
    writer: WriterThread,
    owner: ClaimOwner,
    fenced: u64,
) -> Result<Journal, EngineError> {
    let journal = tokio::task::spawn_blocking(move || {
        let mut journal = writer.finish();
        journal.release(&owner).map(|_| journal)
    })
    .await??;
    if fenced > 0 {
        tracing::warn!(
            "{fenced} refunds were taken over by another process while this one was stalled; their answers here were not recorded"
        );
    }
    Ok(journal)
}

/// Until when this process may still send under its claims, by its own
/// clock: a lease after the start of the last renewal that came in time (or
/// of the run), less a tenth for the clocks' drift. A process that stalled
/// (SIGSTOP, a paused machine, an unreachable journal) past it may find its
/// refunds taken over and queried by another at any moment: it sends
/// nothing more ([`super::task`] withdraws the intent instead). Once lapsed
/// it stays lapsed: a late renewal renews only claims still live, so it
/// cannot vouch for the others.
#[derive(Clone)]
pub struct LeaseWatch {
    valid_until: Arc<Mutex<Instant>>,
    lease: Duration,
}

impl LeaseWatch {
    pub(super) fn new(lease: Lease) -> LeaseWatch {
        let lease = lease.duration() - lease.duration() / 10;
        LeaseWatch {
            valid_until: Arc::new(Mutex::new(Instant::now() + lease)),
            lease,
        }
    }

    /// A renewal asked for at `asked` succeeded.
    fn renewed(&self, asked: Instant) {
        let mut until = self.valid_until.lock().expect("not poisoned");
        if asked < *until {
            *until = (*until).max(asked + self.lease);
        }
    }

    /// Whether the run's claims may have lapsed.
    pub fn lapsed(&self) -> bool {
        Instant::now() >= *self.valid_until.lock().expect("not poisoned")
    }
}

/// Renews the run's claims every third of `lease` until aborted. A renewal
/// the journal refuses is only a warning: the claims lapse, other processes
/// may take the refunds over, the fence keeps this run's late writes out,
/// and `watch` stops its sends.
pub(super) fn renewing(writer: Writer, lease: Lease, watch: LeaseWatch) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease.renew_every());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let asked = Instant::now();
            match writer.renew().await {
                Ok(_) => watch.renewed(asked),
                Err(e) => tracing::warn!("the run's claims could not be renewed: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::writer::{self, Claims};
    use crate::batch::RefundRow;
    use crate::gateway::GatewayKind;
    use crate::journal::claim::{ClaimOwner, Lease};
    use crate::journal::import::{self, BatchMeta, CheckedRow};
    use crate::journal::{Journal, State};
    use crate::money::Fen;

    fn journal_with_one_refund() -> Journal {
        let mut journal = Journal::open_in_memory().unwrap();
        let meta = BatchMeta {
            file_name: "batch.csv".into(),
            file_hash: "abc".into(),
            profile: "leshua".into(),
            gateway: GatewayKind::Leshua,
            merchant_id: "M1".into(),
            header: vec!["merchant_refund_id".into(), "refund_amount".into()],
            input_path: None,
            results_path: None,
            results_bom: false,
        };
        let row = CheckedRow::Valid {
            line: 2,
            cells: vec!["R1".into(), "100".into()],
            refund: RefundRow {
                refund_id: "R1".into(),
                amount: Fen(100),
                fields: BTreeMap::from([("third_order_id".into(), "T1".into())]),
                fingerprint: "T1||100".into(),
                order_key: "T1".into(),
            },
        };
        import::import(&mut journal, &meta, [Ok(row)].into_iter(), || false, |_| {}).unwrap();
        journal
    }

    #[tokio::test]
    async fn the_writer_fences_off_a_run_whose_refund_another_process_took_over() {
        let mut journal = journal_with_one_refund();
        let (stalled, other) = (
            ClaimOwner::named("alpha:1:a"),
            ClaimOwner::named("beta:2:b"),
        );
        // The stalled run's claim lapsed long ago; another process took the refund.
        let old = journal
            .claim_at(&stalled, &[1], Lease::default(), 1_000)
            .unwrap();
        // An hour ahead of this machine's clock: live while the test runs.
        let later = crate::journal::now_ms() + 3_600_000;
        let taken = journal
            .claim_at(&other, &[1], Lease::default(), later)
            .unwrap();
        assert_eq!((old[0].1.generation, taken[0].1.generation), (1, 2));
        let claims = Claims {
            owner: stalled.clone(),
            lease: Lease::default(),
        };
        let (writer, thread) = writer::start(journal, claims);
        let refused = writer
            .intent(1, State::Pending, &old[0].1)
            .await
            .unwrap_err();
        assert!(refused.is_fenced(), "{refused}");
        assert!(writer.claim(vec![1]).await.unwrap().is_empty());
        assert_eq!(writer.renew().await.unwrap(), 0);
        drop(writer);
        let mut journal = tokio::task::spawn_blocking(move || thread.finish())
            .await
            .unwrap();
        let refund = journal.refund(1).unwrap();
        assert_eq!((refund.state, refund.attempts), (State::Pending, 0));
        assert_eq!(journal.release(&stalled).unwrap(), 0);
        assert_eq!(journal.release(&other).unwrap(), 1);
    }
    /// A process killed with a refund in flight leaves its claim to lapse:
    /// a run still going recovers it at its next renewal (it becomes
    /// unknown, to be queried), not only the next run to start.
    #[tokio::test]
    async fn a_renewal_recovers_what_a_dead_process_left_in_flight() {
        let mut journal = journal_with_one_refund();
        let (dead, running) = (
            ClaimOwner::named("dead:1:a"),
            ClaimOwner::named("running:2:b"),
        );
        // Claimed and sent at 1970's clock (the claim at a time sets this
        // thread's journal clock too): lapsed long before the writer's now.
        let claim = journal
            .claim_at(&dead, &[1], Lease::default(), 1_000)
            .unwrap();
        let intent = crate::journal::Op::Transition {
            refund: 1,
            from: State::Pending,
            change: crate::journal::Change::to(State::InFlight, "submitting"),
            claim: claim[0].1.clone(),
        };
        journal
            .commit_group([intent].iter())
            .pop()
            .unwrap()
            .unwrap();
        assert_eq!(journal.refund(1).unwrap().state, State::InFlight);
        let claims = Claims {
            owner: running,
            lease: Lease::default(),
        };
        let (writer, thread) = writer::start(journal, claims);
        assert_eq!(writer.renew().await.unwrap(), 0, "it holds no claim yet");
        drop(writer);
        let journal = tokio::task::spawn_blocking(move || thread.finish())
            .await
            .unwrap();
        let refund = journal.refund(1).unwrap();
        assert_eq!(refund.state, State::Unknown);
        let last = journal.transitions(1).unwrap().pop().unwrap();
        assert_eq!(last.why, crate::journal::fence::LAPSED_IN_FLIGHT);
    }
}

#[cfg(test)]
mod lease_watch_tests {
    use super::*;

    /// The shortest lease there is (200 ms) runs out; a renewal asked for
    /// after that does not bring it back, one asked for before does.
    #[test]
    fn a_lease_lapses_and_a_late_renewal_does_not_revive_it() {
        let lease = Lease::new(Duration::ZERO);
        let watch = LeaseWatch::new(lease);
        assert!(!watch.lapsed());
        let early = Instant::now();
        std::thread::sleep(Duration::from_millis(100));
        watch.renewed(early);
        std::thread::sleep(lease.duration());
        assert!(watch.lapsed(), "a lease after the last renewal has passed");
        watch.renewed(Instant::now());
        assert!(
            watch.lapsed(),
            "a renewal after the lapse vouches for nothing"
        );
    }
}
