//! `alipay.data.dataservice.bill.downloadurl.query` and the download it
//! offers (docs/specs/alipay.md, "The daily bill", "Simulator:"): the bill of
//! a Beijing day is made from the ledger when asked for (the trades paid and
//! the refunds executed that day), zipped, and offered under a URL that lives
//! `--bill-url-ttl`; the download needs no signature, and an expired or
//! unknown URL is a 404. "Today" and the day are the simulator's clock's;
//! the bill faults ([`super::super::bill_faults`]) change rows and delivery.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::Value;

use super::super::bill_faults::{DeliveryFault, RowFaults};
use super::super::bomb::{self, Bomb};
use super::super::ledger::Ledger;
use super::super::SimState;
use super::answer::Reply;
use super::bill::{Bill, BillKind, BillRow, DETAIL_HEADER};
use super::form::Call;
use super::refund::{beijing, beijing_text};
use crate::gateway::GatewayKind;

/// The download's path (the real one's, on the simulator's host).
pub const DOWNLOAD_PATH: &str = "/downloadBillFile.resource";

/// A zip on offer until a moment.
struct Offer {
    bytes: Vec<u8>,
    until: Instant,
}

/// The URLs handed out, by `fileId`.
#[derive(Default)]
pub(super) struct Offers {
    by_file_id: HashMap<String, Offer>,
}

fn not_exist(member: &str) -> Reply {
    Reply::business(member, "isp.bill_not_exist", "账单不存在", &[])
}

/// The fee Alipay keeps: 0.6% of the amount, rounded half up (ours; the
/// vector's figures).
fn service_fee(fen: u64) -> i64 {
    ((fen * 6 + 500) / 1000) as i64
}

/// The bill's rows of one Beijing day for `app_id`: payments, then refunds,
/// each in time order and as the bill faults show it.
fn rows_of_day(
    ledger: &Ledger,
    faults: &RowFaults,
    app_id: &str,
    day: jiff::civil::Date,
    now: Instant,
) -> Vec<BillRow> {
    let on_day = |time: jiff::Timestamp| beijing(time).date() == day;
    let mut rows = Vec::new();
    let mut paid: Vec<(jiff::Timestamp, usize)> = ledger
        .orders()
        .iter()
        .enumerate()
        .filter(|(_, o)| o.gateway == GatewayKind::Alipay && o.merchant_id == app_id)
        .filter(|(_, o)| o.status != super::super::ledger::OrderStatus::Failed)
        .map(|(i, _)| (ledger.paid_at(i), i))
        .filter(|(at, _)| on_day(*at))
        .collect();
    paid.sort();
    for (at, i) in paid {
        let order = ledger.order(i);
        let fen = order.amount_fen as i64;
        rows.push(BillRow {
            trade_no: order.gateway_order_id.clone(),
            out_trade_no: order.third_order_id.clone(),
            kind: BillKind::Trade,
            product: "测试商品".into(),
            created_at: beijing_text(at),
            finished_at: beijing_text(at),
            counterparty: "159****5620".into(),
            amount_fen: fen,
            received_fen: fen,
            out_request_no: String::new(),
            service_fee_fen: -service_fee(order.amount_fen),
            remark: String::new(),
        });
    }
    for refund in ledger.refunds() {
        if refund.gateway != GatewayKind::Alipay
            || refund.merchant_id != app_id
            || faults.omits(&refund.refund_id)
        {
            continue;
        }
        let Some(at) = refund.success_time(now).filter(|&at| on_day(at)) else {
            continue;
        };
        let order = ledger.order(refund.order);
        let shown = faults.amount(&refund.refund_id, refund.amount_fen);
        let fen = -(shown as i64);
        rows.push(BillRow {
            trade_no: order.gateway_order_id.clone(),
            out_trade_no: order.third_order_id.clone(),
            kind: BillKind::Refund,
            product: "测试商品".into(),
            created_at: beijing_text(refund.created_at),
            finished_at: beijing_text(at),
            counterparty: "159****5620".into(),
            amount_fen: fen,
            received_fen: fen,
            out_request_no: refund.refund_id.clone(),
            service_fee_fen: service_fee(shown),
            remark: String::new(),
        });
    }
    rows
}

