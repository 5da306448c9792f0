//! `bulkrefund report` in a real browser: headless Chromium renders the page
//! made from the demo's journal, its refunds spread over a month (one moved
//! to 01:00 on the 1st of the next, Beijing time, that the month's report
//! and export leave out though it is the month's last day in UTC, the zone
//! they are run in), and the test
//! checks that the page makes no request but its own and logs nothing to the
//! console, that the chart's bars are the journal's daily sums, that it prints
//! to PDF pages and screenshots to a PNG, and that a gateway's `<script>`
//! message shows as text.
//!
//! Chromium is `$BULKREFUND_CHROMIUM`, else `chromium` on the PATH. Where it
//! is missing the test checks all it can without it (the report's and the
//! export's days), writes one line, "skipped: ...", to standard error (seen
//! in `cargo test`'s output) and passes, unless `BULKREFUND_REQUIRE_REAL` is
//! set and not `0` (CI), where it fails. Every request the page
//! could make, to any host, goes through a proxy this test runs on 127.0.0.1
//! (`--proxy-server`, loopback not bypassed), which logs it.
//!
//! `BULKREFUND_REPORT_SCREENSHOT=docs/report.png` also writes the README's
//! screenshot of the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Headless Chromium, and the 127.0.0.1 server every request of it goes to.
#[path = "report_browser/browser.rs"]
mod browser;

use browser::{Browser, Server};

/// The Beijing day each batch of the demo is moved to; each refund goes to
/// one of three days from there, so that the month has twelve.
const BATCH_DAYS: [u8; 4] = [3, 10, 17, 24];
const ZONE: &str = "Asia/Shanghai";

/// The gateway message put on the failed refund: shown as text, never run.
const HOSTILE: &str =
    "<script>document.title='paid twice'</script><img src=\"http://evil.test/x.png\">";

fn bulkrefund(args: &[&str], tmp: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(args)
        // `demo` makes its working directory in the temporary directory.
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Runs `bulkrefund demo` (the sample batches against the simulator) and
/// returns its journal.
fn demo_journal(tmp: &Path) -> PathBuf {
    let output = bulkrefund(&["demo"], tmp);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let journal = stderr
        .lines()
        .find_map(|l| l.strip_prefix("journal: "))
        .unwrap_or_else(|| panic!("the demo names its journal: {stderr}"));
    PathBuf::from(journal)
}

/// Moves each refund of the demo (all answered today) to a day of November
/// 2026, Beijing time, whole days back: the time it counts by (the gateway's
/// success time, else bulkrefund's), its other times and its attempts' times.
/// Returns the fen refunded per day, summed here from the journal's rows.
fn spread_over_november(journal: &Path) -> BTreeMap<String, u64> {
    let zone = jiff::tz::TimeZone::get(ZONE).unwrap();
    let conn = rusqlite::Connection::open(journal).unwrap();
    let refunds: Vec<(i64, i64, String, String, i64)> = conn
        .prepare(
            "SELECT id, batch_id, COALESCE(gateway_success_at, finished_at, created_at), state, amount_fen
             FROM refunds ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut by_day = BTreeMap::new();
    for (id, batch, counted_at, state, fen) in refunds {
        let at: jiff::Timestamp = counted_at.parse().unwrap();
        let today = at.to_zoned(zone.clone()).date();
        let day = BATCH_DAYS[(batch as usize - 1) % 4] + (id % 3) as u8;
        let target = jiff::civil::date(2026, 11, day as i8);
        let back = target.until(today).unwrap().get_days();
        assert!(back > 0, "the demo ran after November 2026");
        let shift = format!("-{back} days");
        let moved =
            |column: &str| format!("{column} = strftime('%Y-%m-%dT%H:%M:%fZ', {column}, ?1)");
        let columns = [
            "created_at",
            "first_sent_at",
            "finished_at",
            "gateway_success_at",
            "gateway_created_at",
        ]
        .map(moved)
        .join(", ");
        conn.execute(
            &format!("UPDATE refunds SET {columns} WHERE id = ?2"),
            rusqlite::params![shift, id],
        )
        .unwrap();
        conn.execute(
            &format!("UPDATE attempts SET {} WHERE refund = ?2", moved("at")),
            rusqlite::params![shift, id],
        )
        .unwrap();
        if state == "succeeded" {
            *by_day.entry(target.to_string()).or_insert(0) += fen as u64;
        }
    }
    by_day
}

/// Moves the last refund that succeeded to 01:00 on 1 December, Beijing
/// time (17:00 on 30 November in UTC, the zone the test shows times in): it
/// counts for December, and is in no report or export of November. Returns
/// the day it was on and its fen.
fn move_to_december_1st(journal: &Path) -> (String, u64) {
    let zone = jiff::tz::TimeZone::get(ZONE).unwrap();
    let conn = rusqlite::Connection::open(journal).unwrap();
    let (id, counted_at, fen): (i64, String, i64) = conn
        .query_row(
            "SELECT id, COALESCE(gateway_success_at, finished_at), amount_fen FROM refunds
             WHERE state = 'succeeded' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let at: jiff::Timestamp = counted_at.parse().unwrap();
    let day = at.to_zoned(zone).date().to_string();
    let moved = conn
        .execute(
            "UPDATE refunds SET finished_at = ?1,
                gateway_success_at = CASE WHEN gateway_success_at IS NULL THEN NULL ELSE ?1 END
             WHERE id = ?2",
            rusqlite::params![DECEMBER_1ST_BEIJING, id],
        )
        .unwrap();
    assert_eq!(moved, 1);
    (day, fen as u64)
}

/// 01:00 on 1 December 2026 in Beijing: still 30 November in UTC.
const DECEMBER_1ST_BEIJING: &str = "2026-11-30T17:00:00.000Z";

/// The `#by_day` lines of `bulkrefund export` of November, times in UTC
/// (the days stay the gateway's): (day, count, fen).
fn exported_days(journal: &Path, tmp: &Path) -> Vec<(String, u64, u64)> {
    let journal = journal.to_str().unwrap();
    let output = bulkrefund(
        &[
            "export",
            "--journal",
            journal,
            "--timezone",
            "UTC",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--out",
            "-",
        ],
        tmp,
    );
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#by_day,"))
        .filter(|l| !l.starts_with("day,"))
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                cells[2].parse().unwrap(),
            )
        })
        .collect()
}

