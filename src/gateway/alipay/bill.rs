//! Reading Alipay's daily bill (docs/specs/alipay.md, "The daily bill"): a
//! zip of GBK CSV files. Its entries are inflated within one cap for the
//! whole zip, counted as they stream (a zip bomb stops at the cap, whatever
//! its header says); only the entry whose raw bytes hold the marker is
//! decoded, strictly (GB18030, GBK's superset). The detail file is the entry
//! holding the `业务明细列表` marker, whatever its name. Within it: `#` lines
//! are not data; the header is the first line after the marker, rows run to
//! the `业务明细列表结束` marker (markers found by those words, not dashes);
//! cells are CSV (quoting honoured), trimmed of the tab Alipay puts after
//! long ids; columns by header text, full- and half-width parentheses alike.
//! Only `退款` rows become rows, their negative 订单金额 made positive fen;
//! their count must be the `#退款合计：M笔` line's and their 商家实收 sum its
//! 商家实收退款共; `#起始日期` must be the day's 00:00:00 to the next's. The
//! `#账号：[…]` line is the merchant. Each `#` line and the list come once.

use std::collections::HashMap;
use std::io::Cursor;

use jiff::civil::{Date, DateTime};

use crate::gateway::bill::{
    bounded, too_large, Bill, BillError, BillRow, BillStatus, BillTotals, Caps,
};
use crate::gateway::bill_read::{
    at_line, beijing_time, decode_strict, quoted, signed_fen, Columns,
};
use crate::gateway::GatewayKind;
use crate::money::Fen;

const TIME_FORMAT: &str = crate::gateway::times::DASHED;
/// More entries than a bill has (two): a zip of many is not a bill.
const MAX_ENTRIES: usize = 16;
const LIST_MARKER: &str = "业务明细列表";
const LIST_END_MARKER: &str = "业务明细列表结束";

/// Reads a bill zip.
pub(crate) fn read(bytes: &[u8], date: Date, caps: Caps) -> Result<Bill, BillError> {
    let detail = detail_file(bytes, caps)?;
    parse(&detail, date)
}

/// The detail file's text, chosen by its content among the zip's entries.
/// The inflated cap is the whole zip's: every entry's bytes count against
/// it, so a zip of many entries each under the cap is still stopped. Only
/// an entry whose raw GBK bytes hold the marker is decoded, and a second
/// such entry stops the reading at once: one decoded detail text at most.
fn detail_file(bytes: &[u8], caps: Caps) -> Result<String, BillError> {
    if bytes.len() as u64 > caps.zipped {
        return Err(BillError::Refused(format!(
            "the bill zip is larger than {} MiB: not read",
            caps.zipped >> 20
        )));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| BillError::Refused(format!("the bill is not a readable zip: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(BillError::Refused(format!(
            "the bill zip has {} entries: not a bill",
            archive.len()
        )));
    }
    let (marker, end_marker) = (gbk(LIST_MARKER), gbk(LIST_END_MARKER));
    let mut left = caps.inflated;
    let mut detail: Option<(String, usize)> = None;
    for index in 0..archive.len() {
        let entry = archive
            .by_index(index)
            .map_err(|e| BillError::Refused(format!("the bill zip's entry {}: {e}", index + 1)))?;
        let what = format!("the bill zip's entry {}", index + 1);
        // `take` counts what inflates: the declared size is never trusted.
        let inflated = bounded(entry, left, &what).map_err(|e| match e {
            BillError::Refused(why) if why.ends_with("not read") => too_large(
                &format!("the bill zip, inflated up to its entry {},", index + 1),
                caps.inflated,
            ),
            other => other,
        })?;
        left -= inflated.len() as u64;
        if !has_marker_line(&inflated, &marker, &end_marker) {
            continue;
        }
        let text = decode_strict(&inflated, encoding_rs::GB18030, &what)?.into_owned();
        // The bytes may match across two characters: the text decides.
        if !text.lines().any(is_marker_line) {
            continue;
        }
        if let Some((_, first)) = detail {
            return Err(BillError::File(format!(
                "the bill zip holds 2 detail files (entries {first} and {}): which one is the bill cannot be told",
                index + 1
            )));
        }
        detail = Some((text, index + 1));
    }
    detail.map(|(text, _)| text).ok_or_else(|| {
        BillError::File(format!(
            "the bill zip holds no detail file (no line with {LIST_MARKER}) among its {} entries",
            archive.len()
        ))
    })
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// Whether raw GBK bytes have a `#` line with the list marker (not the end
/// marker). `#` and `\n` are below GBK's trail bytes (0x40..): never part of
/// a character.
fn has_marker_line(bytes: &[u8], marker: &[u8], end_marker: &[u8]) -> bool {
    let holds = |line: &[u8], what: &[u8]| line.windows(what.len()).any(|w| w == what);
    bytes
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(b"#") && holds(line, marker) && !holds(line, end_marker))
}

