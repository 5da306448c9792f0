//! The gateway's latency over time, whatever stores the attempts: buckets of
//! one width, the narrowest that keeps their number within what a chart can
//! show ([`bucket_width`]), each summed up by its median, 95th percentile and
//! maximum ([`summed_up`]). A store reads the attempts; how they are bucketed
//! and summed is decided here once.

/// The attempts of one bucket: `[start, start + width)`, unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyBucket {
    pub start: i64,
    pub attempts: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub max_ms: u64,
}

/// The buckets that hold attempts, oldest first, all `bucket_seconds` wide
/// (an empty bucket is not listed: the chart shows a gap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyCurve {
    pub bucket_seconds: i64,
    pub buckets: Vec<LatencyBucket>,
}

impl LatencyCurve {
    /// Every attempt counted.
    pub fn attempts(&self) -> u64 {
        self.buckets.iter().map(|b| b.attempts).sum()
    }
}

/// The widths a bucket may have: from a second (a short run) to a day, in
/// steps a person reads on a clock.
const WIDTHS: [i64; 15] = [
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    5 * 60,
    15 * 60,
    30 * 60,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
];

/// The narrowest width that makes at most `max_buckets` buckets of `span` seconds.
pub fn bucket_width(span: i64, max_buckets: usize) -> i64 {
    let max = max_buckets.max(1) as i64;
    WIDTHS
        .iter()
        .copied()
        .find(|width| span / width < max)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// The nearest-rank percentile `q` (0 to 1) of sorted values (not empty).
pub(crate) fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One bucket's attempts summed up: how many, the median, the 95th
/// percentile and the slowest.
pub(crate) fn summed_up(start: i64, mut latencies: Vec<u64>) -> LatencyBucket {
    latencies.sort_unstable();
    LatencyBucket {
        start,
        attempts: latencies.len() as u64,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        max_ms: latencies[latencies.len() - 1],
    }
}
