//! The HTML page of a reconciliation, through the real binary: a run
//! against the simulator, then a hand-written Leshua portal statement with
//! one refund made outside bulkrefund (its refund id hostile HTML), one the
//! bill omits, one with another amount and one still processing.
//! `reconcile --out day.html` exits 3 and writes a page that names exactly
//! those four findings, escaped, with the bill's totals beside the
//! journal's; `report --since D --until D` then shows the same findings,
//! read back from the journal.

mod common;

use std::path::Path;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days::gateway_zone;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// A succeeded refund: (refund id, fen, gateway refund id, order id, the time it counts by).
type Refund = (String, u64, String, String, String);

fn succeeded(journal: &Path) -> Vec<Refund> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT refund_id, amount_fen, gateway_refund_id,
                    COALESCE(json_extract(fields, '$.third_order_id'), json_extract(fields, '$.leshua_order_id')),
                    COALESCE(gateway_success_at, finished_at)
             FROM refunds WHERE state = 'succeeded' ORDER BY refund_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

fn portal_time(utc: &str) -> String {
    let at: jiff::Timestamp = utc.parse().unwrap();
    at.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

/// The refund ids of the findings table, in the page's order.
fn finding_ids(html: &str) -> Vec<(String, String)> {
    let table = &html[html.find("<table class=\"findings\">").expect(html)..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let outcome = &row[..row.find("</td>").unwrap()];
            let id = row.split("<td class=\"ids\">").nth(1).unwrap();
            (
                outcome.to_owned(),
                id[..id.find("</td>").unwrap()].to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciliation_page_names_exactly_its_findings() {
    let (w, batch) =
        World::with_generated(GatewayKind::Leshua, 8, "RH", FaultConfig::default()).await;
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let all = succeeded(&w.journal());
    let zone = gateway_zone();
    let date = zone.day_of(&all[0].4).unwrap();
    let of_day: Vec<&Refund> = all
        .iter()
        .filter(|r| zone.day_of(&r.4) == Some(date))
        .collect();
    assert!(of_day.len() >= 4, "a run of seconds stays on one day");
    let (omitted, other_amount, processing) = (&of_day[0].0, &of_day[1].0, &of_day[2].0);
    let mut bill = String::from(
        "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,refund_amount,status,refund_time\n",
    );
    let (mut bill_count, mut bill_fen, mut journal_fen) = (0u64, 0u64, 0u64);
    for (id, fen, gateway_id, order, at) in &of_day {
        journal_fen += fen;
        if id == omitted {
            continue;
        }
        let fen = if id == other_amount { fen - 1 } else { *fen };
        let (status, time) = if id == processing {
            ("10", String::new())
        } else {
            ("11", portal_time(at))
        };
        bill_count += 1;
        bill_fen += fen;
        bill.push_str(&format!(
            "{LESHUA_MERCHANT},{id},{gateway_id},{order},{fen},{status},{time}\n"
        ));
    }
    let noon = format!("{}120000", date.strftime("%Y%m%d"));
    bill.push_str(&format!(
        "{LESHUA_MERCHANT},<b>OUT</b>,LS-OUT-1,PORTAL-ORDER,1234,11,{noon}\n"
    ));
    let (bill_count, bill_fen) = (bill_count + 1, bill_fen + 1234);
    let bill_path = w.write("portal.csv", &bill);
    let out = w.path("day.html");
    let date_text = date.to_string();
    let reconcile = w
        .bulkrefund(&[
            "reconcile",
            "--profile",
            "leshua",
            "--date",
            &date_text,
            "--file",
            bill_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .await;
    assert_eq!(reconcile.code, 3, "{}", reconcile.stderr);
    let page = std::fs::read_to_string(&out).unwrap();
    let expected = [
        ("amount_differs".to_owned(), other_amount.clone()),
        ("status_differs".to_owned(), processing.clone()),
        (
            "not_in_journal".to_owned(),
            "&lt;b&gt;OUT&lt;/b&gt;".to_owned(),
        ),
        ("missing_from_bill".to_owned(), omitted.clone()),
    ];
    assert_eq!(finding_ids(&page), expected);
    assert!(!page.contains("<b>OUT"), "{page}");
    let yuan = |fen: u64| bulkrefund::money::Fen(fen).grouped();
    let bill_line = format!(
        "<tr><td>bill of {date}: refund rows</td><td class=\"num\">{bill_count}</td><td class=\"num\">{}</td></tr>",
        yuan(bill_fen)
    );
    assert!(page.contains(&bill_line), "{bill_line}: {page}");
    let journal_line = format!(
        "<tr><td>journal: succeeded on {date}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        of_day.len(),
        yuan(journal_fen)
    );
    assert!(page.contains(&journal_line), "{journal_line}: {page}");
    let matched = format!(
        "<tr><td>matched</td><td class=\"num\">{}</td>",
        of_day.len() - 3
    );
    assert!(page.contains(&matched), "{matched}: {page}");
    assert!(page.contains("Content-Security-Policy"), "{page}");
    for fetching in ["<script", "src=", "url(", "@import"] {
        assert!(!page.contains(fetching), "{fetching}");
    }

    // The period's report shows the same findings, from the journal.
    let report_out = w.path("period.html");
    let report = w
        .bulkrefund(&[
            "report",
            "--since",
            &date_text,
            "--until",
            &date_text,
            "--out",
            report_out.to_str().unwrap(),
        ])
        .await;
    assert_eq!(report.code, 0, "{}", report.stderr);
    let period = std::fs::read_to_string(&report_out).unwrap();
    assert_eq!(
        period.matches("<section class=\"reconciliation\">").count(),
        1
    );
    assert_eq!(finding_ids(&period), expected);
    assert!(period.contains(&bill_line), "{bill_line}: {period}");
    // A period without the day has no reconciliation.
    let next = date.tomorrow().unwrap().to_string();
    let other = w.path("next.html");
    let report = w
        .bulkrefund(&["report", "--since", &next, "--out", other.to_str().unwrap()])
        .await;
    assert_eq!(report.code, 0, "{}", report.stderr);
    let next_page = std::fs::read_to_string(&other).unwrap();
    assert!(
        !next_page.contains("class=\"reconciliation\""),
        "{next_page}"
    );
}

/// The sample Alipay account's PID (the simulator's `#账号` is it and `0156`).
const PID: &str = "2088123456789012";

/// `reconcile --profile alipay --date 2026-11-22`, fetching or reading `file`.
async fn alipay_reconcile(w: &World, file: Option<&Path>, out: &Path) -> Output {
    let mut args = vec![
        "reconcile".to_owned(),
        "--profile".into(),
        "alipay".into(),
        "--date".into(),
        "2026-11-22".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(file) = file {
        args.extend(["--file".to_owned(), file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.bulkrefund(&args).await
}

/// An Alipay bill file is whose its `#账号` says, checked against the
/// profile's `pid` (the profile's merchant_id is the app_id, which a bill
/// never names): read with the right pid, refused (exit 2, nothing recorded)
/// with another, and refused without one, saying to set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alipay_bill_file_is_read_by_its_pid() {
    let scratch = tempfile::tempdir().unwrap();
    let (generated, orders) = generated(scratch.path(), GatewayKind::Alipay, 3, "AP");
    let profiles = Profiles::default().set("alipay", &format!("pid = \"{PID}\""));
    let w = World::with_profiles(orders, FaultConfig::default(), profiles).await;
    let batch = w.path("batch.csv");
    std::fs::copy(&generated, &batch).unwrap();
    // The refunds succeed on 2026-11-22 (Beijing), and the bill is asked the day after.
    w.sim
        .clock()
        .freeze("2026-11-22T10:00:00+08:00".parse().unwrap());
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "alipay"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    w.sim
        .clock()
        .freeze("2026-11-23T10:00:00+08:00".parse().unwrap());
    let fetched = alipay_reconcile(&w, None, &w.path("api.csv")).await;
    assert_eq!(fetched.code, 0, "{}", fetched.stderr);
    let zip = w.path("2026-11-22.alipay.bill.csv.zip");
    assert!(zip.exists(), "the raw bill is kept");
    let conn = || rusqlite::Connection::open(w.journal()).unwrap();
    let recorded = || -> i64 {
        conn()
            .query_row("SELECT COUNT(*) FROM reconciliations", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(recorded(), 1);

    // The kept bill, given as a file: the same 3 refunds matched.
    let read = alipay_reconcile(&w, Some(&zip), &w.path("file.csv")).await;
    assert_eq!(read.code, 0, "{}", read.stderr);
    assert_eq!(recorded(), 2);
    let matched: i64 = conn()
        .query_row(
            "SELECT matched FROM reconciliations ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(matched, 3);

    // Another merchant's pid: the file is refused, nothing recorded.
    let config = std::fs::read_to_string(&w.config).unwrap();
    let other = config.replace(PID, "2088123456789013");
    assert_ne!(other, config);
    std::fs::write(&w.config, &other).unwrap();
    let refused = alipay_reconcile(&w, Some(&zip), &w.path("other.csv")).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "it is the bill of account \"20881234567890120156\", not of this profile's pid \"2088123456789013\""
        ) && refused.stderr.contains("nothing was recorded"),
        "{}",
        refused.stderr
    );
    assert!(!w.path("other.csv").exists());

    // No pid at all: refused, saying to set it.
    let without = config.replace(&format!("pid = \"{PID}\"\n"), "");
    assert_ne!(without, config);
    std::fs::write(&w.config, &without).unwrap();
    let unchecked = alipay_reconcile(&w, Some(&zip), &w.path("unchecked.csv")).await;
    assert_eq!(unchecked.code, 2, "{}", unchecked.stderr);
    assert!(
        unchecked.stderr.contains("set the profile's pid"),
        "{}",
        unchecked.stderr
    );
    assert_eq!(recorded(), 2);
}
