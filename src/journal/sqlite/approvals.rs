//! The SQLite store's operations of a second person's approval
//! ([`crate::journal::approval`] holds the rule): a held batch is marked in
//! the import's transaction (`batches.approval_over_fen`, `recorded_by` and
//! `recorded_by_name`), approvals and refusals are appended to `approvals`
//! (append-only, like `events`) with an event on each refund the batch holds
//! back, and [`held_refunds_sql`] names the refunds no scheduler may submit
//! meanwhile (due.rs still queries and polls them). The person is the OS user
//! of the process: its real uid is the key compared (`uid:1000`), its passwd
//! entry's name is only shown (one uid has other names in a container).
//! Anyone who can write the journal's file can change what it says, so it is
//! weaker than PostgreSQL's authenticated role (README, "Approval").

use rusqlite::{params, Connection, OptionalExtension};

use super::outgoing::MAY_LEAVE;
use super::state::sql_list;
use super::{now_text, JournalError, SqliteJournal};
use crate::journal::approval::{
    ApprovalRecord, ApprovalStore, BatchApproval, Hold, Person, Verdict, WaitingBatch,
};
use crate::money::Fen;

/// A batch `b` that waits: held when recorded, and no approval since.
const WAITS: &str = "b.approval_over_fen IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM approvals a WHERE a.batch_id = b.id AND a.verdict = 'approved')";

/// The ids of the refunds held back by a waiting batch: every refund a row
/// of it names (its own, and earlier ones it would have sent with them, whose
/// money counted towards its limit). The scheduler sends none of them while
/// they wait (see [`HELD_FROM_SENDING`]); it still queries and polls them:
/// an earlier batch's refund with an outcome to learn is settled meanwhile.
pub(super) fn held_refunds_sql() -> String {
    format!(
        "SELECT r.refund FROM batch_rows r JOIN batches b ON b.id = r.batch_id
         WHERE r.refund IS NOT NULL AND {WAITS}"
    )
}

/// The states a held refund is not sent from: the ones a step would submit
/// in (a query moves an unknown refund the gateway never created to pending,
/// where this stops it). Queries and polls move no money, and go on.
pub(super) const HELD_FROM_SENDING: &str = "('pending', 'retry_wait')";

/// The refunds a batch's rows name that may still leave (what it holds back).
fn held_by(batch: &str) -> String {
    format!(
        "SELECT DISTINCT f.id FROM batch_rows r JOIN refunds f ON f.id = r.refund
         WHERE r.batch_id = {batch} AND f.state IN {}",
        sql_list(&MAY_LEAVE)
    )
}

/// Two columns: how many refunds `batch` holds back, and their money.
fn figures(batch: &str) -> String {
    let held = held_by(batch);
    format!(
        "(SELECT COUNT(*) FROM refunds f WHERE f.id IN ({held})),
         (SELECT COALESCE(SUM(f.amount_fen), 0) FROM refunds f WHERE f.id IN ({held}))"
    )
}

/// Marks a batch, inside the import's transaction, as waiting for approval.
pub(super) fn hold(tx: &Connection, batch_id: i64, hold: &Hold) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE batches SET approval_over_fen = ?2, recorded_by = ?3, recorded_by_name = ?4
         WHERE id = ?1",
        params![
            batch_id,
            hold.over_fen.0 as i64,
            hold.recorded_by.key,
            hold.recorded_by.name
        ],
    )?;
    Ok(())
}

fn read_record(row: &rusqlite::Row) -> rusqlite::Result<ApprovalRecord> {
    let verdict: String = row.get(3)?;
    Ok(ApprovalRecord {
        batch: row.get(0)?,
        at: row.get(1)?,
        person: Person {
            key: row.get(2)?,
            name: row.get(5)?,
        },
        verdict: Verdict::parse(&verdict).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("no verdict {verdict:?}").into(),
            )
        })?,
        why: row.get(4)?,
    })
}

const RECORD: &str = "SELECT batch_id, at, person, verdict, why, person_name FROM approvals";

