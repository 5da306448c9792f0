//! The PostgreSQL store's operations of a second person's approval
//! ([`crate::journal::approval`] holds the rule; `sqlite/approvals.rs` is
//! the same on SQLite, and these queries mean what its do): a held batch
//! carries `batches.approval_over_fen`, `recorded_by` and
//! `recorded_by_name`; approvals and refusals are appended to `approvals`
//! (append-only by trigger; one approval a batch by a unique index) with an
//! event on each refund the batch holds back, in one transaction. Journal
//! time is the server's clock, so two machines' clocks cannot disagree about
//! the order of an approval.
//!
//! The person is the role PostgreSQL authenticated: `session_user`, not
//! `current_user`. A login may `SET ROLE` to any role it is a member of (in
//! a session, or at connection through `options=-c role=…` in the URL);
//! that changes `current_user`, never `session_user` (only a superuser may
//! change that). With `current_user`, alice, a member of
//! `bulkrefund_operator`, could record a batch as alice and approve it as
//! `bulkrefund_operator`: two keys, one person. With `session_user` both are
//! alice, whatever role she sets.

use std::cell::RefCell;

use postgres::error::SqlState;
use postgres::Client;

use super::error::PgError;
use super::store::PgJournal;
use crate::journal::approval::{
    ApprovalRecord, ApprovalStore, BatchApproval, Hold, Person, Verdict, WaitingBatch,
};
use crate::journal::money_rules::MAY_LEAVE;
use crate::journal::state::sql_list;
use crate::journal::JournalError;
use crate::money::Fen;

/// A batch `b` that waits: held when recorded, and no approval since.
const WAITS: &str = "b.approval_over_fen IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM approvals a WHERE a.batch_id = b.id AND a.verdict = 'approved')";

/// Journal time on the server's clock, as the journal writes it
/// (`2026-12-01T00:00:00.000Z`): the transaction's start, one value for
/// every row a transaction writes.
const NOW_TEXT: &str = r#"to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#;

const RECORD: &str = "SELECT batch_id, at, person, verdict, why, person_name FROM approvals";

/// The refunds a batch's rows name that may still leave (what it holds back).
fn held_by(batch: &str) -> String {
    format!(
        "SELECT DISTINCT f.id FROM batch_rows r JOIN refunds f ON f.id = r.refund
         WHERE r.batch_id = {batch} AND f.state IN {}",
        sql_list(&MAY_LEAVE)
    )
}

/// Two BIGINT columns: how many refunds `batch` holds back, and their money.
fn figures(batch: &str) -> String {
    let held = held_by(batch);
    format!(
        "(SELECT COUNT(*) FROM refunds f WHERE f.id IN ({held}))::bigint,
         (SELECT COALESCE(SUM(f.amount_fen), 0) FROM refunds f WHERE f.id IN ({held}))::bigint"
    )
}

/// A PostgreSQL journal's approval operations. The trait's operations take
/// `&self` (as the whole journal's do) and the driver's connection wants
/// `&mut`: this holds the journal's connection, borrowed for as long as the
/// approval flow runs, one statement at a time.
pub struct PgApprovals<'a> {
    client: RefCell<&'a mut Client>,
}

impl PgJournal {
    /// This journal's approval operations ([`ApprovalStore`]).
    pub fn approvals(&mut self) -> PgApprovals<'_> {
        PgApprovals {
            client: RefCell::new(&mut self.client),
        }
    }
}

/// A driver error as the journal reports it, with no secret in it: what was
/// being done and the server's words.
fn failed(doing: &str, error: &postgres::Error) -> JournalError {
    failed_as(doing, error, "<your role>")
}

/// [`failed`], where a missing privilege also says what `role` is to ask
/// for: the grants check at open saw them all, so one was revoked since.
fn failed_as(doing: &str, error: &postgres::Error, role: &str) -> JournalError {
    let said = PgError::query(doing, error).to_string();
    if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        return JournalError::Store(format!(
            "{said}. The role lacks a privilege the journal needs; ask the journal's \
             administrator to run: GRANT {} TO {role};",
            super::grants::OPERATOR_ROLE
        ));
    }
    JournalError::Store(said)
}

fn unsigned(value: i64, what: &str) -> Result<u64, JournalError> {
    u64::try_from(value)
        .map_err(|_| JournalError::Inconsistent(format!("{what} is negative ({value})")))
}

fn read_record(row: &postgres::Row) -> Result<ApprovalRecord, JournalError> {
    let verdict: String = row.get(3);
    Ok(ApprovalRecord {
        batch: row.get(0),
        at: row.get(1),
        person: Person {
            key: row.get(2),
            name: row.get(5),
        },
        verdict: Verdict::parse(&verdict).ok_or_else(|| {
            JournalError::Inconsistent(format!("an approval has no verdict {verdict:?}"))
        })?,
        why: row.get(4),
    })
}

