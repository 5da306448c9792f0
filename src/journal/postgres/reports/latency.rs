//! The gateway's latency over time on PostgreSQL, meaning what SQLite's
//! `sqlite/latency.rs` means: the attempts of the refunds a batch sent
//! (`batch`), made within `since..until` (the attempt's own time, compared
//! as text in byte order as SQLite compares it), grouped into buckets of one
//! width that start on the clock of a zone `utc_offset` seconds east of UTC.
//! SQLite reads an attempt's time with `strftime('%s', at)`: whole unix
//! seconds, the fraction dropped; here the text is parsed as a
//! `timestamptz` and its epoch floored, the same number for every journal
//! time (all after 1970). Rows stream bucket by bucket.

use postgres::types::ToSql;

use super::rows::{column, read_error, stream_rows};
use crate::journal::latency_curve::{CurveBuilder, LatencyCurve};
use crate::journal::postgres::PgJournal;
use crate::journal::report_rows::ExportFilter;
use crate::journal::JournalError;

/// The attempts a filter holds (`a` each attempt, `f` its refund; `$1`
/// batch, `$2` since, `$3` until).
const ATTEMPTS: &str = "FROM attempts a JOIN refunds f ON f.id = a.refund
     WHERE ($1::bigint IS NULL OR f.batch_id = $1::bigint)
       AND ($2::text IS NULL OR a.at COLLATE \"C\" >= $2::text)
       AND ($3::text IS NULL OR a.at COLLATE \"C\" < $3::text)";

/// An attempt's time as whole unix seconds (SQLite's `strftime('%s', a.at)`).
const SECONDS: &str = "floor(extract(epoch FROM a.at::timestamptz))::bigint";

impl PgJournal {
    /// The latency of the attempts `filter` holds (its `statuses` aside), in
    /// at most `max_buckets` buckets. Buckets start on the clock of a zone
    /// `utc_offset` seconds east of UTC (a 6-hour bucket at 00:00, 06:00, ...).
    pub fn attempt_latency(
        &mut self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError> {
        let bounds: [&(dyn ToSql + Sync); 3] = [&filter.batch, &filter.since, &filter.until];
        let span = self
            .client
            .query_one(
                &format!("SELECT MIN({SECONDS}), MAX({SECONDS}) {ATTEMPTS}"),
                &bounds,
            )
            .map_err(|e| read_error("reading the attempts' span", &e))?;
        let first: Option<i64> = column(&span, 0)?;
        let last: Option<i64> = column(&span, 1)?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(LatencyCurve::default());
        };
        let mut curve = CurveBuilder::new(first, last, max_buckets, utc_offset);
        let (origin, width) = (curve.origin(), curve.width());
        stream_rows(
            &mut self.client,
            &format!(
                "SELECT ({SECONDS} - $4::bigint) / $5::bigint, a.latency_ms {ATTEMPTS} ORDER BY 1"
            ),
            &[&filter.batch, &filter.since, &filter.until, &origin, &width],
            "reading the attempts' latency",
            &mut |row| {
                curve.add(column(row, 0)?, column(row, 1)?);
                Ok(true)
            },
        )?;
        Ok(curve.finish())
    }
}
