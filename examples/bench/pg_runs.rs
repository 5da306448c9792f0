//! Runs of `bulkrefund` on a PostgreSQL journal and the table rows that
//! report them: one run on a fresh journal with the server watched
//! ([`run_on_pg`]), the throughput section's PostgreSQL-against-SQLite rows
//! ([`comparison_rows`]), and what the server spent.

use std::path::Path;

use super::pg_journal::{JournalAt, PgBench};
use super::pg_profile::{self, Counters};
use super::pg_watch::{ServerUse, Watch};
use bulkrefund::sim::faults::FaultConfig;

use super::{binary, reported_rate, run_batch_at, simulator, write_config, Measured};

/// One run on a PostgreSQL journal.
pub struct PgRun {
    pub journal: JournalAt,
    pub run: Measured,
    pub server: ServerUse,
    pub counters: Counters,
    /// Statement rows with `--pg-profile`.
    pub statements: Vec<String>,
}

/// `bulkrefund run` of `batch` on a fresh journal in database `db`, the
/// server watched; the database is kept (the caller drops it or reads it).
pub async fn run_on_pg(
    pg: &PgBench,
    db: &str,
    batch: &Path,
    config: &Path,
    rows: u64,
    label: &str,
) -> PgRun {
    let journal = pg.fresh_journal(db);
    let before = Counters::read(pg, db);
    pg_profile::reset_statements(pg);
    let watch = Watch::start(pg.postmaster_pid());
    let run = run_batch_at(&binary(), batch, &journal, config, "leshua", &[]).await;
    let server = tokio::task::spawn_blocking(move || watch.stop())
        .await
        .unwrap();
    let counters = Counters::read(pg, db).since(&before);
    let statements = pg_profile::statements(pg, db, rows, label);
    PgRun {
        journal,
        run,
        server,
        counters,
        statements,
    }
}

/// The throughput section's PostgreSQL run of `round`: the batch on a
/// fresh journal and a fresh simulator, as the SQLite run of the round.
pub async fn throughput_run(
    pg: &PgBench,
    dir: &Path,
    batch: &Path,
    rows: u64,
    round: usize,
) -> PgRun {
    let orders = dir.join("T-orders.csv");
    let sim = simulator(&orders, FaultConfig::default()).await;
    let config = write_config(dir, &sim.base_url());
    let db = format!("bench_t{round}");
    let done = run_on_pg(pg, &db, batch, &config, rows, "throughput").await;
    assert_eq!(
        sim.ledger().refunds.len() as u64,
        rows,
        "not every refund reached the gateway:\n{}",
        done.run.stderr
    );
    sim.stop().await;
    pg.drop_journal(&db);
    eprintln!(
        "round {round}: PostgreSQL {:.0} refunds/s",
        rows as f64 / done.run.wall.as_secs_f64()
    );
    done
}

/// What the engine said of its sending: its "N requests in Xs (R
/// requests/s)" line and each merchant's pace (where the in-flight limit
/// settled), joined.
pub fn engine_summary(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.contains("requests/s)") || l.contains(" (profile "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One round's pair: the same batch on SQLite and on PostgreSQL, and the
/// bare loop's ceiling of that round.
pub struct Pair {
    pub sqlite: f64,
    pub sqlite_sending: f64,
    pub pg: PgRun,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn list(values: &[f64], digits: usize) -> String {
    values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows the throughput section adds with `--journal postgres`.
pub fn comparison_rows(pg: &PgBench, pairs: &[Pair], rows: u64, sqlite_cpu: &[f64]) -> Vec<String> {
    let rounds = pairs.len();
    let pg_rates: Vec<f64> = pairs
        .iter()
        .map(|p| rows as f64 / p.pg.run.wall.as_secs_f64())
        .collect();
    let sqlite_rates: Vec<f64> = pairs.iter().map(|p| p.sqlite).collect();
    let ratios: Vec<f64> = pairs
        .iter()
        .zip(&pg_rates)
        .map(|(p, pg)| pg / p.sqlite)
        .collect();
    let sending: Vec<f64> = pairs
        .iter()
        .map(|p| reported_rate(&p.pg.run.stderr) / p.sqlite_sending)
        .collect();
    let per_thousand = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / rows as f64;
    let pg_cpu: Vec<f64> = pairs.iter().map(|p| per_thousand(p.pg.run.cpu)).collect();
    let server_cpu: Vec<f64> = pairs
        .iter()
        .map(|p| per_thousand(p.pg.server.cpu))
        .collect();
    let middle = {
        let mut order: Vec<usize> = (0..rounds).collect();
        order.sort_by(|&a, &b| ratios[a].total_cmp(&ratios[b]));
        &pairs[order[rounds / 2]]
    };
    let mut table = vec![
        format!("| the PostgreSQL server of these runs | {} | honest: fsync on |", pg.describe()),
        format!(
            "| PostgreSQL journal against SQLite: {rows} Leshua refunds, the same batch, alternating (each round: both on fresh simulators, the first of the two alternates), median of {rounds} | PostgreSQL **{:.0}** refunds/s ({}); SQLite **{:.0}** ({}); PostgreSQL / SQLite = **{:.2}** ({}) | — |",
            median(pg_rates.clone()),
            list(&pg_rates, 0),
            median(sqlite_rates.clone()),
            list(&sqlite_rates, 0),
            median(ratios.clone()),
            list(&ratios, 2),
        ),
        format!(
            "| the same while sending only (the engine's requests/s; import and results file aside) | PostgreSQL / SQLite = **{:.2}** ({}) | — |",
            median(sending.clone()),
            list(&sending, 2),
        ),
        format!(
            "| CPU per 1,000 refunds (median) | bulkrefund on PostgreSQL {:.3} s, on SQLite {:.3} s; the PostgreSQL server {:.3} s | — |",
            median(pg_cpu),
            median(sqlite_cpu.to_vec()),
            median(server_cpu),
        ),
        format!(
            "| the PostgreSQL run of the median round | the engine: {}; the server: peak PSS **{:.1} MiB** (RSS summed {:.1} MiB), {} processes at most; {} | — |",
            engine_summary(&middle.pg.run.stderr),
            middle.pg.server.peak_pss_mib,
            middle.pg.server.peak_rss_mib,
            middle.pg.server.peak_processes,
            middle.pg.counters.per_refund(rows),
        ),
    ];
    table.extend(middle.pg.statements.iter().cloned());
    table
}
