//! The report's exact bytes, its formats, and that it is written whole.

use std::str::FromStr;

use jiff::civil::Date;
use jiff::Timestamp;

use super::*;
use crate::gateway::bill::{Bill, BillRow, BillStatus, BillTotals};
use crate::gateway::GatewayKind;
use crate::journal::days::DayBasis;
use crate::reconcile::matching::{reconcile, DayBills, JournalRefund, JournalSide};

fn sample() -> Matched {
    let journal = |id: i64, refund_id: &str, fen: u64| JournalRefund {
        id,
        refund_id: refund_id.into(),
        state: State::Succeeded,
        fen: Fen(fen),
        order_id: format!("O-{refund_id}"),
        gateway_order_id: String::new(),
        gateway_refund_id: Some(format!("G-{refund_id}")),
        counted_at: Some("2026-11-30T15:59:58.000Z".into()),
        basis: DayBasis::Gateway,
        sent: true,
        batch_id: 3,
        line: 7,
        retry_of: None,
        retried_as: None,
    };
    let row = |line: u64, refund_id: &str, fen: u64| BillRow {
        refund_id: refund_id.into(),
        gateway_refund_id: Some(format!("G-{refund_id}")),
        order_id: Some(format!("O-{refund_id}")),
        gateway_order_id: None,
        fen: Fen(fen),
        status: BillStatus::Succeeded,
        success_at: Some(Timestamp::from_str("2026-11-30T15:59:58Z").unwrap()),
        line,
    };
    let day = Bill {
        gateway: GatewayKind::Leshua,
        merchant_id: Some("0000000018".into()),
        date: Date::from_str("2026-11-30").unwrap(),
        rows: vec![row(2, "R1", 2599), row(3, "=HYPERLINK(1)", 100)],
        totals: BillTotals::default(),
    };
    let r1 = journal(1, "R1", 2599);
    let gone = journal(2, "R2", 500);
    reconcile(
        DayBills {
            day: &day,
            before: None,
            after: None,
        },
        &JournalSide {
            named: vec![r1.clone()],
            expected: vec![r1, gone],
            unresolved: Vec::new(),
        },
    )
}

#[test]
fn the_csv_has_the_contracts_columns_beijing_times_and_safe_cells() {
    let mut bytes = Vec::new();
    write_csv(&sample(), &mut bytes, false).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let expected = [
        "outcome,bill_date,refund_id,gateway_refund_id,order_id,journal_status,bill_status,journal_fen,bill_fen,journal_success_at,bill_success_at,bill_day,batch_id,line,note",
        "matched,2026-11-30,R1,G-R1,O-R1,succeeded,succeeded,2599,2599,2026-11-30T23:59:58+08:00,2026-11-30T23:59:58+08:00,2026-11-30,3,2,",
        "not_in_journal,2026-11-30,'=HYPERLINK(1),G-=HYPERLINK(1),O-=HYPERLINK(1),,succeeded,,100,,2026-11-30T23:59:58+08:00,2026-11-30,,3,",
        "missing_from_bill,2026-11-30,R2,G-R2,O-R2,succeeded,,500,,2026-11-30T23:59:58+08:00,,,3,,\"alarm: the journal counts it succeeded on 2026-11-30 (by the gateway's success time) and no bill of 2026-11-30 lists it: the money may not have moved; `bulkrefund show` it, query it and tell the gateway (the bill of 2026-11-29 and 2026-12-01 was not read: it may list it)\"",
        "#summary,figure,count,amount_fen,amount_yuan",
        "#summary,bill of 2026-11-30: refund rows,2,2699,26.99",
        "#summary,bill of 2026-11-30: succeeded refund rows,2,2699,26.99",
        "#summary,journal: succeeded on 2026-11-30,2,3099,30.99",
        "#summary,matched (journal),1,2599,25.99",
        "#summary,amount_differs (journal),0,0,0.00",
        "#summary,amount_differs (bill),0,0,0.00",
        "#summary,status_differs (journal),0,0,0.00",
        "#summary,not_in_journal (bill),1,100,1.00",
        "#summary,missing_from_bill (journal),1,500,5.00",
        "#summary,\"unresolved, not in the bill (run resume)\",0,0,0.00",
        "",
    ]
    .join("\n");
    assert_eq!(text, expected);
    let mut with_bom = Vec::new();
    write_csv(&sample(), &mut with_bom, true).unwrap();
    assert_eq!(&with_bom[..3], "\u{feff}".as_bytes());
    assert_eq!(&with_bom[3..], text.as_bytes());
}

