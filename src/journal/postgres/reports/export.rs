//! The reconciliation export's reads on PostgreSQL, meaning what SQLite's
//! mean (`sqlite/reports.rs`): the refunds an [`ExportFilter`] holds
//! (streamed, oldest first), the span of times they count by, and their
//! merchants. Times are RFC 3339 UTC text compared as text, as SQLite
//! compares them: byte order (`COLLATE "C"`), whatever the database's
//! collation, so a period's bounds select the same refunds on both.

use postgres::types::ToSql;
use postgres::Row;

use super::rows::{
    column, count, counted_at, counted_by_our_clock, json_of, read_error, status_of, stream_rows,
};
use crate::gateway::GatewayKind;
use crate::journal::days::{Counted, DayBasis};
use crate::journal::postgres::PgJournal;
use crate::journal::report_rows::{ExportFilter, ExportRow};
use crate::journal::state::{sql_list, State};
use crate::journal::JournalError;
use crate::money::Fen;

/// The refunds an export holds (`$1` batch, `$2` since, `$3` until, on the
/// time each counts by): `f` each refund, `p` the one it retries, `n` the
/// one that retries it, `b` its batch.
fn export_from_where(filter: &ExportFilter) -> String {
    let states: Vec<State> = filter.statuses.iter().flat_map(|s| s.states()).collect();
    // A status names intents: a link that was retried has no status of its own left.
    let state_filter = match (filter.statuses.is_empty(), states.is_empty()) {
        (true, _) => "TRUE".to_owned(),
        // Statuses no refund can have (a row's own verdicts): SQLite's empty
        // `IN ()` holds nothing; PostgreSQL has no empty list.
        (false, true) => "FALSE".to_owned(),
        (false, false) => format!("f.state IN {} AND n.id IS NULL", sql_list(&states)),
    };
    let counted = counted_at("f");
    format!(
        "FROM refunds f LEFT JOIN refunds p ON p.id = f.retry_of JOIN batches b ON b.id = f.batch_id
              LEFT JOIN refunds n ON n.retry_of = f.id
         WHERE ($1::bigint IS NULL OR f.batch_id = $1::bigint)
           AND ($2::text IS NULL OR {counted} COLLATE \"C\" >= $2::text)
           AND ($3::text IS NULL OR {counted} COLLATE \"C\" < $3::text)
           AND {state_filter}"
    )
}

/// The filter's bounds as the parameters [`export_from_where`] names.
fn bounds(filter: &ExportFilter) -> [&(dyn ToSql + Sync); 3] {
    [&filter.batch, &filter.since, &filter.until]
}

fn export_row(row: &Row) -> Result<ExportRow, JournalError> {
    let fields: String = column(row, 4)?;
    let gateway: String = column(row, 16)?;
    Ok(ExportRow {
        profile: column(row, 0)?,
        gateway: GatewayKind::parse(&gateway).ok_or_else(|| {
            JournalError::Inconsistent(format!("a refund of an unknown gateway {gateway:?}"))
        })?,
        merchant_id: column(row, 1)?,
        refund_id: column(row, 2)?,
        retry_of: column(row, 3)?,
        retried_as: column(row, 17)?,
        fields: json_of(&fields, "a refund's fields")?,
        fen: Fen(column::<i64>(row, 5)? as u64),
        status: status_of(column(row, 6)?),
        gateway_refund_id: column(row, 7)?,
        error_code: column(row, 8)?,
        error_message: column(row, 9)?,
        attempts: count(row, 10)?,
        first_sent_at: column(row, 11)?,
        finished_at: column(row, 12)?,
        batch_id: column(row, 13)?,
        source_file: column(row, 14)?,
        line: count(row, 15)?,
        gateway_success_at: column(row, 18)?,
        counted: Counted {
            at: column(row, 19)?,
            basis: if column(row, 20)? {
                DayBasis::Bulkrefund
            } else {
                DayBasis::Gateway
            },
        },
    })
}

impl PgJournal {
    /// Every refund the filter holds, oldest first, streamed: each is
    /// handed to `each` until it answers false.
    pub fn export_rows_while(
        &mut self,
        filter: &ExportFilter,
        each: &mut dyn FnMut(ExportRow) -> bool,
    ) -> Result<(), JournalError> {
        let sql = format!(
            "SELECT f.profile, f.merchant_id, f.refund_id, p.refund_id, f.fields, f.amount_fen,
                    f.state, f.gateway_refund_id, f.error_code, f.error_message, f.attempts,
                    f.first_sent_at, f.finished_at, f.batch_id, b.file_name, f.line, f.gateway,
                    n.refund_id, f.gateway_success_at, {}, {}
             {} ORDER BY f.id",
            counted_at("f"),
            counted_by_our_clock("f"),
            export_from_where(filter)
        );
        stream_rows(
            &mut self.client,
            &sql,
            &bounds(filter),
            "reading the export's refunds",
            &mut |row| Ok(each(export_row(row)?)),
        )
    }

    /// The earliest and the latest time the journal's refunds count by
    /// (compared as text, as SQLite compares them), or `None` when it holds
    /// no refund.
    pub fn export_span(&mut self) -> Result<Option<(String, String)>, JournalError> {
        let counted = counted_at("f");
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT MIN({counted} COLLATE \"C\"), MAX({counted} COLLATE \"C\")
                     FROM refunds f"
                ),
                &[],
            )
            .map_err(|e| read_error("reading the export's span", &e))?;
        let first: Option<String> = column(&row, 0)?;
        let last: Option<String> = column(&row, 1)?;
        Ok(first.zip(last))
    }

    /// The merchants of the refunds the filter holds, in byte order.
    pub fn export_merchants(&mut self, filter: &ExportFilter) -> Result<Vec<String>, JournalError> {
        let sql = format!(
            "SELECT DISTINCT f.merchant_id COLLATE \"C\" {} ORDER BY 1",
            export_from_where(filter)
        );
        let rows = self
            .client
            .query(&sql, &bounds(filter))
            .map_err(|e| read_error("reading the export's merchants", &e))?;
        rows.iter().map(|row| column(row, 0)).collect()
    }
}
