//! The simulator's books: the paid orders it was seeded with, every refund it
//! created, and how often each refund id was submitted. Enforces the rules every
//! gateway shares (only paid orders, never more than the paid amount in total,
//! same currency, one refund per id) in gateway-neutral terms; the gateway
//! modules turn a [`Refusal`] into their own error codes, and read what their
//! own rules need (when an order was paid, its refunds, when the last one was
//! created, what a merchant's refunds hold).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gateway::GatewayKind;

use super::clock::SimClock;
pub use super::orders::{read_orders, OrderRow, OrderStatus, OrdersError};
pub use super::refund::{Fate, SimRefund};
pub use super::snapshot::{
    LedgerId, LedgerRefund, LedgerSnapshot, RefundState, SteadyPace, WechatpayTraffic,
};

/// How a refund names the order it refunds.
pub enum OrderRef<'a> {
    /// Leshua: `leshua_order_id` is used first when both are given.
    Leshua {
        third_order_id: Option<&'a str>,
        leshua_order_id: Option<&'a str>,
    },
    /// Lianshang: all four must name the same payment.
    Lianshang {
        out_trade_id: &'a str,
        original_wk_trade_id: &'a str,
        appid: &'a str,
    },
    /// WeChat Pay: `transaction_id` or `out_trade_no`; when both are given
    /// they must name the same order (else no order is found).
    Wechatpay {
        transaction_id: Option<&'a str>,
        out_trade_no: Option<&'a str>,
    },
    /// Alipay: `trade_no` wins when both are given, as for Leshua.
    Alipay {
        trade_no: Option<&'a str>,
        out_trade_no: Option<&'a str>,
    },
    /// The merchant portal: the merchant's order id, else the gateway's.
    Portal(&'a str),
}

/// Where a gateway makes a refund id unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdScope {
    /// One refund per id and merchant (Leshua, Lianshang, WeChat Pay).
    Merchant,
    /// One refund per id and order (Alipay's `out_request_no`). Such a
    /// refund has no id of its own at the gateway: its gateway id is its
    /// order's (Alipay's `trade_no`).
    Order,
}

pub struct NewRefund<'a> {
    pub gateway: GatewayKind,
    /// How this gateway's own refund ids start (`LR`, `WKR`).
    pub id_prefix: &'static str,
    pub merchant_id: &'a str,
    pub refund_id: &'a str,
    pub order: OrderRef<'a>,
    pub amount_fen: u64,
    pub coin_amount: u64,
    /// Leshua refunds carry no currency.
    pub currency: Option<&'a str>,
}

/// Why a refund was not created.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The id is taken; `same_content` tells a replay from a conflict.
    AlreadyExists {
        refund: usize,
        same_content: bool,
    },
    UnknownOrder,
    NotPaid,
    CurrencyMismatch,
    OverBalance {
        refundable: u64,
    },
}

type IdKey = (GatewayKind, String, String);

#[derive(Default)]
pub struct Ledger {
    orders: Vec<OrderRow>,
    refunds_of_order: Vec<Vec<usize>>,
    by_third_order_id: HashMap<IdKey, usize>,
    by_gateway_order_id: HashMap<IdKey, usize>,
    merchants: std::collections::HashSet<(GatewayKind, String)>,
    refunds: Vec<SimRefund>,
    by_refund_id: HashMap<IdKey, usize>,
    by_gateway_refund_id: HashMap<String, usize>,
    submissions: HashMap<IdKey, u32>,
    /// When the ledger was made: an order without `paid_at` was paid a day before.
    started_at: jiff::Timestamp,
    /// The wall clock creation and success times are read from.
    clock: Arc<SimClock>,
}

/// Why an abnormal refund could not be resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum ResolveRefusal {
    NoSuchRefund,
    NotAbnormal(RefundState),
}

