//! The gateway's latency over time, read from the `attempts` table: each
//! HTTP attempt's time (`at`, bulkrefund's clock, RFC 3339 UTC) and how long
//! the gateway took to answer it (`latency_ms`). Attempts are grouped into
//! buckets of one width, the narrowest that keeps their number within what a
//! chart can show, each summed up by its median, 95th percentile and maximum.
//! Which attempts: those of the refunds a batch sent (`batch`), made within
//! `since..until` (the attempt's own time: latency is about when the gateway
//! was asked). Rows stream bucket by bucket: only one bucket's latencies are
//! held at a time.

use rusqlite::params;

use super::reports::ExportFilter;
use super::{JournalError, SqliteJournal};
use crate::journal::latency_curve::CurveBuilder;
pub use crate::journal::latency_curve::{bucket_width, LatencyBucket, LatencyCurve};

/// The attempts a filter holds (`a` each attempt, `f` its refund; `?1` batch,
/// `?2` since, `?3` until), with the attempt's time in unix seconds.
const ATTEMPTS: &str = "FROM attempts a JOIN refunds f ON f.id = a.refund
     WHERE (?1 IS NULL OR f.batch_id = ?1)
       AND (?2 IS NULL OR a.at >= ?2)
       AND (?3 IS NULL OR a.at < ?3)";

/// An attempt's time as unix seconds (SQLite reads the journal's `...Z` times).
const SECONDS: &str = "CAST(strftime('%s', a.at) AS INTEGER)";

