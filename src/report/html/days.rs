//! The page's "Refunded per day" section: the chart and the table beside it,
//! on the gateway's days (Asia/Shanghai) as the export's "by day" sheet
//! counts them, saying how many refunds of each day bulkrefund's clock
//! placed (the journal had no gateway time for them) and, below, the
//! export's own note on the days. The figures are [`Report`]'s; nothing is
//! counted here.

use std::fmt::Write as _;

use super::super::ReportError;
use super::markup::{escape, yuan};
use super::{charts, Report};
use crate::journal::days::GATEWAY_ZONE;

/// The section, chart and table, or a line saying no refund succeeded.
pub(super) fn by_day(html: &mut String, report: &Report) -> Result<(), ReportError> {
    html.push_str("<section id=\"by-day\">\n<h2>Refunded per day</h2>\n");
    if report.by_day.is_empty() {
        html.push_str("<p class=\"empty\">No refund succeeded in this period.</p>\n</section>\n");
        return Ok(());
    }
    let _ = writeln!(
        html,
        "<p class=\"note\">The refunds that succeeded, on the day the export's \"by day\" sheet \
         counts them: the gateway's day in {GATEWAY_ZONE}, whatever zone the page's times are \
         in. {}.</p>",
        escape(&report.days_note)
    );
    let _ = writeln!(
        html,
        "<figure id=\"refunded-per-day\" class=\"chart\">\n{}</figure>",
        charts::refunded_per_day(&report.by_day)?
    );
    let _ = writeln!(
        html,
        "<table id=\"by-day-table\" class=\"compact\">\n<thead><tr><th>day ({GATEWAY_ZONE})</th>\
         <th class=\"num\">refunds</th><th class=\"num\">yuan</th><th class=\"num\">fen</th>\
         <th class=\"num\">placed by bulkrefund's clock</th></tr></thead>\n<tbody>"
    );
    for (day, sum) in &report.by_day {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num fen\">{}</td><td class=\"num\">{}</td></tr>",
            escape(day),
            sum.count,
            yuan(sum.fen),
            sum.fen.0,
            report.by_our_clock.get(day).copied().unwrap_or(0)
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::journal::days;
    use crate::money::Fen;
    use crate::report::summary::Sum;

    #[test]
    fn each_day_says_how_many_refunds_bulkrefunds_clock_placed() {
        let sum = |count, fen| Sum {
            count,
            fen: Fen(fen),
        };
        let report = Report {
            by_day: vec![
                ("2026-11-29".into(), sum(1, 100)),
                ("2026-11-30".into(), sum(3, 123_456)),
            ],
            by_our_clock: BTreeMap::from([("2026-11-30".to_owned(), 2)]),
            days_note: days::note(2),
            ..Report::default()
        };
        let mut html = String::new();
        by_day(&mut html, &report).unwrap();
        assert!(html.contains(
            "<th>day (Asia/Shanghai)</th><th class=\"num\">refunds</th><th class=\"num\">yuan</th>\
             <th class=\"num\">fen</th><th class=\"num\">placed by bulkrefund's clock</th>"
        ), "{html}");
        assert!(html.contains(
            "<tr><td>2026-11-29</td><td class=\"num\">1</td><td class=\"num\">1.00</td><td class=\"num fen\">100</td><td class=\"num\">0</td></tr>\n\
             <tr><td>2026-11-30</td><td class=\"num\">3</td><td class=\"num\">1,234.56</td><td class=\"num fen\">123456</td><td class=\"num\">2</td></tr>\n"
        ), "{html}");
        assert!(
            html.contains(
                "the gateway's day in Asia/Shanghai, whatever zone the page's times are in. \
             days: the gateway&#39;s success time in Asia/Shanghai; 2 refunds placed by \
             bulkrefund&#39;s clock (no gateway time: recorded before bulkrefund kept the \
             gateway&#39;s times, or the gateway gave none).</p>"
            ),
            "{html}"
        );
    }
}
