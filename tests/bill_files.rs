//! Bill files read by `bulkrefund::gateway::bill::read_file`, against the
//! vectors of `tests/vectors/` and files made here: WeChat Pay's two layouts
//! (plain, gzipped, the `ALL` bill) and Alipay's zip of GBK (full- and
//! half-width headers), and each rule's error naming its line or column.
//! The portal statements are `bill_portal.rs`'s.

use std::io::Write as _;

use bulkrefund::gateway::bill::{read_file, Bill, BillError, BillRow, BillStatus, BillTotals};
use bulkrefund::gateway::GatewayKind::{self, Alipay, Wechatpay};
use bulkrefund::money::Fen;
use jiff::civil::{date, Date};
use jiff::Timestamp;

const DAY: Date = date(2026, 11, 22);

fn at(utc: &str) -> Option<Timestamp> {
    Some(utc.parse().unwrap())
}

fn read(gateway: GatewayKind, bytes: &[u8]) -> Bill {
    read_file(gateway, bytes, DAY).unwrap_or_else(|e| panic!("{e}"))
}

fn error(gateway: GatewayKind, bytes: &[u8]) -> String {
    match read_file(gateway, bytes, DAY) {
        Ok(bill) => panic!("read: {bill:?}"),
        Err(BillError::File(why)) => why,
        Err(other) => panic!("not a file error: {other}"),
    }
}

