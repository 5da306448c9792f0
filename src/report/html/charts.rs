//! The report's charts, drawn by `plotters` into SVG text that the page
//! inlines: refunded per day (bars) and the gateway's latency over time
//! (lines). The SVG backend writes `<text>` elements and measures nothing
//! (plotters' naive font estimate): no font file, no system library; the
//! page's CSS gives the text its font. Heights are in fen (integers); the
//! axis shows yuan, never computed through a float.

use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::{RangedCoordi64, RangedCoordu64};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::summary::Sum;
use super::super::ReportError;
use crate::journal::latency::{LatencyBucket, LatencyCurve};
use crate::money::Fen;
use crate::zone::Zone;

/// The bars' colour. The SVG writes it as [`BAR_FILL`]: the browser test
/// finds the bars by it.
const BAR: RGBColor = RGBColor(0x2F, 0x6F, 0xB0);
pub const BAR_FILL: &str = "#2F6FB0";
const MEDIAN: RGBColor = RGBColor(0x2F, 0x6F, 0xB0);
const P95: RGBColor = RGBColor(0xD9, 0x6C, 0x1E);
const GRID: RGBColor = RGBColor(0xE4, 0xE7, 0xEB);
const INK: RGBColor = RGBColor(0x33, 0x3A, 0x44);

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 320;

/// The widest a bar is drawn, in pixels.
const BAR_MAX: i32 = 64;

/// Label values above the bars while there are at most this many days.
const VALUES_ON_BARS: usize = 16;

fn chart_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Io(std::io::Error::other(format!("cannot draw a chart: {e}")))
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

/// Yuan for an axis: `1,500` for whole yuan, `12.50` otherwise.
pub fn axis_yuan(fen: u64) -> String {
    let text = Fen(fen).grouped();
    match text.strip_suffix(".00") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// A round top for an axis of amounts: 1, 2 or 5 times a power of ten yuan,
/// at least the largest amount.
fn round_top(max_fen: u64) -> u64 {
    let mut step = 100u64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor) >= max_fen {
                return step.saturating_mul(factor);
            }
        }
        if step > u64::MAX / 10 {
            return max_fen;
        }
        step *= 10;
    }
}

/// `11-30` from `2026-11-30`.
fn short_day(day: &str) -> &str {
    day.get(5..).unwrap_or(day)
}

