use super::*;
use crate::gateway::GatewayKind;
use crate::journal::reconciled::RecordedFinding;

const HOSTILE: &str = "<b onclick=alert(1)>paid</b> & 'x'";
const HOSTILE_ESCAPED: &str = "&lt;b onclick=alert(1)&gt;paid&lt;/b&gt; &amp; &#39;x&#39;";

fn finding(outcome: &str, id: &str, journal: Option<u64>, bill: Option<u64>) -> RecordedFinding {
    RecordedFinding {
        outcome: outcome.into(),
        refund_id: id.into(),
        journal_fen: journal.map(Fen),
        bill_fen: bill.map(Fen),
        bill_day: bill.map(|_| "2026-11-30".into()),
        note: format!("note of {id}"),
    }
}

/// A reconciliation with every outcome: 7 matched, and one of each finding
/// but status_differs, which has two.
fn recorded_sample() -> RecordedReconciliation {
    let mut hostile = finding("not_in_journal", "OUT<1>", None, Some(1234));
    hostile.note = HOSTILE.into();
    RecordedReconciliation {
        id: 4,
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: "M1".into(),
        bill_date: "2026-11-30".into(),
        source: "portal.csv".into(),
        reconciled_at: "2026-12-01T01:00:00Z".into(),
        bill: Money {
            count: 11,
            fen: Fen(110_099),
        },
        counts: [7, 1, 2, 1, 1],
        unresolved_not_in_bill: 3,
        findings: vec![
            finding("amount_differs", "R-AMOUNT", Some(10_000), Some(9_999)),
            finding("status_differs", "R-PROC-1", Some(500), Some(500)),
            finding("status_differs", "R-PROC-2", Some(700), Some(700)),
            hostile,
            finding("missing_from_bill", "R-OMITTED", Some(2_500), None),
        ],
    }
}

#[test]
fn a_recorded_reconciliation_shows_every_outcome_its_findings_and_escapes_notes() {
    let now = Money {
        count: 10,
        fen: Fen(111_200),
    };
    let section = recorded(&recorded_sample(), Some(now));
    let outcomes: Vec<(&str, u64, Option<u64>, Option<u64>)> = section
        .outcomes
        .iter()
        .map(|o| {
            (
                o.outcome.as_str(),
                o.count,
                o.journal_fen.map(|f| f.0),
                o.bill_fen.map(|f| f.0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("matched", 7, None, None),
            ("amount_differs", 1, Some(10_000), Some(9_999)),
            ("status_differs", 2, Some(1_200), Some(1_200)),
            ("not_in_journal", 1, None, Some(1_234)),
            ("missing_from_bill", 1, Some(2_500), None),
        ]
    );
    let heading = Heading {
        merchants: vec!["M1".into()],
        period: "bill of 2026-11-30".into(),
        zone: "Asia/Shanghai".into(),
        generated_at: "2026-12-01T09:00:00+08:00".into(),
    };
    let html = render_page(&heading, &section);
    assert!(!html.contains("<b "), "{html}");
    assert_eq!(html.matches(HOSTILE_ESCAPED).count(), 1, "{html}");
    assert!(html.contains("OUT&lt;1&gt;"), "{html}");
    assert!(html.contains("<h3>Findings (5)</h3>"), "{html}");
    // Each finding once, with its outcome, amounts and what to do.
    for (outcome, id, journal, bill) in [
        ("amount_differs", "R-AMOUNT", "100.00", "99.99"),
        ("status_differs", "R-PROC-1", "5.00", "5.00"),
        ("status_differs", "R-PROC-2", "7.00", "7.00"),
        ("missing_from_bill", "R-OMITTED", "25.00", "-"),
    ] {
        let row = format!(
            "<tr><td>{outcome}</td><td class=\"ids\">{id}</td><td class=\"num\">{journal}</td><td class=\"num\">{bill}</td>"
        );
        assert_eq!(html.matches(&row).count(), 1, "{row}: {html}");
        assert_eq!(html.matches(&format!(">{id}<")).count(), 1, "{id}");
    }
    assert!(html.contains("a person compares the two"), "{html}");
    assert!(html.contains("<code>bulkrefund resume</code>"), "{html}");
    assert!(html.contains("listed for finance, not an error"), "{html}");
    assert!(html.contains("the money may not have moved"), "{html}");
    // The bill's totals beside the journal's.
    assert!(html.contains(
        "<tr><td>bill of 2026-11-30: refund rows</td><td class=\"num\">11</td><td class=\"num\">1,100.99</td></tr>"
    ), "{html}");
    assert!(html.contains(
        "<tr><td>journal: succeeded on 2026-11-30 (today)</td><td class=\"num\">10</td><td class=\"num\">1,112.00</td></tr>"
    ), "{html}");
    assert!(html.contains(
        "<tr><td>matched</td><td class=\"num\">7</td><td class=\"num\">-</td><td class=\"num\">-</td></tr>"
    ), "{html}");
    // The same rules as the report: the CSP, no script, nothing fetched.
    assert!(html.contains(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        markup::CSP
    )));
    for fetching in ["<script", "src=", "url(", "@import"] {
        assert!(!html.contains(fetching), "{fetching}");
    }
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn what_to_do_follows_the_outcomes_table() {
    assert_eq!(what_to_do("matched", None), "nothing");
    assert!(what_to_do("status_differs", Some(true)).contains("`bulkrefund resume`"));
    assert!(what_to_do("status_differs", Some(false)).starts_with("alarm"));
    assert!(what_to_do("missing_from_bill", None).starts_with("alarm"));
    assert!(what_to_do("amount_differs", None).starts_with("alarm"));
}

#[test]
fn a_day_with_no_finding_says_so() {
    let mut sample = recorded_sample();
    sample.findings.clear();
    sample.counts = [11, 0, 0, 0, 0];
    let section = recorded(&sample, None);
    let mut html = String::new();
    super::section(&mut html, &section);
    assert!(html.contains("No finding: every refund"), "{html}");
    assert!(!html.contains("(today)"), "{html}");
}
