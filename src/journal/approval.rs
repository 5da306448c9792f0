//! A second person's approval of a batch (issue 21, item 4), whatever stores
//! the journal: which batch must wait (its money to send over the profile's
//! `approve_over_yuan`), who may approve it (anyone but the person who
//! recorded it), and the flow of `bulkrefund approve` over a store's few named
//! operations ([`ApprovalStore`]). No SQL here: the SQLite store implements
//! the operations in `sqlite/approvals.rs`, and keeps a waiting batch's
//! refunds out of what is due there; a PostgreSQL store implements the same
//! ones, with the database role as the person.

use crate::money::Fen;

/// Who asks, as a store knows it: the `key` the rule compares (SQLite: the
/// uid, `uid:1000`; PostgreSQL: the role) and the `name` people read (the
/// passwd name; the role). Two names of one key are one person: uid 1000 is
/// "alice" on the host and "ubuntu" in a container, and may not approve what
/// it recorded under either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub key: String,
    pub name: String,
}

impl Person {
    /// One that is named by its key (a PostgreSQL role, a uid without a name).
    pub fn keyed(key: &str) -> Person {
        Person {
            key: key.to_owned(),
            name: key.to_owned(),
        }
    }

    /// The same person: the same key, whatever the names say.
    pub fn is(&self, other: &Person) -> bool {
        self.key == other.key
    }
}

/// "alice (uid:1000)": the name, and the key when it says more.
impl std::fmt::Display for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name == self.key {
            f.write_str(&self.name)
        } else {
            write!(f, "{} ({})", self.name, self.key)
        }
    }
}

/// What a person decided about a batch: the `approvals.verdict` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    /// Refused by the rule: the person asking recorded the batch.
    Refused,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Verdict> {
        match text {
            "approved" => Some(Verdict::Approved),
            "refused" => Some(Verdict::Refused),
            _ => None,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a batch recorded over its profile's `approve_over_yuan` carries:
/// the limit it was over and who recorded it (the one person who may not
/// approve it, whatever name it asks under). Written in the import's own transaction, so a batch is never
/// recorded without it and sent by a later `resume`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub over_fen: Fen,
    pub recorded_by: Person,
}

/// The hold a batch gets, if any: `to_send` is the money the batch would
/// send, the very figure `max_batch_yuan` is checked against (commands/caps.rs);
/// over `limit` (not at it), the batch waits. `--allow-over-limit` has no say.
pub fn hold_for(limit: Option<Fen>, to_send: Fen, person: &Person) -> Option<Hold> {
    let limit = limit?;
    (to_send > limit).then(|| Hold {
        over_fen: limit,
        recorded_by: person.clone(),
    })
}

/// One approval or refusal, as the audit trail keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub batch: i64,
    /// Journal time (RFC 3339, UTC).
    pub at: String,
    pub person: Person,
    pub verdict: Verdict,
    pub why: String,
}

/// What a store knows of one batch's approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchApproval {
    pub batch: i64,
    /// The hold it was recorded with; `None`: it needs no approval.
    pub hold: Option<Hold>,
    /// The approval that released it, if one did.
    pub approved: Option<ApprovalRecord>,
    /// Its file's name and when it was recorded (journal time).
    pub file_name: String,
    pub recorded_at: String,
    /// What approving it lets leave: the refunds its rows name that may
    /// still be sent, and their money (the sum its hold was decided on,
    /// counted the same way).
    pub refunds: u64,
    pub fen: Fen,
}

impl BatchApproval {
    /// Waiting: held and not yet approved. Nothing of it is sent meanwhile.
    pub fn waits(&self) -> bool {
        self.hold.is_some() && self.approved.is_none()
    }

