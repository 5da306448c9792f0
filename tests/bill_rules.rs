//! The rules a hostile review asked of the bill readers, through
//! `bulkrefund::gateway::bill::read_file`: a refund listed once, sums that
//! cannot overflow, one column per field, Alipay's day and refund total
//! checked exactly, `#` lines that count once, and what a file says echoed
//! quoted and cut. Each test fails on the readers before these rules.

use std::io::Write as _;

use bulkrefund::gateway::bill::{read_file, Bill, BillError, BillStatus};
use bulkrefund::gateway::GatewayKind::{self, Alipay, Leshua, Wechatpay};
use bulkrefund::money::Fen;
use jiff::civil::{date, Date};

const DAY: Date = date(2026, 11, 22);

fn read(gateway: GatewayKind, bytes: &[u8]) -> Bill {
    read_file(gateway, bytes, DAY).unwrap_or_else(|e| panic!("{e}"))
}

fn error_on(gateway: GatewayKind, bytes: &[u8], day: Date) -> String {
    match read_file(gateway, bytes, day) {
        Ok(bill) => panic!("read: {bill:?}"),
        Err(BillError::File(why)) => why,
        Err(other) => panic!("not a file error: {other}"),
    }
}

fn error(gateway: GatewayKind, bytes: &[u8]) -> String {
    error_on(gateway, bytes, DAY)
}

