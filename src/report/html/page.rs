//! The report as one HTML page: inline CSS (screen and print), inline SVG
//! charts, and no script. A Content-Security-Policy meta tag makes "nothing
//! is fetched" a rule the browser enforces: no script runs, no style, font or
//! image is loaded from anywhere. Every text that comes from the journal
//! (refund ids, merchants, error codes and the gateway's messages, which a
//! gateway or an input file controls) is HTML-escaped where it is written.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::super::ReportError;
use super::markup::{escape, footer, head, with_code, yuan};
use super::{charts, AttentionRefund, MoneyLine, Report};
use crate::journal::money::FailureGroup;
use crate::zone::Zone;

/// `1 refund`, `3 refunds`.
fn refunds(count: u64) -> String {
    match count {
        1 => "1 refund".to_owned(),
        n => format!("{n} refunds"),
    }
}

/// The whole page.
pub fn render(report: &Report, zone: &Zone) -> Result<String, ReportError> {
    let mut html = String::with_capacity(64 * 1024);
    head(&mut html, &report.heading, "bulkrefund report");
    money(&mut html, report);
    super::days::by_day(&mut html, report)?;
    failures(&mut html, &report.failures);
    latency(&mut html, report, zone)?;
    attention(&mut html, report);
    for section in &report.reconciliations {
        super::reconciliation::section(&mut html, section);
    }
    footer(&mut html, "from its journal");
    Ok(html)
}

/// The figures that stand out at the top: what was asked, and what was refunded.
fn key_figures(html: &mut String, lines: &[MoneyLine]) {
    html.push_str("<div class=\"figures\">\n");
    for line in lines.iter().filter(|l| !l.part).take(3) {
        let Some(fen) = line.fen else { continue };
        let _ = writeln!(
            html,
            "<div class=\"figure\"><span class=\"label\">{}</span><span class=\"amount\">{}<small> yuan</small></span><span class=\"count\">{}</span></div>",
            escape(&line.label),
            yuan(fen),
            refunds(line.count)
        );
    }
    html.push_str("</div>\n");
}

