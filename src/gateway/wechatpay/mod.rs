//! WeChat Pay API v3 for a direct merchant (docs/specs/wechatpay-v3.md): JSON
//! over HTTPS, requests signed SHA256withRSA with the merchant's key, answers
//! signed by WeChat Pay and verified with its public key or a platform
//! certificate. Everything bulkrefund knows of WeChat Pay lives in this folder:
//! the wire format and request signing ([`wire`]), answer verification
//! ([`verify`]), what an answer proves ([`classify`]), the client
//! ([`client`]), the batch columns and row rules ([`rows`]) and the profile
//! section ([`profile`]). The vectors of `tests/vectors/wechatpay/` are
//! reproduced in `tests.rs`.

pub mod bill;
pub mod bill_fetch;
pub mod classify;
pub mod client;
pub mod profile;
pub mod rows;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub mod verify;
pub mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use super::{GatewayKind, GatewaySpec, PaceDefaults};

/// WeChat Pay as the rest of bulkrefund sees it.
pub struct Wechatpay;

/// Whether `id` may be an `out_refund_no` (or an `out_trade_no`, up to 32):
/// 1 to `max` of ASCII letters, digits and `_ - | * @`.
pub fn is_valid_id(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'))
}

impl GatewaySpec for Wechatpay {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Wechatpay
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
        is_valid_id(id, 64)
    }

    fn order_ids<'a>(&self, fields: &'a BTreeMap<String, String>) -> (&'a str, &'a str) {
        rows::order_ids(fields)
    }

    /// WeChat's advice: the first query a minute after the apply, every minute
    /// up to five, then after 5, 10, 20 and 30 minutes, and every 30 minutes.
    fn poll_schedule(&self) -> &'static [Duration] {
        const SCHEDULE: [Duration; 9] = [
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(300),
            Duration::from_secs(600),
            Duration::from_secs(1200),
            Duration::from_secs(1800),
        ];
        &SCHEDULE
    }

    /// WeChat allows 150 applies/s and 300 queries/s per merchant, and one
    /// order's applies at least a minute apart: two thirds of each limit
    /// leaves room for the merchant's other systems (our convention).
    fn pace_defaults(&self) -> PaceDefaults {
        PaceDefaults {
            rate: 100,
            query_rate: Some(200),
            same_order_gap: Duration::from_secs(61),
            ..PaceDefaults::default()
        }
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    #[test]
    fn refund_ids_take_letters_digits_and_five_marks() {
        let spec = GatewayKind::Wechatpay.spec();
        assert!(spec.accepts_refund_id("R20261122|0002*A@x_-"));
        assert!(spec.accepts_refund_id(&"A".repeat(64)));
        assert!(!spec.accepts_refund_id(&"A".repeat(65)));
        assert!(!spec.accepts_refund_id(""));
        assert!(!spec.accepts_refund_id("R 1"));
        assert!(!spec.accepts_refund_id("R/1"));
        assert_eq!(spec.derived_id("R1|2", 2), Ok("R1|2R2".into()));
        assert_eq!(GatewayKind::Wechatpay.as_str(), "wechatpay");
        let pace = spec.pace_defaults();
        assert_eq!((pace.rate, pace.query_rate), (100, Some(200)));
        assert_eq!(pace.same_order_gap, Duration::from_secs(61));
        assert_eq!(
            spec.poll_schedule()[5..],
            [300, 600, 1200, 1800].map(Duration::from_secs)
        );
        assert_eq!(
            serde_json::to_string(&GatewayKind::Wechatpay).unwrap(),
            "\"wechatpay\""
        );
    }
}
