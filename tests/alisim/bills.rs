//! The daily bill through Alipay's two steps (the URL call, then the
//! download), unzipped and decoded from GBK, and the simulator's control
//! calls (`POST /__sim/…`), for the tests of the simulator's side of
//! reconciliation.

use std::io::Read as _;

use serde_json::Value;

use super::Ali;

/// One refund row of a bill's detail file, by the columns reconciliation reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliBillRow {
    pub trade_no: String,
    pub out_request_no: String,
    /// 订单金额（元）, negative.
    pub amount: String,
    /// 完成时间.
    pub finished_at: String,
}

/// A bill's detail file: its `#账号：[…]` line and its refund rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliBill {
    pub account_line: String,
    pub refunds: Vec<AliBillRow>,
}

impl Ali {
    /// `POST path` with a JSON body, unsigned: (status, JSON answer).
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let base = self.url.trim_end_matches("/gateway.do");
        let response = self
            .http
            .post(format!("{base}{path}"))
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

    /// The bill of `day`, unzipped and parsed; `Err` is the URL call's
    /// (`code`, `sub_code`).
    pub async fn bill(&self, day: &str) -> Result<AliBill, (String, String)> {
        let offered = self.bill_url(day).await;
        if offered.field("code") != "10000" {
            return Err(offered.said());
        }
        assert!(offered.verifies());
        let (status, zip) = self.download(&offered.field("bill_download_url")).await;
        assert_eq!(status, 200);
        Ok(parse(&detail_text(&zip)))
    }
}

/// The GBK-decoded text of the zip's entry that holds `业务明细列表`.
pub fn detail_text(zip: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    for i in 0..archive.len() {
        let mut bytes = Vec::new();
        archive
            .by_index(i)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(&bytes);
        assert!(!had_errors);
        if text.contains("业务明细列表") {
            return text.into_owned();
        }
    }
    panic!("no detail entry");
}

/// The account line and refund rows of a detail file.
pub fn parse(text: &str) -> AliBill {
    let lines: Vec<&str> = text.split("\r\n").collect();
    let refunds = lines[5..]
        .iter()
        .take_while(|line| !line.starts_with('#'))
        .map(|line| line.split(',').collect::<Vec<&str>>())
        .filter(|cells| cells[2] == "退款")
        .map(|cells| AliBillRow {
            trade_no: cells[0].trim_end_matches('\t').into(),
            out_request_no: cells[21].trim_end_matches('\t').into(),
            amount: cells[11].into(),
            finished_at: cells[5].into(),
        })
        .collect();
    AliBill {
        account_line: lines[1].into(),
        refunds,
    }
}