fn is_marker_line(line: &str) -> bool {
    line.starts_with('#') && line.contains(LIST_MARKER) && !line.contains(LIST_END_MARKER)
}

/// The value of a `#name：[value]` or `#name：value…` line (either colon).
fn hash_value<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('#')?.trim_start().strip_prefix(name)?;
    let rest = rest.strip_prefix('：').or_else(|| rest.strip_prefix(':'))?;
    Some(rest.trim())
}

/// `[2026年11月22日 00:00:00]` → that wall time (brackets optional).
fn chinese_time(text: &str) -> Option<DateTime> {
    let text = text.trim().trim_start_matches('[').trim_end_matches(']');
    let (year, rest) = text.split_once('年')?;
    let (month, rest) = rest.split_once('月')?;
    let (day, time) = rest.split_once('日')?;
    let date = Date::new(
        year.trim().parse().ok()?,
        month.trim().parse().ok()?,
        day.trim().parse().ok()?,
    )
    .ok()?;
    let time = jiff::civil::Time::strptime("%H:%M:%S", time.trim()).ok()?;
    Some(date.to_datetime(time))
}

/// What the `#` lines say, each with its line.
#[derive(Default)]
struct Hashes {
    account: Option<(String, u64)>,
    /// `#起始日期：[…]   终止日期：[…]` as written.
    period: Option<(String, u64)>,
    refund_count: Option<(u64, u64)>,
    /// 商家实收退款共-35.99元: what the merchant paid back, signed fen.
    refund_sum: Option<(i64, u64)>,
}

impl Hashes {
    fn read(&mut self, line: &str, at: u64) -> Result<(), BillError> {
        if let Some(value) = hash_value(line, "账号") {
            let account = value.trim_start_matches('[').trim_end_matches(']').trim();
            once(&self.account, "#账号", at)?;
            self.account = Some((account.to_owned(), at));
        } else if let Some(value) = hash_value(line, "起始日期") {
            once(&self.period, "#起始日期", at)?;
            self.period = Some((value.to_owned(), at));
        } else if let Some(value) = hash_value(line, "退款合计") {
            once(&self.refund_count, "#退款合计", at)?;
            let (count, rest) = value
                .split_once('笔')
                .ok_or_else(|| at_line(at, "#退款合计 has no count (M笔)"))?;
            let count = count.trim().parse().map_err(|_| {
                at_line(
                    at,
                    format!("#退款合计's count {} is not a number", quoted(count)),
                )
            })?;
            self.refund_count = Some((count, at));
            let sum = rest
                .split_once("商家实收退款共")
                .and_then(|(_, r)| r.split_once('元'))
                .ok_or_else(|| at_line(at, "#退款合计 has no 商家实收退款共…元"))?
                .0;
            let sum = signed_fen(sum.trim())
                .map_err(|e| at_line(at, format!("#退款合计's 商家实收退款共 {e}")))?;
            self.refund_sum = Some((sum, at));
        }
        Ok(())
    }
}

/// A `#` line the bill has once: a second one is not believed.
fn once<T>(seen: &Option<(T, u64)>, name: &str, at: u64) -> Result<(), BillError> {
    match seen {
        Some((_, first)) => Err(at_line(
            at,
            format!(
                "a second {name} line (the first is line {first}): which one holds cannot be told"
            ),
        )),
        None => Ok(()),
    }
}

