//! Reading WeChat Pay's trade bill (docs/specs/wechatpay-v3.md, "The trade
//! bill"): UTF-8 (a BOM dropped), CRLF or LF lines, a header, one line per
//! trade or refund whose every value starts with a backtick and is split on
//! `` ,` ``, then the summary header (`总交易单数…`) and one summary line.
//! Columns are found by header text, so both layouts (29 columns, and the
//! older 26 of "普通结算" merchants) and the `ALL` bill read alike; a header
//! lacking a column reconciliation needs fails naming it and the columns
//! found. The summary is checked against the lines: their count and the exact
//! sums of 退款金额 and 申请退款金额. Only `REFUND` lines become rows. A gzip
//! (as downloaded) is inflated first, within the cap.

use jiff::civil::Date;

use crate::gateway::bill::{gunzip, Bill, BillError, BillRow, BillStatus, BillTotals, Caps};
use crate::gateway::bill_read::{
    at_line, beijing_time, decode_strict, listed_once, quoted, shown, signed_fen, Columns,
};
use crate::gateway::GatewayKind;
use crate::money::Fen;

const TIME_FORMAT: &str = crate::gateway::times::DASHED;

/// Where the columns reconciliation reads are.
struct Layout {
    merchant: usize,
    trade_state: usize,
    refund_id: usize,
    gateway_refund_id: usize,
    order_id: Option<usize>,
    gateway_order_id: Option<usize>,
    /// 退款金额: what was settled (summed against the summary).
    settled: usize,
    /// 申请退款金额 when the layout has it: what was asked.
    applied: Option<usize>,
    status: usize,
    success_at: Option<usize>,
}

impl Layout {
    fn of(header: &[String]) -> Result<Layout, BillError> {
        let columns = Columns::new(header, "the WeChat Pay bill's header (line 1)");
        let need = |names: &[&str]| columns.require(names);
        Ok(Layout {
            merchant: need(&["商户号"])?,
            trade_state: need(&["交易状态"])?,
            refund_id: need(&["商户退款单号"])?,
            gateway_refund_id: need(&["微信退款单号"])?,
            order_id: columns.find(&["商户订单号"])?,
            gateway_order_id: columns.find(&["微信订单号"])?,
            settled: need(&["退款金额"])?,
            applied: columns.find(&["申请退款金额"])?,
            status: need(&["退款状态"])?,
            success_at: columns.find(&["退款成功时间"])?,
        })
    }
}

/// Where the summary's checked values are.
struct SummaryLayout {
    count: usize,
    settled: usize,
    applied: Option<usize>,
    width: usize,
}

impl SummaryLayout {
    fn of(header: &[String], line: u64) -> Result<SummaryLayout, BillError> {
        let columns = Columns::new(
            header,
            format!("the WeChat Pay bill's summary header (line {line})"),
        );
        Ok(SummaryLayout {
            count: columns.require(&["总交易单数"])?,
            settled: columns.require(&["退款总金额", "总退款金额"])?,
            applied: columns.find(&["申请退款总金额"])?,
            width: columns.len(),
        })
    }
}

/// A status as the bill writes it (v2-era words read the same way).
fn status(word: &str) -> BillStatus {
    match word {
        "SUCCESS" => BillStatus::Succeeded,
        "PROCESSING" => BillStatus::Processing,
        "CLOSED" | "REFUNDCLOSE" => BillStatus::Failed,
        "ABNORMAL" | "CHANGE" => BillStatus::Abnormal,
        other => BillStatus::Other(shown(other)),
    }
}

/// A data or summary line's values: the first backtick dropped, split on `` ,` ``.
fn values(text: &str, line: u64, width: usize) -> Result<Vec<&str>, BillError> {
    let Some(rest) = text.strip_prefix('`') else {
        return Err(at_line(
            line,
            "does not start with a backtick, as every value line of a WeChat Pay bill does",
        ));
    };
    let values: Vec<&str> = rest.split(",`").collect();
    if values.len() != width {
        return Err(at_line(
            line,
            format!("has {} values, the header has {width}", values.len()),
        ));
    }
    Ok(values)
}

fn amount(text: &str, line: u64, column: &str) -> Result<i64, BillError> {
    signed_fen(text).map_err(|e| at_line(line, format!("{column} {e}")))
}

fn fen(value: i64, line: u64, column: &str) -> Result<Fen, BillError> {
    u64::try_from(value)
        .map(Fen)
        .map_err(|_| at_line(line, format!("{column} is negative")))
}

/// `value` added to `sum`; a sum past i64 is no bill's, named at its line.
fn add(sum: &mut i64, value: i64, line: u64, column: &str) -> Result<(), BillError> {
    *sum = sum.checked_add(value).ok_or_else(|| {
        at_line(
            line,
            format!("the sum of {column} up to here passes the largest amount bulkrefund counts: not a bill"),
        )
    })?;
    Ok(())
}

/// Sums of the value lines, checked against the summary.
#[derive(Default)]
struct Sums {
    lines: u64,
    settled: i64,
    applied: i64,
    refund_lines: u64,
    refund_applied: i64,
}

/// Reads a bill: plain CSV, or gzip (as the download is).
pub(crate) fn read(bytes: &[u8], date: Date, caps: Caps) -> Result<Bill, BillError> {
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        inflated = gunzip(bytes, caps.inflated)?;
        &inflated[..]
    } else if bytes.len() as u64 > caps.plain {
        return Err(BillError::Refused(format!(
            "the bill is larger than {} MiB: not read",
            caps.plain >> 20
        )));
    } else {
        bytes
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = decode_strict(bytes, encoding_rs::UTF_8, "the WeChat Pay bill")?;
    parse(&text, date)
}