impl SqliteJournal {
    /// The latency of the attempts `filter` holds (its `statuses` aside), in
    /// at most `max_buckets` buckets. Buckets start on the clock of a zone
    /// `utc_offset` seconds east of UTC (a 6-hour bucket at 00:00, 06:00, ...).
    pub fn attempt_latency(
        &self,
        filter: &ExportFilter,
        max_buckets: usize,
        utc_offset: i64,
    ) -> Result<LatencyCurve, JournalError> {
        let bounds = params![filter.batch, filter.since, filter.until];
        let span: (Option<i64>, Option<i64>) = self.conn.query_row(
            &format!("SELECT MIN({SECONDS}), MAX({SECONDS}) {ATTEMPTS}"),
            bounds,
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let (Some(first), Some(last)) = span else {
            return Ok(LatencyCurve::default());
        };
        let mut curve = CurveBuilder::new(first, last, max_buckets, utc_offset);
        let mut stmt = self.conn.prepare(&format!(
            "SELECT ({SECONDS} - ?4) / ?5, a.latency_ms {ATTEMPTS} ORDER BY 1"
        ))?;
        let mut rows = stmt.query(params![
            filter.batch,
            filter.since,
            filter.until,
            curve.origin(),
            curve.width()
        ])?;
        while let Some(row) = rows.next()? {
            curve.add(row.get(0)?, row.get(1)?);
        }
        Ok(curve.finish())
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::journal::latency_curve::{percentile, summed_up};

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&values, 0.50), 10);
        assert_eq!(percentile(&values, 0.95), 19);
        assert_eq!(percentile(&[7], 0.95), 7);
        let bucket = summed_up(60, vec![300, 10, 20]);
        assert_eq!(
            bucket,
            LatencyBucket {
                start: 60,
                attempts: 3,
                p50_ms: 20,
                p95_ms: 300,
                max_ms: 300
            }
        );
    }

    /// A journal holding one Leshua refund (#1) and these attempts at it:
    /// (time, latency).
    fn journal_with_attempts(attempts: &[(&str, u64)]) -> SqliteJournal {
        use crate::batch::RefundRow;
        use crate::journal::sqlite::import::{self, BatchMeta, CheckedRow};
        use crate::journal::{AttemptKind, AttemptRecord};
        let mut journal = SqliteJournal::open_in_memory().unwrap();
        let meta = BatchMeta {
            file_name: "batch.csv".into(),
            file_hash: "abc".into(),
            profile: "leshua".into(),
            gateway: crate::gateway::GatewayKind::Leshua,
            merchant_id: "M1".into(),
            header: vec!["merchant_refund_id".into()],
            input_path: None,
            results_path: None,
            results_bom: false,
        };
        let row = CheckedRow::Valid {
            line: 2,
            cells: vec!["R1".into()],
            refund: RefundRow {
                refund_id: "R1".into(),
                amount: crate::money::Fen(100),
                fields: [("third_order_id".to_owned(), "T1".to_owned())].into(),
                fingerprint: "T1||100".into(),
                order_key: "T1".into(),
            },
        };
        import::import(&mut journal, &meta, [Ok(row)].into_iter(), || false, |_| {}).unwrap();
        for (at, latency_ms) in attempts {
            let attempt = AttemptRecord {
                kind: AttemptKind::Query,
                at: (*at).into(),
                http_status: Some(200),
                gateway_codes: None,
                outcome: "processing".into(),
                latency_ms: *latency_ms,
            };
            journal.note_attempt(1, &attempt).unwrap();
        }
        journal
    }

    #[test]
    fn attempts_in_minutes_and_within_the_period() {
        let journal = journal_with_attempts(&[
            ("2026-11-30T15:58:10.000Z", 40),
            ("2026-11-30T15:58:50.500Z", 20),
            ("2026-11-30T15:58:59.999Z", 900),
            // No attempt in the minute 15:59: no bucket for it.
            ("2026-11-30T16:00:00.000Z", 35),
        ]);
        let all = ExportFilter::default();
        // Three buckets at most: a minute wide (30 seconds would make four).
        let curve = journal.attempt_latency(&all, 3, 0).unwrap();
        let minute = jiff::Timestamp::from_str("2026-11-30T15:58:00Z")
            .unwrap()
            .as_second();
        assert_eq!(curve.bucket_seconds, 60);
        assert_eq!(
            curve.buckets,
            [
                LatencyBucket {
                    start: minute,
                    attempts: 3,
                    p50_ms: 40,
                    p95_ms: 900,
                    max_ms: 900
                },
                LatencyBucket {
                    start: minute + 120,
                    attempts: 1,
                    p50_ms: 35,
                    p95_ms: 35,
                    max_ms: 35
                },
            ]
        );
        assert_eq!(curve.attempts(), 4);
        let until = ExportFilter {
            until: Some("2026-11-30T16:00:00.000Z".into()),
            ..ExportFilter::default()
        };
        assert_eq!(
            journal.attempt_latency(&until, 120, 0).unwrap().attempts(),
            3
        );
        let other_batch = ExportFilter {
            batch: Some(2),
            ..ExportFilter::default()
        };
        assert_eq!(
            journal.attempt_latency(&other_batch, 120, 0).unwrap(),
            LatencyCurve::default()
        );
    }

    #[test]
    fn buckets_start_on_the_local_clock() {
        let journal = journal_with_attempts(&[
            ("2026-11-02T17:00:00.000Z", 10),
            ("2026-11-30T15:00:00.000Z", 20),
        ]);
        let all = ExportFilter::default();
        // 28 days in at most 120 buckets: 6 hours, from midnight in Beijing.
        let curve = journal.attempt_latency(&all, 120, 8 * 3600).unwrap();
        assert_eq!(curve.bucket_seconds, 6 * 3600);
        let midnight = jiff::Timestamp::from_str("2026-11-02T16:00:00Z").unwrap();
        assert_eq!(curve.buckets[0].start, midnight.as_second());
        let utc = journal.attempt_latency(&all, 120, 0).unwrap();
        assert_eq!(utc.buckets[0].start, midnight.as_second() - 4 * 3600);
    }

    #[test]
    fn the_narrowest_width_that_fits() {
        assert_eq!(bucket_width(0, 120), 1);
        assert_eq!(bucket_width(119, 120), 1);
        assert_eq!(bucket_width(120, 120), 2);
        assert_eq!(bucket_width(119 * 60, 120), 60);
        assert_eq!(bucket_width(120 * 60, 120), 300);
        assert_eq!(bucket_width(29 * 86_400, 120), 6 * 3600);
        assert_eq!(
            bucket_width(30 * 86_400, 120),
            12 * 3600,
            "121 buckets of 6 hours"
        );
        assert_eq!(bucket_width(400 * 86_400, 120), 86_400);
    }
}
