//! The browser half of `tests/report_browser.rs`: headless Chromium, run
//! once per check with a fresh profile, and the 127.0.0.1 server that is both
//! the page's origin and the proxy every request of the browser goes through
//! (each logged). Chromium's net log says who made each request: the page, or
//! one of the browser's own services (which run whatever the page is).

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
const BROWSER_SERVICES: [(i64, &str); 17] = [
    (54_845_618, "update_client"),
    (35_565_745, "gaia_auth_list_accounts"),
    (46_188_932, "network_time_tracker"),
    // Not seen on this machine's Chromium, but of the same kind: the
    // browser's own, never a page's.
    (4_598_626, "gaia_auth_check_connection_info"),
    (31_445_884, "gaia_auth_multilogin"),
    (39_877_119, "gaia_auth_exchange_device_id"),
    (27_915_688, "oauth2_access_token_fetcher"),
    (115_188_287, "chrome_variations_service"),
    (82_509_217, "safe_browsing_v4_update"),
    (34_557_599, "hintsfetcher_gethintsrequest"),
    (65_957_842, "gcm_checkin"),
    (727_528, "metrics_report_uma"),
    (108_804_096, "domain_reliability_report_upload"),
    (5_151_071, "extension_manifest_fetcher"),
    (21_145_003, "extension_crx_fetcher"),
    (95_682_324, "ranker_url_fetcher"),
    (137_116_619, "translate_url_fetcher"),
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
    /// test skips, saying why on the test's standard error) without one
    /// that exists, unless a real run is required.
    pub fn find() -> Option<Browser> {
        let named = std::env::var_os("BULKREFUND_CHROMIUM").map(PathBuf::from);
        let on_path = || {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join("chromium"))
                .find(|exe| exe.is_file())
        };
        let why = match named {
            Some(exe) if exe.is_file() => return Some(Browser { exe }),
            Some(exe) => format!("BULKREFUND_CHROMIUM={} is not a file", exe.display()),
            None => match on_path() {
                Some(exe) => return Some(Browser { exe }),
                None => "chromium is not installed (apt-get install chromium, or set \
                         BULKREFUND_CHROMIUM)"
                    .to_owned(),
            },
        };
        if require_real() {
            panic!("{why}, and BULKREFUND_REQUIRE_REAL is set");
        }
        say_skipped(&why);
        None
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
        let is_service = |annotation: &i64| BROWSER_SERVICES.iter().any(|(a, _)| a == annotation);
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

/// `BULKREFUND_REQUIRE_REAL` set to anything but empty or `0` (CI): a
/// missing browser fails the test instead of skipping it.
fn require_real() -> bool {
    std::env::var("BULKREFUND_REQUIRE_REAL").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// "skipped: ..." on the process's standard error itself: libtest captures
/// what `println!` and `eprintln!` write (and shows it only on failure), not
/// what is written to the stderr handle, so the line is seen in `cargo test`.
fn say_skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {why}");
}