/// A gateway's id for the `n`th refund. WeChat's are 29 digits starting `503`
/// (our convention, in the shape of its real ids); the others are the prefix
/// and 14 digits.
fn gateway_refund_id(prefix: &str, n: usize) -> String {
    if prefix == "503" {
        format!("503{n:026}")
    } else {
        format!("{prefix}{n:014}")
    }
}

fn key(gateway: GatewayKind, merchant: &str, id: &str) -> IdKey {
    (gateway, merchant.to_owned(), id.to_owned())
}

impl Ledger {
    /// A ledger on the real clock.
    pub fn new(orders: Vec<OrderRow>) -> Ledger {
        Ledger::with_clock(orders, Arc::new(SimClock::real()))
    }

    /// A ledger whose wall times are `clock`'s.
    pub fn with_clock(orders: Vec<OrderRow>, clock: Arc<SimClock>) -> Ledger {
        let mut ledger = Ledger {
            started_at: clock.now(),
            clock,
            ..Ledger::default()
        };
        for (i, order) in orders.iter().enumerate() {
            let g = order.gateway;
            ledger
                .by_third_order_id
                .insert(key(g, &order.merchant_id, &order.third_order_id), i);
            ledger
                .by_gateway_order_id
                .insert(key(g, &order.merchant_id, &order.gateway_order_id), i);
            ledger.merchants.insert((g, order.merchant_id.clone()));
        }
        ledger.refunds_of_order = vec![Vec::new(); orders.len()];
        ledger.orders = orders;
        ledger
    }

    pub fn knows_merchant(&self, gateway: GatewayKind, merchant_id: &str) -> bool {
        self.merchants.contains(&(gateway, merchant_id.to_owned()))
    }

    /// Every order, in the orders file's order.
    pub fn orders(&self) -> &[OrderRow] {
        &self.orders
    }

    pub fn order(&self, index: usize) -> &OrderRow {
        &self.orders[index]
    }

    pub fn refund(&self, index: usize) -> &SimRefund {
        &self.refunds[index]
    }

    /// Counts one submission of a refund id, whatever its fate.
    pub fn note_submission(&mut self, gateway: GatewayKind, merchant_id: &str, refund_id: &str) {
        *self
            .submissions
            .entry(key(gateway, merchant_id, refund_id))
            .or_default() += 1;
    }

    pub fn find_order(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        order: &OrderRef,
    ) -> Option<usize> {
        match *order {
            OrderRef::Leshua {
                third_order_id,
                leshua_order_id,
            }
            | OrderRef::Alipay {
                out_trade_no: third_order_id,
                trade_no: leshua_order_id,
            } => match leshua_order_id {
                Some(id) => self
                    .by_gateway_order_id
                    .get(&key(gateway, merchant_id, id))
                    .copied(),
                None => third_order_id.and_then(|id| {
                    self.by_third_order_id
                        .get(&key(gateway, merchant_id, id))
                        .copied()
                }),
            },
            OrderRef::Lianshang {
                out_trade_id,
                original_wk_trade_id,
                appid,
            } => {
                let index =
                    *self
                        .by_third_order_id
                        .get(&key(gateway, merchant_id, out_trade_id))?;
                let found = &self.orders[index];
                (found.gateway_order_id == original_wk_trade_id && found.appid == appid)
                    .then_some(index)
            }
            OrderRef::Portal(id) => {
                let id = key(gateway, merchant_id, id);
                self.by_third_order_id
                    .get(&id)
                    .or_else(|| self.by_gateway_order_id.get(&id))
                    .copied()
            }
            OrderRef::Wechatpay {
                transaction_id,
                out_trade_no,
            } => {
                let by = |map: &HashMap<IdKey, usize>, id: Option<&str>| {
                    id.map(|id| map.get(&key(gateway, merchant_id, id)).copied())
                };
                match (
                    by(&self.by_gateway_order_id, transaction_id),
                    by(&self.by_third_order_id, out_trade_no),
                ) {
                    (Some(a), Some(b)) if a != b => None,
                    (Some(found), _) | (None, Some(found)) => found,
                    (None, None) => None,
                }
            }
        }
    }

