//! A gateway's daily statement (对账单, "bill"; `statements.md`), whichever
//! gateway and layout it came from: the refund rows it lists and the totals it
//! states. Each gateway reads its own files (`<gateway>/bill.rs`, the portal
//! files through `portal_bill.rs`) and, where it has a bill API, fetches them
//! ([`BillSource`]); reconciliation reads only what is here. The size caps
//! live here too: a bill is never read whole into memory past its cap, and
//! compressed bytes are counted as they inflate. Which reader reads a file is
//! the gateway's spec's ([`super::GatewaySpec::read_bill`]); what the readers
//! share besides is `bill_read.rs`.

use std::io::Read;
use std::path::Path;

use jiff::civil::Date;
use jiff::Timestamp;

use super::GatewayKind;
use crate::money::Fen;

/// A refund's status as a bill states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillStatus {
    Succeeded,
    Processing,
    Failed,
    Abnormal,
    /// A value the contract does not name: the row is `status_differs`,
    /// with the raw value in its note: control characters escaped, cut to
    /// 64 characters (it is the file's, shown on a terminal).
    Other(String),
}

/// One refund row of a bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillRow {
    /// The merchant's refund id: bulkrefund's refund id for its own refunds.
    pub refund_id: String,
    /// The gateway's refund id (Alipay has none: its trade number stands in).
    pub gateway_refund_id: Option<String>,
    /// The merchant's order id, and the gateway's, where the bill has them.
    pub order_id: Option<String>,
    pub gateway_order_id: Option<String>,
    /// The amount asked for, in fen (WeChat's 申请退款金额, not 退款金额).
    pub fen: Fen,
    pub status: BillStatus,
    /// The gateway's success time, where the bill gives one.
    pub success_at: Option<Timestamp>,
    /// The line of the bill file the row came from (1-based), for notes.
    pub line: u64,
}

/// The totals a bill states of its own refund rows, where it states them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BillTotals {
    pub count: Option<u64>,
    /// Comparable with Σ [`BillRow::fen`] (the amounts asked for). Alipay
    /// states 商家实收退款共, checked exactly against its rows' 商家实收 when
    /// read; its `fen` here is Σ 订单金额, the rows' own sum.
    pub fen: Option<Fen>,
}

/// A parsed bill: one Beijing day of one merchant's refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    pub gateway: GatewayKind,
    /// The merchant the bill says it is of, where it says so (WeChat's 商户号
    /// per row, Alipay's `#账号` line, the portal files' merchant_id column).
    pub merchant_id: Option<String>,
    /// The Beijing day the bill covers.
    pub date: Date,
    pub rows: Vec<BillRow>,
    pub totals: BillTotals,
}

/// A bill fetched through the gateway's API: its bytes as the gateway sent
/// them (decompressed where the integrity check is over the decompressed
/// file), kept beside the report, and what they say.
#[derive(Clone, Debug)]
pub struct FetchedBill {
    pub raw: Vec<u8>,
    /// The kept file's extension: `csv` (WeChat, decompressed), `csv.zip` (Alipay).
    pub raw_extension: &'static str,
    pub bill: Bill,
}

impl FetchedBill {
    /// The bill of a day the gateway says had no bill (`NO_STATEMENT_EXIST`,
    /// `isp.bill_not_exist`, believed only in a signed answer): no bytes, no
    /// rows, totals of zero.
    pub fn empty(gateway: GatewayKind, date: Date, raw_extension: &'static str) -> FetchedBill {
        FetchedBill {
            raw: Vec::new(),
            raw_extension,
            bill: Bill {
                gateway,
                merchant_id: None,
                date,
                rows: Vec::new(),
                totals: BillTotals {
                    count: Some(0),
                    fen: Some(Fen(0)),
                },
            },
        }
    }
}

