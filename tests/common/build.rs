//! Builders for what a scenario sets up: the orders the gateway knows
//! ([`Orders`]), the batch files an operator hands in ([`BatchFile`]) and the
//! profiles' settings ([`Profiles`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::ledger::{OrderRow, OrderStatus};

pub const LESHUA_MERCHANT: &str = bulkrefund::sim::generate::LESHUA_MERCHANT;
pub const LIANSHANG_MERCHANT: &str = bulkrefund::sim::generate::LIANSHANG_MERCHANT;
/// The vectors' mchid (tests/vectors/wechatpay/README.md).
pub const WECHATPAY_MERCHANT: &str = bulkrefund::sim::generate::WECHATPAY_MERCHANT;
/// The sample Alipay app (its `app_id` is the profile's `merchant_id`).
pub const ALIPAY_APP_ID: &str = bulkrefund::sim::generate::ALIPAY_APP_ID;

/// The Alipay `trade_no` the tests give order `order`: Alipay's are digits
/// only, so `2026` and each character of the order's name as its three-digit
/// code (`T1` → `2026084049`): distinct per order, and as long as 64 digits
/// allow (names up to 20 characters).
pub fn alipay_trade_no(order: &str) -> String {
    order.bytes().fold("2026".to_owned(), |mut digits, b| {
        write!(digits, "{b:03}").unwrap();
        digits
    })
}

/// One order as the simulator's ledger holds it.
pub fn order(
    gateway: GatewayKind,
    third: &str,
    gateway_id: &str,
    amount: u64,
    status: OrderStatus,
) -> OrderRow {
    bulkrefund::sim::generate::sample_order(gateway, third, gateway_id, amount, status)
}

/// The orders the simulator knows, paid unless said otherwise.
#[derive(Clone, Debug, Default)]
pub struct Orders(Vec<OrderRow>);

impl Orders {
    pub fn new() -> Orders {
        Orders::default()
    }

    /// T1..T9 (1000 fen, paid) for every gateway, plus a closed order TC
    /// (WeChat: transaction ids W1..W9 and WC; Alipay: the trade_nos of
    /// [`alipay_trade_no`]).
    pub fn standard() -> Orders {
        let mut orders = Orders::new();
        for i in 1..=9 {
            let (order, leshua, wk) = (format!("T{i}"), format!("L{i}"), format!("WK{i}"));
            orders = orders
                .with(
                    GatewayKind::Leshua,
                    &order,
                    &leshua,
                    1000,
                    OrderStatus::Paid,
                )
                .lianshang(&order, &wk, 1000)
                .wechatpay(&order, &format!("W{i}"), 1000)
                .alipay(&order, &alipay_trade_no(&order), 1000);
        }
        orders
            .with(GatewayKind::Leshua, "TC", "LC", 1000, OrderStatus::Closed)
            .with(
                GatewayKind::Lianshang,
                "TC",
                "WKC",
                1000,
                OrderStatus::Closed,
            )
            .with(
                GatewayKind::Wechatpay,
                "TC",
                "WC",
                1000,
                OrderStatus::Closed,
            )
            .with(
                GatewayKind::Alipay,
                "TC",
                &alipay_trade_no("TC"),
                1000,
                OrderStatus::Closed,
            )
    }

    /// A paid Leshua order; its Leshua id is `L` and the order's.
    pub fn leshua(self, order: &str, fen: u64) -> Orders {
        let leshua_id = format!("L{order}");
        self.with(
            GatewayKind::Leshua,
            order,
            &leshua_id,
            fen,
            OrderStatus::Paid,
        )
    }

    /// A paid Lianshang order.
    pub fn lianshang(self, order: &str, wk_order: &str, fen: u64) -> Orders {
        self.with(
            GatewayKind::Lianshang,
            order,
            wk_order,
            fen,
            OrderStatus::Paid,
        )
    }

    /// A paid WeChat order: `out_trade_no` `order`, `transaction_id` `transaction`.
    pub fn wechatpay(self, order: &str, transaction: &str, fen: u64) -> Orders {
        self.with(
            GatewayKind::Wechatpay,
            order,
            transaction,
            fen,
            OrderStatus::Paid,
        )
    }

    /// A paid Alipay trade: `out_trade_no` `order`, `trade_no` `trade_no`.
    pub fn alipay(self, order: &str, trade_no: &str, fen: u64) -> Orders {
        self.with(GatewayKind::Alipay, order, trade_no, fen, OrderStatus::Paid)
    }

    pub fn with(
        mut self,
        gateway: GatewayKind,
        order_id: &str,
        gateway_id: &str,
        fen: u64,
        status: OrderStatus,
    ) -> Orders {
        self.0
            .push(order(gateway, order_id, gateway_id, fen, status));
        self
    }