/// `bulkrefund report` of November, times in UTC: its days are the
/// gateway's all the same, as the export's.
fn report(journal: &Path, out: &Path, tmp: &Path) {
    let output = bulkrefund(
        &[
            "report",
            "--journal",
            journal.to_str().unwrap(),
            "--timezone",
            "UTC",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-30",
            "--out",
            out.to_str().unwrap(),
        ],
        tmp,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// The value of `name="..."` in one tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next()
}

/// (x, height) of each bar of the "refunded per day" chart in the DOM, left to right.
fn bars(dom: &str) -> Vec<(i64, i64)> {
    let start = dom
        .find("<figure id=\"refunded-per-day\"")
        .expect("the chart");
    let figure = &dom[start..start + dom[start..].find("</figure>").unwrap()];
    let fill = format!("fill=\"{}\"", bulkrefund::report::html::charts::BAR_FILL);
    let mut bars: Vec<(i64, i64)> = figure
        .split("<rect")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap()])
        .filter(|tag| tag.contains(&fill))
        .map(|tag| {
            let number = |name| attribute(tag, name).unwrap().parse::<i64>().unwrap();
            (number("x"), number("height"))
        })
        .collect();
    bars.sort();
    bars
}

/// The body rows of the first table whose opening tag starts with `opening`,
/// as the text of their cells.
fn table_rows<'a>(html: &'a str, opening: &str) -> Vec<Vec<&'a str>> {
    let start = html.find(opening).expect("the table");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    &text[..text.find("</td>").unwrap()]
                })
                .collect()
        })
        .collect()
}

/// The rows of the table beside the chart: (day, count, fen).
fn table_days(dom: &str) -> Vec<(String, u64, u64)> {
    table_rows(dom, "<table id=\"by-day-table\"")
        .into_iter()
        .map(|cells| {
            (
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                cells[3].parse().unwrap(),
            )
        })
        .collect()
}

