//! Generated test data: a batch of N refunds and the simulator orders file that
//! makes every one of them valid, for tests, benchmarks and the chaos harness.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::gateway::GatewayKind;

pub const LESHUA_MERCHANT: &str = "0000000018";
pub const LIANSHANG_MERCHANT: &str = "pay001";
/// The WeChat Pay `mchid` of the sample keys.
pub const WECHATPAY_MERCHANT: &str = "1234567890";
/// The Alipay `app_id` of the sample keys (made up, as in the vectors).
pub const ALIPAY_APP_ID: &str = "2021000123456789";

/// What generated data looks like for one simulated gateway.
struct Sample {
    merchant_id: &'static str,
    appid: &'static str,
    header: &'static str,
    /// A row: (prefix, i, order, gateway order, amount in fen).
    row: fn(&str, u64, &str, &str, u64) -> String,
    /// The gateway's id of the `i`th generated order.
    gateway_order: fn(&str, u64) -> String,
}

fn lettered_gateway_order(prefix: &str, i: u64) -> String {
    format!("{prefix}G{i:09}")
}

/// Alipay's `trade_no` is digits only: 28 of them, as real ones, six of
/// which come from the prefix so that batches with other prefixes differ.
fn alipay_trade_no(prefix: &str, i: u64) -> String {
    let from_prefix = prefix
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 1_000_000;
    format!("2026{from_prefix:06}{i:018}")
}

fn sample(gateway: GatewayKind) -> std::io::Result<Sample> {
    Ok(match gateway {
        GatewayKind::Leshua => Sample {
            merchant_id: LESHUA_MERCHANT,
            appid: "",
            header: "merchant_refund_id,third_order_id,refund_amount,memo",
            row: |prefix, i, order, _, amount| {
                format!("{prefix}R{i:09},{order},{amount},refund {i} 退款")
            },
            gateway_order: lettered_gateway_order,
        },
        GatewayKind::Lianshang => Sample {
            merchant_id: LIANSHANG_MERCHANT,
            appid: "app01",
            header: "out_refund_id,out_trade_id,original_wk_trade_id,refund_cash_amount,refund_msg",
            row: |prefix, i, order, gateway_order, amount| {
                format!("{prefix}-R{i:09},{order},{gateway_order},{amount},月末退款 {i}")
            },
            gateway_order: lettered_gateway_order,
        },
        // Each refund is its order's full amount, so the required order
        // total is the refund's; the order has both ids, and both are sent.
        GatewayKind::Wechatpay => Sample {
            merchant_id: WECHATPAY_MERCHANT,
            appid: "",
            header: "out_refund_no,out_trade_no,transaction_id,refund_amount,order_total,reason",
            row: |prefix, i, order, gateway_order, amount| {
                format!("{prefix}-R{i:09},{order},{gateway_order},{amount},{amount},月末退款 {i}")
            },
            gateway_order: lettered_gateway_order,
        },
        // Each refund is its trade's full amount; the trade is named by both
        // ids, and both are sent (and echo-checked).
        GatewayKind::Alipay => Sample {
            merchant_id: ALIPAY_APP_ID,
            appid: "",
            header: "out_request_no,out_trade_no,trade_no,refund_amount,refund_reason",
            row: |prefix, i, order, gateway_order, amount| {
                format!("{prefix}-R{i:09},{order},{gateway_order},{amount},月末退款 {i}")
            },
            gateway_order: alipay_trade_no,
        },
        #[cfg(test)]
        GatewayKind::Stub => {
            return Err(std::io::Error::other("the stub gateway has no simulator"))
        }
    })
}

/// One order of `gateway`'s sample merchant (its appid too), as the
/// simulator's ledger holds it: what tests build their orders from.
pub fn sample_order(
    gateway: GatewayKind,
    third_order_id: &str,
    gateway_order_id: &str,
    amount_fen: u64,
    status: crate::sim::ledger::OrderStatus,
) -> crate::sim::ledger::OrderRow {
    let sample = sample(gateway).expect("a gateway with a simulator");
    crate::sim::ledger::OrderRow {
        gateway,
        merchant_id: sample.merchant_id.into(),
        third_order_id: third_order_id.into(),
        gateway_order_id: gateway_order_id.into(),
        appid: sample.appid.into(),
        amount_fen,
        currency: "CNY".into(),
        status,
        paid_at: None,
    }
}

