//! The Leshua and Lianshang portal statements read by
//! `bulkrefund::gateway::bill::read_file` (statements.md, our convention):
//! UTF-8 with and without BOM, GBK, fen or yuan, the status words, and each
//! rule's error naming its line or column.

use bulkrefund::gateway::bill::{read_file, Bill, BillError, BillStatus, BillTotals};
use bulkrefund::gateway::GatewayKind::{self, Leshua, Lianshang};
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

const LESHUA: &str = "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,leshua_order_id,refund_amount,status,refund_time,note
0123456789,R1,LR1,T1,L1,2599,11,20261122093005,
0123456789,R2,LR2,T2,,100,10,,处理中
0123456789,,,T3,,300,11,20261122100000,not a refund
0123456789,R3,LR3,,L3,1,12,,
0123456789,R4,LR4,T4,,7,99,,
";

/// (refund id, order id, gateway order id, fen, status, success time, line).
type PortalRow<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    u64,
    BillStatus,
    Option<Timestamp>,
    u64,
);

#[test]
fn leshua_statement_in_utf8_with_bom_and_in_gbk() {
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), LESHUA.as_bytes()].concat();
    let gbk = encoding_rs::GBK.encode(LESHUA).0.into_owned();
    assert!(std::str::from_utf8(&gbk).is_err());
    for bytes in [LESHUA.as_bytes().to_vec(), with_bom, gbk] {
        let bill = read(Leshua, &bytes);
        assert_eq!(bill.merchant_id.as_deref(), Some("0123456789"));
        assert_eq!(bill.totals, BillTotals::default());
        let got: Vec<PortalRow> = bill
            .rows
            .iter()
            .map(|r| {
                (
                    r.refund_id.as_str(),
                    r.order_id.as_deref(),
                    r.gateway_order_id.as_deref(),
                    r.fen.0,
                    r.status.clone(),
                    r.success_at,
                    r.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "R1",
                    Some("T1"),
                    Some("L1"),
                    2599,
                    BillStatus::Succeeded,
                    at("2026-11-22T01:30:05Z"),
                    2
                ),
                ("R2", Some("T2"), None, 100, BillStatus::Processing, None, 3),
                ("R3", None, Some("L3"), 1, BillStatus::Failed, None, 5),
                (
                    "R4",
                    Some("T4"),
                    None,
                    7,
                    BillStatus::Other("99".into()),
                    None,
                    6
                ),
            ]
        );
        assert_eq!(bill.rows[0].gateway_refund_id.as_deref(), Some("LR1"));
    }
}

#[test]
fn portal_errors_name_the_line_or_the_columns() {
    let yuan = LESHUA
        .replace("refund_amount,", "refund_amount_yuan,")
        .replace(",2599,", ",25.99,");
    assert_eq!(read(Leshua, yuan.as_bytes()).rows[0].fen, Fen(2599));
    assert_eq!(
        error(Leshua, yuan.replace(",25.99,", ",25.999,").as_bytes()),
        "line 2: refund_amount_yuan \"25.999\" has more than 2 decimals"
    );
    let both = LESHUA.replace(
        "status,refund_time,note",
        "status,refund_time,refund_amount_yuan",
    );
    assert_eq!(
        error(Leshua, both.as_bytes()),
        "the leshua statement's header (line 1) has both refund_amount and refund_amount_yuan: exactly one of them, so that the amount is never two"
    );
    let missing = error(
        Leshua,
        LESHUA.replace("leshua_refund_id,", "refund_no,").as_bytes(),
    );
    assert_eq!(
        missing,
        "the leshua statement's header (line 1) has no column leshua_refund_id; the columns found are: \"merchant_id\", \"merchant_refund_id\", \"refund_no\", \"third_order_id\", \"leshua_order_id\", \"refund_amount\", \"status\", \"refund_time\", \"note\""
    );
    assert!(error(
        Leshua,
        LESHUA
            .replace("third_order_id,leshua_order_id,", "a,b,")
            .as_bytes()
    )
    .contains("has no column third_order_id or leshua_order_id"));
    assert_eq!(
        error(Leshua, LESHUA.replace(",20261122093005,", ",,").as_bytes()),
        "line 2: a succeeded refund has no refund_time"
    );
    assert_eq!(
        error(Leshua, LESHUA.replace("0123456789,R2", "0123456788,R2").as_bytes()),
        "line 3: merchant_id \"0123456788\" differs from line 2's \"0123456789\": one statement is one merchant's"
    );
    assert_eq!(
        error(Leshua, LESHUA.replace(",2599,", ",25.99,").as_bytes()),
        "line 2: refund_amount \"25.99\" is not a whole number of fen (digits only, no sign, no separators)"
    );
    assert_eq!(
        error(
            Leshua,
            LESHUA
                .replace(",20261122093005,", ",2026-11-22,")
                .as_bytes()
        ),
        "line 2: refund_time \"2026-11-22\" is not a time as %Y%m%d%H%M%S"
    );
}

#[test]
fn lianshang_statement_with_its_words_and_currency() {
    let text = "merchant_id,appid,out_refund_id,wk_refund_id,out_trade_id,original_wk_trade_id,refund_cash_amount_yuan,refund_coin_amount,refund_currency,refund_status,refund_time
M1,app,LS-1,WK1,O1,WO1,12.5,0,CNY,SUCCESS,20261122235958
M1,app,LS-2,WK2,O2,,0.01,0,,PROCESSING,
M1,app,LS-3,WK3,O3,,3,0,CNY,FAIL,
";
    let bill = read(Lianshang, text.as_bytes());
    let got: Vec<(&str, u64, BillStatus, Option<Timestamp>)> = bill
        .rows
        .iter()
        .map(|r| {
            (
                r.refund_id.as_str(),
                r.fen.0,
                r.status.clone(),
                r.success_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "LS-1",
                1250,
                BillStatus::Succeeded,
                at("2026-11-22T15:59:58Z")
            ),
            ("LS-2", 1, BillStatus::Processing, None),
            ("LS-3", 300, BillStatus::Failed, None),
        ]
    );
    assert_eq!(
        error(Lianshang, text.replace(",CNY,FAIL", ",USD,FAIL").as_bytes()),
        "line 4: refund_currency \"USD\" is not CNY"
    );
}