/// The bill's period: exactly `date` 00:00:00 to the next day's 00:00:00.
fn check_period(period: Option<&(String, u64)>, date: Date) -> Result<(), BillError> {
    let Some((value, at)) = period else {
        return Err(BillError::File(
            "the Alipay bill has no #起始日期 line: its day cannot be checked".into(),
        ));
    };
    let (start, end) = value.split_once("终止日期").unwrap_or((value, ""));
    let end = end.trim_start_matches(['：', ':']);
    let day_start = date.to_datetime(jiff::civil::Time::midnight());
    let next_start = date
        .tomorrow()
        .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        .ok();
    if chinese_time(start) == Some(day_start)
        && chinese_time(end) == next_start
        && next_start.is_some()
    {
        return Ok(());
    }
    Err(at_line(
        *at,
        format!(
            "the bill's period is {}, not the day {date} (起始日期 {date} 00:00:00, 终止日期 the next day's 00:00:00)",
            quoted(value)
        ),
    ))
}

/// Where the columns reconciliation reads are.
struct Layout {
    width: usize,
    trade_no: usize,
    out_trade_no: usize,
    kind: usize,
    finished_at: usize,
    amount: usize,
    /// 商家实收（元）: what `#退款合计`'s 商家实收退款共 sums.
    received: usize,
    out_request_no: usize,
}

impl Layout {
    fn of(header: &[String], line: u64) -> Result<Layout, BillError> {
        let columns = Columns::new(header, format!("the Alipay bill's header (line {line})"));
        let need = |name: &str| columns.require(&[name]);
        Ok(Layout {
            width: columns.len(),
            trade_no: need("支付宝交易号")?,
            out_trade_no: need("商户订单号")?,
            kind: need("业务类型")?,
            finished_at: need("完成时间")?,
            amount: need("订单金额(元)")?,
            received: need("商家实收(元)")?,
            out_request_no: need("退款批次号/请求号")?,
        })
    }
}