/// Writes `rows` refunds (one per paid order, full amount) and their orders,
/// each file through a fresh one renamed into place (never through a link
/// planted at its name). Ids carry `prefix` so that several generated
/// batches never collide.
pub fn write_batch(
    gateway: GatewayKind,
    rows: u64,
    prefix: &str,
    batch: &Path,
    orders: Option<&Path>,
) -> std::io::Result<()> {
    let sample = sample(gateway)?;
    let order_of = |i: u64| {
        (
            format!("{prefix}O{i:09}"),
            (sample.gateway_order)(prefix, i),
        )
    };
    let amount_of = |i: u64| 100 + (i * 7919) % 100_000;
    crate::paths::write_replacing(batch, |file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        writeln!(out, "{}", sample.header)?;
        for i in 1..=rows {
            let (order, gateway_order) = order_of(i);
            let row = (sample.row)(prefix, i, &order, &gateway_order, amount_of(i));
            writeln!(out, "{row}")?;
        }
        out.flush()
    })?;
    let Some(orders) = orders else {
        return Ok(());
    };
    crate::paths::write_replacing(orders, |file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        writeln!(
            out,
            "gateway,merchant_id,third_order_id,gateway_order_id,appid,amount_fen,currency,status"
        )?;
        for i in 1..=rows {
            let (order, gateway_order) = order_of(i);
            writeln!(
                out,
                "{gateway},{},{order},{gateway_order},{},{},CNY,paid",
                sample.merchant_id,
                sample.appid,
                amount_of(i)
            )?;
        }
        out.flush()
    })
}

