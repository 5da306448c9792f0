//! Reads of refunds: one by id, the ones in review, and which refunds a
//! command works on ([`Scope`]).

use rusqlite::OptionalExtension;

use super::{JournalError, SqliteJournal, State};
use crate::gateway::GatewayKind;
pub use crate::journal::records::{RefundRecord, Scope, PARKED};
use crate::money::Fen;

pub(super) const RECORD_COLUMNS: &str =
    "id, refund_id, profile, amount_fen, fields, state, gateway_refund_id, \
     next_attempt_at, attempts, submits, ever_created, error_code, error_message, \
     gateway, merchant_id, batch_id";

/// How many columns [`RECORD_COLUMNS`] selects: a query's own columns follow.
pub(super) const RECORD_COLUMN_COUNT: usize = 16;

/// Reads a row selected with [`RECORD_COLUMNS`].
pub(super) fn read_record(row: &rusqlite::Row) -> rusqlite::Result<RefundRecord> {
    let fields: String = row.get(4)?;
    let state: String = row.get(5)?;
    let gateway: String = row.get(13)?;
    let bad = |i, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    Ok(RefundRecord {
        id: row.get(0)?,
        refund_id: row.get(1)?,
        gateway: GatewayKind::parse(&gateway)
            .ok_or_else(|| bad(13, format!("unknown gateway {gateway:?}")))?,
        merchant_id: row.get(14)?,
        profile: row.get(2)?,
        amount: Fen(row.get::<_, i64>(3)? as u64),
        fields: serde_json::from_str(&fields).map_err(|e| bad(4, e.to_string()))?,
        state: State::parse(&state).ok_or_else(|| bad(5, format!("unknown state {state:?}")))?,
        gateway_refund_id: row.get(6)?,
        next_attempt_at: row.get(7)?,
        attempts: row.get(8)?,
        submits: row.get(9)?,
        ever_created: row.get(10)?,
        error_code: row.get(11)?,
        error_message: row.get(12)?,
        batch: row.get(15)?,
    })
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Scope {
    /// SQL that selects the scope's refund ids.
    pub(super) fn ids_sql(&self) -> String {
        match self {
            Scope::Batches(ids) => format!(
                "SELECT refund FROM batch_rows WHERE refund IS NOT NULL AND batch_id IN ({})",
                id_list(ids)
            ),
            Scope::Refunds(ids) => {
                format!("SELECT id FROM refunds WHERE id IN ({})", id_list(ids))
            }
            Scope::All => "SELECT id FROM refunds".to_owned(),
        }
    }
}

impl SqliteJournal {
    pub fn refund(&self, id: i64) -> Result<RefundRecord, JournalError> {
        self.conn
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM refunds WHERE id = ?1"),
                [id],
                read_record,
            )
            .optional()?
            .ok_or(JournalError::Missing(id))
    }

    /// The refunds in review within `scope`.
    pub fn refunds_in_review(&self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM refunds WHERE state = ?1 AND id IN ({}) ORDER BY id",
            scope.ids_sql()
        ))?;
        let records = stmt.query_map([State::Review.as_str()], read_record)?;
        Ok(records.collect::<rusqlite::Result<_>>()?)
    }

    /// The refunds a batch's rows name, each once, in input order.
    pub fn batch_refunds(&self, batch: i64) -> Result<Vec<i64>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT refund FROM batch_rows WHERE batch_id = ?1 AND refund IS NOT NULL
             GROUP BY refund ORDER BY MIN(line)",
        )?;
        let ids = stmt.query_map([batch], |row| row.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// The profiles that unresolved refunds in `scope` belong to, and abnormal
    /// ones whose hourly query is due.
    pub fn unresolved_profiles(&self, scope: &Scope) -> Result<Vec<String>, JournalError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT DISTINCT profile FROM refunds
             WHERE (state NOT IN {} OR (state = ?1 AND next_attempt_at <= ?2)) AND id IN ({})",
            super::state::sql_list(&super::state::FINAL),
            scope.ids_sql()
        ))?;
        let names = stmt.query_map(
            rusqlite::params![State::Abnormal.as_str(), super::now_ms()],
            |row| row.get(0),
        )?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Batches whose results the work on `scope` may change: every batch whose
    /// rows name an unresolved or abnormal refund in scope (whichever batch brought it in
    /// scope: a refund's end is reported by every batch that lists it), and the
    /// scope's batches not yet finished; for a retry, every batch whose rows
    /// name one of its refunds.
    pub fn affected_batches(&self, scope: &Scope) -> Result<Vec<i64>, JournalError> {
        // An abnormal refund is asked about hourly: whichever run asks, the
        // batches that list it report what it became.
        let finals = super::state::sql_list(&super::state::SETTLED);
        let sql = match scope {
            Scope::Refunds(_) => format!(
                "SELECT DISTINCT batch_id FROM batch_rows WHERE refund IN ({}) ORDER BY 1",
                scope.ids_sql()
            ),
            Scope::Batches(ids) => {
                let filter = id_list(ids);
                format!(
                    "SELECT DISTINCT listing.batch_id FROM batch_rows r JOIN refunds f ON f.id = r.refund
                     JOIN batch_rows listing ON listing.refund = f.id
                     WHERE f.state NOT IN {finals} AND r.batch_id IN ({filter})
                     UNION SELECT id FROM batches WHERE id IN ({filter}) AND finished_at IS NULL ORDER BY 1"
                )
            }
            Scope::All => format!(
                "SELECT DISTINCT r.batch_id FROM batch_rows r JOIN refunds f ON f.id = r.refund
                 WHERE f.state NOT IN {finals}
                 UNION SELECT id FROM batches WHERE finished_at IS NULL ORDER BY 1"
            ),
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let ids = stmt.query_map([], |row| row.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// Test-only: a refund's next request falls due now, as if its wait (an
    /// abnormal refund's hour) had passed.
    #[cfg(test)]
    pub fn make_due(&self, refund: i64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE refunds SET next_attempt_at = 0 WHERE id = ?1",
            [refund],
        )?;
        Ok(())
    }

    /// Refunds in `scope` an earlier run gave up on (still unknown) are taken up again.
    pub fn unpark(&self, scope: &Scope) -> Result<(), JournalError> {
        self.conn.execute(
            &format!(
                "UPDATE refunds SET next_attempt_at = 0 WHERE next_attempt_at >= ?1 AND id IN ({})",
                scope.ids_sql()
            ),
            [PARKED],
        )?;
        Ok(())
    }
}