/// Why a bill could not be had or read. Never holds a key or a token.
#[derive(Debug, thiserror::Error)]
pub enum BillError {
    /// The gateway has not made the day's bill yet (WeChat `STATEMENT_CREATING`).
    #[error("the bill of {date} is not ready yet: {why}")]
    NotReady { date: Date, why: String },
    /// The bill could not be fetched: the network, the gateway's refusal, a
    /// download URL that expired.
    #[error("the bill could not be fetched: {0}")]
    Fetch(String),
    /// A bill arrived but is not intact or not this merchant's: a hash that
    /// does not match, a truncated or oversized file, another merchant's bill.
    /// Nothing of it is believed.
    #[error("the bill was refused: {0}")]
    Refused(String),
    /// A bill file that cannot be read: an unknown layout (naming the columns
    /// found), a line that does not parse (naming the line and the rule).
    #[error("{0}")]
    File(String),
    /// This gateway has no bill API: give the file with `--file`.
    #[error("{gateway} has no bill API that bulkrefund can call: download the day's statement from the portal and give it with --file")]
    NoApi { gateway: &'static str },
}

/// A gateway's bill API, built from a profile like its client.
#[async_trait::async_trait]
pub trait BillSource: Send + Sync {
    /// The bill of Beijing day `date`. A day the gateway says has no bill
    /// (`NO_STATEMENT_EXIST`, `isp.bill_not_exist`) is an empty bill.
    async fn fetch(&self, date: Date) -> Result<FetchedBill, BillError>;
}

/// How large a bill may be. A file past a cap is refused before it is read
/// whole; compressed bytes are counted as they inflate, never trusted from a
/// header. Tests lower them ([`read_with_caps`]) to build a bomb that is small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// A plain bill file: WeChat's decompressed CSV, a portal CSV (512 MiB, ours).
    pub plain: u64,
    /// Alipay's zip as downloaded or given (64 MiB, ours).
    pub zipped: u64,
    /// What one gzip stream, or all of a zip's entries together, may inflate
    /// to (512 MiB, ours).
    pub inflated: u64,
}

impl Caps {
    pub const DEFAULT: Caps = Caps {
        plain: 512 << 20,
        zipped: 64 << 20,
        inflated: 512 << 20,
    };
}

/// The largest file of `gateway` that [`read_path`] opens.
pub fn max_file_bytes(gateway: GatewayKind) -> u64 {
    match gateway {
        GatewayKind::Alipay => Caps::DEFAULT.zipped,
        _ => Caps::DEFAULT.plain,
    }
}

/// Reads a bill file (`--file`) of `gateway` for Beijing day `date`: WeChat
/// Pay's CSV (or its gzip), Alipay's zip, a Leshua or Lianshang portal CSV.
pub fn read_file(gateway: GatewayKind, bytes: &[u8], date: Date) -> Result<Bill, BillError> {
    read_with_caps(gateway, bytes, date, Caps::DEFAULT)
}

/// [`read_file`] with caps of the caller's (tests lower them).
pub(crate) fn read_with_caps(
    gateway: GatewayKind,
    bytes: &[u8],
    date: Date,
    caps: Caps,
) -> Result<Bill, BillError> {
    gateway.spec().read_bill(bytes, date, caps)
}

/// Opens a bill file and reads it: its bytes (kept beside the report) and
/// what they say. A file larger than the gateway's cap is refused from its
/// size, and read through a bound, so a file that grows meanwhile is too.
pub fn read_path(
    gateway: GatewayKind,
    path: &Path,
    date: Date,
) -> Result<(Vec<u8>, Bill), BillError> {
    let shown = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| BillError::File(format!("{shown} cannot be read: {e}")))?;
    let cap = max_file_bytes(gateway);
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > cap {
        return Err(too_large(&shown.to_string(), cap));
    }
    let bytes = bounded(file, cap, &shown.to_string())?;
    let bill = read_file(gateway, &bytes, date)?;
    Ok((bytes, bill))
}

pub(crate) fn too_large(what: &str, cap: u64) -> BillError {
    BillError::Refused(format!("{what} is larger than {} MiB: not read", cap >> 20))
}

