//! Alipay's open platform in public-key mode (docs/specs/alipay.md): form
//! posts to `gateway.do` signed RSA2 with the app's key, JSON answers whose
//! `sign` covers the raw bytes of one member, checked with Alipay's public
//! key. Everything bulkrefund knows of Alipay lives in this folder: the wire
//! format and request signing ([`wire`]), yuan strings ([`yuan`]), the keys
//! as Alipay's tools write them ([`keys`]), answer verification
//! ([`verify`]), what an answer proves ([`classify`], its error codes in
//! [`codes`]), the client
//! ([`client`]), the batch columns and row rules ([`rows`]) and the profile
//! section ([`profile`]). The vectors of `tests/vectors/alipay/` are
//! reproduced in `tests.rs`.
//!
//! Alipay gives a refund no id of its own: `out_request_no` names it, unique
//! only within its trade, so every call carries the trade's ids too, and the
//! `gateway_refund_id` a result shows is the trade's `trade_no`.

pub mod bill;
pub mod bill_fetch;
pub mod classify;
pub mod client;
pub mod codes;
pub mod keys;
pub mod profile;
pub mod rows;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub mod verify;
pub mod wire;
pub mod yuan;

use std::collections::BTreeMap;
use std::time::Duration;

use super::{GatewayKind, GatewaySpec, PaceDefaults};

/// Alipay as the rest of bulkrefund sees it.
pub struct Alipay;

/// Whether `id` may be an `out_request_no`: 1 to 64 ASCII letters, digits,
/// `_` and `-` (new-gateway-batches.md, our convention).
pub fn is_valid_request_no(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

impl GatewaySpec for Alipay {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Alipay
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
        is_valid_request_no(id)
    }

    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str) {
        rows::order_ids(fields)
    }

    /// Alipay's refund is synchronous: a refund is never left processing by
    /// the calls bulkrefund makes. Should a query ever say
    /// `REFUND_PROCESSING` (the asynchronous API's value), ask again after
    /// 10 s (Alipay's advice before a query), then less and less often.
    fn poll_schedule(&self) -> &'static [Duration] {
        const SCHEDULE: [Duration; 5] = [
            Duration::from_secs(10),
            Duration::from_secs(30),
            Duration::from_secs(60),
            Duration::from_secs(300),
            Duration::from_secs(1800),
        ];
        &SCHEDULE
    }

    /// No published refund QPS was found: 20/s for everything, and one
    /// trade's refunds 3 s apart (a copy of Alipay's docs; our convention).
    fn pace_defaults(&self) -> PaceDefaults {
        PaceDefaults {
            rate: 20,
            query_rate: None,
            same_order_gap: Duration::from_secs(3),
            first_query_after: classify::QUERY_AFTER_NO_FUND_CHANGE,
        }
    }

    // `derived_id` keeps the default `{root}R{n}`: Alipay's numbers are
    // unique only within a trade, and bulkrefund's are unique per profile
    // merchant (retry checks every new id against the journal), so a derived
    // id is new on its trade too; `accepts_refund_id` keeps it within 64 of
    // Alipay's characters.
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    #[test]
    fn request_numbers_take_letters_digits_underscore_and_dash() {
        let spec = GatewayKind::Alipay.spec();
        assert!(spec.accepts_refund_id("R20261122-0003_a"));
        assert!(spec.accepts_refund_id(&"A".repeat(64)));
        assert!(!spec.accepts_refund_id(&"A".repeat(65)));
        for bad in ["", "R 1", "R/1", "R|1", "R*1", "R@1", "退款1"] {
            assert!(!spec.accepts_refund_id(bad), "{bad}");
        }
        assert_eq!(GatewayKind::Alipay.as_str(), "alipay");
        assert_eq!(GatewayKind::parse("alipay"), Some(GatewayKind::Alipay));
        assert_eq!(
            serde_json::to_string(&GatewayKind::Alipay).unwrap(),
            "\"alipay\""
        );
    }

    #[test]
    fn derived_ids_stay_within_alipays_rules() {
        let spec = GatewayKind::Alipay.spec();
        assert_eq!(
            spec.derived_id("R20261122-0003", 2),
            Ok("R20261122-0003R2".into())
        );
        let long = "A".repeat(62);
        assert_eq!(spec.derived_id(&long, 9).map(|id| id.len()), Ok(64));
        assert!(spec.derived_id(&long, 10).is_err());
    }

    #[test]
    fn pace_and_polls() {
        let spec = GatewayKind::Alipay.spec();
        let pace = spec.pace_defaults();
        assert_eq!((pace.rate, pace.query_rate), (20, None));
        assert_eq!(pace.same_order_gap, Duration::from_secs(3));
        assert_eq!(spec.poll_schedule()[0], Duration::from_secs(10));
    }
}
