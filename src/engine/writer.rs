//! The journal writer: one thread owns the journal and commits the engine's
//! changes in groups (many per transaction, [`Journal::commit_group`]). Every
//! change waits only for its own commit: a submit's intent is durable before
//! its request leaves. It also holds the run's claims ([`ClaimOwner`] and
//! [`Lease`]): it claims the refunds the scheduler is about to hand out and
//! renews the claims, each in a transaction of its own between groups; every
//! change names the claim it was made under, and is written only under it.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use crate::journal::claim::{Claim, ClaimOwner, Lease};
use crate::journal::{AttemptRecord, Change, Journal, JournalError, Op, State, Update};

/// The most changes committed in one transaction.
const GROUP: usize = 2048;
/// A group smaller than this waits [`LINGER`] for more changes before it
/// commits: every commit writes each page it dirtied to the WAL, so a few
/// larger groups cost far less than many small ones. An intent waits at most
/// this much longer for its commit.
const SMALL_GROUP: usize = 32;
const LINGER: std::time::Duration = std::time::Duration::from_micros(250);

/// Why a change was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the journal writer has stopped")]
    Stopped,
    #[error(transparent)]
    Journal(#[from] JournalError),
}

enum Request {
    /// A change, committed in a group.
    Change {
        op: Op,
        done: oneshot::Sender<Result<(), JournalError>>,
    },
    /// Claims for the run the refunds listed that it may take.
    Claim {
        ids: Vec<i64>,
        done: oneshot::Sender<Result<Vec<(i64, Claim)>, JournalError>>,
    },
    /// Renews the run's live claims, then recovers the refunds other
    /// processes left in flight under a claim that lapsed since.
    Renew {
        done: oneshot::Sender<Result<u64, JournalError>>,
    },
    /// Recovers the refunds other processes left in flight under a claim
    /// that lapsed (how many).
    Recover {
        done: oneshot::Sender<Result<usize, JournalError>>,
    },
}

/// Whose claims the writer takes, and for how long.
#[derive(Clone, Debug)]
pub struct Claims {
    pub owner: ClaimOwner,
    pub lease: Lease,
}

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

pub struct WriterThread {
    handle: thread::JoinHandle<Journal>,
}

impl WriterThread {
    /// Waits for every queued change to be committed and gives the journal back.
    pub fn finish(self) -> Journal {
        self.handle
            .join()
            .expect("the journal writer thread does not panic")
    }
}

/// Starts the writer; it stops when every [`Writer`] is dropped.
pub fn start(journal: Journal, claims: Claims) -> (Writer, WriterThread) {
    let (tx, rx) = mpsc::channel::<Request>();
    let handle = thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || run(journal, claims, rx))
        .expect("a thread can be spawned");
    (Writer { tx }, WriterThread { handle })
}

impl Writer {
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, JournalError>>) -> Request,
    ) -> Result<T, WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(request(done))
            .map_err(|_| WriteError::Stopped)?;
        Ok(wait.await.map_err(|_| WriteError::Stopped)??)
    }

    async fn submit(&self, op: Op) -> Result<(), WriteError> {
        self.ask(|done| Request::Change { op, done }).await
    }

    /// Claims for this run those of `ids` that no other process holds alive
    /// (and that are still to be worked on): one transaction.
    pub async fn claim(&self, ids: Vec<i64>) -> Result<Vec<(i64, Claim)>, WriteError> {
        self.ask(|done| Request::Claim { ids, done }).await
    }

    /// Renews this run's live claims; how many.
    pub async fn renew(&self) -> Result<u64, WriteError> {
        self.ask(|done| Request::Renew { done }).await
    }

    /// Makes `unknown` the refunds other processes left in flight under a
    /// claim that lapsed; how many.
    pub async fn recover(&self) -> Result<usize, WriteError> {
        self.ask(|done| Request::Recover { done }).await
    }

    /// `from` → in_flight, committed before the submit leaves.
    pub async fn intent(&self, refund: i64, from: State, claim: &Claim) -> Result<(), WriteError> {
        let change = Change::to(
            State::InFlight,
            "submitting; the answer is not known until it is recorded",
        );
        self.transition(refund, from, change, claim).await
    }

    pub async fn settle(
        &self,
        refund: i64,
        attempt: AttemptRecord,
        update: Update,
        claim: &Claim,
    ) -> Result<(), WriteError> {
        self.submit(Op::Settle {
            refund,
            attempt: Box::new(attempt),
            update,
            claim: claim.clone(),
        })
        .await
    }

    pub async fn transition(
        &self,
        refund: i64,
        from: State,
        change: Change,
        claim: &Claim,
    ) -> Result<(), WriteError> {
        self.submit(Op::Transition {
            refund,
            from,
            change,
            claim: claim.clone(),
        })
        .await
    }
}