/// `report --batch N` shows the figures `status --batch N` gives, line by line.
fn assert_batch_report_is_status(journal: &Path, batch: &str, tmp: &Path) {
    let journal = journal.to_str().unwrap();
    let page = tmp.join(format!("batch-{batch}.html"));
    let output = bulkrefund(
        &[
            "report",
            "--journal",
            journal,
            "--batch",
            batch,
            "--out",
            page.to_str().unwrap(),
        ],
        tmp,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = bulkrefund(
        &[
            "status",
            "--journal",
            journal,
            "--batch",
            batch,
            "--format",
            "json",
        ],
        tmp,
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let money = &status["batch"]["money"];
    let html = std::fs::read_to_string(&page).unwrap();
    let rows = table_rows(&html, "<table class=\"money\"");
    assert!(rows.len() >= 5, "{rows:?}");
    for cells in rows {
        let figure = &money[cells[0].replace(' ', "_")];
        assert_eq!(
            cells[1],
            figure["count"].to_string(),
            "{}: {money}",
            cells[0]
        );
        assert_eq!(
            cells[2].replace(',', ""),
            figure["yuan"].as_str().unwrap(),
            "{}",
            cells[0]
        );
    }
}

/// The bars stand in the order of the days, each as tall as its day's fen
/// (to a pixel: each top is rounded, the tallest's too).
fn assert_bars_are(bars: &[(i64, i64)], days: &[(String, u64, u64)]) {
    assert_eq!(bars.len(), days.len(), "one bar a day: {bars:?}");
    let fen_max = days.iter().map(|d| d.2).max().unwrap() as f64;
    let tallest = bars.iter().map(|b| b.1).max().unwrap() as f64;
    assert!(tallest > 200.0, "the tallest bar fills the chart: {bars:?}");
    for ((_, height), (day, _, fen)) in bars.iter().zip(days) {
        let expected = tallest * *fen as f64 / fen_max;
        assert!(
            (*height as f64 - expected).abs() <= 1.0,
            "{day}: a bar of {height} px for {fen} fen, expected {expected:.1} px: {bars:?} {days:?}"
        );
    }
}

#[test]
fn the_report_of_the_demo_month_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = demo_journal(tmp.path());
    for batch in ["1", "2", "3", "4"] {
        assert_batch_report_is_status(&journal, batch, tmp.path());
    }
    let mut expected = spread_over_november(&journal);
    let (day, fen) = move_to_december_1st(&journal);
    *expected.get_mut(&day).unwrap() -= fen;
    expected.retain(|_, fen| *fen > 0);
    let days = exported_days(&journal, tmp.path());
    let summed: Vec<(String, u64)> = days.iter().map(|(d, _, fen)| (d.clone(), *fen)).collect();
    assert_eq!(summed, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(days.len(), 12, "{days:?}");

    // The report of November holds the days the export of November holds,
    // not the refund of 1 December at 01:00 in Beijing (30 November in UTC).
    let page = tmp.path().join("november.html");
    report(&journal, &page, tmp.path());
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(table_days(&html), days);
    assert!(
        html.contains("<h1>2026-11-01 to 2026-11-30 (the gateway&#39;s days, Asia/Shanghai)</h1>"),
        "{html}"
    );
    let Some(browser) = Browser::find() else {
        return;
    };
    let server = Server::start();
    server.serve("/november.html", std::fs::read(&page).unwrap());

    // The control: a page that fetches is seen fetching, and its console error heard.
    let control = browser.dump_dom(&server, "/control.html");
    let fetched = [
        server.url("/control.html"),
        "http://elsewhere.test/pixel.png".to_owned(),
    ];
    assert_eq!(control.requests, fetched, "the proxy sees every request");
    assert_eq!(
        control.page_requests, fetched,
        "the net log names the page's requests"
    );
    assert!(
        control
            .console
            .iter()
            .any(|l| l.contains("the control speaks")),
        "the console is heard: {:?}",
        control.console
    );

    let dom = browser.dump_dom(&server, "/november.html");
    dom.assert_clean(&server, "/november.html");
    assert_eq!(table_days(&dom.stdout), days);
    assert_bars_are(&bars(&dom.stdout), &days);
    assert!(dom
        .stdout
        .contains("<h1>2026-11-01 to 2026-11-30 (the gateway's days, Asia/Shanghai)</h1>"));

    let pdf = tmp.path().join("november.pdf");
    let printed = browser.run(
        &server,
        "/november.html",
        &[format!("--print-to-pdf={}", pdf.display())],
    );
    printed.assert_clean(&server, "/november.html");
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = String::from_utf8_lossy(&pdf).matches("/Type /Page").count()
        - String::from_utf8_lossy(&pdf)
            .matches("/Type /Pages")
            .count();
    assert!(pages >= 1, "the PDF has pages");

    let png = tmp.path().join("november.png");
    let shot = browser.screenshot(&server, "/november.html", &png, (1280, 2000));
    shot.assert_clean(&server, "/november.html");
    assert_eq!(
        browser::png_size(&std::fs::read(&png).unwrap()),
        (1280, 2000)
    );
    if let Ok(readme_shot) = std::env::var("BULKREFUND_REPORT_SCREENSHOT") {
        let shot = browser.screenshot(
            &server,
            "/november.html",
            Path::new(&readme_shot),
            (1100, 2200),
        );
        shot.assert_clean(&server, "/november.html");
    }

    // A gateway's message with a script and an image in it is text on the page.
    let conn = rusqlite::Connection::open(&journal).unwrap();
    let failed = conn
        .execute(
            "UPDATE refunds SET error_message = ?1 WHERE state = 'failed'",
            [HOSTILE],
        )
        .unwrap();
    assert_eq!(failed, 1, "the Leshua sample's last row fails");
    drop(conn);
    report(&journal, &page, tmp.path());
    server.serve("/november.html", std::fs::read(&page).unwrap());
    let dom = browser.dump_dom(&server, "/november.html");
    dom.assert_clean(&server, "/november.html");
    assert!(!dom.stdout.contains("<script"), "no script element");
    assert!(!dom.stdout.contains("<img"), "no image element");
    let as_text = HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(dom.stdout.contains(&as_text), "{}", dom.stdout);
    assert!(dom
        .stdout
        .contains("<title>bulkrefund report · 2026-11-01 to 2026-11-30 (the gateway's days, Asia/Shanghai)</title>"));
}