#[test]
fn formats_by_extension() {
    let format = |out: &str, given| format_for(Path::new(out), given);
    let table = ReportFormat::Table;
    assert_eq!(format("d.csv", None).unwrap(), table(ExportFormat::Csv));
    assert_eq!(format("d.XLSX", None).unwrap(), table(ExportFormat::Xlsx));
    assert_eq!(
        format("d.txt", Some(ExportFormat::Xlsx)).unwrap(),
        table(ExportFormat::Xlsx)
    );
    assert!(format("d.csv", Some(ExportFormat::Xlsx)).is_err());
    assert_eq!(format("day.html", None).unwrap(), ReportFormat::Html);
    assert_eq!(format("day.HTM", None).unwrap(), ReportFormat::Html);
    assert!(format("day.html", Some(ExportFormat::Csv))
        .unwrap_err()
        .0
        .contains("names an HTML page, but --format says"));
    assert!(format("-", None).is_err());
}

#[test]
fn the_xlsx_has_the_summary_first_and_the_same_rows() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("day.xlsx");
    write(&sample(), "title", &out, ExportFormat::Xlsx, false).unwrap();
    let mut workbook: Xlsx<_> = open_workbook(&out).unwrap();
    assert_eq!(workbook.sheet_names(), ["summary", "findings"]);
    let summary = workbook.worksheet_range("summary").unwrap();
    let first: Vec<String> = summary
        .rows()
        .nth(2)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        first,
        ["bill of 2026-11-30: refund rows", "2", "2699", "26.99"]
    );
    let findings = workbook.worksheet_range("findings").unwrap();
    let rows: Vec<Vec<Data>> = findings.rows().map(|r| r.to_vec()).collect();
    assert_eq!(rows.len(), 2 + 3);
    let header: Vec<String> = rows[1].iter().map(|c| c.to_string()).collect();
    assert_eq!(header, COLUMNS);
    assert_eq!(rows[2][0], Data::String("matched".into()));
    assert_eq!(rows[2][7], Data::Float(2599.0));
    assert_eq!(
        rows[3][2],
        Data::String("=HYPERLINK(1)".into()),
        "a string cell, never a formula"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file left");
}

/// The bill's succeeded rows stand beside the journal's succeeded refunds;
/// all its rows (and what it states of them) are their own lines.
#[test]
fn the_bill_and_the_journal_are_totalled_the_same_way() {
    let mut matched = sample();
    let mut processing = matched.findings[1].bill.clone().unwrap();
    processing.status = BillStatus::Processing;
    let day = Bill {
        gateway: GatewayKind::Leshua,
        merchant_id: None,
        date: matched.date,
        rows: vec![matched.findings[0].bill.clone().unwrap(), processing],
        totals: BillTotals {
            count: Some(2),
            fen: Some(Fen(2699)),
        },
    };
    let journal = matched.findings[0].journal.clone().unwrap();
    matched = reconcile(
        DayBills {
            day: &day,
            before: None,
            after: None,
        },
        &JournalSide {
            named: vec![journal.clone()],
            expected: vec![journal],
            unresolved: Vec::new(),
        },
    );
    let lines = summary_lines(&matched);
    let first: Vec<(&str, u64, Option<Fen>)> = lines[..4]
        .iter()
        .map(|(figure, count, fen)| (figure.as_str(), *count, *fen))
        .collect();
    assert_eq!(
        first,
        [
            ("bill of 2026-11-30: refund rows", 2, Some(Fen(2699))),
            ("bill of 2026-11-30: its stated totals", 2, Some(Fen(2699))),
            (
                "bill of 2026-11-30: succeeded refund rows",
                1,
                Some(Fen(2599))
            ),
            ("journal: succeeded on 2026-11-30", 1, Some(Fen(2599))),
        ]
    );
}