fn wechat_text() -> String {
    let path = format!(
        "{}/tests/vectors/wechatpay/made_here_tradebill_refund_2026-11-22.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

/// `made_here_bill_trade_2026-11-22.csv.zip`'s detail file, as text.
const ALIPAY: &str = "#支付宝业务明细查询\r
#账号：[20881234567890120156]\r
#起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]\r
#-------业务明细列表-------\r
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r
2026112222001400000000000003\t,T20261122000003\t,交易,测试商品,2026-11-22 08:00:00,2026-11-22 08:00:05,,,,,159****5620,30.00,30.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.18,0.00,\r
2026110122001400000000000002\t,T20261101000002\t,退款,\"测试商品, 两件\",2026-11-22 09:30:00,2026-11-22 09:30:01,,,,,159****5620,-25.99,-25.99,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R20261122-0003\t,0.16,0.00,\r
2026101522001400000000000009\t,T20261015000010\t,退款,测试商品,2026-11-22 23:59:58,2026-11-22 23:59:59,,,,,138****0000,-10.00,-10.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,2026112200001\t,0.06,0.00,商家后台退款\r
#-------业务明细列表结束-------\r
#交易合计：1笔，商家实收共30.00元，商家优惠共0.00元\r
#退款合计：2笔，商家实收退款共-35.99元，商家优惠退款共0.00元\r
#导出时间：[2026年11月23日 06:27:10]\r
";

/// A zip of one GBK entry, `detail`, as Alipay's.
fn alipay_zip(detail: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("detail.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(&encoding_rs::GBK.encode(detail).0).unwrap();
    zip.finish().unwrap().into_inner()
}

fn alipay_with(from: &str, to: &str) -> Vec<u8> {
    assert!(ALIPAY.contains(from), "{from}");
    alipay_zip(&ALIPAY.replacen(from, to, 1))
}

#[test]
fn a_refund_listed_twice_is_an_error_naming_both_lines() {
    let wechat = wechat_text().replacen("`1234567890202611220001,", "`R20261122-0001,", 1);
    assert_eq!(
        error(Wechatpay, wechat.as_bytes()),
        "line 3: 商户退款单号 \"R20261122-0001\" is also line 2's: a refund is listed once"
    );
    let alipay = ALIPAY
        .replacen(
            "2026101522001400000000000009\t,T20261015000010",
            "2026110122001400000000000002\t,T20261015000010",
            1,
        )
        .replacen("2026112200001\t", "R20261122-0003\t", 1);
    assert_eq!(
        error(Alipay, &alipay_zip(&alipay)),
        "line 8: the refund (支付宝交易号 \"2026110122001400000000000002\", 退款批次号/请求号 \"R20261122-0003\") is also line 7's: a refund is listed once"
    );
    // The same request number on two trades is two refunds.
    let two_trades = ALIPAY.replacen("2026112200001\t", "R20261122-0003\t", 1);
    assert_eq!(read(Alipay, &alipay_zip(&two_trades)).rows.len(), 2);
    let leshua = "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,leshua_order_id,refund_amount,status,refund_time
0123456789,R1,LR1,T1,L1,2599,11,20261122093005
0123456789,R2,LR2,T2,,100,10,
0123456789,R1,LR3,T3,,300,12,
";
    assert_eq!(
        error(Leshua, leshua.as_bytes()),
        "line 4: merchant_refund_id \"R1\" is also line 2's: a refund is listed once"
    );
}

#[test]
fn wechat_sums_past_i64_are_an_error_naming_the_line() {
    let text = wechat_text().replacen(
        "`25.99,`0.00,`ORIGINAL",
        "`92233720368547758.07,`0.00,`ORIGINAL",
        1,
    );
    assert_eq!(
        error(Wechatpay, text.as_bytes()),
        "line 3: the sum of 退款金额 up to here passes the largest amount bulkrefund counts: not a bill"
    );
}

#[test]
fn a_wanted_column_twice_is_an_error_naming_it() {
    let wechat = wechat_text().replacen(",费率备注", ",退款状态", 1);
    assert_eq!(
        error(Wechatpay, wechat.as_bytes()),
        "the WeChat Pay bill's header (line 1) has the column \"退款状态\" twice (columns 22 and 29): which one holds cannot be told"
    );
    // Full- and half-width parentheses are one name.
    assert_eq!(
        error(Alipay, &alipay_with(",备注\r", ",订单金额(元)\r")),
        "the Alipay bill's header (line 5) has the column \"订单金额(元)\" twice (columns 12 and 25): which one holds cannot be told"
    );
}

#[test]
fn alipay_day_must_be_the_one_day_asked() {
    let missing = alipay_with(
        "#起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]\r\n",
        "",
    );
    assert_eq!(
        error(Alipay, &missing),
        "the Alipay bill has no #起始日期 line: its day cannot be checked"
    );
    let monthly = alipay_with(
        "[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]",
        "[2026年11月01日 00:00:00]   终止日期：[2026年12月01日 00:00:00]",
    );
    assert_eq!(
        error_on(Alipay, &monthly, date(2026, 11, 1)),
        "line 3: the bill's period is \"[2026年11月01日 00:00:00]   终止日期：[2026年12月01日 00:00:00]\", not the day 2026-11-01 (起始日期 2026-11-01 00:00:00, 终止日期 the next day's 00:00:00)"
    );
    let no_end = alipay_with("   终止日期：[2026年11月23日 00:00:00]", "");
    assert_eq!(
        error(Alipay, &no_end),
        "line 3: the bill's period is \"[2026年11月22日 00:00:00]\", not the day 2026-11-22 (起始日期 2026-11-22 00:00:00, 终止日期 the next day's 00:00:00)"
    );
}

#[test]
fn alipay_refund_total_is_checked_exactly_and_its_fen_is_the_rows() {
    assert_eq!(
        error(Alipay, &alipay_with("商家实收退款共-35.99元", "商家实收退款共-35.9x元")),
        "line 11: #退款合计's 商家实收退款共 \"-35.9x\" is not a decimal amount of yuan (digits, an optional '.' and at most 2 decimals)"
    );
    assert_eq!(
        error(Alipay, &alipay_with("，商家实收退款共-35.99元", "")),
        "line 11: #退款合计 has no 商家实收退款共…元"
    );
    assert_eq!(
        error(Alipay, &alipay_with("-10.00,-10.00", "-10.00,-9.00")),
        "line 11: #退款合计 says 商家实收退款共-35.99元, but the 退款 rows' 商家实收（元） sum to -34.99"
    );
    // 商家实收 below 订单金额 (a discount): the stated total is 商家实收's,
    // BillTotals.fen is Σ 订单金额, the rows' fen.
    let discounted = ALIPAY
        .replacen("-10.00,-10.00", "-10.00,-9.00", 1)
        .replacen("商家实收退款共-35.99元", "商家实收退款共-34.99元", 1);
    let bill = read(Alipay, &alipay_zip(&discounted));
    let rows: u64 = bill.rows.iter().map(|r| r.fen.0).sum();
    assert_eq!(
        (bill.totals.count, bill.totals.fen),
        (Some(2), Some(Fen(3599)))
    );
    assert_eq!(rows, 3599);
}

#[test]
fn alipay_a_second_list_or_hash_line_is_an_error() {
    let second_list = alipay_with(
        "#交易合计",
        "#-------业务明细列表-------\r\n#-------业务明细列表结束-------\r\n#交易合计",
    );
    assert_eq!(
        error(Alipay, &second_list),
        "line 10: a second 业务明细列表 (the first ended on line 9): a bill has one"
    );
    let second_account = alipay_with("#起始日期", "#账号：[20881234567890130156]\r\n#起始日期");
    assert_eq!(
        error(Alipay, &second_account),
        "line 3: a second #账号 line (the first is line 2): which one holds cannot be told"
    );
    let second_total = alipay_with(
        "#导出时间",
        "#退款合计：0笔，商家实收退款共0.00元\r\n#导出时间",
    );
    assert_eq!(
        error(Alipay, &second_total),
        "line 12: a second #退款合计 line (the first is line 11): which one holds cannot be told"
    );
}

#[test]
fn what_a_file_says_is_echoed_quoted_and_cut() {
    let word = format!("X\u{1b}[2J{}", "Y".repeat(100));
    let text = wechat_text().replacen(
        "`ORIGINAL,`SUCCESS,`月卡",
        &format!("`ORIGINAL,`{word},`月卡"),
        1,
    );
    let shown = format!("X\\u{{1b}}[2J{}…", "Y".repeat(54));
    assert_eq!(
        read(Wechatpay, text.as_bytes()).rows[0].status,
        BillStatus::Other(shown)
    );
    let mut header: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    header[0] = format!("\u{7}{}", "a".repeat(100));
    let statement = format!("{}\n1,2\n", header.join(","));
    let mut listed: Vec<String> = header
        .iter()
        .take(40)
        .map(|c| format!("{:?}", c.chars().take(64).collect::<String>()))
        .collect();
    listed.push("and 10 more".into());
    assert_eq!(
        error(Leshua, statement.as_bytes()),
        format!(
            "the leshua statement's header (line 1) has no column third_order_id or leshua_order_id; the columns found are: {}",
            listed.join(", ")
        )
    );
    assert!(listed[0].starts_with("\"\\u{7}aaa"), "{}", listed[0]);
}

/// A bad byte far into a large GBK file is named at its own line, past the
/// decoder's first buffer.
#[test]
fn a_bad_byte_deep_in_a_large_file_names_its_line() {
    let line = "0123456789,R1,LR1,T1,L1,2599,11,20261122093005,乐刷\n";
    let mut bytes = encoding_rs::GBK.encode(&line.repeat(5000)).0.into_owned();
    bytes.extend_from_slice(b"0123456789,\x81\x20,\n");
    let at = error(Leshua, &bytes);
    assert_eq!(
        at,
        "line 5001: the leshua statement has bytes that are not valid gb18030"
    );
}
