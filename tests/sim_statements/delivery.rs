//! The bill delivery faults, byte by byte: a hash that is not the file's, a
//! cut gzip, bombs that inflate past 600 MiB, another merchant's bill, an
//! expired URL; and which gateway has which.

use bulkrefund::sim::faults::FaultConfig;
use serde_json::json;

use super::{alisim, freeze_ali, freeze_wx, wxsim};
const MIB: u64 = 1 << 20;

/// How many bytes `reader` gives, read to its end or to `cap`.
fn inflated_len(reader: impl std::io::Read, cap: u64) -> u64 {
    std::io::copy(&mut reader.take(cap), &mut std::io::sink()).unwrap()
}

#[tokio::test]
async fn wechat_bill_delivery_faults_spoil_the_bytes_as_described() {
    let wx = wxsim::start(FaultConfig::default(), |_| {}).await;
    freeze_wx(&wx, "2026-11-30T10:00:00+08:00").await;
    assert_eq!(wx.apply("R1", 1, 100).await.status, 200);
    freeze_wx(&wx, "2026-12-01T10:00:00+08:00").await;
    let deliver = |fault: serde_json::Value| {
        wx.control(
            "/__sim/bill-delivery-fault",
            json!({"gateway": "wechatpay", "fault": fault}),
        )
    };
    let fetch = || async {
        let offered = wx.apply_bill("2026-11-30").await;
        assert_eq!(offered.status, 200);
        assert!(offered.verifies());
        let hash = offered.json()["hash_value"].as_str().unwrap().to_owned();
        let file = wx.download_bill(&offered).await;
        (hash, file)
    };
    let (honest_hash, honest) = fetch().await;
    assert_eq!(
        wxsim::bills::sha1_hex(&wxsim::bills::gunzip(&honest.body)),
        honest_hash
    );

    assert_eq!(deliver(json!("bad_hash")).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!(file.body, honest.body, "the file is the bill");
    assert_ne!(hash, honest_hash);
    assert_ne!(
        wxsim::bills::sha1_hex(&wxsim::bills::gunzip(&file.body)),
        hash
    );

    assert_eq!(deliver(json!("truncated")).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!(hash, honest_hash);
    assert_eq!(file.body, honest.body[..honest.body.len() / 2]);
    let mut cut = Vec::new();
    let read =
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file.body[..]), &mut cut);
    assert!(read.is_err(), "a cut gzip does not inflate");

    assert_eq!(deliver(json!("zip_bomb")).await.0, 200);
    let (_, file) = fetch().await;
    assert!(file.body.len() < MIB as usize, "{} bytes", file.body.len());
    let inflates = inflated_len(flate2::read::GzDecoder::new(&file.body[..]), 600 * MIB + 1);
    assert_eq!(inflates, 600 * MIB + 1, "past 600 MiB");
    let mut start = [0u8; 16];
    std::io::Read::read_exact(
        &mut flate2::read::GzDecoder::new(&file.body[..]),
        &mut start,
    )
    .unwrap();
    assert_eq!(&start, "\u{feff}交易时间,".as_bytes());

    assert_eq!(deliver(json!("other_merchant")).await.0, 200);
    let rows = wx.bill("2026-11-30").await.unwrap();
    assert_eq!(
        (rows[0].mchid.as_str(), rows[0].out_refund_no.as_str()),
        ("1900000109", "R1")
    );

    assert_eq!(deliver(json!("expired_url")).await.0, 200);
    let (_, file) = fetch().await;
    assert_eq!(file.said(), (400, "INVALID_REQUEST".into()));
    assert_eq!(deliver(json!("expired_url")).await.0, 200, "it stays");
    assert_eq!(fetch().await.1.said(), (400, "INVALID_REQUEST".into()));

    assert_eq!(deliver(json!(null)).await.0, 200);
    let (hash, file) = fetch().await;
    assert_eq!((hash, file.body), (honest_hash, honest.body));
}

#[tokio::test]
async fn alipay_bill_delivery_faults_spoil_the_zip_as_described() {
    let ali = alisim::start(FaultConfig::default(), |_| {}).await;
    freeze_ali(&ali, "2026-11-30T10:00:00+08:00").await;
    assert_eq!(ali.refund(1, "B1", "1.00").await.field("code"), "10000");
    freeze_ali(&ali, "2026-12-01T10:00:00+08:00").await;
    let deliver = |fault: serde_json::Value| {
        ali.control(
            "/__sim/bill-delivery-fault",
            json!({"gateway": "alipay", "fault": fault}),
        )
    };
    let url = || async {
        let offered = ali.bill_url("2026-11-30").await;
        assert!(offered.verifies());
        offered.field("bill_download_url")
    };
    assert_eq!(deliver(json!("zip_bomb")).await.0, 200);
    let (status, zip) = ali.download(&url().await).await;
    assert_eq!(status, 200);
    assert!(zip.len() < MIB as usize, "{} bytes", zip.len());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let entry = archive.by_index(0).unwrap();
    let name = encoding_rs::GBK
        .decode_without_bom_handling(entry.name_raw())
        .0
        .into_owned();
    assert_eq!(name, "20881234567890120156_20261130_业务明细.csv");
    assert!(entry.size() > 600 * MIB, "{}", entry.size());
    assert_eq!(
        inflated_len(entry, 600 * MIB + 1),
        600 * MIB + 1,
        "past 600 MiB"
    );

    assert_eq!(deliver(json!("other_merchant")).await.0, 200);
    let bill = ali.bill("2026-11-30").await.unwrap();
    assert_eq!(bill.account_line, "#账号：[20889999999999990156]");
    assert_eq!(bill.refunds[0].out_request_no, "B1");

    assert_eq!(deliver(json!("expired_url")).await.0, 200);
    assert_eq!(ali.download(&url().await).await.0, 404);

    assert_eq!(deliver(json!(null)).await.0, 200);
    assert_eq!(
        ali.bill("2026-11-30").await.unwrap().account_line,
        "#账号：[20881234567890120156]"
    );
    for (gateway, fault, reason) in [
        ("alipay", "bad_hash", "WeChat Pay's"),
        ("alipay", "truncated", "WeChat Pay's"),
        ("leshua", "expired_url", "no bill API"),
        ("alipay", "gone", "no delivery fault"),
    ] {
        let (status, answer) = ali
            .control(
                "/__sim/bill-delivery-fault",
                json!({"gateway": gateway, "fault": fault}),
            )
            .await;
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(status == 400 && error.contains(reason), "{status} {answer}");
    }
}