fn money(html: &mut String, report: &Report) {
    html.push_str("<section id=\"money\">\n<h2>The money</h2>\n");
    key_figures(html, &report.money);
    let _ = writeln!(
        html,
        "<p class=\"note\">Refunds by status, {}. Each refund asked for counts once, with the \
         status of the last link of its retry chain; no figure adds different statuses together.</p>",
        with_code(&report.money_source)
    );
    html.push_str(
        "<table class=\"money\">\n<thead><tr><th>status</th><th class=\"num\">refunds</th><th class=\"num\">yuan</th></tr></thead>\n<tbody>\n",
    );
    for line in &report.money {
        let class = if line.part { " class=\"part\"" } else { "" };
        let _ = writeln!(
            html,
            "<tr{class}><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&line.label),
            line.count,
            line.fen.map(yuan).unwrap_or_default()
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

fn failures(html: &mut String, groups: &[FailureGroup]) {
    html.push_str("<section id=\"failures\">\n<h2>Failures by error code</h2>\n");
    if groups.is_empty() {
        html.push_str(
            "<p class=\"empty\">No refund failed, is in review or abnormal.</p>\n</section>\n",
        );
        return;
    }
    html.push_str(
        "<table>\n<thead><tr><th>status</th><th>code</th><th class=\"num\">refunds</th><th class=\"num\">yuan</th><th>message (the first of them)</th><th>e.g.</th></tr></thead>\n<tbody>\n",
    );
    for g in groups {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"message\">{}</td><td class=\"ids\">{}</td></tr>",
            g.status.map_or("", |s| s.as_str()),
            if g.code.is_empty() { Cow::Borrowed("-") } else { escape(&g.code) },
            g.count,
            yuan(g.fen),
            escape(&g.message),
            g.samples.iter().map(|s| escape(s)).collect::<Vec<_>>().join(", ")
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

/// `5 seconds`, `1 minute`, `6 hours`.
fn width_text(seconds: i64) -> String {
    let (n, unit) = match seconds {
        s if s % 3600 == 0 => (s / 3600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn latency(html: &mut String, report: &Report, zone: &Zone) -> Result<(), ReportError> {
    html.push_str("<section id=\"latency\">\n<h2>The gateway's latency</h2>\n");
    let curve = &report.latency;
    if curve.buckets.is_empty() {
        html.push_str("<p class=\"empty\">No request was made to the gateway in this period.</p>\n</section>\n");
        return Ok(());
    }
    let slowest = curve.buckets.iter().map(|b| b.max_ms).max().unwrap_or(0);
    let _ = writeln!(
        html,
        "<p class=\"note\">How long the gateway took to answer each of the {} requests (sends \
         and queries), per {}: the median and the 95th percentile; the slowest took {} ms. \
         Times in {}.</p>",
        curve.attempts(),
        width_text(curve.bucket_seconds),
        slowest,
        escape(zone.name())
    );
    let _ = writeln!(
        html,
        "<figure id=\"latency-chart\" class=\"chart\">\n{}</figure>",
        charts::latency(curve, zone)?
    );
    html.push_str("</section>\n");
    Ok(())
}

fn steps(html: &mut String, refund: &AttentionRefund) {
    if refund.what_to_do.is_empty() {
        return;
    }
    html.push_str("<ol class=\"steps\">");
    for step in &refund.what_to_do {
        let _ = write!(html, "<li>{}</li>", with_code(step));
    }
    html.push_str("</ol>");
}

fn attention(html: &mut String, report: &Report) {
    html.push_str("<section id=\"attention\">\n<h2>Refunds a person must act on</h2>\n");
    if report.attention.is_empty() {
        html.push_str("<p class=\"empty\">No refund is in review or abnormal.</p>\n</section>\n");
        return;
    }
    html.push_str(
        "<p class=\"note\">In review (an answer about another refund) or abnormal (accepted, but \
         the money reached nobody): never resent by bulkrefund. What to do is what \
         <code>bulkrefund show REFUND_ID</code> and the README say.</p>\n<table class=\"attention\">\n\
         <thead><tr><th>refund</th><th>status</th><th class=\"num\">yuan</th><th>why</th><th>what to do</th></tr></thead>\n<tbody>\n",
    );
    for refund in &report.attention {
        let why = match (refund.error_code.as_str(), refund.error_message.as_str()) {
            ("", message) => escape(message).into_owned(),
            (code, message) => format!("<code>{}</code> {}", escape(code), escape(message)),
        };
        let _ = write!(
            html,
            "<tr><td class=\"ids\">{}<br><small>merchant {}, batch {} line {}</small></td><td>{}</td><td class=\"num\">{}</td><td class=\"message\">{why}</td><td>",
            escape(&refund.refund_id),
            escape(&refund.merchant_id),
            refund.batch,
            refund.line,
            refund.status.as_str(),
            yuan(refund.fen),
        );
        steps(html, refund);
        html.push_str("</td></tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    let unlisted = report
        .attention_total
        .saturating_sub(report.attention.len());
    if unlisted > 0 {
        let _ = writeln!(
            html,
            "<p class=\"note\">And {unlisted} more: <code>bulkrefund export --status review --status abnormal</code> lists them all.</p>"
        );
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::super::markup::CSP;
    use super::super::Heading;
    use super::super::{Finding, OutcomeLine, ReconciliationSection};
    use super::*;
    use crate::journal::latency::{LatencyBucket, LatencyCurve};
    use crate::journal::Status;
    use crate::money::Fen;
    use crate::report::summary::Sum;

    const HOSTILE: &str = "<script>alert('paid')</script> & \"more\"";
    const HOSTILE_ESCAPED: &str =
        "&lt;script&gt;alert(&#39;paid&#39;)&lt;/script&gt; &amp; &quot;more&quot;";

    fn report() -> Report {
        let sum = |count, fen| Sum {
            count,
            fen: Fen(fen),
        };
        Report {
            heading: Heading {
                merchants: vec!["M<1>".into()],
                period: "2026-11-01 to 2026-11-30".into(),
                zone: "Asia/Shanghai".into(),
                generated_at: "2026-12-01T09:00:00+08:00".into(),
            },
            money_source: "as `bulkrefund export` counts them".into(),
            money: vec![MoneyLine {
                label: "refunded".into(),
                count: 2,
                fen: Some(Fen(123_456)),
                part: false,
            }],
            by_day: vec![("2026-11-30".into(), sum(2, 123_456))],
            by_our_clock: Default::default(),
            days_note: crate::journal::days::note(0),
            failures: vec![FailureGroup {
                status: Some(Status::Failed),
                code: "E<1>".into(),
                message: HOSTILE.into(),
                count: 1,
                fen: Fen(5),
                samples: vec!["R<2>".into()],
            }],
            latency: LatencyCurve {
                bucket_seconds: 60,
                buckets: vec![LatencyBucket {
                    start: 1_796_054_400,
                    attempts: 3,
                    p50_ms: 20,
                    p95_ms: 90,
                    max_ms: 95,
                }],
            },
            attention: vec![AttentionRefund {
                refund_id: "R<3>".into(),
                merchant_id: "M<1>".into(),
                status: Status::Abnormal,
                fen: Fen(7),
                error_code: "ABNORMAL".into(),
                error_message: HOSTILE.into(),
                batch: 1,
                line: 2,
                what_to_do: vec!["act at the gateway <now>".into()],
            }],
            attention_total: 3,
            reconciliations: vec![ReconciliationSection {
                date: "2026-11-30".into(),
                source: "wechatpay <bill>".into(),
                outcomes: vec![OutcomeLine {
                    outcome: "matched".into(),
                    count: 1,
                    ..OutcomeLine::default()
                }],
                findings: vec![Finding {
                    outcome: "amount differs".into(),
                    refund_id: "R<4>".into(),
                    journal_fen: Some(Fen(100)),
                    note: HOSTILE.into(),
                    ..Finding::default()
                }],
                ..ReconciliationSection::default()
            }],
        }
    }

    #[test]
    fn every_text_from_the_journal_is_escaped() {
        assert_eq!(escape(HOSTILE), HOSTILE_ESCAPED);
        assert!(matches!(escape("RF2026"), Cow::Borrowed("RF2026")));
        let zone = Zone::named("Asia/Shanghai").unwrap();
        let html = render(&report(), &zone).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert_eq!(html.matches(HOSTILE_ESCAPED).count(), 3, "{html}");
        for text in [
            "M&lt;1&gt;",
            "E&lt;1&gt;",
            "R&lt;2&gt;",
            "R&lt;3&gt;",
            "R&lt;4&gt;",
        ] {
            assert!(html.contains(text), "{text}: {html}");
        }
        assert!(html.contains("act at the gateway &lt;now&gt;"), "{html}");
        assert!(html.contains("wechatpay &lt;bill&gt;"), "{html}");
        assert!(html.contains("And 2 more"), "{html}");
    }

    #[test]
    fn commands_in_quotes_become_code() {
        assert_eq!(
            with_code("run `bulkrefund resume` <now>"),
            "run <code>bulkrefund resume</code> &lt;now&gt;"
        );
        assert_eq!(refunds(1), "1 refund");
        assert_eq!(width_text(1), "1 second");
        assert_eq!(width_text(15), "15 seconds");
        assert_eq!(width_text(300), "5 minutes");
        assert_eq!(width_text(6 * 3600), "6 hours");
        assert_eq!(refunds(0), "0 refunds");
    }

    #[test]
    fn the_page_fetches_nothing_and_says_so_to_the_browser() {
        let zone = Zone::named("Asia/Shanghai").unwrap();
        let html = render(&report(), &zone).unwrap();
        assert!(html.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        )));
        // The only URL is the SVG namespace, which names and loads nothing.
        let urls: Vec<&str> = html
            .match_indices("http")
            .map(|(i, _)| &html[i..i + 30])
            .collect();
        assert!(
            urls.iter().all(|u| u.starts_with("http-equiv") || u.starts_with("http://www.w3.org/2000/svg")),
            "{urls:?}"
        );
        for fetching in ["src=", "url(", "@import", "@font-face"] {
            assert!(!html.contains(fetching), "{fetching}");
        }
        // The one link is the empty icon, so that the browser asks for no favicon.
        assert_eq!(html.matches("href=").count(), 1);
        assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("<td class=\"num fen\">123456</td>"), "{html}");
        assert!(html.contains("1,234.56"), "{html}");
    }
}