/// The OS user this process runs as: its real uid (never `$USER`, which
/// anyone sets) as the key, `uid:1000`, named by its passwd entry (the key
/// again when it has none).
pub fn os_user() -> Person {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers
    // given, and its result points into them only when it returns 0.
    let uid = unsafe { libc::getuid() };
    let mut size = 1024;
    while size <= 1 << 20 {
        let mut buffer = vec![0 as libc::c_char; size];
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let code =
            unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), size, &mut found) };
        if code == libc::ERANGE {
            size *= 4;
            continue;
        }
        if code == 0 && !found.is_null() && !entry.pw_name.is_null() {
            // SAFETY: pw_name points to a NUL-terminated string in `buffer`.
            let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
            return Person {
                key: uid_key(uid),
                name: name.to_string_lossy().into_owned(),
            };
        }
        break;
    }
    Person::keyed(&uid_key(uid))
}

/// The key of an OS user: `uid:1000`.
fn uid_key(uid: libc::uid_t) -> String {
    format!("uid:{uid}")
}

impl ApprovalStore for SqliteJournal {
    type Error = JournalError;

    fn person(&self) -> Result<Person, JournalError> {
        Ok(os_user())
    }

    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError> {
        let sql = format!(
            "SELECT b.approval_over_fen, COALESCE(b.recorded_by, ''),
                COALESCE(b.recorded_by_name, ''), b.file_name, b.started_at, {figures}
             FROM batches b WHERE b.id = ?1",
            figures = figures("b.id")
        );
        let found = self
            .conn
            .query_row(&sql, [batch], |row| {
                let over: Option<i64> = row.get(0)?;
                let recorded_by = Person {
                    key: row.get(1)?,
                    name: row.get(2)?,
                };
                Ok(BatchApproval {
                    batch,
                    hold: over.map(|fen| Hold {
                        over_fen: Fen(fen as u64),
                        recorded_by,
                    }),
                    approved: None,
                    file_name: row.get(3)?,
                    recorded_at: row.get(4)?,
                    refunds: row.get(5)?,
                    fen: Fen(row.get::<_, i64>(6)? as u64),
                })
            })
            .optional()?;
        let Some(mut state) = found else {
            return Ok(None);
        };
        let approved = self
            .conn
            .query_row(
                &format!(
                    "{RECORD} WHERE batch_id = ?1 AND verdict = 'approved' ORDER BY id LIMIT 1"
                ),
                [batch],
                read_record,
            )
            .optional()?;
        state.approved = approved;
        Ok(Some(state))
    }

    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        let at = now_text();
        tx.execute(
            "INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![batch, at, person.key, person.name, verdict.as_str(), why],
        )?;
        // The audit trail of each refund it holds back says so too (`show`).
        tx.execute(
            &format!(
                "INSERT INTO events (refund, at, from_state, to_state, why)
                 SELECT f.id, ?1, f.state, f.state, ?2 FROM refunds f WHERE f.id IN ({})",
                held_by("?3")
            ),
            params![
                at,
                format!("batch {batch} {verdict} by {person}: {why}"),
                batch
            ],
        )?;
        tx.commit()?;
        Ok(ApprovalRecord {
            batch,
            at,
            person: person.clone(),
            verdict,
            why: why.to_owned(),
        })
    }

    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{RECORD} WHERE batch_id = ?1 ORDER BY id"))?;
        let records = stmt.query_map([batch], read_record)?;
        Ok(records.collect::<rusqlite::Result<_>>()?)
    }

    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError> {
        let sql = format!(
            "SELECT b.id, b.approval_over_fen, COALESCE(b.recorded_by, ''),
                COALESCE(b.recorded_by_name, ''), {figures}
             FROM batches b WHERE {WAITS} ORDER BY b.id",
            figures = figures("b.id")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |row| {
            Ok(WaitingBatch {
                batch: row.get(0)?,
                hold: Hold {
                    over_fen: Fen(row.get::<_, i64>(1)? as u64),
                    recorded_by: Person {
                        key: row.get(2)?,
                        name: row.get(3)?,
                    },
                },
                refunds: row.get(4)?,
                fen: Fen(row.get::<_, i64>(5)? as u64),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{CheckedRow, RefundRow};
    use crate::gateway::GatewayKind;
    use crate::journal::approval::{approve, ApproveError};
    use crate::journal::import::{import_deciding, BatchMeta};
    use crate::journal::{Journal, Scope, State};

    fn meta(name: &str) -> BatchMeta {
        BatchMeta {
            file_name: name.into(),
            file_hash: name.into(),
            profile: "leshua".into(),
            gateway: GatewayKind::Leshua,
            merchant_id: "m".into(),
            header: vec![],
            input_path: None,
            results_path: None,
            results_bom: false,
        }
    }

    fn row(line: u64, id: &str, fen: u64) -> Result<CheckedRow, crate::batch::FileError> {
        Ok(CheckedRow::Valid {
            line,
            cells: vec![id.into()],
            refund: RefundRow {
                refund_id: id.into(),
                fingerprint: id.into(),
                amount: Fen(fen),
                order_key: String::new(),
                fields: Default::default(),
            },
        })
    }

    /// Records a batch of `ids` (1.00 yuan each), held for `by` when `hold`.
    fn record(journal: &mut Journal, name: &str, ids: &[&str], held: Option<&str>) -> i64 {
        let rows: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| row(i as u64 + 2, id, 100))
            .collect();
        let hold = held.map(|by| Hold {
            over_fen: Fen(50),
            recorded_by: person(by),
        });
        let tally = import_deciding(
            journal,
            &meta(name),
            rows.into_iter(),
            || false,
            |_| {},
            |_| Ok(hold),
        )
        .unwrap();
        tally.batch_id.unwrap()
    }

    fn due(journal: &Journal) -> Vec<String> {
        let reader = journal.due_reader(&Scope::All, false).unwrap();
        let page = reader.page(0).unwrap();
        page.into_iter().map(|d| d.record.refund_id).collect()
    }

    /// alice and ubuntu are uid 1000 (on the host, in a container); bob is
    /// uid 1001, carol uid 1002.
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

    /// The journal, as a store that says `person` is asking.
    struct As<'a>(&'a Journal, &'a str);

    impl ApprovalStore for As<'_> {
        type Error = JournalError;
        fn person(&self) -> Result<Person, JournalError> {
            Ok(person(self.1))
        }
        fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError> {
            self.0.approval_state(batch)
        }
        fn record_approval(
            &self,
            batch: i64,
            person: &Person,
            verdict: Verdict,
            why: &str,
        ) -> Result<ApprovalRecord, JournalError> {
            self.0.record_approval(batch, person, verdict, why)
        }
        fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError> {
            self.0.approvals_of(batch)
        }
        fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError> {
            self.0.batches_waiting()
        }
    }

    #[test]
    fn a_held_batch_is_not_due_until_a_second_person_approves_it() {
        // The scheduler reads through a connection of its own: a file.
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let free = record(&mut journal, "free.csv", &["F1"], None);
        let held = record(&mut journal, "held.csv", &["H1", "H2"], Some("alice"));
        assert_eq!(
            due(&journal),
            ["F1"],
            "only the batch that needs no approval"
        );
        let waiting = journal.batches_waiting().unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].batch, waiting[0].refunds, waiting[0].fen),
            (held, 2, Fen(200))
        );
        assert_eq!(waiting[0].hold.recorded_by, person("alice"));
        assert!(journal.batch_waiting(free).unwrap().is_none());

        let refused = approve(&As(&journal, "alice"), held, |_| ()).unwrap_err();
        assert!(matches!(refused, ApproveError::SelfApproval { .. }));
        // The same uid under another name (a container's passwd) is refused too.
        let refused = approve(&As(&journal, "ubuntu"), held, |_| ()).unwrap_err();
        assert!(matches!(refused, ApproveError::SelfApproval { .. }));
        assert_eq!(due(&journal), ["F1"], "a refusal releases nothing");
        assert!(matches!(
            approve(&As(&journal, "bob"), free, |_| ()).unwrap_err(),
            ApproveError::NotNeeded(_)
        ));
        assert!(matches!(
            approve(&As(&journal, "bob"), 99, |_| ()).unwrap_err(),
            ApproveError::NoSuchBatch(99)
        ));

        let mut seen = None;
        let approved = approve(&As(&journal, "bob"), held, |state| {
            seen = Some(state.seen("then"))
        })
        .unwrap();
        assert_eq!(
            seen.as_deref(),
            Some(&*format!(
                "batch {held} (held.csv), recorded by alice (uid:1000) at then: 2 refunds, \
                 2.00 yuan to send, over approve_over_yuan = 0.50"
            ))
        );
        assert!(approved.why.contains(": 2 refunds, 2.00 yuan to send"));
        assert_eq!(due(&journal), ["F1", "H1", "H2"]);
        assert!(journal.batches_waiting().unwrap().is_empty());
        assert!(matches!(
            approve(&As(&journal, "carol"), held, |_| ()).unwrap_err(),
            ApproveError::AlreadyApproved { .. }
        ));
        let trail: Vec<(Person, Verdict)> = journal
            .approvals_of(held)
            .unwrap()
            .into_iter()
            .map(|a| (a.person, a.verdict))
            .collect();
        assert_eq!(
            trail,
            [
                (person("alice"), Verdict::Refused),
                (person("ubuntu"), Verdict::Refused),
                (person("bob"), Verdict::Approved)
            ]
        );
        // Each held refund's own trail says so, in its state.
        let h1 = journal.refunds_named("H1").unwrap()[0].id;
        let events = journal.transitions(h1).unwrap();
        let whys: Vec<&str> = events.iter().map(|t| t.why.as_str()).collect();
        assert_eq!(events.len(), 4, "{whys:?}");
        assert!(events[1]
            .why
            .starts_with(&format!("batch {held} refused by alice (uid:1000)")));
        assert!(events[3]
            .why
            .starts_with(&format!("batch {held} approved by bob (uid:1001)")));
        assert_eq!(events[3].to, State::Pending.as_str());
    }

    #[test]
    fn the_trail_is_append_only() {
        let journal = SqliteJournal::open_in_memory().unwrap();
        journal
            .conn
            .execute_batch(
                "INSERT INTO batches (file_name, file_hash, profile, gateway, merchant_id, header, started_at)
                 VALUES ('f', 'h', 'p', 'leshua', 'm', '[]', 't')",
            )
            .unwrap();
        journal
            .record_approval(1, &person("bob"), Verdict::Approved, "ok")
            .unwrap();
        assert!(journal
            .conn
            .execute("UPDATE approvals SET person = 'mallory'", [])
            .is_err());
        assert!(journal.conn.execute("DELETE FROM approvals", []).is_err());
        assert!(
            journal
                .record_approval(1, &person("carol"), Verdict::Approved, "again")
                .is_err(),
            "one approval a batch"
        );
    }

    #[test]
    fn the_person_is_the_os_user_not_user_variable() {
        let me = os_user();
        // The real uid is the key; the passwd entry only names it.
        let uid = unsafe { libc::getuid() };
        assert_eq!(me.key, format!("uid:{uid}"));
        assert!(!me.name.is_empty());
        if uid == 0 {
            assert_eq!(me.name, "root");
        }
    }

    /// An earlier batch's refund with an outcome to learn, named by a held
    /// batch, is still queried; the held batch's never-sent refund is not
    /// sent, nor is the earlier one once a query finds it never created.
    #[test]
    fn a_held_batch_stops_sends_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        // The states a run would have left, written beside the handle.
        let beside = Connection::open(dir.path().join("j.db")).unwrap();
        record(&mut journal, "first.csv", &["U1", "P1"], None);
        beside
            .execute_batch(
                "UPDATE refunds SET state = 'unknown' WHERE refund_id = 'U1';
                 UPDATE refunds SET state = 'processing' WHERE refund_id = 'P1';",
            )
            .unwrap();
        record(
            &mut journal,
            "again.csv",
            &["U1", "P1", "N1"],
            Some("alice"),
        );
        assert_eq!(
            due(&journal),
            ["U1"],
            "queried, though the held batch names it"
        );
        let reader = journal.due_reader(&Scope::All, false).unwrap();
        let polls: Vec<String> = reader
            .polls(10)
            .unwrap()
            .into_iter()
            .map(|d| d.record.refund_id)
            .collect();
        assert_eq!(polls, ["P1"], "polled, though the held batch names it");
        assert!(reader.next_due(true).unwrap().is_some());
        // A query finds U1 never created: pending, and held from sending now.
        beside
            .execute_batch("UPDATE refunds SET state = 'pending' WHERE refund_id = 'U1'")
            .unwrap();
        assert!(reader.page(0).unwrap().is_empty(), "not sent while held");
        assert_eq!(reader.next_due(false).unwrap(), None, "nothing to wait for");
    }
}
