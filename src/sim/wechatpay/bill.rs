//! The REFUND trade bill (docs/specs/wechatpay-v3.md, "The trade bill"), made
//! from the simulator's ledger: UTF-8 with a BOM, CRLF lines, a header, one
//! backtick-prefixed line per refund, a summary header and line; the newer
//! 29-column layout or the older 26-column one. Amounts are kept in fen (fees
//! in 1/100000 yuan) and written as exact decimals, so the summary is the
//! exact sum of its lines.

use std::io::Write as _;

/// Which column names and how many: the merchant's settlement type decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BillLayout {
    /// 29 columns, 7-column summary.
    #[default]
    New,
    /// "普通结算": 26 columns, 5-column summary.
    Old,
}

const NEW_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const OLD_HEADER: &str = "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率";
const NEW_SUMMARY: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
const OLD_SUMMARY: &str = "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额";

/// One refund's line. Times are already `yyyy-MM-dd HH:mm:ss` in Beijing time.
#[derive(Clone, Debug, Default)]
pub struct BillRow {
    pub paid_at: String,
    pub appid: String,
    pub mchid: String,
    pub sub_mchid: String,
    pub device: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub trade_type: String,
    pub bank: String,
    pub currency: String,
    pub settlement_total_fen: u64,
    pub coupon_fen: u64,
    pub applied_at: String,
    pub succeeded_at: String,
    pub refund_id: String,
    pub out_refund_no: String,
    /// 退款金额: what was settled.
    pub refund_fen: u64,
    pub coupon_refund_fen: u64,
    pub channel: String,
    pub status: String,
    pub product: String,
    pub attach: String,
    /// 手续费 in 1/100000 yuan (the bill writes five decimals).
    pub fee: u64,
    pub fee_rate: String,
    pub order_total_fen: u64,
    /// 申请退款金额: what was asked.
    pub applied_fen: u64,
    pub fee_note: String,
}

/// Fen as yuan with two decimals, exactly.
fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A fee in 1/100000 yuan with five decimals.
fn fee(units: u64) -> String {
    format!("{}.{:05}", units / 100_000, units % 100_000)
}

impl BillRow {
    fn values(&self, layout: BillLayout) -> Vec<String> {
        let mut values = vec![
            self.paid_at.clone(),
            self.appid.clone(),
            self.mchid.clone(),
            self.sub_mchid.clone(),
            self.device.clone(),
            self.transaction_id.clone(),
            self.out_trade_no.clone(),
            self.openid.clone(),
            self.trade_type.clone(),
            "REFUND".to_owned(),
            self.bank.clone(),
            self.currency.clone(),
            yuan(self.settlement_total_fen),
            yuan(self.coupon_fen),
            self.applied_at.clone(),
            self.succeeded_at.clone(),
            self.refund_id.clone(),
            self.out_refund_no.clone(),
            yuan(self.refund_fen),
            yuan(self.coupon_refund_fen),
            self.channel.clone(),
            self.status.clone(),
            self.product.clone(),
            self.attach.clone(),
            fee(self.fee),
            self.fee_rate.clone(),
        ];
        if layout == BillLayout::New {
            values.push(yuan(self.order_total_fen));
            values.push(yuan(self.applied_fen));
            values.push(self.fee_note.clone());
        }
        values
    }
}

/// The summary line's values, summed from the rows.
fn summary(rows: &[BillRow], layout: BillLayout) -> Vec<String> {
    let sum = |f: fn(&BillRow) -> u64| rows.iter().map(f).sum::<u64>();
    let mut values = vec![
        rows.len().to_string(),
        yuan(sum(|r| r.settlement_total_fen)),
        yuan(sum(|r| r.refund_fen)),
        yuan(sum(|r| r.coupon_refund_fen)),
        fee(sum(|r| r.fee)),
    ];
    if layout == BillLayout::New {
        values.push(yuan(sum(|r| r.order_total_fen)));
        values.push(yuan(sum(|r| r.applied_fen)));
    }
    values
}

