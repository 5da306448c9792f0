//! A 1,000,000-row batch validates with bounded memory. In its own test binary
//! so that the peak RSS of waited-for children is this one child's.

use assert_cmd::Command;
use bulkrefund::gateway::GatewayKind;

/// The peak resident set size of waited-for children, in KiB (Linux reports KiB).
fn children_peak_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_CHILDREN is a valid selector.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    usage.ru_maxrss
}

#[test]
fn one_million_rows_validate_under_100_mib() {
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("million.csv");
    bulkrefund::sim::generate::write_batch(GatewayKind::Leshua, 1_000_000, "M", &batch, None)
        .unwrap();
    let output = Command::cargo_bin("bulkrefund")
        .unwrap()
        .args([
            "validate",
            batch.to_str().unwrap(),
            "--profile",
            "leshua",
            "--config",
        ])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/bulkrefund.toml"
        ))
        .arg("--journal")
        .arg(dir.path().join("journal.db"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1000000 data rows"), "{stdout}");
    assert!(
        stdout.contains("run would send:            1000000 refunds"),
        "{stdout}"
    );
    let peak_mib = children_peak_rss_kib() / 1024;
    eprintln!("peak RSS of validate over 1,000,000 rows: {peak_mib} MiB");
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
}
