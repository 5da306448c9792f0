//! The fixture of a reconciled day: a simulator of one gateway seeded with
//! the orders of a generated batch, the sample profiles aimed at it, and the
//! control calls a day is staged with (the clock, a refund made outside, a
//! bill fault), all over HTTP as an operator's script would make them; then
//! `reconcile` through the real binary and what it left behind.

use std::path::{Path, PathBuf};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days::gateway_zone;
use bulkrefund::sim::wechatpay::BillLayout;
use bulkrefund::sim::{self, SimConfig};
use jiff::civil::Date;
use serde_json::{json, Value};

use crate::common::*;

/// The amount of the generated batch's `i`th refund, in fen (its order's
/// whole amount; `sim::generate::write_batch`'s rule).
pub fn amount_of(i: u64) -> u64 {
    100 + (i * 7919) % 100_000
}

/// The Beijing day `n` days before today.
pub fn days_ago(n: i64) -> Date {
    let today = gateway_zone()
        .day_of(&bulkrefund::journal::now_text())
        .unwrap();
    shift(today, -n)
}

pub fn shift(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days)).unwrap()
}

/// A report's rows as (outcome, refund id), and its `#summary` lines as
/// (figure, count, fen).
pub type Summary = Vec<(String, u64, u64)>;

pub fn read_report(path: &Path) -> (Vec<(String, String)>, Summary) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>().join(","),
        "outcome,bill_date,refund_id,gateway_refund_id,order_id,journal_status,bill_status,journal_fen,bill_fen,journal_success_at,bill_success_at,bill_day,batch_id,line,note"
    );
    let (mut rows, mut summary) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.unwrap();
        match (&record[0], &record[1]) {
            ("#summary", "figure") => {}
            ("#summary", figure) => summary.push((
                figure.to_owned(),
                record[2].parse().unwrap(),
                record[3].parse().unwrap(),
            )),
            (outcome, _) => rows.push((outcome.to_owned(), record[2].to_owned())),
        }
    }
    (rows, summary)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub struct DayWorld {
    pub w: World,
    pub gateway: GatewayKind,
    header: String,
    /// The generated batch's rows, the `i`th at `i - 1`.
    rows: Vec<String>,
    prefix: String,
    http: reqwest::Client,
}

/// One `reconcile` and where its report and the bill it read are.
pub struct Reconciled {
    pub output: Output,
    pub report: PathBuf,
    /// The raw bill: the one kept beside the report, or the file given.
    pub raw: PathBuf,
}

impl DayWorld {
    /// A simulator of `gateway` knowing the orders of a generated batch of
    /// `rows` refunds; WeChat's bills in the old layout if `old_layout`;
    /// Alipay's limit raised so that a day of refunds takes seconds.
    pub async fn start(gateway: GatewayKind, prefix: &str, old_layout: bool, rows: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (batch, orders) = generated(dir.path(), gateway, rows, prefix);
        let text = std::fs::read_to_string(&batch).unwrap();
        let mut lines = text.lines().map(str::to_owned);
        let header = lines.next().unwrap();
        let mut config = SimConfig::with_sample_keys(orders);
        if old_layout {
            config.wechatpay.bill_layout = BillLayout::Old;
        }
        config.alipay.qps = 400;
        // A Leshua or Lianshang refund answers refunding and its success
        // time comes with the query, as Leshua usually does (leshua.md); a
        // refund answer final at once carries no `refund_time` (Leshua's
        // never, the simulator's Lianshang's not), and the refund's day
        // would be bulkrefund's clock's, not the frozen D.
        if matches!(gateway, GatewayKind::Leshua | GatewayKind::Lianshang) {
            config.faults.processing_for = std::time::Duration::from_millis(200);
        }
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("simulator starts");
        // Alipay's bills are checked against the account's PID (the
        // simulator's `#账号` is it and `0156`).
        let profiles = Profiles::default()
            .set("alipay", "rate = 300")
            .set("alipay", "pid = \"2088123456789012\"");
        let config = profiles.write(dir.path(), &sim.base_url());
        DayWorld {
            w: World {
                dir,
                sim,
                config,
                pg: None,
            },
            gateway,
            header,
            rows: lines.collect(),
            prefix: prefix.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn profile(&self) -> &'static str {
        self.gateway.as_str()
    }

    /// The profile's merchant, as bills and the simulator name it.
    pub fn merchant(&self) -> &'static str {
        match self.gateway {
            GatewayKind::Leshua => LESHUA_MERCHANT,
            GatewayKind::Lianshang => LIANSHANG_MERCHANT,
            GatewayKind::Wechatpay => WECHATPAY_MERCHANT,
            GatewayKind::Alipay => ALIPAY_APP_ID,
        }
    }

    /// Whether this gateway's bill states its own totals (WeChat's summary
    /// lines, Alipay's 商家实收退款共); the portal files do not.
    pub fn states_totals(&self) -> bool {
        matches!(self.gateway, GatewayKind::Wechatpay | GatewayKind::Alipay)
    }

    /// The refund id of the generated batch's `i`th row (its first cell).
    pub fn refund_id(&self, i: u64) -> String {
        let row = &self.rows[usize::try_from(i - 1).unwrap()];
        row.split(',').next().unwrap().to_owned()
    }