/// Refunded per day as bars, their heights proportional to the fen of each
/// day (one pixel of rounding). Empty text when there is no day.
pub fn refunded_per_day(days: &[(String, Sum)]) -> Result<String, ReportError> {
    if days.is_empty() {
        return Ok(String::new());
    }
    let max = days.iter().map(|(_, sum)| sum.fen.0).max().unwrap_or(0);
    let top = round_top(max.max(1));
    let count = days.len() as i32;
    // One slot per day (a lone day in the middle of three).
    let slots = if count == 1 { -1..1 } else { 0..count - 1 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(72)
            .build_cartesian_2d(slots.clone().into_segmented(), 0u64..top)
            .map_err(chart_error)?;
        let label = |value: &SegmentValue<i32>| match value {
            SegmentValue::CenterOf(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| days.get(i))
                .map(|(day, _)| short_day(day).to_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK.mix(0.6))
            .x_labels(days.len().min(31))
            .x_label_formatter(&label)
            .y_labels(6)
            .y_label_formatter(&|fen| axis_yuan(*fen))
            .y_desc("yuan")
            .label_style(font(13))
            .axis_desc_style(font(13))
            .draw()
            .map_err(chart_error)?;
        // A bar at most BAR_MAX pixels wide, however few the days.
        let slot = chart.plotting_area().dim_in_pixel().0 as i32 / (slots.end - slots.start + 1);
        let margin = ((slot - BAR_MAX) / 2).max(slot / 8).max(1) as u32;
        let bars = days.iter().enumerate().map(|(i, (_, sum))| {
            let i = i as i32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), sum.fen.0),
                ],
                BAR.filled(),
            );
            bar.set_margin(0, 0, margin, margin);
            bar
        });
        chart.draw_series(bars).map_err(chart_error)?;
        if days.len() <= VALUES_ON_BARS {
            let above = font(12).pos(Pos::new(HPos::Center, VPos::Bottom));
            let values = days.iter().enumerate().map(|(i, (_, sum))| {
                Text::new(
                    axis_yuan(sum.fen.0),
                    (SegmentValue::CenterOf(i as i32), sum.fen.0),
                    above.clone(),
                )
            });
            chart.draw_series(values).map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// How a bucket's start is labelled: as precise as its width, with the day
/// when the chart spans more than one.
#[derive(Clone, Copy)]
enum Clock {
    Seconds,
    Minutes,
    DayAndMinutes,
}

impl Clock {
    fn for_curve(width: i64, span: i64) -> Clock {
        match (width, span) {
            (_, span) if span >= 86_400 => Clock::DayAndMinutes,
            (width, _) if width < 60 => Clock::Seconds,
            _ => Clock::Minutes,
        }
    }

    /// `23:30:05`, `23:30` or `11-30 23:30`, local.
    fn label(self, zone: &Zone, unix: i64) -> String {
        let Ok(at) = jiff::Timestamp::from_second(unix) else {
            return String::new();
        };
        // `2026-11-30T23:30:05+08:00`
        let local = zone.show(&crate::zone::journal_time(at));
        let part = |range: std::ops::Range<usize>| local.get(range).unwrap_or_default().to_owned();
        match self {
            Clock::Seconds => part(11..19),
            Clock::Minutes => part(11..16),
            // A bucket at midnight is its day.
            Clock::DayAndMinutes if part(11..16) == "00:00" => part(5..10),
            Clock::DayAndMinutes => format!("{} {}", part(5..10), part(11..16)),
        }
    }
}

/// The median and the 95th percentile of the gateway's latency per bucket,
/// as lines broken where a bucket has no attempt, a dot at each bucket.
/// Empty text when there is no attempt.
pub fn latency(curve: &LatencyCurve, zone: &Zone) -> Result<String, ReportError> {
    let (Some(first), Some(last)) = (curve.buckets.first(), curve.buckets.last()) else {
        return Ok(String::new());
    };
    let width = curve.bucket_seconds.max(1);
    // x: the bucket's index from the first (labels fall on whole buckets).
    let index = |start: i64| (start - first.start) / width;
    let span = index(last.start) + 1;
    let top_ms = curve.buckets.iter().map(|b| b.p95_ms).max().unwrap_or(0);
    let top_ms = (top_ms + top_ms / 8).max(10);
    let clock = Clock::for_curve(width, last.start - first.start);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(-1i64..span, 0u64..top_ms)
            .map_err(chart_error)?;
        let label = |i: &i64| {
            if *i < 0 || *i >= span {
                return String::new();
            }
            clock.label(zone, first.start + i * width)
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK.mix(0.6))
            .x_labels(8)
            .x_label_formatter(&label)
            .y_labels(6)
            .y_desc("ms")
            .label_style(font(13))
            .axis_desc_style(font(13))
            .draw()
            .map_err(chart_error)?;
        latency_lines(&mut chart, curve, index)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(font(13))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// The latency chart's area: bucket index by milliseconds.
type LatencyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordi64, RangedCoordu64>>;

/// The median and the p95 lines on `chart`, each broken where a bucket has
/// no attempt, with a dot at every bucket and a legend entry.
fn latency_lines(
    chart: &mut LatencyChart,
    curve: &LatencyCurve,
    index: impl Fn(i64) -> i64,
) -> Result<(), ReportError> {
    for (name, colour, value) in [
        (
            "p50 (median)",
            MEDIAN,
            (|b| b.p50_ms) as fn(&LatencyBucket) -> u64,
        ),
        ("p95", P95, |b| b.p95_ms),
    ] {
        let points: Vec<(i64, u64)> = curve
            .buckets
            .iter()
            .map(|b| (index(b.start), value(b)))
            .collect();
        let mut labelled = false;
        for run in points.chunk_by(|a, b| b.0 == a.0 + 1) {
            let line = chart
                .draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))
                .map_err(chart_error)?;
            if !labelled {
                line.label(name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
                labelled = true;
            }
        }
        let dots = points
            .iter()
            .map(|&point| Circle::new(point, 3, colour.filled()));
        chart.draw_series(dots).map_err(chart_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::latency::LatencyBucket;

    #[test]
    fn axis_amounts_are_yuan_from_fen() {
        assert_eq!(axis_yuan(150_000), "1,500");
        assert_eq!(axis_yuan(1_250), "12.50");
        assert_eq!(round_top(1), 100);
        assert_eq!(round_top(101), 200);
        assert_eq!(round_top(123_456), 200_000);
        assert_eq!(round_top(500_000), 500_000);
    }

    /// (y, height) of each bar, left to right.
    fn bars(svg: &str) -> Vec<(i64, i64)> {
        svg.lines()
            .filter(|l| l.starts_with("<rect") && l.contains(&format!("fill=\"{BAR_FILL}\"")))
            .map(|l| {
                let attr = |name: &str| {
                    let start = l.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    l[start..]
                        .split('"')
                        .next()
                        .unwrap()
                        .parse::<i64>()
                        .unwrap()
                };
                (attr("y"), attr("height"))
            })
            .collect()
    }

    #[test]
    fn bars_are_proportional_to_the_fen_of_each_day() {
        let sum = |fen| Sum {
            count: 1,
            fen: Fen(fen),
        };
        let days = vec![
            ("2026-11-02".to_owned(), sum(100_000)),
            ("2026-11-03".to_owned(), sum(50_000)),
            ("2026-11-05".to_owned(), sum(25_000)),
        ];
        let svg = refunded_per_day(&days).unwrap();
        let bars = bars(&svg);
        assert_eq!(bars.len(), 3, "{svg}");
        // All stand on the same baseline.
        let base: Vec<i64> = bars.iter().map(|(y, h)| y + h).collect();
        assert!(base.iter().all(|b| *b == base[0]), "{bars:?}");
        // Each top is rounded to a pixel: half a pixel, the tallest's too.
        let tallest = bars[0].1 as f64;
        for ((_, height), share) in bars.iter().zip([1.0, 0.5, 0.25]) {
            assert!((*height as f64 - tallest * share).abs() <= 1.0, "{bars:?}");
        }
        assert!(tallest > 250.0, "the tallest bar fills the chart: {bars:?}");
        assert!(svg.contains(">\n11-02\n</text>"), "{svg}");
        assert!(svg.contains(">\n1,000\n</text>"), "{svg}");
        assert!(!svg.contains("<script"), "plotters writes no script");
        assert_eq!(refunded_per_day(&[]).unwrap(), "");
    }

    #[test]
    fn latency_lines_break_where_no_attempt_was_made() {
        let bucket = |start, p50, p95| LatencyBucket {
            start,
            attempts: 1,
            p50_ms: p50,
            p95_ms: p95,
            max_ms: p95,
        };
        let curve = LatencyCurve {
            bucket_seconds: 60,
            buckets: vec![
                bucket(1_796_054_400, 40, 90),
                bucket(1_796_054_460, 45, 120),
                bucket(1_796_054_640, 30, 60),
            ],
        };
        let zone = Zone::named("Asia/Shanghai").unwrap();
        let svg = latency(&curve, &zone).unwrap();
        // Two runs per line (a gap of two minutes), each a polyline.
        // (and each legend's sample line).
        let lines = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"2\""));
        assert_eq!(lines.count(), 4 + 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 6, "{svg}");
        assert!(svg.contains("p95"), "{svg}");
        assert_eq!(latency(&LatencyCurve::default(), &zone).unwrap(), "");
    }
}