impl ApprovalStore for PgApprovals<'_> {
    type Error = JournalError;

    /// `session_user`, as both key and name (see the module's paragraph).
    fn person(&self) -> Result<Person, JournalError> {
        let mut client = self.client.borrow_mut();
        let row = client
            .query_one("SELECT session_user::text", &[])
            .map_err(|e| failed("asking who is logged in", &e))?;
        Ok(Person::keyed(&row.get::<_, String>(0)))
    }

    fn approval_state(&self, batch: i64) -> Result<Option<BatchApproval>, JournalError> {
        let doing = format!("reading batch {batch}'s approval");
        let sql = format!(
            "SELECT b.approval_over_fen, COALESCE(b.recorded_by, ''),
                COALESCE(b.recorded_by_name, ''), b.file_name, b.started_at, {figures}
             FROM batches b WHERE b.id = $1",
            figures = figures("b.id")
        );
        let mut client = self.client.borrow_mut();
        let found = client
            .query_opt(&sql, &[&batch])
            .map_err(|e| failed(&doing, &e))?;
        let Some(row) = found else {
            return Ok(None);
        };
        let over: Option<i64> = row.get(0);
        let recorded_by = Person {
            key: row.get(1),
            name: row.get(2),
        };
        let approved = client
            .query_opt(
                &format!(
                    "{RECORD} WHERE batch_id = $1 AND verdict = 'approved' ORDER BY id LIMIT 1"
                ),
                &[&batch],
            )
            .map_err(|e| failed(&doing, &e))?
            .map(|row| read_record(&row))
            .transpose()?;
        Ok(Some(BatchApproval {
            batch,
            hold: over
                .map(|fen| -> Result<Hold, JournalError> {
                    Ok(Hold {
                        over_fen: Fen(unsigned(fen, "approval_over_fen")?),
                        recorded_by,
                    })
                })
                .transpose()?,
            approved,
            file_name: row.get(3),
            recorded_at: row.get(4),
            refunds: unsigned(row.get(5), "a count of refunds")?,
            fen: Fen(unsigned(row.get(6), "a sum of money")?),
        }))
    }

    /// A second approval of a batch (two approvers at once: the one-approval
    /// index lets one in) is refused with nothing written, as SQLite's
    /// UNIQUE index refuses it there; `approve` says "approved already" to
    /// the one who reads the batch afterwards.
    fn record_approval(
        &self,
        batch: i64,
        person: &Person,
        verdict: Verdict,
        why: &str,
    ) -> Result<ApprovalRecord, JournalError> {
        let doing = format!("recording that batch {batch} was {verdict} by {person}");
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(|e| failed_as(&doing, &e, &person.key))?;
        let inserted = tx.query_one(
            &format!(
                "INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
                 VALUES ($1, {NOW_TEXT}, $2, $3, $4, $5) RETURNING at"
            ),
            &[&batch, &person.key, &person.name, &verdict.as_str(), &why],
        );
        let at: String = match inserted {
            Ok(row) => row.get(0),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(JournalError::Store(format!(
                    "batch {batch} was approved already (one approval a batch): nothing \
                     was recorded for {person}"
                )))
            }
            Err(e) => return Err(failed_as(&doing, &e, &person.key)),
        };
        // The audit trail of each refund it holds back says so too (`show`).
        tx.execute(
            &format!(
                "INSERT INTO events (refund, at, from_state, to_state, why)
                 SELECT f.id, $1, f.state, f.state, $2 FROM refunds f WHERE f.id IN ({})",
                held_by("$3")
            ),
            &[
                &at,
                &format!("batch {batch} {verdict} by {person}: {why}"),
                &batch,
            ],
        )
        .map_err(|e| failed_as(&doing, &e, &person.key))?;
        tx.commit()
            .map_err(|e| failed_as(&doing, &e, &person.key))?;
        Ok(ApprovalRecord {
            batch,
            at,
            person: person.clone(),
            verdict,
            why: why.to_owned(),
        })
    }

    fn approvals_of(&self, batch: i64) -> Result<Vec<ApprovalRecord>, JournalError> {
        let doing = format!("reading batch {batch}'s approvals");
        let rows = self
            .client
            .borrow_mut()
            .query(
                &format!("{RECORD} WHERE batch_id = $1 ORDER BY id"),
                &[&batch],
            )
            .map_err(|e| failed(&doing, &e))?;
        rows.iter().map(read_record).collect()
    }

    fn batches_waiting(&self) -> Result<Vec<WaitingBatch>, JournalError> {
        let sql = format!(
            "SELECT b.id, b.approval_over_fen, COALESCE(b.recorded_by, ''),
                COALESCE(b.recorded_by_name, ''), {figures}
             FROM batches b WHERE {WAITS} ORDER BY b.id",
            figures = figures("b.id")
        );
        let rows = self
            .client
            .borrow_mut()
            .query(&sql, &[])
            .map_err(|e| failed("reading the batches waiting for approval", &e))?;
        rows.iter()
            .map(|row| {
                Ok(WaitingBatch {
                    batch: row.get(0),
                    hold: Hold {
                        over_fen: Fen(unsigned(row.get(1), "approval_over_fen")?),
                        recorded_by: Person {
                            key: row.get(2),
                            name: row.get(3),
                        },
                    },
                    refunds: unsigned(row.get(4), "a count of refunds")?,
                    fen: Fen(unsigned(row.get(5), "a sum of money")?),
                })
            })
            .collect()
    }
}