    /// What the approver is shown, and the approval's `why` keeps: "batch 3
    /// (month-end.csv), recorded by alice (uid:1000) at <when>: 2 refunds,
    /// 30.00 yuan to send, over approve_over_yuan = 25.00". `when` shows
    /// the journal time `recorded_at`.
    pub fn seen(&self, when: &str) -> String {
        let (by, over) = match &self.hold {
            Some(hold) => (hold.recorded_by.to_string(), hold.over_fen.grouped()),
            None => ("?".to_owned(), "-".to_owned()),
        };
        format!(
            "batch {} ({}), recorded by {by} at {when}: {} refunds, {} yuan to send, over \
             approve_over_yuan = {over}",
            self.batch,
            self.file_name,
            self.refunds,
            self.fen.grouped()
        )
    }
}

/// A batch that waits, as `status` and `run` say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingBatch {
    pub batch: i64,
    pub hold: Hold,
    /// Its refunds held back, and their money.
    pub refunds: u64,
    pub fen: Fen,
}

impl WaitingBatch {
    /// "batch 3 waits for approval by someone other than alice (...)": what
    /// waits, why, and what to run.
    pub fn describe(&self) -> String {
        format!(
            "batch {} waits for approval by someone other than {}: {} refunds, {} yuan, over \
             approve_over_yuan = {}; nothing of it is sent until then. Another person runs \
             `bulkrefund approve --batch {}`, then `bulkrefund resume --batch {}` sends it \
             (with --allow-over-limit if it is over max_batch_yuan or max_refund_yuan)",
            self.batch,
            self.hold.recorded_by,
            self.refunds,
            self.fen.grouped(),
            self.hold.over_fen.grouped(),
            self.batch,
            self.batch
        )
    }
}

/// What the rule says about `person` approving a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ruling {
    /// A second person: the approval is recorded and the batch is released.
    Approve,
    /// The person who recorded it: refused, and the refusal recorded.
    SelfApproval,
    /// Not over its limit when recorded: there is nothing to approve.
    NotNeeded,
    /// Approved already (by this record).
    AlreadyApproved(ApprovalRecord),
}

/// The rule: only a person other than the one who recorded a held batch
/// may approve it, once.
pub fn rule(state: &BatchApproval, person: &Person) -> Ruling {
    match (&state.hold, &state.approved) {
        (None, _) => Ruling::NotNeeded,
        (Some(_), Some(approved)) => Ruling::AlreadyApproved(approved.clone()),
        (Some(hold), None) if hold.recorded_by.is(person) => Ruling::SelfApproval,
        (Some(_), None) => Ruling::Approve,
    }
}

/// The named operations a journal store gives the approval flow.
pub trait ApprovalStore {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Who is asking, as this store knows it: the key the rule compares and
    /// the name shown (SQLite: the real uid, `uid:1000`, named by its passwd
    /// entry; PostgreSQL: the role it authenticated, `session_user`, as both).
    fn person(&self) -> Result<Person, Self::Error>;
    /// What the store knows of `batch`'s approval; `None`: no such batch.
    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, Self::Error>;
    /// Appends an approval or a refusal to the audit trail (and an event to
    /// each refund the batch holds back), in one transaction.
    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, Self::Error>;
    /// Every approval and refusal of `batch`, oldest first.
    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, Self::Error>;
    /// The batches that wait, in batch order.
    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, Self::Error>;
}

/// Why `approve` did not release the batch. Every one exits 2: nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError<E: std::error::Error + 'static> {
    #[error("There is no batch {0} in the journal; `bulkrefund status` lists them")]
    NoSuchBatch(i64),
    #[error("batch {0} needs no approval: it was not over its profile's approve_over_yuan when recorded, and `run` or `resume` sends it")]
    NotNeeded(i64),
    #[error("batch {batch} was approved already, by {} at {}: `bulkrefund resume --batch {batch}` sends it", .by.person, .by.at)]
    AlreadyApproved { batch: i64, by: ApprovalRecord },
    #[error("refused: {person} recorded batch {batch}{}, and a batch over approve_over_yuan needs a second person's approval. The refusal is recorded; someone other than {person} must run `bulkrefund approve --batch {batch}`", under_another_name(.person, .recorded_by))]
    SelfApproval {
        batch: i64,
        person: Person,
        recorded_by: Person,
    },
    #[error(transparent)]
    Store(E),
}

