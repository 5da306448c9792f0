//! `bulkrefund report` in a real browser: headless Chromium renders the page
//! made from the demo's journal, its refunds spread over a month, and the test
//! checks that the page makes no request but its own and logs nothing to the
//! console, that the chart's bars are the journal's daily sums, that it prints
//! to PDF pages and screenshots to a PNG, and that a gateway's `<script>`
//! message shows as text.
//!
//! Chromium is `$BULKREFUND_CHROMIUM`, else `chromium` on the PATH. Where it
//! is missing the test prints one line, "skipped: ...", and passes, unless
//! `BULKREFUND_REQUIRE_REAL=1` (CI), where it fails. Every request the page
//! could make, to any host, goes through a proxy this test runs on 127.0.0.1
//! (`--proxy-server`, loopback not bypassed), which logs it.
//!
//! `BULKREFUND_REPORT_SCREENSHOT=docs/report.png` also writes the README's
//! screenshot of the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// The `#by_day` lines of `bulkrefund export`: (day, count, fen).
fn exported_days(journal: &Path, tmp: &Path) -> Vec<(String, u64, u64)> {
    let journal = journal.to_str().unwrap();
    let output = bulkrefund(
        &[
            "export",
            "--journal",
            journal,
            "--timezone",
            ZONE,
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

fn report(journal: &Path, out: &Path, tmp: &Path) {
    let output = bulkrefund(
        &[
            "report",
            "--journal",
            journal.to_str().unwrap(),
            "--timezone",
            ZONE,
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
    let Some(browser) = Browser::find() else {
        return;
    };
    let expected = spread_over_november(&journal);
    let days = exported_days(&journal, tmp.path());
    let summed: Vec<(String, u64)> = days.iter().map(|(d, _, fen)| (d.clone(), *fen)).collect();
    assert_eq!(summed, expected.into_iter().collect::<Vec<_>>());
    assert_eq!(days.len(), 12, "{days:?}");

    let page = tmp.path().join("november.html");
    report(&journal, &page, tmp.path());
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
    assert!(dom.stdout.contains("<h1>2026-11-01 to 2026-11-30</h1>"));

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
        .contains("<title>bulkrefund report · 2026-11-01 to 2026-11-30</title>"));
}

/// Headless Chromium, and the 127.0.0.1 server every request of it goes to.
mod browser {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// The page of the control run: an image from another host, and a script
    /// that writes to the console.
    const CONTROL: &str = "<!DOCTYPE html><html><head><title>control</title>\
        <link rel=\"icon\" href=\"data:,\"></head><body><img src=\"http://elsewhere.test/pixel.png\">\
        <script>console.error('the control speaks')</script></body></html>";

    /// Chromium's own services, by the traffic annotation its net log gives
    /// each request. They run whatever the page is (the component updater, the
    /// Google account list, the network time); any other request is the page's.
    const BROWSER_SERVICES: [(i64, &str); 3] = [
        (54_845_618, "update_client"),
        (35_565_745, "gaia_auth_list_accounts"),
        (46_188_932, "network_time_tracker"),
    ];

    /// Pages by path, and the log of every request line's target.
    #[derive(Default)]
    struct State {
        pages: HashMap<String, Vec<u8>>,
        requests: Vec<String>,
    }

    /// An HTTP server and proxy on 127.0.0.1: it answers its pages (by path,
    /// whatever the host) and 404 to anything else, logging each request.
    pub struct Server {
        port: u16,
        state: Arc<Mutex<State>>,
    }

    impl Server {
        pub fn start() -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let state = Arc::new(Mutex::new(State::default()));
            state
                .lock()
                .unwrap()
                .pages
                .insert("/control.html".into(), CONTROL.into());
            let shared = state.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = shared.clone();
                    std::thread::spawn(move || answer(stream, &state));
                }
            });
            Server { port, state }
        }

        pub fn serve(&self, path: &str, body: Vec<u8>) {
            self.state.lock().unwrap().pages.insert(path.into(), body);
        }

        pub fn url(&self, path: &str) -> String {
            format!("http://127.0.0.1:{}{path}", self.port)
        }

        fn take_requests(&self) -> Vec<String> {
            std::mem::take(&mut self.state.lock().unwrap().requests)
        }
    }

    /// One request, answered and closed. A CONNECT (HTTPS) is logged and refused.
    fn answer(stream: TcpStream, state: &Mutex<State>) {
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        // A connection opened ahead of need and closed unused asks for nothing.
        if reader.read_line(&mut request_line).is_err() || request_line.trim().is_empty() {
            return;
        }
        let mut header = String::new();
        while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
            header.clear();
        }
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        // A proxy is asked for `http://host/path`; a server for `/path`.
        let path = match target.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
            None => target.clone(),
        };
        let body = {
            let mut state = state.lock().unwrap();
            state.requests.push(target.clone());
            // Only 127.0.0.1 (the page itself) is served: another host gets a 404.
            let local = target.starts_with('/') || target.starts_with("http://127.0.0.1:");
            state.pages.get(&path).filter(|_| local).cloned()
        };
        let mut stream = reader.into_inner();
        let (status, body) = match body {
            Some(body) => ("200 OK", body),
            None => ("404 Not Found", b"not here".to_vec()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
    }

    /// What one Chromium run printed and asked for.
    pub struct Run {
        pub stdout: String,
        /// Chromium's log lines of the page's console.
        pub console: Vec<String>,
        /// What reached the proxy, the browser's own services' requests aside.
        pub requests: Vec<String>,
        /// The URLs of the requests Chromium's net log gives to no browser service.
        pub page_requests: Vec<String>,
        /// What reached the proxy from the browser's own services.
        pub browser_own: Vec<String>,
    }

    impl Run {
        /// The page was its only request, and the console stayed silent.
        pub fn assert_clean(&self, server: &Server, page: &str) {
            let page = [server.url(page)];
            assert_eq!(
                self.requests, page,
                "the only request the proxy saw is the page (besides the browser's own: {:?})",
                self.browser_own
            );
            assert_eq!(
                self.page_requests, page,
                "the only request of the page is itself"
            );
            assert!(self.console.is_empty(), "console: {:?}", self.console);
        }
    }

    /// `host` of `http://host:port/path`, `https://host/path` or `host:443`.
    fn host(target: &str) -> &str {
        let rest = target.split_once("://").map_or(target, |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or_default();
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    }

    /// (traffic annotation, URL) of each request in a Chromium net log.
    fn net_log_requests(path: &Path) -> Vec<(i64, String)> {
        let log: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut requests: std::collections::BTreeMap<i64, (Option<i64>, Option<String>)> =
            Default::default();
        for event in log["events"].as_array().unwrap() {
            let (Some(source), params) = (event["source"]["id"].as_i64(), &event["params"]) else {
                continue;
            };
            let request = requests.entry(source).or_default();
            if let Some(annotation) = params["traffic_annotation"].as_i64() {
                request.0.get_or_insert(annotation);
            }
            if let Some(url) = params["url"].as_str() {
                request.1.get_or_insert_with(|| url.to_owned());
            }
        }
        requests
            .into_values()
            .filter_map(|(annotation, url)| Some((annotation?, url?)))
            .collect()
    }

    pub struct Browser {
        exe: PathBuf,
    }

    impl Browser {
        /// `$BULKREFUND_CHROMIUM`, else `chromium` on the PATH; `None` (the
        /// test skips, saying why) without one, unless a real run is required.
        pub fn find() -> Option<Browser> {
            let named = std::env::var_os("BULKREFUND_CHROMIUM").map(PathBuf::from);
            let on_path = || {
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                    .map(|dir| dir.join("chromium"))
                    .find(|exe| exe.is_file())
            };
            match named.or_else(on_path) {
                Some(exe) => Some(Browser { exe }),
                None if std::env::var("BULKREFUND_REQUIRE_REAL").as_deref() == Ok("1") => {
                    panic!("chromium is not installed (apt-get install chromium), and BULKREFUND_REQUIRE_REAL=1")
                }
                None => {
                    println!("skipped: chromium is not installed (apt-get install chromium, or set BULKREFUND_CHROMIUM)");
                    None
                }
            }
        }

        /// Loads `page` from `server` with `action`, every request through the
        /// server as a proxy, in a fresh profile; at most two minutes.
        pub fn run(&self, server: &Server, page: &str, action: &[String]) -> Run {
            server.take_requests();
            let profile = tempfile::tempdir().unwrap();
            let net_log = profile.path().join("net-log.json");
            let mut child = Command::new(&self.exe)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    "--enable-logging=stderr",
                    "--v=0",
                    "--proxy-bypass-list=<-loopback>",
                ])
                .arg(format!("--log-net-log={}", net_log.display()))
                .arg(format!("--proxy-server=http://127.0.0.1:{}", server.port))
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .args(action)
                .arg(server.url(page))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let stderr = child.stderr.take().unwrap();
            let read = |mut pipe: Box<dyn std::io::Read + Send>| {
                std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.read_to_string(&mut text);
                    text
                })
            };
            let (stdout, stderr) = (read(Box::new(stdout)), read(Box::new(stderr)));
            let deadline = Instant::now() + Duration::from_secs(120);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("chromium did not finish in two minutes: {action:?}");
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
            assert!(status.success(), "chromium {action:?}: {status}\n{stderr}");
            let logged = net_log_requests(&net_log);
            let is_service =
                |annotation: &i64| BROWSER_SERVICES.iter().any(|(a, _)| a == annotation);
            let (services, page): (Vec<_>, Vec<_>) = logged
                .into_iter()
                .partition(|(annotation, _)| is_service(annotation));
            let page_requests: Vec<String> = page.into_iter().map(|(_, url)| url).collect();
            // A host the browser's services asked and the page never did.
            let own = |target: &String| {
                services.iter().any(|(_, url)| host(url) == host(target))
                    && !page_requests.iter().any(|url| host(url) == host(target))
            };
            let (browser_own, requests) = server.take_requests().into_iter().partition(own);
            Run {
                stdout,
                console: stderr
                    .lines()
                    .filter(|l| l.contains(":CONSOLE"))
                    .map(str::to_owned)
                    .collect(),
                requests,
                page_requests,
                browser_own,
            }
        }

        pub fn dump_dom(&self, server: &Server, page: &str) -> Run {
            self.run(server, page, &["--dump-dom".to_owned()])
        }

        pub fn screenshot(&self, server: &Server, page: &str, png: &Path, size: (u32, u32)) -> Run {
            self.run(
                server,
                page,
                &[
                    format!("--screenshot={}", png.display()),
                    format!("--window-size={},{}", size.0, size.1),
                ],
            )
        }
    }

    /// A PNG's width and height, from its header.
    pub fn png_size(png: &[u8]) -> (u32, u32) {
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
            "a PNG"
        );
        let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        (number(16), number(20))
    }
}