    /// When the order was paid: its `paid_at`, else a day before the ledger was made.
    pub fn paid_at(&self, order: usize) -> jiff::Timestamp {
        self.orders[order].paid_at.unwrap_or_else(|| {
            self.started_at
                .checked_sub(jiff::SignedDuration::from_hours(24))
                .unwrap_or(self.started_at)
        })
    }

    /// When the order's latest refund was created.
    pub fn last_created(&self, order: usize) -> Option<Instant> {
        self.refunds_of_order[order]
            .iter()
            .map(|&r| self.refunds[r].created)
            .max()
    }

    /// What a merchant's refunds that did not fail have taken from its balance.
    pub fn held_by_merchant(&self, gateway: GatewayKind, merchant_id: &str, now: Instant) -> u64 {
        self.refunds
            .iter()
            .filter(|r| r.gateway == gateway && r.merchant_id == merchant_id)
            .filter(|r| r.state(now) != RefundState::Failed)
            .map(|r| r.amount_fen)
            .sum()
    }

    /// Every refund, in the order they were created.
    pub fn refunds(&self) -> &[SimRefund] {
        &self.refunds
    }

    /// Turns an abnormal refund (of any merchant of `gateway`) into a success,
    /// as a person redirecting the money to the payer's balance does.
    pub fn resolve_abnormal(
        &mut self,
        gateway: GatewayKind,
        refund_id: &str,
        now: Instant,
    ) -> Result<usize, ResolveRefusal> {
        let index = self
            .refunds
            .iter()
            .position(|r| r.gateway == gateway && r.refund_id == refund_id)
            .ok_or(ResolveRefusal::NoSuchRefund)?;
        match self.refunds[index].state(now) {
            RefundState::Abnormal => {
                self.refunds[index].resolved_at = Some(self.clock.now());
                Ok(index)
            }
            other => Err(ResolveRefusal::NotAbnormal(other)),
        }
    }

    pub fn find_refund(
        &self,
        gateway: GatewayKind,
        merchant_id: &str,
        refund_id: &str,
    ) -> Option<usize> {
        self.by_refund_id
            .get(&key(gateway, merchant_id, refund_id))
            .copied()
    }

    /// The refund of `order` under `refund_id` (an id unique within its order).
    pub fn find_refund_of_order(&self, order: usize, refund_id: &str) -> Option<usize> {
        self.refunds_of_order[order]
            .iter()
            .copied()
            .find(|&r| self.refunds[r].refund_id == refund_id)
    }

    pub fn find_by_gateway_refund_id(&self, gateway_refund_id: &str) -> Option<usize> {
        self.by_gateway_refund_id.get(gateway_refund_id).copied()
    }

    pub fn refunds_of(&self, order: usize) -> &[usize] {
        &self.refunds_of_order[order]
    }

    /// What is left to refund on an order: refunds that ended failed give their amount back.
    pub fn refundable(&self, order: usize, now: Instant) -> u64 {
        let held: u64 = self.refunds_of_order[order]
            .iter()
            .map(|&r| &self.refunds[r])
            .filter(|r| r.state(now) != RefundState::Failed)
            .map(|r| r.amount_fen)
            .sum();
        self.orders[order].amount_fen.saturating_sub(held)
    }

    /// Creates a refund if every rule allows it. `fate` and `processing_for`
    /// decide how it ends now, so that later answers are consistent.
    pub fn create(
        &mut self,
        new: NewRefund,
        now: Instant,
        processing_for: Duration,
        fate: Fate,
    ) -> Result<usize, Refusal> {
        self.create_scoped(new, IdScope::Merchant, now, processing_for, fate)
    }

    /// As [`Ledger::create`] for a gateway whose refund ids are unique only
    /// within their order ([`IdScope::Order`]: Alipay).
    pub fn create_within_order(
        &mut self,
        new: NewRefund,
        now: Instant,
        processing_for: Duration,
        fate: Fate,
    ) -> Result<usize, Refusal> {
        self.create_scoped(new, IdScope::Order, now, processing_for, fate)
    }