/// " (as alice (uid:1000))" when the person asking recorded the batch under
/// another name (the same uid in a container); nothing when it is the same.
fn under_another_name(person: &Person, recorded_by: &Person) -> String {
    if person.name == recorded_by.name {
        String::new()
    } else {
        format!(" (as {recorded_by})")
    }
}

/// `bulkrefund approve --batch N`: the person the store names approves
/// `batch`, or is refused (and the refusal recorded) when it is the person
/// who recorded it. Before an approval is recorded, `present` is shown what
/// is approved; the approval's `why` keeps that (in journal time).
pub fn approve<S: ApprovalStore>(
    store: &S,
    batch: i64,
    present: impl FnOnce(&BatchApproval),
) -> Result<ApprovalRecord, ApproveError<S::Error>> {
    let person = store.person().map_err(ApproveError::Store)?;
    let state = store
        .approval_state(batch)
        .map_err(ApproveError::Store)?
        .ok_or(ApproveError::NoSuchBatch(batch))?;
    match rule(&state, &person) {
        Ruling::NotNeeded => Err(ApproveError::NotNeeded(batch)),
        Ruling::AlreadyApproved(by) => Err(ApproveError::AlreadyApproved { batch, by }),
        Ruling::SelfApproval => {
            let recorded_by = state.hold.map(|h| h.recorded_by).unwrap_or(person.clone());
            let why = format!("{person} recorded this batch: it needs a second person");
            store
                .record_approval(batch, &person, Verdict::Refused, &why)
                .map_err(ApproveError::Store)?;
            Err(ApproveError::SelfApproval {
                batch,
                person,
                recorded_by,
            })
        }
        Ruling::Approve => {
            present(&state);
            let why = format!(
                "a second person approved what it was shown: {}",
                state.seen(&state.recorded_at)
            );
            store
                .record_approval(batch, &person, Verdict::Approved, &why)
                .map_err(ApproveError::Store)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// uid 1000, named `name`; and a uid of its own for each other name.
    fn person(name: &str) -> Person {
        let uid = match name {
            "alice" | "ubuntu" => 1000,
            "bob" => 1001,
            _ => 1002,
        };
        Person {
            key: format!("uid:{uid}"),
            name: name.into(),
        }
    }

    fn held(by: &str) -> Option<Hold> {
        Some(Hold {
            over_fen: Fen(10_000),
            recorded_by: person(by),
        })
    }

    fn state(batch: i64, hold: Option<Hold>) -> BatchApproval {
        BatchApproval {
            batch,
            hold,
            approved: None,
            file_name: "month-end.csv".into(),
            recorded_at: "2026-12-01T00:00:00.000Z".into(),
            refunds: 2,
            fen: Fen(30_000),
        }
    }

    #[test]
    fn a_batch_waits_only_when_over_its_limit() {
        let alice = person("alice");
        assert_eq!(hold_for(None, Fen(u64::MAX), &alice), None);
        assert_eq!(
            hold_for(Some(Fen(10_000)), Fen(10_000), &alice),
            None,
            "at it"
        );
        assert_eq!(
            hold_for(Some(Fen(10_000)), Fen(10_001), &alice),
            held("alice")
        );
    }

    #[test]
    fn only_a_second_person_may_approve_once() {
        let mut state = state(1, held("alice"));
        assert!(state.waits());
        assert_eq!(rule(&state, &person("alice")), Ruling::SelfApproval);
        assert_eq!(rule(&state, &person("bob")), Ruling::Approve);
        let approval = ApprovalRecord {
            batch: 1,
            at: "2026-12-01T00:00:00.000Z".into(),
            person: person("bob"),
            verdict: Verdict::Approved,
            why: String::new(),
        };
        state.approved = Some(approval.clone());
        assert!(!state.waits());
        assert_eq!(
            rule(&state, &person("carol")),
            Ruling::AlreadyApproved(approval)
        );
        state.hold = None;
        state.approved = None;
        assert!(!state.waits());
        assert_eq!(rule(&state, &person("bob")), Ruling::NotNeeded);
    }

    #[test]
    fn the_person_is_compared_by_key_never_by_name() {
        let state = state(1, held("alice"));
        // uid 1000 in a container where its passwd name is "ubuntu", or none.
        assert_eq!(rule(&state, &person("ubuntu")), Ruling::SelfApproval);
        assert_eq!(
            rule(&state, &Person::keyed("uid:1000")),
            Ruling::SelfApproval
        );
        // Another uid that calls itself alice is another person.
        let impostor = Person {
            key: "uid:1001".into(),
            name: "alice".into(),
        };
        assert_eq!(rule(&state, &impostor), Ruling::Approve);
        assert_eq!(person("alice").to_string(), "alice (uid:1000)");
        assert_eq!(Person::keyed("alice").to_string(), "alice");
    }

    /// A store in memory: one batch held, recorded by alice.
    struct Memory {
        person: Person,
        state: Option<BatchApproval>,
        trail: RefCell<Vec<ApprovalRecord>>,
    }

    impl ApprovalStore for Memory {
        type Error = std::io::Error;
        fn person(&self) -> Result<Person, Self::Error> {
            Ok(self.person.clone())
        }
        fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, Self::Error> {
            Ok(self.state.clone().filter(|s| s.batch == batch))
        }
        fn record_approval(
            &self,
            batch: i64,
            person: &Person,
            verdict: Verdict,
            why: &str,
        ) -> Result<ApprovalRecord, Self::Error> {
            let record = ApprovalRecord {
                batch,
                at: "t".into(),
                person: person.clone(),
                verdict,
                why: why.into(),
            };
            self.trail.borrow_mut().push(record.clone());
            Ok(record)
        }
        fn approvals_of(&self, _: i64) -> Result<Vec<ApprovalRecord>, Self::Error> {
            Ok(self.trail.borrow().clone())
        }
        fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, Self::Error> {
            Ok(Vec::new())
        }
    }

    fn store(person: &str) -> Memory {
        Memory {
            person: self::person(person),
            state: Some(state(7, held("alice"))),
            trail: RefCell::new(Vec::new()),
        }
    }

    #[test]
    fn self_approval_is_refused_and_the_refusal_recorded() {
        let ubuntu = store("ubuntu");
        let mut shown = false;
        let refused = approve(&ubuntu, 7, |_| shown = true).unwrap_err();
        assert!(!shown, "nothing to show a refused person");
        assert!(matches!(
            refused,
            ApproveError::SelfApproval { batch: 7, .. }
        ));
        assert!(
            refused
                .to_string()
                .contains("ubuntu (uid:1000) recorded batch 7 (as alice (uid:1000))"),
            "{refused}"
        );
        let trail = ubuntu.trail.borrow();
        assert_eq!(trail.len(), 1);
        assert_eq!(
            (&trail[0].person, trail[0].verdict),
            (&person("ubuntu"), Verdict::Refused)
        );
    }

    #[test]
    fn a_second_person_approves_and_nothing_else_is_recorded() {
        let bob = store("bob");
        let mut shown = None;
        let approved = approve(&bob, 7, |state| shown = Some(state.seen("then"))).unwrap();
        let seen = "batch 7 (month-end.csv), recorded by alice (uid:1000) at then: 2 refunds, \
                    300.00 yuan to send, over approve_over_yuan = 100.00";
        assert_eq!(shown.as_deref(), Some(seen), "shown before it is recorded");
        assert_eq!(
            (&approved.person, approved.verdict),
            (&person("bob"), Verdict::Approved)
        );
        assert!(
            approved.why.ends_with(
                "recorded by alice (uid:1000) at 2026-12-01T00:00:00.000Z: 2 refunds, \
                 300.00 yuan to send, over approve_over_yuan = 100.00"
            ),
            "the audit keeps what was seen: {}",
            approved.why
        );
        assert_eq!(bob.trail.borrow().len(), 1);
        assert!(matches!(
            approve(&bob, 8, |_| ()).unwrap_err(),
            ApproveError::NoSuchBatch(8)
        ));
        assert_eq!(bob.trail.borrow().len(), 1, "no record for a missing batch");
    }
}
