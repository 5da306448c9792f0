//! The daily bill (对账单) of `bill_type` `trade` (docs/specs/alipay.md, "The
//! daily bill"): a zip of two GBK CSV files with GBK entry names and no UTF-8
//! flag, the detail file with its `#` marker lines, the 25-column header, one
//! row per payment and per refund (refunds negative, long ids followed by a
//! tab, as Alipay writes them) and the totals lines; the summary file beside
//! it. Amounts are fen, written as exact signed yuan.

use std::io::Write as _;

/// The detail file's header: 25 columns, full-width `（元）`.
pub const DETAIL_HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";
const SUMMARY_HEADER: &str =
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,备注";
const DASHES: &str = "-----------------------------------------";

/// A payment (`交易`) or a refund (`退款`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillKind {
    Trade,
    Refund,
}

/// One row of the detail file. Times are already `yyyy-MM-dd HH:mm:ss`,
/// Beijing time; amounts are signed fen (a refund's are negative).
#[derive(Clone, Debug)]
pub struct BillRow {
    pub trade_no: String,
    pub out_trade_no: String,
    pub kind: BillKind,
    pub product: String,
    pub created_at: String,
    pub finished_at: String,
    pub counterparty: String,
    /// 订单金额（元）.
    pub amount_fen: i64,
    /// 商家实收（元）.
    pub received_fen: i64,
    /// 退款批次号/请求号: empty for a payment.
    pub out_request_no: String,
    /// 服务费（元）: the fee a payment costs, returned (positive) by a refund.
    pub service_fee_fen: i64,
    pub remark: String,
}

/// A bill: the account, the Beijing day it covers, when it was made, its rows.
#[derive(Clone, Debug)]
pub struct Bill {
    pub account: String,
    pub day: jiff::civil::Date,
    pub exported_at: jiff::civil::DateTime,
    pub rows: Vec<BillRow>,
}

/// Signed fen as yuan with two decimals, exactly.
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `2026年11月22日`.
fn chinese_date(day: jiff::civil::Date) -> String {
    format!("{}年{:02}月{:02}日", day.year(), day.month(), day.day())
}

/// An id as Alipay's bill writes it: followed by a tab, so that a
/// spreadsheet keeps it text.
fn tabbed(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!("{id}\t")
    }
}

impl BillRow {
    fn line(&self) -> String {
        let zero = yuan(0);
        let kind = match self.kind {
            BillKind::Trade => "交易",
            BillKind::Refund => "退款",
        };
        [
            tabbed(&self.trade_no),
            tabbed(&self.out_trade_no),
            kind.to_owned(),
            self.product.clone(),
            self.created_at.clone(),
            self.finished_at.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            self.counterparty.clone(),
            yuan(self.amount_fen),
            yuan(self.received_fen),
            zero.clone(),
            zero.clone(),
            zero.clone(),
            zero.clone(),
            zero.clone(),
            String::new(),
            zero.clone(),
            zero.clone(),
            tabbed(&self.out_request_no),
            yuan(self.service_fee_fen),
            zero,
            self.remark.clone(),
        ]
        .join(",")
    }
}

impl Bill {
    /// The three `#` lines that open both files.
    fn opening(&self, title: &str) -> String {
        let next = self.day.tomorrow().unwrap_or(self.day);
        format!(
            "#{title}\r\n#账号：[{}]\r\n#起始日期：[{} 00:00:00]   终止日期：[{} 00:00:00]\r\n",
            self.account,
            chinese_date(self.day),
            chinese_date(next)
        )
    }

    fn exported(&self) -> String {
        format!(
            "#导出时间：[{} {}]\r\n",
            chinese_date(self.exported_at.date()),
            self.exported_at.time().strftime("%H:%M:%S")
        )
    }

    fn of(&self, kind: BillKind) -> impl Iterator<Item = &BillRow> {
        self.rows.iter().filter(move |r| r.kind == kind)
    }

    /// The detail file's text (before GBK).
    pub fn detail(&self) -> String {
        let mut text = self.opening("支付宝业务明细查询");
        text.push_str(&format!("#{DASHES}业务明细列表{}\r\n", &DASHES[..40]));
        text.push_str(DETAIL_HEADER);
        text.push_str("\r\n");
        for row in &self.rows {
            text.push_str(&row.line());
            text.push_str("\r\n");
        }
        text.push_str(&format!("#{DASHES}业务明细列表结束{}\r\n", &DASHES[..36]));
        let received = |kind| self.of(kind).map(|r| r.received_fen).sum::<i64>();
        text.push_str(&format!(
            "#交易合计：{}笔，商家实收共{}元，商家优惠共0.00元\r\n",
            self.of(BillKind::Trade).count(),
            yuan(received(BillKind::Trade))
        ));
        text.push_str(&format!(
            "#退款合计：{}笔，商家实收退款共{}元，商家优惠退款共0.00元\r\n",
            self.of(BillKind::Refund).count(),
            yuan(received(BillKind::Refund))
        ));
        text.push_str(&self.exported());
        text
    }

    /// The summary file's text (before GBK): one line of totals.
    pub fn summary(&self) -> String {
        let mut text = self.opening("支付宝业务汇总查询");
        text.push_str(&format!("#{DASHES}业务汇总列表{}\r\n", &DASHES[..40]));
        text.push_str(SUMMARY_HEADER);
        text.push_str("\r\n");
        text.push_str(&format!(
            ",合计,{},{},{},{},\r\n",
            self.of(BillKind::Trade).count(),
            self.of(BillKind::Refund).count(),
            yuan(self.rows.iter().map(|r| r.amount_fen).sum()),
            yuan(self.rows.iter().map(|r| r.received_fen).sum()),
        ));
        text.push_str(&format!(
            "#{}业务汇总列表结束{}\r\n",
            &DASHES[..40],
            &DASHES[..37]
        ));
        text.push_str(&self.exported());
        text
    }

