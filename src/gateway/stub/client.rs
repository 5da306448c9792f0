//! The stub's client and its gateway in one: an in-memory ledger that pays each
//! refund id at most once. The first refund of an order for exactly 13 fen is
//! refused (a failure `retry --new-ids` may follow); the first of an order for
//! exactly 17 fen is abnormal (accepted, the money reached nobody) until a
//! test resolves it ([`StubLedger::resolve`]); every other one succeeds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::gateway::{Attempt, Gateway, IdUse, Outcome, Receipt, RefundOrder};
use crate::money::Fen;

/// What the stub gateway holds about one refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StubRefund {
    pub order: String,
    pub amount: Fen,
    pub succeeded: bool,
    /// Abnormal: accepted, but the money reached nobody (until resolved).
    pub abnormal: bool,
    /// Submissions of this id, the first included.
    pub submissions: u32,
    /// Queries about this id.
    pub queries: u32,
}

#[derive(Debug, Default)]
pub struct StubLedger {
    pub refunds: Mutex<HashMap<String, StubRefund>>,
}

impl StubLedger {
    /// The ledger of this name, shared by every client (and test) that names it.
    pub fn named(name: &str) -> Arc<StubLedger> {
        static LEDGERS: OnceLock<Mutex<HashMap<String, Arc<StubLedger>>>> = OnceLock::new();
        let mut ledgers = LEDGERS.get_or_init(Default::default).lock().unwrap();
        ledgers.entry(name.to_owned()).or_default().clone()
    }

    pub fn refund(&self, id: &str) -> Option<StubRefund> {
        self.refunds.lock().unwrap().get(id).cloned()
    }

    /// Settles an abnormal refund as a person at the gateway would (the money
    /// paid another way): queries answer succeeded from now on.
    pub fn resolve(&self, id: &str) {
        let mut refunds = self.refunds.lock().unwrap();
        let refund = refunds.get_mut(id).expect("a refund the stub holds");
        assert!(refund.abnormal, "only an abnormal refund is resolved");
        refund.abnormal = false;
        refund.succeeded = true;
    }
}

pub struct StubClient {
    pub merchant_id: String,
    pub ledger: Arc<StubLedger>,
}

fn answer(id: &str, refund: &StubRefund) -> Outcome {
    let receipt = Receipt {
        gateway_refund_id: Some(format!("STUB-{id}")),
        refund_fen: Some(refund.amount),
        // The stub keeps no clock: its refunds count by bulkrefund's.
        success_at: None,
        created_at: None,
    };
    if refund.abnormal {
        Outcome::Abnormal(receipt)
    } else if refund.succeeded {
        Outcome::Succeeded(receipt)
    } else {
        Outcome::failed(
            "DECLINED",
            "the stub declines 13 fen",
            receipt,
            IdUse::Spent,
        )
    }
}

#[async_trait::async_trait]
impl Gateway for StubClient {
    async fn submit(&self, order: &RefundOrder) -> Attempt {
        let mut refunds = self.ledger.refunds.lock().unwrap();
        if let Some(known) = refunds.get_mut(&order.refund_id) {
            known.submissions += 1;
            return Attempt::without_answer(Outcome::unknown("the id exists: query it"));
        }
        let order_id = order.field("order_id").unwrap_or("").to_owned();
        let first_of_order = !refunds.values().any(|r| r.order == order_id);
        let refund = StubRefund {
            order: order_id,
            amount: order.amount,
            succeeded: !(first_of_order && [Fen(13), Fen(17)].contains(&order.amount)),
            abnormal: first_of_order && order.amount == Fen(17),
            submissions: 1,
            queries: 0,
        };
        let outcome = answer(&order.refund_id, &refund);
        refunds.insert(order.refund_id.clone(), refund);
        Attempt::without_answer(outcome)
    }

    async fn query(&self, order: &RefundOrder) -> Attempt {
        let mut refunds = self.ledger.refunds.lock().unwrap();
        Attempt::without_answer(match refunds.get_mut(&order.refund_id) {
            Some(refund) => {
                refund.queries += 1;
                answer(&order.refund_id, refund)
            }
            None => Outcome::NotFound,
        })
    }
}