    /// The merchant's order id of the `i`th generated order.
    pub fn order_id(&self, i: u64) -> String {
        format!("{}O{i:09}", self.prefix)
    }

    /// A batch file of the generated rows `rows` (1-based).
    pub fn batch(&self, name: &str, rows: impl IntoIterator<Item = u64>) -> PathBuf {
        let mut text = format!("{}\n", self.header);
        for i in rows {
            text.push_str(&self.rows[usize::try_from(i - 1).unwrap()]);
            text.push('\n');
        }
        self.w.write(&format!("{name}.csv"), text)
    }

    pub async fn run(&self, batch: &Path) {
        let run = self.run_with(batch, &[]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
    }

    /// `run` with more flags, however it ends.
    pub async fn run_with(&self, batch: &Path, flags: &[&str]) -> Output {
        let mut args = vec!["run", batch.to_str().unwrap(), "--profile", self.profile()];
        args.extend(flags);
        self.w.bulkrefund(&args).await
    }

    /// `POST path` with a JSON body; the answer must be 200.
    async fn control(&self, path: &str, body: Value) -> Value {
        let reply = self
            .http
            .post(format!("{}{path}", self.w.sim.base_url()))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        assert_eq!(status, 200, "{path} {body}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Freezes the simulator's clock at `now` (RFC 3339).
    pub async fn freeze(&self, now: &str) {
        let answer = self
            .control("/__sim/clock", json!({"now": now, "frozen": true}))
            .await;
        assert_eq!(answer["frozen"], json!(true), "{answer}");
    }

    pub async fn outside_refund(&self, order: &str, refund_id: &str, fen: u64) {
        let body = json!({"gateway": self.profile(), "merchant_id": self.merchant(),
            "order": order, "refund_id": refund_id, "amount_fen": fen});
        self.control("/__sim/outside-refund", body).await;
    }

    /// How `refund_id` appears in later bills: `{"omit": true}`, …
    pub async fn bill_fault(&self, refund_id: &str, fault: Value) {
        let mut body = json!({"gateway": self.profile(), "refund_id": refund_id});
        body.as_object_mut()
            .unwrap()
            .extend(fault.as_object().unwrap().clone());
        self.control("/__sim/bill-fault", body).await;
    }

    /// How the bill API delivers from now on (`None`: honestly).
    pub async fn delivery_fault(&self, fault: Option<&str>) {
        let body = json!({"gateway": self.profile(), "fault": fault});
        self.control("/__sim/bill-delivery-fault", body).await;
    }

    /// The portal statement of `date` as the simulator serves it, in a file.
    async fn portal_file(&self, date: Date, gbk: bool) -> PathBuf {
        let mut url = format!(
            "{}/__sim/statement/{}?merchant_id={}&date={date}",
            self.w.sim.base_url(),
            self.profile(),
            self.merchant()
        );
        if gbk {
            url.push_str("&encoding=gbk");
        }
        let reply = self.http.get(url).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let bytes = reply.bytes().await.unwrap();
        self.w
            .write(&format!("{date}.{}.portal.csv", self.profile()), bytes)
    }

    /// `reconcile --profile P --date D --out D.csv`, fetching the bill, or
    /// with `--file` the portal statement (`Some(gbk)`).
    pub async fn reconcile(&self, date: Date, portal: Option<bool>) -> Reconciled {
        let date_text = date.to_string();
        let report = self.w.path(&format!("{date}.report.csv"));
        let mut args = vec![
            "reconcile".to_owned(),
            "--profile".into(),
            self.profile().into(),
            "--date".into(),
            date_text,
            "--out".into(),
            report.display().to_string(),
        ];
        let raw = match portal {
            Some(gbk) => {
                let file = self.portal_file(date, gbk).await;
                args.extend(["--file".into(), file.display().to_string()]);
                file
            }
            None => {
                let ext = match self.gateway {
                    GatewayKind::Alipay => "csv.zip",
                    _ => "csv",
                };
                self.w
                    .path(&format!("{date}.{}.bill.{ext}", self.profile()))
            }
        };
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.w.bulkrefund(&words).await;
        Reconciled {
            output,
            report,
            raw,
        }
    }

    /// The reconciliations the journal holds: (source, raw_sha256).
    pub fn reconciliations(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(self.w.journal()).unwrap();
        let mut stmt = conn
            .prepare("SELECT source, raw_sha256 FROM reconciliations ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    }

    /// The journal holds `count` reconciliations, the last of the bill
    /// `done` read (fetched: kept beside the report, its hash recorded).
    pub fn assert_recorded(&self, done: &Reconciled, count: usize) {
        let recorded = self.reconciliations();
        assert_eq!(recorded.len(), count, "{recorded:?}");
        let raw = std::fs::read(&done.raw)
            .unwrap_or_else(|e| panic!("the raw bill {}: {e}", done.raw.display()));
        let source = match self.gateway {
            GatewayKind::Wechatpay | GatewayKind::Alipay => "api".to_owned(),
            _ => done.raw.display().to_string(),
        };
        assert_eq!(recorded[count - 1], (source, sha256_hex(&raw)));
    }
}
