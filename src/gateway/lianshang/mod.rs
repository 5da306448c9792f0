//! Lianshang's open platform (docs/specs/lianshang.md): RSA-signed JSON with
//! `newBaseData`/`newBizData` (refunds) or `queryBaseData`/`queryBizData`
//! (queries). Everything bulkrefund knows of Lianshang lives in this folder:
//! the contract's field tables ([`fields`]), the wire format, signing and gzip
//! ([`wire`]), what an answer proves ([`classify`]), the client ([`client`]),
//! the batch columns and row rules ([`rows`]) and the profile section
//! ([`profile`]). The simulator's side is `sim/lianshang.rs`.
//!
//! The contract has no response signature, so the transport must be trusted:
//! plain http is refused unless the host is loopback or the profile allows it.

pub mod bill;
pub mod classify;
pub mod client;
pub mod fields;
pub mod profile;
pub mod rows;
pub mod wire;

use std::collections::BTreeMap;

pub use classify::{classify, Asked};
pub use client::{LianshangClient, LianshangSettings};
pub use fields::{
    check_text, is_valid_id, split_fields, typed_value, FieldRule, BASE_FIELDS, BASE_RULES,
    BIZ_FIELDS, BIZ_RULES,
};
pub use wire::{
    check_base_url, gunzip, gzip, parse_answer, string_to_sign, Call, QUERY_PATH, REFUND_PATH,
};

use super::{GatewayKind, GatewaySpec};

/// Lianshang as the rest of bulkrefund sees it.
pub struct Lianshang;

impl GatewaySpec for Lianshang {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Lianshang
    }

    fn read_bill(
        &self,
        bytes: &[u8],
        date: jiff::civil::Date,
        caps: super::bill::Caps,
    ) -> Result<super::bill::Bill, super::bill::BillError> {
        bill::read(bytes, date, caps)
    }

    fn accepts_refund_id(&self, id: &str) -> bool {
        is_valid_id(id)
    }

    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str) {
        rows::order_ids(fields)
    }

    /// A Lianshang refund moves coins within Lianshang's own ledger and is
    /// expected to end within seconds: asked sooner than Leshua's, and at
    /// most every 30 s once it lingers.
    fn poll_schedule(&self) -> &'static [std::time::Duration] {
        use std::time::Duration;
        const SCHEDULE: [Duration; 5] = [
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(15),
            Duration::from_secs(30),
        ];
        &SCHEDULE
    }
}
