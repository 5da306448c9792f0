//! What the PostgreSQL server spent while one run lasted, read from its
//! processes in /proc (the bench runs where the server runs): the memory of
//! the postmaster and its children, sampled every 100 ms — their summed PSS
//! (each shared page divided among the processes mapping it, so shared
//! buffers count once: the server's real footprint) and their summed RSS
//! (shared pages counted in every process that touched them) — and their CPU
//! time: the live processes' own, plus the postmaster's reaped children's
//! (a backend that exited during the run is counted there).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The server's use over one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerUse {
    pub peak_pss_mib: f64,
    pub peak_rss_mib: f64,
    /// The most processes at once (postmaster, background, backends).
    pub peak_processes: usize,
    pub cpu: Duration,
}

/// A sampler of the server's processes, running until [`Watch::stop`].
pub struct Watch {
    postmaster: u32,
    cpu_before: Duration,
    running: Arc<AtomicBool>,
    sampler: JoinHandle<ServerUse>,
}

impl Watch {
    pub fn start(postmaster: u32) -> Watch {
        let running = Arc::new(AtomicBool::new(true));
        let sampler = {
            let running = running.clone();
            std::thread::spawn(move || {
                let mut peak = ServerUse::default();
                while running.load(Ordering::Relaxed) {
                    let (pss, rss, processes) = memory_kib(postmaster);
                    peak.peak_pss_mib = peak.peak_pss_mib.max(pss as f64 / 1024.0);
                    peak.peak_rss_mib = peak.peak_rss_mib.max(rss as f64 / 1024.0);
                    peak.peak_processes = peak.peak_processes.max(processes);
                    std::thread::sleep(Duration::from_millis(100));
                }
                peak
            })
        };
        Watch {
            postmaster,
            cpu_before: server_cpu(postmaster),
            running,
            sampler,
        }
    }

    pub fn stop(self) -> ServerUse {
        // The run's backends have exited (or are exiting): let the
        // postmaster reap them, so their CPU is in its children's time.
        std::thread::sleep(Duration::from_millis(500));
        self.running.store(false, Ordering::Relaxed);
        let mut used = self.sampler.join().unwrap();
        used.cpu = server_cpu(self.postmaster).saturating_sub(self.cpu_before);
        used
    }
}

/// The postmaster and its children.
fn server_pids(postmaster: u32) -> Vec<u32> {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if stat_fields(pid).is_some_and(|f| f.get(1) == Some(&postmaster.to_string())) {
            pids.push(pid);
        }
    }
    pids
}

/// `/proc/PID/stat`'s fields after the command's name: [0] state,
/// [1] ppid, … [11] utime, [12] stime, [13] cutime, [14] cstime.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// (summed PSS, summed RSS, processes), KiB.
fn memory_kib(postmaster: u32) -> (u64, u64, usize) {
    let pids = server_pids(postmaster);
    let field = |pid: u32, file: &str, name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with(name))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or(0)
    };
    let pss = pids.iter().map(|&p| field(p, "smaps_rollup", "Pss:")).sum();
    let rss = pids.iter().map(|&p| field(p, "status", "VmRSS:")).sum();
    (pss, rss, pids.len())
}

/// The server's CPU time so far: the postmaster's own and its reaped
/// children's, and each live child's own.
fn server_cpu(postmaster: u32) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let sum = |pid: u32, fields: &[usize]| -> u64 {
        stat_fields(pid).map_or(0, |f| {
            fields
                .iter()
                .filter_map(|&i| f.get(i)?.parse::<u64>().ok())
                .sum()
        })
    };
    let mut total = sum(postmaster, &[11, 12, 13, 14]);
    for pid in server_pids(postmaster).into_iter().skip(1) {
        total += sum(pid, &[11, 12]);
    }
    Duration::from_secs_f64(total as f64 / ticks)
}
