//! Measures recording a generated batch in a fresh journal as `run` does
//! before it sends anything: the scan (encoding, text, header, hash), then the
//! import (row rules, dedupe, one transaction): the file read twice.
//! `cargo run --release --example import_million -- [ROWS] [JOURNAL]`
//! (with JOURNAL, the journal is kept there, e.g. to measure an export of it).

use std::collections::BTreeMap;
use std::time::Instant;

use bulkrefund::batch::{self, CheckedBatch, ReadOptions};
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::import::{self, BatchMeta};
use bulkrefund::journal::Journal;

fn main() -> anyhow::Result<()> {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let batch = dir.path().join("batch.csv");
    bulkrefund::sim::generate::write_batch(GatewayKind::Leshua, rows, "I", &batch, None)?;
    let started = Instant::now();
    let journal_path = std::env::args()
        .nth(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("journal.db"));
    let leshua = GatewayKind::Leshua.spec();
    let scanned = batch::scan(&batch, &ReadOptions::default(), leshua, &BTreeMap::new())?;
    let mut journal = Journal::open(&journal_path)?;
    let checked = CheckedBatch::open_scanned(&batch, &scanned, leshua, &BTreeMap::new())?;
    let meta = BatchMeta {
        file_name: batch.display().to_string(),
        file_hash: scanned.sha256.clone(),
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: "0000000018".into(),
        header: checked.header.clone(),
        input_path: None,
        results_path: None,
        results_bom: false,
    };
    let tally = import::import(&mut journal, &meta, checked, || false, |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(tally.new, rows);
    println!(
        "imported {rows} rows in {seconds:.1} s ({:.0} rows/s)",
        rows as f64 / seconds
    );
    Ok(())
}