/// The decompressed bill, byte for byte as WeChat Pay writes it.
pub fn render(rows: &[BillRow], layout: BillLayout) -> Vec<u8> {
    let (header, summary_header) = match layout {
        BillLayout::New => (NEW_HEADER, NEW_SUMMARY),
        BillLayout::Old => (OLD_HEADER, OLD_SUMMARY),
    };
    let line = |values: Vec<String>| {
        let mut text = String::new();
        for (i, value) in values.iter().enumerate() {
            text.push_str(if i == 0 { "`" } else { ",`" });
            text.push_str(value);
        }
        text + "\r\n"
    };
    let mut out = String::from("\u{feff}");
    out.push_str(header);
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&line(row.values(layout)));
    }
    out.push_str(summary_header);
    out.push_str("\r\n");
    out.push_str(&line(summary(rows, layout)));
    out.into_bytes()
}

/// SHA-1 of the decompressed bytes, lower-case hex (the answer's `hash_value`).
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(bytes))
}

/// Gzip with no name and mtime 0, so the same bill compresses the same way.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two rows of `made_here_tradebill_refund_2026-11-22.csv`.
    fn vector_rows() -> Vec<BillRow> {
        let row = |paid_at: &str, n: u32, trade: &str, kind: &str, times: (&str, &str)| BillRow {
            paid_at: paid_at.into(),
            appid: "wx00000000000000a1".into(),
            mchid: "1234567890".into(),
            sub_mchid: "0".into(),
            openid: format!("oTEST{n:024}"),
            trade_type: kind.into(),
            out_trade_no: trade.into(),
            bank: "OTHERS".into(),
            currency: "CNY".into(),
            applied_at: times.0.into(),
            succeeded_at: times.1.into(),
            refund_id: format!("5030000000202611220000000000{n}"),
            channel: "ORIGINAL".into(),
            status: "SUCCESS".into(),
            fee_rate: "0.60%".into(),
            ..BillRow::default()
        };
        let mut first = row(
            "2026-11-01 10:00:00",
            1,
            "T20261101000001",
            "NATIVE",
            ("2026-11-22 09:30:00", "2026-11-22 09:30:05"),
        );
        first.transaction_id = "4200000000202611010000000001".into();
        first.out_refund_no = "R20261122-0001".into();
        first.refund_fen = 2599;
        first.applied_fen = 2599;
        first.product = "月卡, 续费".into();
        let mut second = row(
            "2026-10-15 20:00:00",
            2,
            "T20261015000009",
            "JSAPI",
            ("2026-11-22 23:59:50", "2026-11-22 23:59:58"),
        );
        second.transaction_id = "4200000000202610150000000009".into();
        second.out_refund_no = "1234567890202611220001".into();
        second.refund_fen = 1000;
        second.applied_fen = 1000;
        second.product = "商户平台手工退款".into();
        vec![first, second]
    }

    #[test]
    fn the_new_layout_is_the_vector_byte_for_byte() {
        let bytes = render(&vector_rows(), BillLayout::New);
        let vector = include_bytes!(
            "../../../tests/vectors/wechatpay/made_here_tradebill_refund_2026-11-22.csv"
        );
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(vector)
        );
        assert_eq!(bytes, vector);
        assert!(bytes.starts_with("\u{feff}交易时间,".as_bytes()));
        assert_eq!(sha1_hex(&bytes), "5a3b71eb9311923f58dd98f461fe9e4d442f1ea6");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("`2,`0.00,`35.99,`0.00,`0.00000,`0.00,`35.99\r\n"));
        assert_eq!(text.matches("\r\n").count(), text.matches('\n').count());
    }

    #[test]
    fn the_old_layout_is_the_vector_byte_for_byte() {
        let bytes = render(&vector_rows(), BillLayout::Old);
        let vector = include_bytes!(
            "../../../tests/vectors/wechatpay/made_here_tradebill_refund_2026-11-22_old_layout.csv"
        );
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(vector)
        );
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
        assert_eq!(lines[0].split(',').count(), 26);
        assert_eq!(lines[1][1..].split(",`").count(), 26);
        assert_eq!(lines[4], "`2,`0.00,`35.99,`0.00,`0.00000");
    }

    #[test]
    fn an_empty_bill_still_has_both_headers_and_a_zero_summary() {
        let text = String::from_utf8(render(&[], BillLayout::New)).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with("`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n"));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let bytes = render(&vector_rows(), BillLayout::New);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gzip(&bytes).as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, bytes);
    }
}
