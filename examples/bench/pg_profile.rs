//! Where a run's time goes on the PostgreSQL server: the server's own
//! counters read before and after it (transactions committed in the
//! journal's database, WAL records, bytes, writes and syncs: each sync is a
//! commit waiting for the disk), and with `--pg-profile` the statements
//! themselves (pg_stat_statements, reset before the run): how often each
//! ran and the server time it took, BEGIN and COMMIT included (a COMMIT's
//! time is mostly its WAL flush).

use super::pg_journal::PgBench;

/// Counters of the server, for one journal's database.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub commits: f64,
    pub rollbacks: f64,
    pub wal_records: f64,
    pub wal_bytes: f64,
    pub wal_syncs: f64,
    pub wal_sync_ms: f64,
}

impl Counters {
    pub fn read(pg: &PgBench, db: &str) -> Counters {
        let database = pg.read(
            "postgres",
            &format!(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = '{db}'"
            ),
        );
        let wal = pg.read(
            "postgres",
            "SELECT wal_records, wal_bytes, wal_sync, wal_sync_time FROM pg_stat_wal",
        );
        let number = |rows: &[Vec<String>], i: usize| {
            rows.first()
                .and_then(|r| r.get(i))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Counters {
            commits: number(&database, 0),
            rollbacks: number(&database, 1),
            wal_records: number(&wal, 0),
            wal_bytes: number(&wal, 1),
            wal_syncs: number(&wal, 2),
            wal_sync_ms: number(&wal, 3),
        }
    }

    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            commits: self.commits - before.commits,
            rollbacks: self.rollbacks - before.rollbacks,
            wal_records: self.wal_records - before.wal_records,
            wal_bytes: self.wal_bytes - before.wal_bytes,
            wal_syncs: self.wal_syncs - before.wal_syncs,
            wal_sync_ms: self.wal_sync_ms - before.wal_sync_ms,
        }
    }

    /// One line, per refund where that reads best.
    pub fn per_refund(&self, rows: u64) -> String {
        let n = rows as f64;
        format!(
            "{:.2} commits, {:.2} rollbacks, {:.1} WAL records, {:.0} WAL bytes, {:.2} WAL syncs per refund{}",
            self.commits / n,
            self.rollbacks / n,
            self.wal_records / n,
            self.wal_bytes / n,
            self.wal_syncs / n,
            if self.wal_sync_ms > 0.0 {
                format!(
                    "; {:.0} ms in WAL syncs ({:.3} ms each)",
                    self.wal_sync_ms,
                    self.wal_sync_ms / self.wal_syncs.max(1.0)
                )
            } else {
                String::new()
            }
        )
    }
}

/// Forgets the statements counted so far (with `--pg-profile`).
pub fn reset_statements(pg: &PgBench) {
    if pg.profiling {
        pg.read("postgres", "SELECT pg_stat_statements_reset()");
    }
}

/// The statements run in `db` since the reset, the costliest first, as
/// markdown table rows (with `--pg-profile`; none without).
pub fn statements(pg: &PgBench, db: &str, rows: u64, label: &str) -> Vec<String> {
    if !pg.profiling {
        return Vec::new();
    }
    let found = pg.read(
        "postgres",
        &format!(
            "SELECT s.calls, round(s.total_exec_time::numeric, 1), \
                    round((s.mean_exec_time * 1000)::numeric, 1), s.rows, \
                    regexp_replace(left(s.query, 160), '\\s+', ' ', 'g') \
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = '{db}' ORDER BY s.total_exec_time DESC"
        ),
    );
    let calls: f64 = found
        .iter()
        .map(|r| r[0].parse::<f64>().unwrap_or(0.0))
        .sum();
    let total_ms: f64 = found
        .iter()
        .map(|r| r[1].parse::<f64>().unwrap_or(0.0))
        .sum();
    let mut lines = vec![format!(
        "| {label}: all statements | {calls:.0} calls ({:.2} per refund), {total_ms:.0} ms of server time | — |",
        calls / rows as f64
    )];
    for row in found.iter().take(12) {
        lines.push(format!(
            "| {label}: `{}` | {} calls ({:.2} per refund), {} ms, {} µs each, {} rows | — |",
            row[4].replace('|', "\\|"),
            row[0],
            row[0].parse::<f64>().unwrap_or(0.0) / rows as f64,
            row[1],
            row[2],
            row[3]
        ));
    }
    lines
}
