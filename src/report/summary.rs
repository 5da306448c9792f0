//! Counts and amounts per status: the summary a run prints, `status` lists and
//! the exit code is decided from.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::Connection;

use crate::journal::State;
use crate::money::Fen;

/// Every status a results row can have, in the order people read them.
pub const STATUSES: [&str; 9] = [
    "succeeded",
    "failed",
    "review",
    "invalid",
    "conflict",
    "duplicate",
    "processing",
    "unknown",
    "pending",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    counts: BTreeMap<&'static str, (u64, Fen)>,
}

fn canonical(status: &str) -> &'static str {
    match State::parse(status) {
        Some(state) => state.status(),
        None => STATUSES
            .into_iter()
            .find(|s| *s == status)
            .unwrap_or("unknown"),
    }
}

impl StatusCounts {
    pub fn add(&mut self, status: &str, count: u64, fen: Fen) {
        let entry = self.counts.entry(canonical(status)).or_default();
        entry.0 += count;
        entry.1 = entry.1.saturating_add(fen);
    }

    pub fn get(&self, status: &str) -> (u64, Fen) {
        self.counts.get(status).copied().unwrap_or_default()
    }

    pub fn total(&self) -> (u64, Fen) {
        self.counts
            .values()
            .fold((0, Fen(0)), |(n, f), (c, a)| (n + c, f.saturating_add(*a)))
    }

    /// Rows per status for one batch, as the results file reports them.
    pub fn for_batch(conn: &Connection, batch: i64) -> rusqlite::Result<StatusCounts> {
        Self::query(
            conn,
            "SELECT COALESCE(r.row_status, f.state), COUNT(*), COALESCE(SUM(COALESCE(r.fen, f.amount_fen)), 0)
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 GROUP BY 1",
            batch,
        )
    }

    /// Like [`for_batch`], but a duplicate row counts as the status of the row it
    /// repeats: what the exit code is decided from.
    pub fn outcomes_for_batch(conn: &Connection, batch: i64) -> rusqlite::Result<StatusCounts> {
        Self::query(
            conn,
            "SELECT CASE WHEN r.row_status = 'duplicate' AND f.state IS NOT NULL THEN f.state
                         ELSE COALESCE(r.row_status, f.state) END,
                    COUNT(*), COALESCE(SUM(COALESCE(r.fen, f.amount_fen)), 0)
             FROM batch_rows r LEFT JOIN refunds f ON f.id = r.refund
             WHERE r.batch_id = ?1 GROUP BY 1",
            batch,
        )
    }

    fn query(conn: &Connection, sql: &str, batch: i64) -> rusqlite::Result<StatusCounts> {
        let mut counts = StatusCounts::default();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([batch], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (status, count, fen) = row?;
            counts.add(&status, count as u64, Fen(fen as u64));
        }
        Ok(counts)
    }

    /// The exit code these outcomes deserve (cli.md, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        let any = |statuses: &[&str]| statuses.iter().any(|s| self.get(s).0 > 0);
        if any(&["processing", "unknown", "pending"]) {
            crate::exit::UNRESOLVED
        } else if any(&["failed", "review", "invalid", "conflict"]) {
            crate::exit::SOME_FAILED
        } else {
            crate::exit::SUCCESS
        }
    }

    /// One line per status that has rows: `  succeeded     38     1234.56 yuan`.
    pub fn table(&self) -> String {
        let mut text = String::new();
        for status in STATUSES {
            let (count, fen) = self.get(status);
            if count > 0 {
                let _ = writeln!(
                    text,
                    "  {status:<11} {count:>9} {:>16} yuan",
                    fen.to_string()
                );
            }
        }
        let (count, fen) = self.total();
        let _ = writeln!(
            text,
            "  {:<11} {count:>9} {:>16} yuan",
            "total",
            fen.to_string()
        );
        text
    }

    /// `succeeded 38 (1234.56 yuan), failed 1 (0.01 yuan)`
    pub fn one_line(&self) -> String {
        let parts: Vec<String> = STATUSES
            .into_iter()
            .filter_map(|s| {
                let (count, fen) = self.get(s);
                (count > 0).then(|| format!("{s} {count} ({fen} yuan)"))
            })
            .collect();
        if parts.is_empty() {
            "no rows".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_states_count_as_their_status_and_decide_the_exit() {
        let mut counts = StatusCounts::default();
        counts.add("succeeded", 2, Fen(300));
        assert_eq!(counts.exit_code(), 0);
        counts.add("failed", 1, Fen(1));
        assert_eq!(counts.exit_code(), 3);
        let mut review = StatusCounts::default();
        review.add("succeeded", 1, Fen(1));
        review.add("review", 1, Fen(1));
        assert_eq!(review.exit_code(), 3, "a refund in review needs a person");
        counts.add("retry_wait", 1, Fen(5));
        counts.add("in_flight", 1, Fen(7));
        assert_eq!(counts.get("pending"), (1, Fen(5)));
        assert_eq!(counts.get("unknown"), (1, Fen(7)));
        assert_eq!(counts.exit_code(), 4);
        assert_eq!(counts.total(), (5, Fen(313)));
        assert_eq!(
            counts.one_line(),
            "succeeded 2 (3.00 yuan), failed 1 (0.01 yuan), unknown 1 (0.07 yuan), pending 1 (0.05 yuan)"
        );
    }
}
