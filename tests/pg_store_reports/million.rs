//! A million rows through the two streamed reads of the PostgreSQL store
//! (`results_rows_while`, `export_rows_while`), in a process of its own so
//! that its peak resident memory is theirs alone: the test starts itself
//! again running only [`streamed_in_a_process_of_its_own`], which reads the
//! journal and checks its own peak (VmHWM) stays within 100 MiB.

use std::process::Command;

use bulkrefund::journal::postgres::{ConfiguredSecret, Passfile, PgJournal, PgStore};
use bulkrefund::journal::report_rows::ExportFilter;
use bulkrefund::journal::Journal;
use bulkrefund::secret::SecretRef;

use super::twin::{Twin, DB};

const ROWS: i64 = 1_000_000;
const URL: &str = "BULKREFUND_TEST_MILLION_URL";
const PASSWORD_DIR: &str = "BULKREFUND_TEST_MILLION_DIR";
const PEAK_MIB: u64 = 100;

/// Fills the journal with one batch of a million rows, each a refund, and
/// reads them in a process of its own.
pub fn stream(twin: &Twin) {
    twin.server.exec(
        DB,
        &format!(
            "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id, header,
                 started_at, imported_at)
             VALUES (1, 'million.csv', 'h', 'leshua', 'leshua', 'M', '[\"merchant_refund_id\"]',
                 '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:01.000Z');
             INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
                 amount_fen, fields, state, created_at, gateway, merchant_id, finished_at)
             SELECT g, 'leshua:M', 'R' || g, 'fp' || g, 'leshua', 1, g + 1, 100 + g % 7,
                 '{{\"third_order_id\":\"T' || g || '\"}}', 'succeeded',
                 '2026-11-01T00:00:00.000Z', 'leshua', 'M', '2026-11-02T00:00:00.000Z'
             FROM generate_series(1, {ROWS}) g;
             INSERT INTO batch_rows (batch_id, line, cells, refund)
             SELECT 1, g + 1, '[\"R' || g || '\"]', g FROM generate_series(1, {ROWS}) g;
             ANALYZE;"
        ),
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "million::streamed_in_a_process_of_its_own",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(URL, twin.url("alice"))
        .env(PASSWORD_DIR, twin.dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    println!("{said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the reading process failed");
    assert!(said.contains("1 passed"), "the reading process ran nothing");
}

/// The process's peak resident memory, in MiB (VmHWM).
fn peak_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

#[test]
#[ignore = "run by a_million_rows_stream_in_little_memory, in a process of its own"]
fn streamed_in_a_process_of_its_own() {
    let (Ok(url), Ok(dir)) = (std::env::var(URL), std::env::var(PASSWORD_DIR)) else {
        panic!("run by a_million_rows_stream_in_little_memory, which names the journal");
    };
    let file = SecretRef::File {
        file: "alice.pw".into(),
    };
    let secret = ConfiguredSecret {
        reference: &file,
        dir: std::path::Path::new(&dir),
    };
    let connection = PgJournal::open(&url, Some(secret), &Passfile::Nowhere).unwrap();
    let pg = Journal::from_store(Box::new(PgStore::new(connection)));
    let (mut rows, mut fen, mut last_line) = (0i64, 0u64, 0u64);
    pg.results_rows_while(1, &mut |row| {
        rows += 1;
        fen += row.fen.unwrap().0;
        assert!(row.line > last_line, "in input order");
        last_line = row.line;
        true
    })
    .unwrap();
    assert_eq!(rows, ROWS);
    let (mut exported, mut last_line) = (0i64, 0u64);
    let mut exported_fen = 0u64;
    pg.export_rows_while(&ExportFilter::default(), &mut |row| {
        exported += 1;
        exported_fen += row.fen.0;
        assert!(row.line > last_line, "oldest first");
        last_line = row.line;
        true
    })
    .unwrap();
    assert_eq!((exported, exported_fen), (ROWS, fen));
    // Stopping early leaves the connection ready for the next read.
    let mut first = Vec::new();
    pg.results_rows_while(1, &mut |row| {
        first.push(row.line);
        first.len() < 3
    })
    .unwrap();
    assert_eq!(first, [2, 3, 4]);
    assert_eq!(pg.batches().unwrap().len(), 1);
    let peak = peak_mib();
    println!("read {ROWS} rows twice; peak resident memory {peak} MiB");
    assert!(peak <= PEAK_MIB, "peak resident memory {peak} MiB");
}
