//! A stub third gateway, compiled for tests only. It is here to check that a
//! gateway is one folder and one enum variant (docs/architecture.md lists the
//! places): if a match anywhere missed a gateway, the tests would not compile,
//! and `src/commands/stub_gateway.rs` runs it through everything a real one
//! goes through: the configuration, the batch scan and import, the engine and
//! the journal, the results file, the export and a retry with a new id. (That
//! test lives with the commands it drives, so that no module depends on
//! `commands` but `commands` itself.)
//!
//! Its batches hold `refund_id,order_id,amount_fen`; its refund ids are 1 to
//! 16 ASCII letters and digits; its client is an in-memory ledger.

pub mod client;
pub mod profile;
mod rows;

use std::collections::BTreeMap;

use super::{GatewayKind, GatewaySpec};

pub struct Stub;

/// The stub's refund id: 1 to 16 ASCII letters and digits.
pub fn is_valid_refund_id(id: &str) -> bool {
    (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl GatewaySpec for Stub {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Stub
    }

    fn accepts_refund_id(&self, id: &str) -> bool {
        is_valid_refund_id(id)
    }

    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str) {
        (fields.get("order_id").map_or("", String::as_str), "")
    }

    fn poll_schedule(&self) -> &'static [std::time::Duration] {
        const SCHEDULE: [std::time::Duration; 1] = [std::time::Duration::from_secs(1)];
        &SCHEDULE
    }
}