/// A day with every outcome: R1 matched, R3 with another amount in the bill,
/// R4 still processing in the journal but succeeded in the bill, an outside
/// refund, and R2 that no bill lists.
fn every_outcome() -> Matched {
    let journal = |id: i64, refund_id: &str, fen: u64, state: State| JournalRefund {
        id,
        refund_id: refund_id.into(),
        state,
        fen: Fen(fen),
        order_id: format!("O-{refund_id}"),
        gateway_order_id: String::new(),
        gateway_refund_id: Some(format!("G-{refund_id}")),
        counted_at: (state == State::Succeeded).then(|| "2026-11-30T04:00:00.000Z".into()),
        basis: DayBasis::Gateway,
        sent: true,
        batch_id: 3,
        line: id as u64,
        retry_of: None,
        retried_as: None,
    };
    let row = |line: u64, refund_id: &str, fen: u64| BillRow {
        refund_id: refund_id.into(),
        gateway_refund_id: Some(format!("G-{refund_id}")),
        order_id: Some(format!("O-{refund_id}")),
        gateway_order_id: None,
        fen: Fen(fen),
        status: BillStatus::Succeeded,
        success_at: Some(Timestamp::from_str("2026-11-30T04:00:00Z").unwrap()),
        line,
    };
    let day = Bill {
        gateway: GatewayKind::Leshua,
        merchant_id: Some("0000000018".into()),
        date: Date::from_str("2026-11-30").unwrap(),
        rows: vec![
            row(2, "R1", 2599),
            row(3, "R3", 999),
            row(4, "R4", 700),
            row(5, "OUT<1>", 1234),
        ],
        totals: BillTotals::default(),
    };
    let r1 = journal(1, "R1", 2599, State::Succeeded);
    let r2 = journal(2, "R2", 500, State::Succeeded);
    let r3 = journal(3, "R3", 1000, State::Succeeded);
    let r4 = journal(4, "R4", 700, State::Processing);
    reconcile(
        DayBills {
            day: &day,
            before: None,
            after: None,
        },
        &JournalSide {
            named: vec![r1.clone(), r3.clone(), r4],
            expected: vec![r1, r2, r3],
            unresolved: Vec::new(),
        },
    )
}

#[test]
fn the_html_page_names_each_finding_with_its_counts_and_escapes_notes() {
    const HOSTILE: &str = "<script>alert('x')</script> & \"paid\"";
    let mut matched = every_outcome();
    let outside = matched
        .findings
        .iter_mut()
        .find(|f| f.outcome == Outcome::NotInJournal)
        .unwrap();
    outside.note = HOSTILE.into();
    let html = html_page(
        &matched,
        "0000000018",
        "leshua merchant 0000000018; bill: <day>.csv",
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;paid&quot;"));
    assert!(html.contains("bill: &lt;day&gt;.csv"), "{html}");
    // One row per outcome with its count, journal yuan and bill yuan.
    for (outcome, count, journal, bill) in [
        ("matched", 1, "25.99", "25.99"),
        ("amount_differs", 1, "10.00", "9.99"),
        ("status_differs", 1, "7.00", "7.00"),
        ("not_in_journal", 1, "-", "12.34"),
        ("missing_from_bill", 1, "5.00", "-"),
    ] {
        let line = format!(
            "<tr><td>{outcome}</td><td class=\"num\">{count}</td><td class=\"num\">{journal}</td><td class=\"num\">{bill}</td></tr>"
        );
        assert_eq!(html.matches(&line).count(), 1, "{line}: {html}");
    }
    // The four findings, each once, in the report's order; never the matched one.
    assert!(html.contains("<h3>Findings (4)</h3>"), "{html}");
    let ids: Vec<usize> = ["R3", "R4", "OUT&lt;1&gt;", "R2"]
        .iter()
        .map(|id| {
            let cell = format!("<td class=\"ids\">{id}</td>");
            assert_eq!(html.matches(&cell).count(), 1, "{cell}: {html}");
            html.find(&cell).unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(!html.contains("<td class=\"ids\">R1</td>"), "{html}");
    // R4 is unresolved in the journal: `resume` settles it.
    assert!(
        html.contains("the journal&#39;s refund is unresolved: run <code>bulkrefund resume</code>"),
        "{html}"
    );
    assert!(html.contains(
        "<tr><td>journal: succeeded on 2026-11-30</td><td class=\"num\">3</td><td class=\"num\">40.99</td></tr>"
    ), "{html}");
    assert!(html.contains(
        "<tr><td>bill of 2026-11-30: refund rows</td><td class=\"num\">4</td><td class=\"num\">55.32</td></tr>"
    ), "{html}");
}
