//! The trade bill through WeChat Pay's two calls (apply, then download), and
//! the simulator's control calls (`POST /__sim/…`), for the tests of the
//! simulator's side of reconciliation.

use serde_json::Value;

use super::{Break, Reply, Wx};

/// One data line of a REFUND bill, by the columns reconciliation reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WxBillRow {
    pub mchid: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub succeeded_at: String,
    pub status: String,
    /// 退款金额, 申请退款金额 (the new layout's last but one column).
    pub refund: String,
    pub applied: String,
}

impl Wx {
    /// `POST path` with a JSON body, unsigned: (status, JSON answer).
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the simulator answers");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Applies for the REFUND bill of `day`, gzipped.
    pub async fn apply_bill(&self, day: &str) -> Reply {
        let target = format!("/v3/bill/tradebill?bill_date={day}&bill_type=REFUND&tar_type=GZIP");
        self.send("GET", &target, "", Break::default()).await
    }

    /// Downloads what a bill answer offers, bytes as received.
    pub async fn download_bill(&self, offered: &Reply) -> Reply {
        let url = offered.json()["download_url"].as_str().unwrap().to_owned();
        let target = &url[url.find("/v3/").unwrap()..];
        self.send("GET", target, "", Break::default()).await
    }

    /// The bill of `day`, checked against its hash and parsed; `Err` is the
    /// apply's (status, code).
    pub async fn bill(&self, day: &str) -> Result<Vec<WxBillRow>, (u16, String)> {
        let offered = self.apply_bill(day).await;
        if offered.status != 200 {
            return Err(offered.said());
        }
        assert!(offered.verifies());
        let file = self.download_bill(&offered).await;
        assert_eq!(file.status, 200);
        let text = gunzip(&file.body);
        assert_eq!(sha1_hex(&text), offered.json()["hash_value"]);
        Ok(rows(&String::from_utf8(text).unwrap()))
    }
}

/// The data lines of a bill's text (new layout), values without their backticks.
pub fn rows(text: &str) -> Vec<WxBillRow> {
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    lines[1..lines.len() - 2]
        .iter()
        .map(|line| {
            let v: Vec<&str> = line[1..].split(",`").collect();
            WxBillRow {
                mchid: v[2].into(),
                succeeded_at: v[15].into(),
                refund_id: v[16].into(),
                out_refund_no: v[17].into(),
                refund: v[18].into(),
                status: v[21].into(),
                applied: v[27].into(),
            }
        })
        .collect()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(bytes))
}
