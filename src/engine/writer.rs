//! The journal writer: one thread owns the journal's connection and commits the
//! engine's changes in groups (many per transaction). Every change waits only
//! for its own commit: a submit's intent is durable before its request leaves.
//! A refused change (a stale state, an illegal transition) is refused before it
//! writes anything, so it fails alone and never takes its group down with it.

use std::sync::mpsc;
use std::thread;

use tokio::sync::oneshot;

use crate::journal::{self, AttemptRecord, Change, Journal, JournalError, State};

/// The most changes committed in one transaction.
const GROUP: usize = 2048;
/// A group smaller than this waits [`LINGER`] for more changes before it
/// commits: every commit writes each page it dirtied to the WAL, so a few
/// larger groups cost far less than many small ones. An intent waits at most
/// this much longer for its commit.
const SMALL_GROUP: usize = 32;
const LINGER: std::time::Duration = std::time::Duration::from_micros(250);

/// What a refund's attempt leaves in the journal.
#[derive(Debug)]
pub enum Update {
    /// A new state (with its event).
    Transition { from: State, change: Change },
    /// Same state, later (`next_attempt_at`), with a note of why.
    Reschedule {
        next_attempt_at: i64,
        note: Option<(String, String)>,
        gateway_refund_id: Option<String>,
    },
}

enum Op {
    /// The attempt and what it changed.
    Settle {
        refund: i64,
        attempt: Box<AttemptRecord>,
        update: Update,
    },
    /// A state change with no attempt behind it.
    Transition {
        refund: i64,
        from: State,
        change: Change,
    },
}

struct Request {
    op: Op,
    done: oneshot::Sender<Result<(), String>>,
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
    async fn submit(&self, op: Op) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request { op, done })
            .map_err(|_| "the journal writer has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the journal writer has stopped".to_owned())?
    }

    /// `from` → in_flight, committed before the submit leaves.
    pub async fn intent(&self, refund: i64, from: State) -> Result<(), String> {
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
    ) -> Result<(), String> {
        self.submit(Op::Settle {
            refund,
            attempt: Box::new(attempt),
            update,
        })
        .await
    }

    pub async fn transition(&self, refund: i64, from: State, change: Change) -> Result<(), String> {
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
        let results = commit_group(&mut journal, &group);
        for (request, result) in group.into_iter().zip(results) {
            let _ = request.done.send(result);
        }
    }
    journal
}

fn commit_group(journal: &mut Journal, group: &[Request]) -> Vec<Result<(), String>> {
    let conn = journal.conn_mut();
    let fail_all = |why: String| group.iter().map(|_| Err(why.clone())).collect();
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => return fail_all(format!("journal: {e}")),
    };
    let mut results = Vec::with_capacity(group.len());
    for request in group {
        match apply(&tx, &request.op) {
            // A refused change (stale state, illegal transition) is checked
            // before anything is written: it fails alone.
            Err(
                e @ (JournalError::Stale { .. }
                | JournalError::Illegal { .. }
                | JournalError::Missing(_)),
            ) => results.push(Err(e.to_string())),
            // Anything else may have written half a change: the group is rolled back.
            Err(e) => return fail_all(format!("journal: {e}")),
            Ok(()) => results.push(Ok(())),
        }
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => fail_all(format!("journal commit failed: {e}")),
    }
}

fn apply(conn: &rusqlite::Connection, op: &Op) -> Result<(), JournalError> {
    match op {
        Op::Settle {
            refund,
            attempt,
            update,
        } => match update {
            Update::Transition { from, change } => {
                journal::settle(conn, *refund, *from, change, attempt)
            }
            Update::Reschedule {
                next_attempt_at,
                note,
                gateway_refund_id,
            } => journal::reschedule(
                conn,
                *refund,
                *next_attempt_at,
                note.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
                gateway_refund_id.as_deref(),
                attempt,
            ),
        },
        Op::Transition {
            refund,
            from,
            change,
        } => journal::apply(conn, *refund, *from, change),
    }
}
