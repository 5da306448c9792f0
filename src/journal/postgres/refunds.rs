//! Reads of refunds on PostgreSQL, as `journal/sqlite/refunds.rs` and
//! `chain.rs` read them: one by id, the ones in review, which refunds and
//! batches a command works on ([`Scope`]), and the chains of retries
//! (`R123` → `R123R2` → ...: each refund has at most one retry, the
//! schema's `refunds_one_retry` index, so a chain is a list).

use postgres::types::ToSql;

use super::clock::NOW_MS;
use super::fenced::pg_error;
use super::refund_rows::{
    id_array, read_record, read_records, record_columns, scope_ids_sql, RECORD_COLUMNS,
};
use super::PgJournal;
use crate::gateway::GatewayKind;
use crate::journal::records::{RefundRecord, Scope};
use crate::journal::state::{self, State};
use crate::journal::JournalError;

impl PgJournal {
    /// The ids of a query's one BIGINT column, in its order.
    fn ids(
        &mut self,
        doing: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<i64>, JournalError> {
        let rows = self.client.query(sql, params).map_err(pg_error(doing))?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(pg_error(doing)))
            .collect()
    }

    pub fn refund(&mut self, id: i64) -> Result<RefundRecord, JournalError> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT {RECORD_COLUMNS} FROM refunds WHERE id = $1"),
                &[&id],
            )
            .map_err(pg_error("reading a refund"))?
            .ok_or(JournalError::Missing(id))?;
        read_record(&row)
    }

    /// The refunds in review within `scope`.
    pub fn refunds_in_review(&mut self, scope: &Scope) -> Result<Vec<RefundRecord>, JournalError> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM refunds WHERE state = $1 AND id IN ({})
                     ORDER BY id",
                    scope_ids_sql(scope)
                ),
                &[&State::Review.as_str()],
            )
            .map_err(pg_error("reading the refunds in review"))?;
        read_records(&rows)
    }

    /// The refunds a batch's rows name, each once, in input order.
    pub fn batch_refunds(&mut self, batch: i64) -> Result<Vec<i64>, JournalError> {
        self.ids(
            "reading a batch's refunds",
            "SELECT refund FROM batch_rows WHERE batch_id = $1 AND refund IS NOT NULL
             GROUP BY refund ORDER BY MIN(line)",
            &[&batch],
        )
    }

    /// The profiles that unresolved refunds in `scope` belong to, and abnormal
    /// ones whose hourly query is due (on the journal's clock, the server's).
    /// SQLite gives them in no stated order (its `DISTINCT`); here they are
    /// by name, once each (`GROUP BY`: PostgreSQL's `DISTINCT` cannot be
    /// ordered by a collation of its column).
    pub fn unresolved_profiles(&mut self, scope: &Scope) -> Result<Vec<String>, JournalError> {
        let doing = "reading the profiles of unresolved refunds";
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT profile FROM refunds
                     WHERE (state NOT IN {} OR (state = $1 AND next_attempt_at <= {NOW_MS}))
                     AND id IN ({})
                     GROUP BY profile ORDER BY profile COLLATE \"C\"",
                    state::sql_list(&state::FINAL),
                    scope_ids_sql(scope)
                ),
                &[&State::Abnormal.as_str()],
            )
            .map_err(pg_error(doing))?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(pg_error(doing)))
            .collect()
    }

    /// Batches whose results the work on `scope` may change: every batch whose
    /// rows name an unresolved or abnormal refund in scope, and the scope's
    /// batches not yet finished; for a retry, every batch whose rows name one
    /// of its refunds (`journal/sqlite/refunds.rs` says why).
    pub fn affected_batches(&mut self, scope: &Scope) -> Result<Vec<i64>, JournalError> {
        let finals = state::sql_list(&state::SETTLED);
        let sql = match scope {
            Scope::Refunds(_) => format!(
                "SELECT DISTINCT batch_id FROM batch_rows WHERE refund IN ({}) ORDER BY 1",
                scope_ids_sql(scope)
            ),
            Scope::Batches(ids) => {
                let filter = id_array(ids);
                format!(
                    "SELECT DISTINCT listing.batch_id FROM batch_rows r JOIN refunds f ON f.id = r.refund
                     JOIN batch_rows listing ON listing.refund = f.id
                     WHERE f.state NOT IN {finals} AND r.batch_id = ANY({filter})
                     UNION SELECT id FROM batches WHERE id = ANY({filter}) AND finished_at IS NULL
                     ORDER BY 1"
                )
            }
            Scope::All => format!(
                "SELECT DISTINCT r.batch_id FROM batch_rows r JOIN refunds f ON f.id = r.refund
                 WHERE f.state NOT IN {finals}
                 UNION SELECT id FROM batches WHERE finished_at IS NULL ORDER BY 1"
            ),
        };
        self.ids("reading the batches a run affects", &sql, &[])
    }

    /// The last link of the chain `id` belongs to (`id` itself when never
    /// retried, or when no refund has that id, as on SQLite).
    pub fn chain_head(&mut self, id: i64) -> Result<i64, JournalError> {
        let row = self
            .client
            .query_one(
                "WITH RECURSIVE chain (id, depth) AS (
                     SELECT $1::bigint, 0
                     UNION ALL
                     SELECT r.id, c.depth + 1 FROM refunds r JOIN chain c ON r.retry_of = c.id
                 )
                 SELECT id FROM chain ORDER BY depth DESC LIMIT 1",
                &[&id],
            )
            .map_err(pg_error("following a chain of retries"))?;
        row.try_get(0)
            .map_err(pg_error("following a chain of retries"))
    }

    /// `id` and every link before it, newest first (the root, the id the
    /// operator asked for, comes last).
    pub fn chain_links(&mut self, id: i64) -> Result<Vec<RefundRecord>, JournalError> {
        let rows = self
            .client
            .query(
                &format!(
                    "WITH RECURSIVE chain (id, depth) AS (
                         SELECT id, 0 FROM refunds WHERE id = $1
                         UNION ALL
                         SELECT r.retry_of, c.depth + 1 FROM refunds r JOIN chain c ON r.id = c.id
                         WHERE r.retry_of IS NOT NULL
                     )
                     SELECT {} FROM chain c JOIN refunds f ON f.id = c.id ORDER BY c.depth",
                    record_columns("f")
                ),
                &[&id],
            )
            .map_err(pg_error("reading a chain of retries"))?;
        if rows.is_empty() {
            return Err(JournalError::Missing(id));
        }
        read_records(&rows)
    }

    /// True when the journal holds `refund_id` for this gateway and merchant
    /// (used, so never derived again).
    pub fn id_taken(
        &mut self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Result<bool, JournalError> {
        let doing = "asking whether a refund id is taken";
        let row = self
            .client
            .query_one(
                "SELECT COUNT(*) > 0 FROM refunds WHERE scope = $1 AND refund_id = $2",
                &[&crate::journal::id_space(gateway, merchant_id), &refund_id],
            )
            .map_err(pg_error(doing))?;
        row.try_get(0).map_err(pg_error(doing))
    }
}
