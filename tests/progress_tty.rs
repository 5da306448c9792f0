//! The progress display on a real (pseudo-)terminal: `run`'s stderr is a pty,
//! as an operator's would be. Its counts move while refunds are sent and
//! polled, and it ends with one final line. Off a terminal it never draws.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// A pseudo-terminal `columns` wide: (the side we read, the side the child writes).
fn pty(columns: u16) -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fresh descriptors; we own them from here.
    let made = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(made, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}

/// The text a terminal would show, escape sequences left out, split at each redraw.
fn frames(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `sent N/M` of a frame.
fn sent_of(frame: &str) -> Option<u64> {
    let rest = frame.split("sent ").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

/// Runs a batch of `refunds` on a terminal `columns` wide at 30 requests a
/// second: its exit code and the frames it drew.
async fn run_on_a_terminal(world: &World, batch: &Path, columns: u16) -> (i32, Vec<String>) {
    let (mut master, slave) = pty(columns);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args([
            "run",
            batch.to_str().unwrap(),
            "--profile",
            "leshua",
            "--yes",
        ])
        .args(["--rate", "30", "--config"])
        .arg(&world.config)
        .arg("--journal")
        .arg(world.journal())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Reads until the child's end closes the terminal (EIO).
    let reader = std::thread::spawn(move || {
        let mut raw = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = master.read(&mut buffer) {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buffer[..n]);
        }
        raw
    });
    let status = child.wait().await.unwrap();
    let raw = reader.join().unwrap();
    (status.code().unwrap(), frames(&raw))
}

fn world_of(refunds: u64) -> impl std::future::Future<Output = (World, std::path::PathBuf)> {
    World::with_generated(
        bulkrefund::gateway::GatewayKind::Leshua,
        refunds,
        "TTY",
        FaultConfig {
            processing_for: Duration::from_millis(1500),
            latency_ms: Some((5, 20)),
            ..FaultConfig::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_progress_counts_move_on_a_terminal_and_end_with_one_line() {
    let (world, batch) = world_of(90).await;
    let (code, frames) = run_on_a_terminal(&world, &batch, 200).await;
    assert_eq!(code, 0, "{frames:#?}");
    let progress: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("settled") && f.contains("req/s of 30"))
        .collect();
    let sent: Vec<u64> = progress.iter().filter_map(|f| sent_of(f)).collect();
    let mut distinct = sent.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 3,
        "the counts move while sending: {progress:#?}"
    );
    assert!(
        sent.windows(2).all(|w| w[0] <= w[1]),
        "sent never goes back: {sent:?}"
    );
    assert!(
        progress.iter().any(|f| f.contains("eta ")),
        "an ETA while refunds remain to send: {progress:#?}"
    );
    assert!(
        progress
            .iter()
            .any(|f| f.contains("polling ") && f.contains(" processing refunds until ")),
        "then the polling: {progress:#?}"
    );
    let last = progress.last().unwrap();
    assert!(
        last.starts_with(
            "sent 90/90  settled 90  in flight 0  ·  succeeded 90  failed 0  processing 0"
        ),
        "the final line: {last}"
    );

    // Off a terminal: only the final line, no drawing.
    let plain = world.bulkrefund(&["resume"]).await;
    assert!(!plain.stderr.contains('\u{1b}'), "{:?}", plain.stderr);
    assert!(!plain.stderr.contains('\r'), "{:?}", plain.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_narrow_terminal_the_line_fits_and_keeps_what_matters() {
    let (world, batch) = world_of(60).await;
    let (code, frames) = run_on_a_terminal(&world, &batch, 80).await;
    assert_eq!(code, 0, "{frames:#?}");
    let drawn: Vec<&String> = frames
        .iter()
        // Redrawn lines start with the bar, or with "sent" once the bar is dropped;
        // the final line is said once, whole.
        .filter(|f| f.starts_with(['█', '░']) || f.starts_with("sent "))
        .filter(|f| !f.starts_with("sent 60/60  settled 60"))
        .collect();
    assert!(drawn.len() >= 3, "{frames:#?}");
    for frame in &drawn {
        // A line wider than the terminal wraps, and each redraw leaves a line behind.
        assert!(
            frame.chars().count() <= 80,
            "{} wide: {frame}",
            frame.chars().count()
        );
    }
    assert!(
        drawn.iter().any(|f| f.contains("eta ")),
        "the ETA stays: {drawn:#?}"
    );
}