/// Everything `reader` gives, at most `cap` bytes: one byte more is refused,
/// before more is held.
pub(crate) fn bounded(reader: impl Read, cap: u64, what: &str) -> Result<Vec<u8>, BillError> {
    let mut bytes = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| BillError::Refused(format!("{what} cannot be read whole: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(too_large(what, cap));
    }
    Ok(bytes)
}

/// A gzip stream inflated, at most `cap` bytes counted as they come; a
/// stream cut short (a truncated download) or damaged is refused whole.
pub(crate) fn gunzip(gzipped: &[u8], cap: u64) -> Result<Vec<u8>, BillError> {
    let mut out = Vec::new();
    let read = flate2::read::GzDecoder::new(gzipped)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out);
    match read {
        Err(e) => Err(BillError::Refused(format!(
            "the gzipped bill is damaged or cut short ({e}): nothing of it is kept"
        ))),
        Ok(_) if out.len() as u64 > cap => Err(too_large("the gzipped bill, inflated,", cap)),
        Ok(_) => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const DAY: Date = jiff::civil::date(2026, 11, 22);

    /// Caps of 1 MiB inflated: a bomb of a few KiB is enough to pass them.
    const SMALL: Caps = Caps {
        plain: 1 << 20,
        zipped: 1 << 20,
        inflated: 1 << 20,
    };

    fn refused(result: Result<Bill, BillError>) -> String {
        match result {
            Err(BillError::Refused(why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_zip_entry_inflating_past_the_cap_is_refused_as_it_streams() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("bomb.csv", options).unwrap();
        let zeros = vec![b'0'; 64 << 10];
        for _ in 0..17 {
            zip.write_all(&zeros).unwrap();
        }
        let bomb = zip.finish().unwrap().into_inner();
        assert!(bomb.len() < 8 << 10, "a small zip: {}", bomb.len());
        let why = refused(read_with_caps(GatewayKind::Alipay, &bomb, DAY, SMALL));
        assert_eq!(
            why,
            "the bill zip, inflated up to its entry 1, is larger than 1 MiB: not read"
        );
        // Under the default caps the same zip is read (and is no bill).
        assert!(matches!(
            read_file(GatewayKind::Alipay, &bomb, DAY),
            Err(BillError::File(_))
        ));
    }

    /// A zip of `entries` (name, bytes), stored deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn the_inflated_cap_is_the_whole_zips_not_each_entrys() {
        // Three entries of 400 KiB: each under the 1 MiB cap, 1.2 MiB in all.
        let part = vec![b'0'; 400 << 10];
        let parts: Vec<(&str, &[u8])> = vec![("a.csv", &part), ("b.csv", &part), ("c.csv", &part)];
        let why = refused(read_with_caps(
            GatewayKind::Alipay,
            &zip_of(&parts),
            DAY,
            SMALL,
        ));
        assert_eq!(
            why,
            "the bill zip, inflated up to its entry 3, is larger than 1 MiB: not read"
        );
    }

    #[test]
    fn a_second_detail_entry_stops_the_zip_before_the_entries_after_it() {
        let detail = encoding_rs::GBK
            .encode("#---业务明细列表---\r\n")
            .0
            .into_owned();
        let bomb = vec![b'0'; 2 << 20];
        let parts: Vec<(&str, &[u8])> =
            vec![("a.csv", &detail), ("b.csv", &detail), ("bomb.csv", &bomb)];
        let result = read_with_caps(GatewayKind::Alipay, &zip_of(&parts), DAY, SMALL);
        let Err(BillError::File(why)) = result else {
            panic!("not a file error: {result:?}");
        };
        assert_eq!(
            why,
            "the bill zip holds 2 detail files (entries 1 and 2): which one is the bill cannot be told"
        );
    }

    #[test]
    fn a_gzip_bomb_and_a_truncated_gzip_are_refused() {
        let text = vec![b'`'; 2 << 20];
        let gzipped = {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&text).unwrap();
            encoder.finish().unwrap()
        };
        let why = refused(read_with_caps(GatewayKind::Wechatpay, &gzipped, DAY, SMALL));
        assert_eq!(
            why,
            "the gzipped bill, inflated, is larger than 1 MiB: not read"
        );
        let vector = include_bytes!(
            "../../tests/vectors/wechatpay/made_here_tradebill_refund_2026-11-22.csv.gz"
        );
        assert!(read_file(GatewayKind::Wechatpay, vector, DAY).is_ok());
        for cut in [vector.len() - 4, vector.len() - 9, vector.len() / 2, 11] {
            let why = refused(read_file(GatewayKind::Wechatpay, &vector[..cut], DAY));
            assert!(
                why.starts_with("the gzipped bill is damaged or cut short"),
                "{cut}: {why}"
            );
        }
    }

    #[test]
    fn a_plain_file_past_its_cap_is_refused() {
        let big = vec![b'x'; (1 << 20) + 1];
        for gateway in [
            GatewayKind::Wechatpay,
            GatewayKind::Leshua,
            GatewayKind::Lianshang,
        ] {
            let why = refused(read_with_caps(gateway, &big, DAY, SMALL));
            assert!(why.ends_with("larger than 1 MiB: not read"), "{why}");
        }
    }

    /// A sparse file past the cap: refused from its size, never read.
    #[test]
    fn read_path_refuses_a_file_past_the_cap_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.zip");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(Caps::DEFAULT.zipped + 1).unwrap();
        let Err(BillError::Refused(why)) = read_path(GatewayKind::Alipay, &path, DAY) else {
            panic!("read");
        };
        assert!(why.ends_with("is larger than 64 MiB: not read"), "{why}");
    }
}