    fn create_scoped(
        &mut self,
        new: NewRefund,
        scope: IdScope,
        now: Instant,
        processing_for: Duration,
        fate: Fate,
    ) -> Result<usize, Refusal> {
        let order = self.find_order(new.gateway, new.merchant_id, &new.order);
        let fingerprint = format!(
            "{:?}|{}|{}|{}",
            order,
            new.amount_fen,
            new.coin_amount,
            new.currency.unwrap_or("")
        );
        let existing = match scope {
            IdScope::Merchant => self.find_refund(new.gateway, new.merchant_id, new.refund_id),
            IdScope::Order => order.and_then(|o| self.find_refund_of_order(o, new.refund_id)),
        };
        if let Some(existing) = existing {
            let same_content = self.refunds[existing].fingerprint == fingerprint;
            return Err(Refusal::AlreadyExists {
                refund: existing,
                same_content,
            });
        }
        let order = order.ok_or(Refusal::UnknownOrder)?;
        let paid = &self.orders[order];
        if paid.status != OrderStatus::Paid {
            return Err(Refusal::NotPaid);
        }
        if new.currency.is_some_and(|c| c != paid.currency) {
            return Err(Refusal::CurrencyMismatch);
        }
        let refundable = self.refundable(order, now);
        if new.amount_fen > refundable {
            return Err(Refusal::OverBalance { refundable });
        }
        let index = self.refunds.len();
        let gateway_refund_id = match scope {
            IdScope::Merchant => gateway_refund_id(new.id_prefix, index + 1),
            IdScope::Order => paid.gateway_order_id.clone(),
        };
        let now_at = self.clock.now();
        let finished_at = jiff::SignedDuration::try_from(processing_for)
            .ok()
            .and_then(|d| now_at.checked_add(d).ok())
            .unwrap_or(now_at);
        self.refunds.push(SimRefund {
            gateway: new.gateway,
            merchant_id: new.merchant_id.to_owned(),
            refund_id: new.refund_id.to_owned(),
            order,
            amount_fen: new.amount_fen,
            coin_amount: new.coin_amount,
            gateway_refund_id: gateway_refund_id.clone(),
            fingerprint,
            created: now,
            created_at: now_at,
            final_at: now + processing_for,
            fate,
            finished_at,
            resolved_at: None,
        });
        self.refunds_of_order[order].push(index);
        // Under `IdScope::Order` an id (and the order's gateway id) may name
        // refunds of several orders: the maps keep the first, which is what
        // the snapshot's count of refunds created per id needs.
        self.by_refund_id
            .entry(key(new.gateway, new.merchant_id, new.refund_id))
            .or_insert(index);
        self.by_gateway_refund_id
            .entry(gateway_refund_id)
            .or_insert(index);
        Ok(index)
    }

