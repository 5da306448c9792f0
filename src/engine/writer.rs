//! The journal writer: one thread owns the journal and commits the engine's
//! changes in groups (many per transaction, [`Journal::commit_group`]). Every
//! change waits only for its own commit: a submit's intent is durable before
//! its request leaves.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

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

struct Request {
    op: Op,
    done: oneshot::Sender<Result<(), JournalError>>,
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
pub fn start(journal: Journal) -> (Writer, WriterThread) {
    let (tx, rx) = mpsc::channel::<Request>();
    let handle = thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || run(journal, rx))
        .expect("a thread can be spawned");
    (Writer { tx }, WriterThread { handle })
}

impl Writer {
    async fn submit(&self, op: Op) -> Result<(), WriteError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request { op, done })
            .map_err(|_| WriteError::Stopped)?;
        Ok(wait.await.map_err(|_| WriteError::Stopped)??)
    }

    /// `from` → in_flight, committed before the submit leaves.
    pub async fn intent(&self, refund: i64, from: State) -> Result<(), WriteError> {
        let change = Change::to(
            State::InFlight,
            "submitting; the answer is not known until it is recorded",
        );
        self.transition(refund, from, change).await
    }

    pub async fn settle(
        &self,
        refund: i64,
        attempt: AttemptRecord,
        update: Update,
    ) -> Result<(), WriteError> {
        self.submit(Op::Settle {
            refund,
            attempt: Box::new(attempt),
            update,
        })
        .await
    }

    pub async fn transition(
        &self,
        refund: i64,
        from: State,
        change: Change,
    ) -> Result<(), WriteError> {
        self.submit(Op::Transition {
            refund,
            from,
            change,
        })
        .await
    }
}

fn run(mut journal: Journal, rx: mpsc::Receiver<Request>) -> Journal {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut lingered = false;
        while group.len() < GROUP {
            match rx.try_recv() {
                Ok(request) => group.push(request),
                Err(mpsc::TryRecvError::Empty) if group.len() < SMALL_GROUP && !lingered => {
                    lingered = true;
                    match rx.recv_timeout(LINGER) {
                        Ok(request) => group.push(request),
                        Err(_) => break,
                    }
                }
                Err(_) => break,
            }
        }
        let results = journal.commit_group(group.iter().map(|request| &request.op));
        for (request, result) in group.into_iter().zip(results) {
            let _ = request.done.send(result);
        }
    }
    journal
}