fn parse(text: &str, date: Date) -> Result<Bill, BillError> {
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .zip(1u64..);
    let header: Vec<String> = match lines.next() {
        Some((first, _)) if !first.trim().is_empty() => {
            first.split(',').map(|c| c.trim().to_owned()).collect()
        }
        _ => return Err(BillError::File("the WeChat Pay bill is empty".into())),
    };
    let layout = Layout::of(&header)?;
    let mut rows = Vec::new();
    let mut merchant: Option<(String, u64)> = None;
    let mut sums = Sums::default();
    let mut summary_header = None;
    for (text, line) in lines.by_ref() {
        if text.starts_with("总交易单数") {
            let names: Vec<String> = text.split(',').map(|c| c.trim().to_owned()).collect();
            summary_header = Some((SummaryLayout::of(&names, line)?, line));
            break;
        }
        if text.is_empty() {
            // The end of the last line, or a blank line: no value line.
            continue;
        }
        let values = values(text, line, header.len())?;
        let mchid = values[layout.merchant];
        match &merchant {
            None => merchant = Some((mchid.to_owned(), line)),
            Some((first, at)) if first != mchid => {
                return Err(at_line(
                    line,
                    format!(
                        "商户号 {} differs from line {at}'s {}: one bill is one merchant's",
                        quoted(mchid),
                        quoted(first)
                    ),
                ))
            }
            Some(_) => {}
        }
        let settled = amount(values[layout.settled], line, "退款金额")?;
        let applied = match layout.applied {
            Some(at) => amount(values[at], line, "申请退款金额")?,
            None => settled,
        };
        sums.lines += 1;
        add(&mut sums.settled, settled, line, "退款金额")?;
        add(&mut sums.applied, applied, line, "申请退款金额")?;
        if values[layout.trade_state] != "REFUND" {
            continue;
        }
        sums.refund_lines += 1;
        add(&mut sums.refund_applied, applied, line, "申请退款金额")?;
        rows.push(row(&layout, &values, line, applied)?);
    }
    let Some((summary, header_line)) = summary_header else {
        return Err(BillError::File(
            "the WeChat Pay bill ends without its summary (the line starting 总交易单数): cut short?"
                .into(),
        ));
    };
    let totals = check_summary(lines, &summary, header_line, &sums)?;
    listed_once(&rows, "商户退款单号")?;
    Ok(Bill {
        gateway: GatewayKind::Wechatpay,
        merchant_id: merchant.map(|(id, _)| id),
        date,
        rows,
        totals,
    })
}

fn row(layout: &Layout, values: &[&str], line: u64, applied: i64) -> Result<BillRow, BillError> {
    let refund_id = values[layout.refund_id];
    if refund_id.is_empty() {
        return Err(at_line(line, "a REFUND line has no 商户退款单号"));
    }
    let text = |at: Option<usize>| {
        at.map(|at| values[at])
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let success_at = match text(layout.success_at) {
        Some(at) => Some(
            beijing_time(&at, TIME_FORMAT)
                .map_err(|e| at_line(line, format!("退款成功时间 {e}")))?,
        ),
        None => None,
    };
    Ok(BillRow {
        refund_id: refund_id.to_owned(),
        gateway_refund_id: text(Some(layout.gateway_refund_id)),
        order_id: text(layout.order_id),
        gateway_order_id: text(layout.gateway_order_id),
        fen: fen(applied, line, "the amount asked")?,
        status: status(values[layout.status]),
        success_at,
        line,
    })
}

/// The summary line checked against the value lines; then nothing but blank lines.
fn check_summary<'a>(
    mut lines: impl Iterator<Item = (&'a str, u64)>,
    summary: &SummaryLayout,
    header_line: u64,
    sums: &Sums,
) -> Result<BillTotals, BillError> {
    let Some((text, line)) = lines.next().filter(|(t, _)| !t.is_empty()) else {
        return Err(at_line(
            header_line + 1,
            "the summary header is not followed by the summary line: cut short?",
        ));
    };
    let values = values(text, line, summary.width)?;
    let count: u64 = values[summary.count].parse().map_err(|_| {
        at_line(
            line,
            format!("总交易单数 {:?} is not a count", values[summary.count]),
        )
    })?;
    if count != sums.lines {
        return Err(at_line(
            line,
            format!(
                "总交易单数 is {count}, but the bill has {} lines",
                sums.lines
            ),
        ));
    }
    let check = |at: usize, name: &str, sum: i64| -> Result<i64, BillError> {
        let stated = amount(values[at], line, name)?;
        if stated != sum {
            return Err(at_line(
                line,
                format!(
                    "{name} is {}, but the lines sum to {}",
                    values[at],
                    yuan(sum)
                ),
            ));
        }
        Ok(stated)
    };
    check(summary.settled, "退款总金额", sums.settled)?;
    let applied = match summary.applied {
        Some(at) => check(at, "申请退款总金额", sums.applied)?,
        None => sums.settled,
    };
    if let Some((_, extra)) = lines.find(|(t, _)| !t.trim().is_empty()) {
        return Err(at_line(
            extra,
            "follows the summary line: a bill ends there",
        ));
    }
    // An ALL bill's summary counts payments too: its count is not the refunds'.
    let only_refunds = sums.refund_lines == sums.lines;
    Ok(BillTotals {
        count: only_refunds.then_some(count),
        fen: (applied == sums.refund_applied)
            .then(|| u64::try_from(applied).ok().map(Fen))
            .flatten(),
    })
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}