    pub fn snapshot(&self, now: Instant) -> (Vec<LedgerRefund>, Vec<LedgerId>) {
        let refunds = self
            .refunds
            .iter()
            .map(|r| LedgerRefund {
                gateway: r.gateway,
                merchant_id: r.merchant_id.clone(),
                refund_id: r.refund_id.clone(),
                order_id: self.orders[r.order].third_order_id.clone(),
                amount_fen: r.amount_fen,
                status: r.state(now),
                gateway_refund_id: r.gateway_refund_id.clone(),
            })
            .collect();
        let mut ids: Vec<LedgerId> = self
            .submissions
            .iter()
            .map(
                |((gateway, merchant_id, refund_id), &submissions)| LedgerId {
                    gateway: *gateway,
                    merchant_id: merchant_id.clone(),
                    refund_id: refund_id.clone(),
                    submissions,
                    created: u32::from(
                        self.find_refund(*gateway, merchant_id, refund_id).is_some(),
                    ),
                },
            )
            .collect();
        ids.sort_by(|a, b| {
            (a.gateway, &a.merchant_id, &a.refund_id).cmp(&(
                b.gateway,
                &b.merchant_id,
                &b.refund_id,
            ))
        });
        (refunds, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        Ledger::new(vec![
            OrderRow {
                gateway: GatewayKind::Leshua,
                merchant_id: "M".into(),
                third_order_id: "T1".into(),
                gateway_order_id: "L1".into(),
                appid: String::new(),
                amount_fen: 1000,
                currency: "CNY".into(),
                status: OrderStatus::Paid,
                paid_at: None,
            },
            OrderRow {
                gateway: GatewayKind::Leshua,
                merchant_id: "M".into(),
                third_order_id: "T2".into(),
                gateway_order_id: "L2".into(),
                appid: String::new(),
                amount_fen: 1000,
                currency: "CNY".into(),
                status: OrderStatus::Closed,
                paid_at: None,
            },
        ])
    }

    fn refund<'a>(id: &'a str, order: &'a str, amount: u64) -> NewRefund<'a> {
        NewRefund {
            gateway: GatewayKind::Leshua,
            id_prefix: "LR",
            merchant_id: "M",
            refund_id: id,
            order: OrderRef::Leshua {
                third_order_id: Some(order),
                leshua_order_id: None,
            },
            amount_fen: amount,
            coin_amount: 0,
            currency: None,
        }
    }

    #[test]
    fn partial_refunds_never_exceed_the_paid_amount() {
        let mut l = ledger();
        let now = Instant::now();
        let zero = Duration::ZERO;
        assert!(l
            .create(refund("R1", "T1", 600), now, zero, Fate::Succeeds)
            .is_ok());
        assert_eq!(
            l.create(refund("R2", "T1", 500), now, zero, Fate::Succeeds),
            Err(Refusal::OverBalance { refundable: 400 })
        );
        assert!(l
            .create(refund("R3", "T1", 400), now, zero, Fate::Succeeds)
            .is_ok());
        assert_eq!(l.refundable(0, now), 0);
        assert!(matches!(
            l.create(refund("R1", "T1", 600), now, zero, Fate::Succeeds),
            Err(Refusal::AlreadyExists {
                same_content: true,
                ..
            })
        ));
        assert!(matches!(
            l.create(refund("R1", "T1", 601), now, zero, Fate::Succeeds),
            Err(Refusal::AlreadyExists {
                same_content: false,
                ..
            })
        ));
        assert_eq!(
            l.create(refund("R4", "T2", 1), now, zero, Fate::Succeeds),
            Err(Refusal::NotPaid)
        );
        assert_eq!(
            l.create(refund("R5", "T9", 1), now, zero, Fate::Succeeds),
            Err(Refusal::UnknownOrder)
        );
    }

    #[test]
    fn an_id_unique_within_its_order_may_name_refunds_of_two_orders() {
        let mut l = Ledger::new(vec![
            OrderRow {
                gateway: GatewayKind::Leshua,
                merchant_id: "M".into(),
                third_order_id: "T1".into(),
                gateway_order_id: "2026001".into(),
                appid: String::new(),
                amount_fen: 1000,
                currency: "CNY".into(),
                status: OrderStatus::Paid,
                paid_at: None,
            },
            OrderRow {
                third_order_id: "T2".into(),
                gateway_order_id: "2026002".into(),
                ..ledger().orders[0].clone()
            },
        ]);
        let now = Instant::now();
        let zero = Duration::ZERO;
        let by = |order: &'static str, amount| NewRefund {
            order: OrderRef::Alipay {
                trade_no: None,
                out_trade_no: Some(order),
            },
            ..refund("R1", order, amount)
        };
        assert_eq!(
            l.create_within_order(by("T1", 300), now, zero, Fate::Succeeds),
            Ok(0)
        );
        assert_eq!(
            l.create_within_order(by("T2", 300), now, zero, Fate::Succeeds),
            Ok(1)
        );
        assert!(matches!(
            l.create_within_order(by("T1", 300), now, zero, Fate::Succeeds),
            Err(Refusal::AlreadyExists {
                refund: 0,
                same_content: true
            })
        ));
        // Such a refund has no id of its own: its order's stands in.
        assert_eq!(l.refund(1).gateway_refund_id, "2026002");
        assert_eq!(l.find_refund_of_order(1, "R1"), Some(1));
        assert_eq!(l.find_refund(GatewayKind::Leshua, "M", "R1"), Some(0));
        // The merchant-wide rule of the other gateways still refuses it.
        assert!(matches!(
            l.create(by("T2", 1), now, zero, Fate::Succeeds),
            Err(Refusal::AlreadyExists { .. })
        ));
    }