/// Writes the sample test keys the simulator's configuration names into
/// `dir/keys`, readable by their owner only (as any key file must be), and
/// returns that directory.
pub fn write_sample_keys(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    use crate::sim::sample_keys;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    for (name, text) in [
        ("leshua-trade.key", sample_keys::LESHUA_TRADE_KEY),
        ("merchant-test-2048.pem", sample_keys::LIANSHANG_PRIVATE_KEY),
        (
            "wechatpay-merchant-test.pem",
            sample_keys::WECHATPAY_MERCHANT_PRIVATE_KEY,
        ),
        (
            "wechatpay-platform-test.pub.pem",
            sample_keys::WECHATPAY_PUBLIC_KEY,
        ),
        ("alipay-app-test.pem", sample_keys::ALIPAY_APP_PRIVATE_KEY),
        ("alipay-sim-test.pub.pem", sample_keys::ALIPAY_PUBLIC_KEY),
    ] {
        write_private(&keys.join(name), text)?;
    }
    Ok(keys)
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// A `bulkrefund.toml` with a profile per gateway aimed at a simulator at
/// `base_url`, using the sample keys in `keys_dir` (test keys only). WeChat's
/// profile keeps within its simulator's limits (150 applies/s, 300 queries/s),
/// Alipay's within its 50 calls a second. WeChat's profile stays the file's
/// last section: tests append lines of its own to the text.
pub fn simulator_config(base_url: &str, keys_dir: &Path, rate: u32, concurrency: u32) -> String {
    let keys = keys_dir.display();
    let (wx_rate, wx_query_rate) = (rate.min(150), rate.saturating_mul(2).min(300));
    let serial = crate::sim::wechatpay::SAMPLE_MERCHANT_SERIAL;
    let public_key_id = crate::sim::wechatpay::SAMPLE_PUBLIC_KEY_ID;
    let ali_rate = rate.min(40);
    let gateway_path = crate::sim::alipay::GATEWAY_PATH;
    format!(
        r#"
[profiles.leshua]
gateway = "leshua"
base_url = "{base_url}"
merchant_id = "{LESHUA_MERCHANT}"
trade_key = {{ file = "{keys}/leshua-trade.key" }}
notify_url = "https://shop.example.com/refund/notify"
rate = {rate}
concurrency = {concurrency}
timeout = "5s"
max_attempts = 8

[profiles.lianshang]
gateway = "lianshang"
base_url = "{base_url}"
merchant_id = "{LIANSHANG_MERCHANT}"
private_key = {{ file = "{keys}/merchant-test-2048.pem" }}
rate = {rate}
concurrency = {concurrency}
timeout = "5s"
max_attempts = 8

[profiles.lianshang.defaults]
appid = "app01"
platform = "Online"
client_user_id = "finance"
coin_type = "lianshang_coin"
refund_msg = "month-end refund"
notify_url = "https://shop.example.com/refund/notify"
refund_expire = 30
risk_extend = "{{\"risk\":100}}"
refund_product_subject = "[]"

[profiles.alipay]
gateway = "alipay"
base_url = "{base_url}{gateway_path}"
merchant_id = "{ALIPAY_APP_ID}"
app_id = "{ALIPAY_APP_ID}"
private_key = {{ file = "{keys}/alipay-app-test.pem" }}
alipay_public_key = {{ file = "{keys}/alipay-sim-test.pub.pem" }}
rate = {ali_rate}
concurrency = {concurrency}
timeout = "5s"
max_attempts = 8

[profiles.wechatpay]
gateway = "wechatpay"
base_url = "{base_url}"
merchant_id = "{WECHATPAY_MERCHANT}"
merchant_serial_no = "{serial}"
private_key = {{ file = "{keys}/wechatpay-merchant-test.pem" }}
wechatpay_public_key_id = "{public_key_id}"
wechatpay_public_key = {{ file = "{keys}/wechatpay-platform-test.pub.pem" }}
rate = {wx_rate}
query_rate = {wx_query_rate}
concurrency = {concurrency}
timeout = "5s"
max_attempts = 8
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alipay_batch_names_each_trade_by_both_ids_and_trade_nos_are_digits() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, orders) = (dir.path().join("b.csv"), dir.path().join("o.csv"));
        write_batch(GatewayKind::Alipay, 2, "ali", &batch, Some(&orders)).unwrap();
        let batch = std::fs::read_to_string(batch).unwrap();
        let lines: Vec<&str> = batch.lines().collect();
        assert_eq!(
            lines[0],
            "out_request_no,out_trade_no,trade_no,refund_amount,refund_reason"
        );
        let orders = crate::sim::ledger::read_orders(&orders).unwrap();
        assert_eq!(orders[0].merchant_id, ALIPAY_APP_ID);
        let trade_no = &orders[0].gateway_order_id;
        assert_eq!(trade_no.len(), 28);
        assert!(trade_no.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            lines[1],
            format!("ali-R000000001,aliO000000001,{trade_no},8019,月末退款 1")
        );
        assert_ne!(alipay_trade_no("ali", 1), alipay_trade_no("other", 1));
    }

    #[test]
    fn a_wechat_batch_carries_its_order_total_and_its_orders_both_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, orders) = (dir.path().join("b.csv"), dir.path().join("o.csv"));
        write_batch(GatewayKind::Wechatpay, 2, "wx", &batch, Some(&orders)).unwrap();
        let batch = std::fs::read_to_string(batch).unwrap();
        let lines: Vec<&str> = batch.lines().collect();
        assert_eq!(
            lines[0],
            "out_refund_no,out_trade_no,transaction_id,refund_amount,order_total,reason"
        );
        assert_eq!(
            lines[1],
            "wx-R000000001,wxO000000001,wxG000000001,8019,8019,月末退款 1"
        );
        let orders = crate::sim::ledger::read_orders(&orders).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].merchant_id, WECHATPAY_MERCHANT);
        assert_eq!(orders[0].third_order_id, "wxO000000001");
        assert_eq!(orders[0].gateway_order_id, "wxG000000001");
        assert_eq!(orders[0].amount_fen, 8019);
    }
}