/// The day a bill URL call asks for, or the answer that refuses it: a
/// `trade` bill of one `yyyy-MM-dd` day (a `signcustomer` bill, the
/// account's money flow, is not one the simulator keeps).
fn requested_day(member: &str, biz_content: &str) -> Result<jiff::civil::Date, Reply> {
    let invalid = |why: &str| {
        Reply::business(
            member,
            "isv.invalid-parameter",
            &format!("参数不合法: {why}"),
            &[],
        )
    };
    let fields: BTreeMap<String, Value> = serde_json::from_str(biz_content)
        .map_err(|_| invalid("biz_content is not a JSON object"))?;
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    match text("bill_type") {
        Some("trade") => {}
        Some("signcustomer") => return Err(not_exist(member)),
        _ => return Err(invalid("bill_type must be trade or signcustomer")),
    }
    let date = text("bill_date").ok_or_else(|| invalid("bill_date is required"))?;
    // A daily bill only: a month (`yyyy-MM`) is not kept here.
    (date.len() == 10)
        .then(|| date.parse::<jiff::civil::Date>().ok())
        .flatten()
        .ok_or_else(|| invalid("bill_date must be yyyy-MM-dd"))
}

/// The bill URL call: checks `bill_type` and `bill_date`, makes the bill and offers it.
pub(super) fn offer(state: &SimState, app_id: &str, biz_content: &str, host: &str) -> Reply {
    let member = Call::BillUrl.member();
    let day = match requested_day(&member, biz_content) {
        Ok(day) => day,
        Err(refused) => return refused,
    };
    let now_at = state.clock.now();
    let today = beijing(now_at).date();
    let config = &state.alipay.config;
    if day > today || (day == today && !config.bill_same_day) {
        return not_exist(&member);
    }
    let faults = state.bill_faults.rows(GatewayKind::Alipay);
    let rows = {
        let ledger = state.ledger.lock().expect("ledger lock");
        rows_of_day(&ledger, &faults, app_id, day, Instant::now())
    };
    if rows.is_empty() {
        return not_exist(&member);
    }
    let fault = state.bill_faults.delivery(GatewayKind::Alipay);
    let bill = Bill {
        account: match fault {
            Some(DeliveryFault::OtherMerchant) => other_account(&config.bill_account),
            _ => config.bill_account.clone(),
        },
        day,
        exported_at: beijing(now_at).datetime(),
        rows,
    };
    let file_id: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let compact = day.strftime("%Y%m%d").to_string();
    let url = format!(
        "http://{host}{DOWNLOAD_PATH}?bizType=trade&userId={account}&fileType=csv.zip&bizDates={compact}&downloadFileName={account}_{compact}.csv.zip&fileId={file_id}",
        account = bill.account
    );
    let now = Instant::now();
    let mut offers = state.alipay.bills.lock().expect("bills lock");
    offers.by_file_id.retain(|_, offer| offer.until > now);
    let ttl = match fault {
        Some(DeliveryFault::ExpiredUrl) => Duration::ZERO,
        _ => config.bill_url_ttl,
    };
    offers.by_file_id.insert(
        file_id,
        Offer {
            bytes: delivered(state, &bill, fault),
            until: now + ttl,
        },
    );
    Reply::success(&member, &[("bill_download_url", url)])
}

/// An account that is not `account`.
fn other_account(account: &str) -> String {
    let other = "20889999999999990156";
    if account == other {
        "20881111111111110156"
    } else {
        other
    }
    .to_owned()
}

/// The zip to download, as the delivery fault has it: the bill's, or a
/// bomb whose detail entry (named as the bill's) inflates past 600 MiB.
fn delivered(state: &SimState, bill: &Bill, fault: Option<DeliveryFault>) -> Vec<u8> {
    if fault != Some(DeliveryFault::ZipBomb) {
        return bill.zip();
    }
    let bomb = state.alipay.bomb.get_or_init(|| {
        // The detail file's opening, marker and header, then the zeros.
        let detail = bill.detail();
        let header_end = detail
            .find(DETAIL_HEADER)
            .map_or(0, |i| i + DETAIL_HEADER.len());
        let opening: String = detail[..header_end]
            .lines()
            .filter(|line| !line.starts_with("#账号") && !line.starts_with("#起始日期"))
            .map(|line| format!("{line}\r\n"))
            .collect();
        Bomb::new(&encoding_rs::GBK.encode(&opening).0, bomb::CHUNKS)
    });
    let name = encoding_rs::GBK.encode(&bill.names().0).0.into_owned();
    bomb.zip(&name, bill.exported_at)
}

/// The download: the zip, or `None` (a 404) for a URL unknown or expired.
pub(super) fn download(state: &SimState, query: &str) -> Option<Vec<u8>> {
    let file_id = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "fileId")
        .map(|(_, value)| value.into_owned())?;
    let offers = state.alipay.bills.lock().expect("bills lock");
    offers
        .by_file_id
        .get(&file_id)
        .filter(|offer| offer.until > Instant::now())
        .map(|offer| offer.bytes.clone())
}
