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

/// A curve built from the attempts as a store reads them: each attempt's
/// bucket index (its seconds less [`Self::origin`], divided by
/// [`Self::width`]) and latency, in index order.
pub(crate) struct CurveBuilder {
    curve: LatencyCurve,
    origin: i64,
    /// The bucket being filled: its index and its latencies.
    current: Option<(i64, Vec<u64>)>,
}

impl CurveBuilder {
    /// For attempts from `first` to `last` (unix seconds): at most
    /// `max_buckets` buckets, starting on the clock of a zone `utc_offset`
    /// seconds east of UTC (a 6-hour bucket at 00:00, 06:00, ...).
    pub fn new(first: i64, last: i64, max_buckets: usize, utc_offset: i64) -> CurveBuilder {
        let width = bucket_width(last - first, max_buckets);
        CurveBuilder {
            curve: LatencyCurve {
                bucket_seconds: width,
                buckets: Vec::new(),
            },
            origin: first - (first + utc_offset).rem_euclid(width),
            current: None,
        }
    }

    /// Where bucket 0 starts, unix seconds.
    pub fn origin(&self) -> i64 {
        self.origin
    }

    /// Each bucket's width, seconds.
    pub fn width(&self) -> i64 {
        self.curve.bucket_seconds
    }

    /// One attempt of bucket `index` (not below the last one's) that took
    /// `latency_ms` (a negative one counts as 0).
    pub fn add(&mut self, index: i64, latency_ms: i64) {
        let latency = latency_ms.max(0) as u64;
        match &mut self.current {
            Some((at, latencies)) if *at == index => latencies.push(latency),
            _ => {
                self.close_bucket();
                self.current = Some((index, vec![latency]));
            }
        }
    }

    pub fn finish(mut self) -> LatencyCurve {
        self.close_bucket();
        self.curve
    }

    fn close_bucket(&mut self) {
        if let Some((at, latencies)) = self.current.take() {
            let start = self.origin + at * self.curve.bucket_seconds;
            self.curve.buckets.push(summed_up(start, latencies));
        }
    }
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