    #[test]
    fn a_failed_refund_gives_its_amount_back() {
        let mut l = ledger();
        let now = Instant::now();
        l.create(
            refund("R1", "T1", 1000),
            now,
            Duration::from_secs(5),
            Fate::Fails,
        )
        .unwrap();
        assert_eq!(l.refundable(0, now), 0);
        assert_eq!(l.refund(0).state(now), RefundState::Processing);
        let later = now + Duration::from_secs(5);
        assert_eq!(l.refund(0).state(later), RefundState::Failed);
        assert_eq!(l.refundable(0, later), 1000);
    }

    #[test]
    fn an_abnormal_refund_holds_its_amount_until_resolved_to_a_success() {
        let mut l = ledger();
        let now = Instant::now();
        l.create(refund("R1", "T1", 300), now, Duration::ZERO, Fate::Abnormal)
            .unwrap();
        assert_eq!(l.refund(0).state(now), RefundState::Abnormal);
        assert_eq!(l.refund(0).success_time(now), None);
        assert_eq!(l.refundable(0, now), 700);
        assert_eq!(l.held_by_merchant(GatewayKind::Leshua, "M", now), 300);
        assert_eq!(
            l.resolve_abnormal(GatewayKind::Leshua, "R9", now),
            Err(ResolveRefusal::NoSuchRefund)
        );
        assert_eq!(l.resolve_abnormal(GatewayKind::Leshua, "R1", now), Ok(0));
        assert_eq!(l.refund(0).state(now), RefundState::Succeeded);
        assert!(l.refund(0).success_time(now).is_some());
        assert_eq!(
            l.resolve_abnormal(GatewayKind::Leshua, "R1", now),
            Err(ResolveRefusal::NotAbnormal(RefundState::Succeeded))
        );
        assert_eq!(l.last_created(0), Some(now));
        assert_eq!(l.last_created(1), None);
    }

    #[test]
    fn an_order_without_paid_at_was_paid_a_day_before_the_start() {
        let l = ledger();
        let day = l.started_at.duration_since(l.paid_at(0));
        assert_eq!(day, jiff::SignedDuration::from_hours(24));
    }

    #[test]
    fn a_wechat_order_is_found_by_either_id_and_both_must_agree() {
        let order = |third: &str, wx: &str| OrderRow {
            gateway: GatewayKind::Leshua,
            merchant_id: "M".into(),
            third_order_id: third.into(),
            gateway_order_id: wx.into(),
            appid: String::new(),
            amount_fen: 1,
            currency: "CNY".into(),
            status: OrderStatus::Paid,
            paid_at: None,
        };
        let l = Ledger::new(vec![order("T1", "W1"), order("T2", "W2")]);
        let find = |transaction_id, out_trade_no| {
            l.find_order(
                GatewayKind::Leshua,
                "M",
                &OrderRef::Wechatpay {
                    transaction_id,
                    out_trade_no,
                },
            )
        };
        assert_eq!(find(Some("W2"), None), Some(1));
        assert_eq!(find(None, Some("T1")), Some(0));
        assert_eq!(find(Some("W1"), Some("T1")), Some(0));
        assert_eq!(find(Some("W1"), Some("T2")), None);
        assert_eq!(find(Some("W9"), None), None);
    }
}