/// A line's cells, trimmed (of the tab after long ids too). A line without a
/// quote is split as it is; one with quotes goes through the CSV reader.
fn cells(text: &str, line: u64) -> Result<Vec<String>, BillError> {
    if !text.contains('"') {
        return Ok(text.split(',').map(|c| c.trim().to_owned()).collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => Ok(record.iter().map(|c| c.trim().to_owned()).collect()),
        Some(Err(e)) => Err(at_line(line, format!("is not CSV: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// The detail list's rows as read, and what they sum to.
#[derive(Default)]
struct Listed {
    rows: Vec<BillRow>,
    /// Σ 商家实收（元） of the 退款 rows, signed fen.
    received: i64,
    /// (支付宝交易号, 退款批次号/请求号) → its line: a refund is listed once.
    seen: HashMap<(String, String), u64>,
}

fn parse(text: &str, date: Date) -> Result<Bill, BillError> {
    let mut hashes = Hashes::default();
    let mut layout: Option<Layout> = None;
    let (mut in_list, mut list_ended) = (false, None::<u64>);
    let mut listed = Listed::default();
    for (line, at) in text.lines().zip(1u64..) {
        if line.starts_with('#') {
            if line.contains(LIST_END_MARKER) {
                list_ended = in_list.then_some(at).or(list_ended);
                in_list = false;
            } else if line.contains(LIST_MARKER) {
                if let Some(first) = list_ended.or(in_list.then_some(at)) {
                    return Err(at_line(
                        at,
                        format!("a second {LIST_MARKER} (the first ended on line {first}): a bill has one"),
                    ));
                }
                in_list = true;
            }
            hashes.read(line, at)?;
            continue;
        }
        if !in_list || line.trim().is_empty() {
            continue;
        }
        let values = cells(line, at)?;
        let Some(layout) = &layout else {
            layout = Some(Layout::of(&values, at)?);
            continue;
        };
        if values.len() != layout.width {
            return Err(at_line(
                at,
                format!(
                    "has {} cells, the header has {}",
                    values.len(),
                    layout.width
                ),
            ));
        }
        if values[layout.kind] == "退款" {
            listed.add(layout, &values, at)?;
        }
    }
    if layout.is_none() || list_ended.is_none() {
        return Err(BillError::File(format!(
            "the Alipay bill's detail list (between the {LIST_MARKER} markers, with its header) is missing or cut short"
        )));
    }
    check_period(hashes.period.as_ref(), date)?;
    check_totals(&hashes, &listed)?;
    let fen = listed
        .rows
        .iter()
        .try_fold(0u64, |sum, row| sum.checked_add(row.fen.0))
        .map(Fen);
    Ok(Bill {
        gateway: GatewayKind::Alipay,
        merchant_id: hashes.account.map(|(account, _)| account),
        date,
        totals: BillTotals {
            count: Some(listed.rows.len() as u64),
            // Σ 订单金额 of the rows, comparable with Σ row.fen; the stated
            // 商家实收退款共 was checked exactly against Σ 商家实收 above.
            fen,
        },
        rows: listed.rows,
    })
}

/// `#退款合计`'s count and 商家实收退款共 against the 退款 rows, exactly.
fn check_totals(hashes: &Hashes, listed: &Listed) -> Result<(), BillError> {
    let refunds = listed.rows.len() as u64;
    let Some((count, at)) = hashes.refund_count else {
        return Err(BillError::File(
            "the Alipay bill has no #退款合计 line: its refund count cannot be checked".into(),
        ));
    };
    if count != refunds {
        return Err(at_line(
            at,
            format!("#退款合计 says {count} refunds, but the bill lists {refunds} 退款 rows"),
        ));
    }
    match hashes.refund_sum {
        Some((sum, at)) if sum != listed.received => Err(at_line(
            at,
            format!(
                "#退款合计 says 商家实收退款共{}元, but the 退款 rows' 商家实收（元） sum to {}",
                yuan(sum),
                yuan(listed.received)
            ),
        )),
        _ => Ok(()),
    }
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

impl Listed {
    /// A 退款 row: read, counted into the sum, checked to be listed once.
    fn add(&mut self, layout: &Layout, values: &[String], line: u64) -> Result<(), BillError> {
        let row = refund_row(layout, values, line)?;
        let received = signed_fen(&values[layout.received])
            .map_err(|e| at_line(line, format!("商家实收（元） {e}")))?;
        self.received = self
            .received
            .checked_add(received)
            .ok_or_else(|| at_line(line, "the 商家实收（元） sum passes i64: not a bill"))?;
        let key = (
            values[layout.trade_no].clone(),
            values[layout.out_request_no].clone(),
        );
        if let Some(first) = self.seen.insert(key, line) {
            return Err(at_line(
                line,
                format!(
                    "the refund (支付宝交易号 {}, 退款批次号/请求号 {}) is also line {first}'s: a refund is listed once",
                    quoted(&values[layout.trade_no]),
                    quoted(&values[layout.out_request_no])
                ),
            ));
        }
        self.rows.push(row);
        Ok(())
    }
}

fn refund_row(layout: &Layout, values: &[String], line: u64) -> Result<BillRow, BillError> {
    let text = |at: usize| Some(values[at].clone()).filter(|v| !v.is_empty());
    let refund_id = values[layout.out_request_no].clone();
    if refund_id.is_empty() {
        return Err(at_line(line, "a 退款 row has no 退款批次号/请求号"));
    }
    let amount = signed_fen(&values[layout.amount])
        .map_err(|e| at_line(line, format!("订单金额（元） {e}")))?;
    // A refund's amount is negative in the bill: money going back.
    let fen = u64::try_from(-amount).map(Fen).map_err(|_| {
        at_line(
            line,
            format!(
                "a 退款 row's 订单金额（元） {} is not negative",
                quoted(&values[layout.amount])
            ),
        )
    })?;
    let success_at = match text(layout.finished_at) {
        Some(at) => Some(
            beijing_time(&at, TIME_FORMAT).map_err(|e| at_line(line, format!("完成时间 {e}")))?,
        ),
        None => None,
    };
    Ok(BillRow {
        refund_id,
        // Alipay has no refund id of its own: the trade number stands in.
        gateway_refund_id: text(layout.trade_no),
        order_id: text(layout.out_trade_no),
        gateway_order_id: text(layout.trade_no),
        fen,
        // Refunds are synchronous: a row in the bill was executed.
        status: BillStatus::Succeeded,
        success_at,
        line,
    })
}