    /// `<account>_<yyyyMMdd>_业务明细.csv` and its summary's name.
    pub fn names(&self) -> (String, String) {
        let stem = format!("{}_{}_业务明细", self.account, self.day.strftime("%Y%m%d"));
        (format!("{stem}.csv"), format!("{stem}(汇总).csv"))
    }

    /// The zip: both files in GBK, named in GBK without the UTF-8 flag.
    pub fn zip(&self) -> Vec<u8> {
        let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
        let (detail_name, summary_name) = self.names();
        let at = self.exported_at;
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(at.year()).unwrap_or(1980),
            at.month() as u8,
            at.day() as u8,
            at.hour() as u8,
            at.minute() as u8,
            at.second() as u8,
        )
        .unwrap_or_default();
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in [(detail_name, self.detail()), (summary_name, self.summary())] {
            let raw_name = gbk(&name);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(modified)
                .unix_permissions(0o600)
                .name(&raw_name);
            writer
                .start_file_with_options(options)
                .and_then(|()| writer.write_all(&gbk(&text)).map_err(Into::into))
                .expect("writing a zip in memory never fails");
        }
        writer
            .finish()
            .expect("writing a zip in memory never fails")
            .into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    const VECTOR_ZIP: &[u8] =
        include_bytes!("../../../tests/vectors/alipay/made_here_bill_trade_2026-11-22.csv.zip");

    /// (raw name, bytes) of every entry.
    pub(crate) fn entries(zip: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).unwrap();
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).unwrap();
                (file.name_raw().to_vec(), bytes)
            })
            .collect()
    }

    fn row(
        kind: BillKind,
        ids: (&str, &str, &str),
        times: (&str, &str),
        counterparty: &str,
        fen: i64,
        fee: i64,
        remark: &str,
    ) -> BillRow {
        BillRow {
            trade_no: ids.0.into(),
            out_trade_no: ids.1.into(),
            kind,
            product: "测试商品".into(),
            created_at: times.0.into(),
            finished_at: times.1.into(),
            counterparty: counterparty.into(),
            amount_fen: fen,
            received_fen: fen,
            out_request_no: ids.2.into(),
            service_fee_fen: fee,
            remark: remark.into(),
        }
    }

    /// The vector's rows, as the simulator holds them.
    fn vector_bill() -> Bill {
        Bill {
            account: "20881234567890120156".into(),
            day: jiff::civil::date(2026, 11, 22),
            exported_at: jiff::civil::date(2026, 11, 23).at(6, 27, 10, 0),
            rows: vec![
                row(
                    BillKind::Trade,
                    ("2026112222001400000000000003", "T20261122000003", ""),
                    ("2026-11-22 08:00:00", "2026-11-22 08:00:05"),
                    "159****5620",
                    3000,
                    -18,
                    "",
                ),
                row(
                    BillKind::Refund,
                    (
                        "2026110122001400000000000002",
                        "T20261101000002",
                        "R20261122-0003",
                    ),
                    ("2026-11-22 09:30:00", "2026-11-22 09:30:01"),
                    "159****5620",
                    -2599,
                    16,
                    "",
                ),
                row(
                    BillKind::Refund,
                    (
                        "2026101522001400000000000009",
                        "T20261015000010",
                        "2026112200001",
                    ),
                    ("2026-11-22 23:59:58", "2026-11-22 23:59:59"),
                    "138****0000",
                    -1000,
                    6,
                    "商家后台退款",
                ),
            ],
        }
    }

    #[test]
    fn the_vectors_rows_render_as_the_vectors_files_byte_for_byte() {
        let expected = entries(VECTOR_ZIP);
        let bill = vector_bill();
        let gbk = |text: &str| encoding_rs::GBK.encode(text).0.into_owned();
        let (detail, summary) = bill.names();
        assert_eq!(expected[0].0, gbk(&detail));
        assert_eq!(expected[0].1, gbk(&bill.detail()));
        assert_eq!(expected[1].0, gbk(&summary));
        assert_eq!(expected[1].1, gbk(&bill.summary()));
        // Our own zip holds the same two entries, names in GBK.
        assert_eq!(entries(&bill.zip()), expected);
    }

    #[test]
    fn the_zip_names_are_gbk_without_the_utf8_flag() {
        let zip = vector_bill().zip();
        // Local headers (PK\x03\x04, flags at +6) and central entries
        // (PK\x01\x02, flags at +8): bit 11 is the UTF-8 flag.
        let flags_at = |signature: &[u8], offset: usize| {
            zip.windows(4)
                .enumerate()
                .filter(|(_, w)| *w == signature)
                .map(|(i, _)| u16::from_le_bytes([zip[i + offset], zip[i + offset + 1]]))
                .collect::<Vec<u16>>()
        };
        let local = flags_at(b"PK\x03\x04", 6);
        let central = flags_at(b"PK\x01\x02", 8);
        assert_eq!((local.len(), central.len()), (2, 2));
        assert!(local.iter().chain(&central).all(|f| f & 0x800 == 0));
        let names: Vec<String> = entries(&zip)
            .iter()
            .map(|(name, _)| {
                encoding_rs::GBK
                    .decode_without_bom_handling(name)
                    .0
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "20881234567890120156_20261122_业务明细.csv",
                "20881234567890120156_20261122_业务明细(汇总).csv"
            ]
        );
        assert_eq!(DETAIL_HEADER.split(',').count(), 25);
        for line in vector_bill()
            .detail()
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            assert_eq!(line.split(',').count(), 25, "{line}");
        }
    }
}