impl WriteError {
    /// The journal refused the change because another process took its refund over.
    pub fn is_fenced(&self) -> bool {
        matches!(self, WriteError::Journal(JournalError::Fenced { .. }))
    }

    /// The journal refused the change because the refund is no longer in
    /// the state the caller read it in.
    pub fn is_stale(&self) -> bool {
        matches!(self, WriteError::Journal(JournalError::Stale { .. }))
    }
}

type Done = oneshot::Sender<Result<(), JournalError>>;

fn run(mut journal: Journal, claims: Claims, rx: mpsc::Receiver<Request>) -> Journal {
    // A claim or a renewal met while a group is gathered: it is served right
    // after the group's commit, so that requests keep the order they came in.
    let mut next: Option<Request> = None;
    loop {
        let first = match next.take() {
            Some(request) => request,
            None => match rx.recv() {
                Ok(request) => request,
                Err(_) => break,
            },
        };
        let Some((op, done)) = serve(&mut journal, &claims, first) else {
            continue;
        };
        let mut group: Vec<(Op, Done)> = vec![(op, done)];
        let mut lingered = false;
        while group.len() < GROUP {
            let request = match rx.try_recv() {
                Ok(request) => request,
                Err(mpsc::TryRecvError::Empty) if group.len() < SMALL_GROUP && !lingered => {
                    lingered = true;
                    match rx.recv_timeout(LINGER) {
                        Ok(request) => request,
                        Err(_) => break,
                    }
                }
                Err(_) => break,
            };
            match request {
                Request::Change { op, done } => group.push((op, done)),
                other => {
                    next = Some(other);
                    break;
                }
            }
        }
        let results = journal.commit_group(group.iter().map(|(op, _)| op));
        for ((_, done), result) in group.into_iter().zip(results) {
            let _ = done.send(result);
        }
    }
    journal
}

/// Renews the run's claims (how many), then makes `unknown` every refund
/// another process left in flight under a claim that has lapsed since (it
/// was killed or stalled while this run goes on): they fall due at once, to
/// be queried by this run or another, not left in flight until the next start.
fn renew_and_recover(journal: &mut Journal, claims: &Claims) -> Result<u64, JournalError> {
    let renewed = journal.renew(&claims.owner, claims.lease)?;
    // The renewal is committed: a recovery refused is only a warning (the
    // next one tries again), never a renewal that failed.
    if let Err(e) = recover(journal, claims) {
        tracing::warn!("refunds left in flight by other processes could not be recovered: {e}");
    }
    Ok(renewed)
}

/// Makes `unknown` what other processes left in flight under a lapsed claim.
fn recover(journal: &mut Journal, claims: &Claims) -> Result<usize, JournalError> {
    let now = journal.clock_ms()?;
    let recovered = journal.recover_lapsed(&claims.owner, now)?;
    if recovered > 0 {
        tracing::warn!(
            "{recovered} refunds were left in flight by a process whose claim lapsed; they will be queried"
        );
    }
    Ok(recovered)
}

/// Serves a claim or a renewal at once, in a transaction of its own; a
/// change is given back, to be committed in a group.
fn serve(journal: &mut Journal, claims: &Claims, request: Request) -> Option<(Op, Done)> {
    match request {
        Request::Change { op, done } => return Some((op, done)),
        Request::Claim { ids, done } => {
            let _ = done.send(journal.claim(&claims.owner, &ids, claims.lease));
        }
        Request::Renew { done } => {
            let _ = done.send(renew_and_recover(journal, claims));
        }
        Request::Recover { done } => {
            let _ = done.send(recover(journal, claims));
        }
    }
    None
}