    pub fn extend(mut self, more: impl IntoIterator<Item = OrderRow>) -> Orders {
        self.0.extend(more);
        self
    }
}

impl From<Orders> for Vec<OrderRow> {
    fn from(orders: Orders) -> Vec<OrderRow> {
        orders.0
    }
}

impl From<Vec<OrderRow>> for Orders {
    fn from(orders: Vec<OrderRow>) -> Orders {
        Orders(orders)
    }
}

/// A batch file as an operator hands it in: a header and rows, as text.
#[derive(Clone, Debug)]
pub struct BatchFile {
    text: String,
}

impl BatchFile {
    /// `merchant_refund_id,third_order_id,refund_amount`.
    pub fn leshua() -> BatchFile {
        BatchFile::with_header("merchant_refund_id,third_order_id,refund_amount")
    }

    /// The three ids and the cash amount; the profile's defaults fill the rest.
    pub fn lianshang() -> BatchFile {
        BatchFile::with_header("out_refund_id,out_trade_id,original_wk_trade_id,refund_cash_amount")
    }

    /// Both order ids, the refund and the order's total in fen.
    pub fn wechatpay() -> BatchFile {
        BatchFile::with_header(
            "out_refund_no,out_trade_no,transaction_id,refund_amount,order_total",
        )
    }

    /// The refund's number, both trade ids, the refund and the order's total
    /// in fen (the total is checked, never sent).
    pub fn alipay() -> BatchFile {
        BatchFile::with_header("out_request_no,out_trade_no,trade_no,refund_amount,order_total")
    }

    pub fn with_header(header: &str) -> BatchFile {
        BatchFile {
            text: format!("{header}\n"),
        }
    }

    /// A row, its cells as written (`R1,T1,1000`).
    pub fn row(mut self, cells: &str) -> BatchFile {
        writeln!(self.text, "{cells}").unwrap();
        self
    }

    pub fn rows<'a>(self, rows: impl IntoIterator<Item = &'a str>) -> BatchFile {
        rows.into_iter().fold(self, BatchFile::row)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.text).unwrap();
        path
    }
}

/// The sample profiles (`leshua`, `lianshang`, `alipay`, `wechatpay`) aimed at
/// a simulator, with the sample keys, and what a scenario changes in them.
#[derive(Clone, Debug)]
pub struct Profiles {
    rate: u32,
    concurrency: u32,
    settings: Vec<(String, String)>,
}

impl Default for Profiles {
    fn default() -> Profiles {
        Profiles {
            rate: 2000,
            concurrency: 32,
            settings: Vec::new(),
        }
    }
}

impl Profiles {
    /// Every profile's `rate` and `concurrency` (WeChat's and Alipay's rates
    /// kept within their simulators' limits).
    pub fn pace(self, rate: u32, concurrency: u32) -> Profiles {
        Profiles {
            rate,
            concurrency,
            ..self
        }
    }

    /// One more setting of one profile, as TOML: `.set("leshua", "same_order_gap = \"1s\"")`;
    /// it replaces the sample profile's own line for that setting, if any.
    pub fn set(mut self, profile: &str, setting: &str) -> Profiles {
        self.settings.push((profile.to_owned(), setting.to_owned()));
        self
    }

    /// Writes the sample keys and `bulkrefund.toml` into `dir`; returns the file.
    pub fn write(&self, dir: &Path, base_url: &str) -> PathBuf {
        let keys = bulkrefund::sim::generate::write_sample_keys(dir).unwrap();
        let mut text = bulkrefund::sim::generate::simulator_config(
            base_url,
            &keys,
            self.rate,
            self.concurrency,
        );
        for (profile, setting) in &self.settings {
            let header = format!("[profiles.{profile}]\n");
            let at = text.find(&header).expect("the profile exists") + header.len();
            let end = text[at..].find("\n[").map_or(text.len(), |e| at + e + 1);
            // A setting the sample profile already has is replaced.
            let key = format!("{} =", setting.split('=').next().unwrap().trim());
            let line = text[at..end]
                .find(&format!("\n{key}"))
                .map(|l| at + l + 1)
                .or_else(|| text[at..end].starts_with(&key).then_some(at));
            match line {
                Some(line) => {
                    let line_end = line + text[line..].find('\n').unwrap() + 1;
                    text.replace_range(line..line_end, &format!("{setting}\n"));
                }
                None => text.insert_str(at, &format!("{setting}\n")),
            }
        }
        let path = dir.join("bulkrefund.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}
