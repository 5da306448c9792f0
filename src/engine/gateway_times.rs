//! The gateway's own times of a refund (success, creation) as the journal
//! keeps them from a receipt: only times that can be the refund's. A gateway
//! that answers with a time after the answer arrived (beyond clock skew) or
//! before any gateway existed would move the refund to another day in every
//! report; such a time is dropped, and the refund's day falls back to
//! bulkrefund's clock, which the reports say.

use crate::gateway::{times, Receipt};
use crate::journal::GatewayTimes;

/// The gateway's own times a receipt carries, as the journal keeps them:
/// only those that can be the refund's ([`times::plausible`] against now,
/// when bulkrefund holds the answer). One that cannot is dropped with a
/// warning (naming the gateway's id of the refund; the engine's span also
/// names bulkrefund's), the refund's day falls back
/// to bulkrefund's clock and says so; the outcome stands.
pub(super) fn gateway_times(receipt: &Receipt) -> GatewayTimes {
    let received = jiff::Timestamp::now();
    let kept = |at: Option<jiff::Timestamp>, what: &str| {
        let at = at?;
        if times::plausible(at, received) {
            return Some(at);
        }
        tracing::warn!(
            "the gateway's {what} time {at} of the refund it numbers {} is not kept (later than \
             bulkrefund received the answer, {received}, plus {} minutes, or before {}): the \
             refund's day is placed by bulkrefund's clock",
            receipt
                .gateway_refund_id
                .as_deref()
                .unwrap_or("(no gateway id)"),
            times::MAX_SKEW.as_secs() / 60,
            times::EARLIEST
        );
        None
    };
    GatewayTimes {
        success_at: kept(receipt.success_at, "success"),
        created_at: kept(receipt.created_at, "creation"),
    }
}