fn vector(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/vectors/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The two refunds of `made_here_tradebill_refund_2026-11-22.csv`.
fn wechat_rows() -> Vec<BillRow> {
    vec![
        BillRow {
            refund_id: "R20261122-0001".into(),
            gateway_refund_id: Some("50300000002026112200000000001".into()),
            order_id: Some("T20261101000001".into()),
            gateway_order_id: Some("4200000000202611010000000001".into()),
            fen: Fen(2599),
            status: BillStatus::Succeeded,
            success_at: at("2026-11-22T01:30:05Z"),
            line: 2,
        },
        BillRow {
            refund_id: "1234567890202611220001".into(),
            gateway_refund_id: Some("50300000002026112200000000002".into()),
            order_id: Some("T20261015000009".into()),
            gateway_order_id: Some("4200000000202610150000000009".into()),
            fen: Fen(1000),
            status: BillStatus::Succeeded,
            success_at: at("2026-11-22T15:59:58Z"),
            line: 3,
        },
    ]
}

#[test]
fn wechat_both_layouts_and_the_gzip_read_to_the_same_rows() {
    let totals = BillTotals {
        count: Some(2),
        fen: Some(Fen(3599)),
    };
    for name in [
        "made_here_tradebill_refund_2026-11-22.csv",
        "made_here_tradebill_refund_2026-11-22.csv.gz",
        "made_here_tradebill_refund_2026-11-22_old_layout.csv",
    ] {
        let bill = read(Wechatpay, &vector(&format!("wechatpay/{name}")));
        assert_eq!(
            bill,
            Bill {
                gateway: Wechatpay,
                merchant_id: Some("1234567890".into()),
                date: DAY,
                rows: wechat_rows(),
                totals: totals.clone(),
            },
            "{name}"
        );
    }
}

#[test]
fn wechat_gunsluo_refund_bill_lf_without_bom() {
    let bill = read(
        Wechatpay,
        &vector("wechatpay/gunsluo_tradebill_refund_sample.csv"),
    );
    assert_eq!(bill.merchant_id.as_deref(), Some("1601959334"));
    assert_eq!(
        bill.totals,
        BillTotals {
            count: Some(2),
            fen: Some(Fen(2))
        }
    );
    assert_eq!(
        bill.rows[1],
        BillRow {
            refund_id: "S20210201140044552846".into(),
            gateway_refund_id: Some("50300907032021020105978998710".into()),
            order_id: Some("S20210119083100844726118382".into()),
            gateway_order_id: Some("4200000846202101197461830397".into()),
            fen: Fen(1),
            status: BillStatus::Succeeded,
            success_at: at("2021-02-01T06:00:50Z"),
            line: 3,
        }
    );
    assert_eq!(bill.rows.len(), 2);
}

/// An ALL bill given by hand lists payments: no refund rows, and its count
/// (which counts payments) is not the refunds'.
#[test]
fn wechat_all_bills_skip_payments() {
    for name in [
        "gunsluo_tradebill_all_2021-01-28.csv",
        "tradebill_all_bom_crlf_reconstructed.csv",
    ] {
        let bill = read(Wechatpay, &vector(&format!("wechatpay/{name}")));
        assert_eq!(bill.rows, vec![], "{name}");
        assert_eq!(
            bill.totals,
            BillTotals {
                count: None,
                fen: Some(Fen(0))
            },
            "{name}"
        );
    }
}

fn wechat_vector_text() -> String {
    String::from_utf8(vector(
        "wechatpay/made_here_tradebill_refund_2026-11-22.csv",
    ))
    .unwrap()
}

#[test]
fn wechat_errors_name_the_line_or_the_columns() {
    let text = wechat_vector_text();
    let unknown = error(
        Wechatpay,
        text.replacen("商户退款单号", "退款单号", 1).as_bytes(),
    );
    assert!(unknown.starts_with("the WeChat Pay bill's header (line 1) has no column 商户退款单号; the columns found are: \"交易时间\", \"公众账号ID\", \"商户号\","), "{unknown}");
    assert!(unknown.contains(", \"退款单号\", "), "{unknown}");
    assert_eq!(
        error(Wechatpay, text.replacen("`25.99,`0.00,`ORIGINAL", "`25.9x,`0.00,`ORIGINAL", 1).as_bytes()),
        "line 2: 退款金额 \"25.9x\" is not a decimal amount of yuan (digits, an optional '.' and at most 2 decimals)"
    );
    assert_eq!(
        error(
            Wechatpay,
            text.replacen("`0.00,`25.99,`", "`0.00,`25.991,`", 1)
                .as_bytes()
        ),
        "line 2: 申请退款金额 \"25.991\" has more than 2 decimals"
    );
    assert_eq!(
        error(
            Wechatpay,
            text.replacen("`2,`0.00,`35.99", "`3,`0.00,`35.99", 1)
                .as_bytes()
        ),
        "line 5: 总交易单数 is 3, but the bill has 2 lines"
    );
    assert_eq!(
        error(
            Wechatpay,
            text.replacen("`0.00000,`0.00,`35.99", "`0.00000,`0.00,`35.98", 1)
                .as_bytes()
        ),
        "line 5: 申请退款总金额 is 35.98, but the lines sum to 35.99"
    );
    assert_eq!(
        error(
            Wechatpay,
            text.replacen(",`ORIGINAL,", ",`ORIGINAL,`extra,", 1)
                .as_bytes()
        ),
        "line 2: has 30 values, the header has 29"
    );
    let other = text.replacen(
        "`1234567890,`0,`,`4200000000202610150000000009",
        "`1234567899,`0,`,`4200000000202610150000000009",
        1,
    );
    assert_eq!(
        error(Wechatpay, other.as_bytes()),
        "line 3: 商户号 \"1234567899\" differs from line 2's \"1234567890\": one bill is one merchant's"
    );
    let cut = &text[..text.find("总交易单数").unwrap()];
    assert!(error(Wechatpay, cut.as_bytes()).contains("ends without its summary"));
    let mut bad_utf8 = text.clone().into_bytes();
    let at = text.find("月卡").unwrap();
    bad_utf8[at] = 0xff;
    assert_eq!(
        error(Wechatpay, &bad_utf8),
        "line 2: the WeChat Pay bill has bytes that are not valid UTF-8"
    );
}

#[test]
fn wechat_statuses_and_a_refund_without_a_success_time() {
    let text = wechat_vector_text()
        .replacen("`2026-11-22 09:30:05,", "`,", 1)
        .replacen("`ORIGINAL,`SUCCESS,`月卡", "`ORIGINAL,`PROCESSING,`月卡", 1)
        .replacen(
            "`ORIGINAL,`SUCCESS,`商户",
            "`ORIGINAL,`REFUNDCLOSE,`商户",
            1,
        );
    let bill = read(Wechatpay, text.as_bytes());
    assert_eq!(
        (bill.rows[0].status.clone(), bill.rows[0].success_at),
        (BillStatus::Processing, None)
    );
    assert_eq!(bill.rows[1].status, BillStatus::Failed);
    for (word, status) in [
        ("CLOSED", BillStatus::Failed),
        ("ABNORMAL", BillStatus::Abnormal),
        ("CHANGE", BillStatus::Abnormal),
        ("WHATEVER", BillStatus::Other("WHATEVER".into())),
    ] {
        let text = wechat_vector_text().replacen(
            "`ORIGINAL,`SUCCESS,`月卡",
            &format!("`ORIGINAL,`{word},`月卡"),
            1,
        );
        assert_eq!(read(Wechatpay, text.as_bytes()).rows[0].status, status);
    }
}

/// The two refunds of `made_here_bill_trade_2026-11-22.csv.zip`.
fn alipay_rows(first_line: u64) -> Vec<BillRow> {
    vec![
        BillRow {
            refund_id: "R20261122-0003".into(),
            gateway_refund_id: Some("2026110122001400000000000002".into()),
            order_id: Some("T20261101000002".into()),
            gateway_order_id: Some("2026110122001400000000000002".into()),
            fen: Fen(2599),
            status: BillStatus::Succeeded,
            success_at: at("2026-11-22T01:30:01Z"),
            line: first_line,
        },
        BillRow {
            refund_id: "2026112200001".into(),
            gateway_refund_id: Some("2026101522001400000000000009".into()),
            order_id: Some("T20261015000010".into()),
            gateway_order_id: Some("2026101522001400000000000009".into()),
            fen: Fen(1000),
            status: BillStatus::Succeeded,
            success_at: at("2026-11-22T15:59:59Z"),
            line: first_line + 1,
        },
    ]
}

#[test]
fn alipay_vector_zip() {
    let bill = read(
        Alipay,
        &vector("alipay/made_here_bill_trade_2026-11-22.csv.zip"),
    );
    assert_eq!(
        bill,
        Bill {
            gateway: Alipay,
            merchant_id: Some("20881234567890120156".into()),
            date: DAY,
            rows: alipay_rows(7),
            totals: BillTotals {
                count: Some(2),
                fen: Some(Fen(3599)),
            },
        }
    );
}

/// The vector's detail file, with another header's parentheses.
fn alipay_detail(half_width: bool) -> String {
    let text = r#"#支付宝业务明细查询
#账号：[20881234567890120156]
#起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]
#-------业务明细列表-------
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
2026112222001400000000000003	,T20261122000003	,交易,测试商品,2026-11-22 08:00:00,2026-11-22 08:00:05,,,,,159****5620,30.00,30.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.18,0.00,
2026110122001400000000000002	,T20261101000002	,退款,"测试商品, 两件",2026-11-22 09:30:00,2026-11-22 09:30:01,,,,,159****5620,-25.99,-25.99,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R20261122-0003	,0.16,0.00,
2026101522001400000000000009	,T20261015000010	,退款,测试商品,2026-11-22 23:59:58,2026-11-22 23:59:59,,,,,138****0000,-10.00,-10.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,2026112200001	,0.06,0.00,商家后台退款
#-------业务明细列表结束-------
#交易合计：1笔，商家实收共30.00元，商家优惠共0.00元
#退款合计：2笔，商家实收退款共-35.99元，商家优惠退款共0.00元
#导出时间：[2026年11月23日 06:27:10]
"#;
    let text = text.replace('\n', "\r\n");
    if half_width {
        text.replace('（', "(").replace('）', ")")
    } else {
        text
    }
}

/// A zip of GBK entries, as Alipay's: a summary file first, then `detail`.
fn gbk_zip(detail: &str) -> Vec<u8> {
    let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("summary.csv", options).unwrap();
    zip.write_all(&gbk(
        "#支付宝业务汇总查询\r\n#-----业务汇总列表-----\r\n,合计,1,2\r\n",
    ))
    .unwrap();
    zip.start_file("detail.csv", options).unwrap();
    zip.write_all(&gbk(detail)).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn alipay_gbk_zip_made_here_with_either_parentheses() {
    for half_width in [false, true] {
        let bill = read(Alipay, &gbk_zip(&alipay_detail(half_width)));
        assert_eq!(bill.rows, alipay_rows(7), "half-width: {half_width}");
        assert_eq!(bill.merchant_id.as_deref(), Some("20881234567890120156"));
        assert_eq!(bill.totals.count, Some(2));
    }
}

#[test]
fn alipay_errors_name_the_line_or_the_columns() {
    let detail = alipay_detail(false);
    let with = |from: &str, to: &str| gbk_zip(&detail.replacen(from, to, 1));
    assert_eq!(
        error(Alipay, &with("#退款合计：2笔", "#退款合计：3笔")),
        "line 11: #退款合计 says 3 refunds, but the bill lists 2 退款 rows"
    );
    assert_eq!(
        error(Alipay, &with("-25.99,-25.99", "-25.991,-25.99")),
        "line 7: 订单金额（元） \"-25.991\" has more than 2 decimals"
    );
    assert_eq!(
        error(Alipay, &with("-10.00,-10.00", "10.00,-10.00")),
        "line 8: a 退款 row's 订单金额（元） \"10.00\" is not negative"
    );
    let missing = error(Alipay, &with("退款批次号/请求号,", "批次号,"));
    assert!(
        missing.starts_with("the Alipay bill's header (line 5) has no column 退款批次号/请求号; the columns found are: \"支付宝交易号\", \"商户订单号\","),
        "{missing}"
    );
    assert_eq!(
        error(Alipay, &with("11月22日 00:00:00]", "11月21日 00:00:00]")),
        "line 3: the bill's period is \"[2026年11月21日 00:00:00]   终止日期：[2026年11月23日 00:00:00]\", not the day 2026-11-22 (起始日期 2026-11-22 00:00:00, 终止日期 the next day's 00:00:00)"
    );
    assert_eq!(
        error(Alipay, &with(",商家后台退款", ",商家后台退款,多一列")),
        "line 8: has 26 cells, the header has 25"
    );
    let cut = &detail[..detail.find("#-------业务明细列表结束").unwrap()];
    assert!(error(Alipay, &gbk_zip(cut)).contains("missing or cut short"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("d.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"#\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8\xc1\xd0\xb1\xed\r\n\xff\xff\r\n")
        .unwrap();
    let bad_gbk = zip.finish().unwrap().into_inner();
    assert_eq!(
        error(Alipay, &bad_gbk),
        "line 2: the bill zip's entry 1 has bytes that are not valid gb18030"
    );
    let no_detail = {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("summary.csv", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"#summary\r\n").unwrap();
        zip.finish().unwrap().into_inner()
    };
    assert_eq!(
        error(Alipay, &no_detail),
        "the bill zip holds no detail file (no line with 业务明细列表) among its 1 entries"
    );
    assert!(matches!(
        read_file(Alipay, b"not a zip", DAY),
        Err(BillError::Refused(_))
    ));
}
