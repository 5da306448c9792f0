//! The rate of a gateway merchant shared by every process and machine on one
//! PostgreSQL journal: a [`RateLedger`] whose slots the journal grants
//! ([`crate::journal::postgres::rate`], one statement a block), on the
//! server's clock, converted to this process's clock by the offset measured
//! in the same round trip.
//!
//! What it promises matches what one process promises today, where the
//! [`InProcessLedger`](super::rate_ledger::InProcessLedger) spaces requests
//! and the [`SendWindow`](super::window::SendWindow) keeps at most `rate` in
//! every window of a second plus [`WINDOW_SLACK`]. Each process's send window
//! sees only its own requests, so here the slots themselves must keep that
//! promise for all processes together: no burst, and an interval of
//! (1 s + [`WINDOW_SLACK`]) / `rate`, rounded up to the microsecond, so that
//! `rate + 1` slots always span more than such a window.
//!
//! The driver is synchronous and must not run inside an async task: the
//! ledger's connection lives on a thread of its own, asked over a channel.

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::rate_ledger::{Granted, LedgerError, RateKey, RateLedger, RateQuota};
use super::window::WINDOW_SLACK;
use crate::journal::postgres::rate::{grant_slots, ServerSlots};
use crate::journal::postgres::PgJournal;

/// The most slots asked for in one round trip. A slot granted is spent,
/// used or not: a process that stops (or is killed) with a block in hand
/// wastes it, and the other processes interleave with it a block at a time.
/// A tenth of a second of the rate, at most 8 slots, keeps that loss and
/// that lumpiness small, while a process asks at most ten times a second up
/// to a rate of 80 (a round trip on a LAN is well under a millisecond).
pub const MAX_BLOCK: u32 = 8;

/// How late a process may use a slot: half the send window's slack, the
/// other half left to the way to the gateway. The `rate + 1` slots a window
/// could hold span a second and the slack, so requests that leave at most
/// this late and arrive within the other half still keep every second of
/// arrivals within the rate, whichever process sends them. A slot found
/// later (a block's slots not used in time, a task woken late on a busy
/// core) is given up: spent, only slowing the merchant down.
pub const USED_LATE_BY_AT_MOST: Duration = Duration::from_micros(2_500);

/// The time between two slots of a key at `rate`, in microseconds: rounded
/// up, so that `rate + 1` slots span more than a second plus the slack.
pub fn interval_us(rate: u32) -> i64 {
    let window = (Duration::from_secs(1) + WINDOW_SLACK).as_micros() as i64;
    let rate = i64::from(rate.max(1));
    (window + rate - 1) / rate
}

/// The key's name in `rate_buckets`: the gateway, the kind of call, and the
/// merchant last (neither of the others holds a ':', so it reads back whole).
pub fn bucket_key(key: &RateKey) -> String {
    format!("{}:{}:{}", key.gateway, key.calls.name(), key.merchant_id)
}

/// `slot_us` on the server's clock as an instant of this process's, the
/// server's clock reading `now_us` when this process's clock read `received`.
/// The answer's way back makes `received` a little later than the server's
/// `now_us`, so slots land a little late here, never early.
pub fn local_instant(received: Instant, now_us: i64, slot_us: i64) -> Instant {
    let ahead = slot_us - now_us;
    let by = Duration::from_micros(ahead.unsigned_abs());
    if ahead >= 0 {
        received + by
    } else {
        received.checked_sub(by).unwrap_or(received)
    }
}

/// A grant asked of the connection's thread.
struct Ask {
    key: String,
    interval_us: i64,
    wanted: u32,
    reply: oneshot::Sender<Result<(ServerSlots, Instant), LedgerError>>,
}

/// A [`RateLedger`] kept in a PostgreSQL journal, on its own connection.
pub struct PgRateLedger {
    asks: mpsc::Sender<Ask>,
}

impl PgRateLedger {
    /// A ledger on `client`, a connection to a journal at the current schema
    /// (its role may use `rate_buckets`), made outside async code (the
    /// driver runs a runtime of its own). The connection's thread ends, and
    /// closes it, when the ledger is dropped.
    pub fn new(mut client: postgres::Client) -> PgRateLedger {
        let (asks, waiting) = mpsc::channel::<Ask>();
        std::thread::Builder::new()
            .name("pg-rate-ledger".into())
            .spawn(move || {
                for ask in waiting {
                    let granted = grant_slots(&mut client, &ask.key, ask.interval_us, ask.wanted)
                        .map(|slots| (slots, Instant::now()))
                        .map_err(|e| LedgerError(e.to_string()));
                    // The asker may have stopped waiting (a cancel): nothing to tell.
                    let _ = ask.reply.send(granted);
                }
            })
            .expect("spawning the rate ledger's thread");
        PgRateLedger { asks }
    }

    /// A ledger on a journal opened for it ([`PgJournal::open`]: the schema
    /// current, the role's grants checked): a connection of its own, so that
    /// a grant never waits behind the journal's writes.
    pub fn on_journal(journal: PgJournal) -> PgRateLedger {
        PgRateLedger::new(journal.client)
    }

    /// Grants up to `wanted` slots of `key` at `quota`, on the server's
    /// clock, with when this process received them.
    pub async fn grant_on_server_clock(
        &self,
        key: &RateKey,
        quota: RateQuota,
        wanted: u32,
    ) -> Result<(ServerSlots, Instant), LedgerError> {
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            key: bucket_key(key),
            interval_us: interval_us(quota.rate),
            wanted,
            reply,
        };
        let gone = || LedgerError(format!("the rate ledger's connection of {key} has ended"));
        self.asks.send(ask).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl RateLedger for PgRateLedger {
    fn grant<'a>(&'a self, key: &'a RateKey, quota: RateQuota, wanted: u32) -> Granted<'a> {
        Box::pin(async move {
            let (slots, received) = self.grant_on_server_clock(key, quota, wanted).await?;
            Ok(slots
                .slots_us
                .iter()
                .map(|&slot| local_instant(received, slots.now_us, slot))
                .collect())
        })
    }

    /// A tenth of a second of the rate, from 1 to [`MAX_BLOCK`].
    fn block(&self, quota: RateQuota) -> u32 {
        (quota.rate / 10).clamp(1, MAX_BLOCK)
    }

    /// [`USED_LATE_BY_AT_MOST`]: a slot's request goes within it of the
    /// slot, or the slot is given up unused.
    fn used_late_by_at_most(&self) -> Option<Duration> {
        Some(USED_LATE_BY_AT_MOST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rate_ledger::CallKind;
    use crate::gateway::GatewayKind;

    /// `rate + 1` slots an interval apart never fit in a second plus the
    /// send window's slack, while `rate` of them do: at most `rate` in every
    /// such window, and the rate given up is the slack's and a microsecond's
    /// (up to rates of a few thousand, where a microsecond is fine enough).
    #[test]
    fn the_interval_keeps_every_window_at_the_rate() {
        let window = (Duration::from_secs(1) + WINDOW_SLACK).as_micros() as i64;
        for rate in [1, 2, 3, 7, 10, 50, 150, 200, 300, 999, 2_500, 5_000] {
            let interval = interval_us(rate);
            let rate = i64::from(rate);
            assert!(rate * interval >= window, "rate {rate}: {interval}");
            assert!((rate - 1) * interval < window, "rate {rate}: {interval}");
        }
        assert_eq!(interval_us(50), 20_100);
        assert_eq!(interval_us(0), interval_us(1));
    }

    #[test]
    fn slots_convert_by_the_offset_of_the_round_trip() {
        let received = Instant::now() + Duration::from_secs(10);
        let us = Duration::from_micros;
        assert_eq!(local_instant(received, 5_000, 5_000), received);
        assert_eq!(
            local_instant(received, 5_000, 25_100),
            received + us(20_100)
        );
        assert_eq!(local_instant(received, 5_000, 4_990), received - us(10));
    }

    #[test]
    fn keys_and_blocks() {
        let key = RateKey {
            gateway: GatewayKind::Leshua,
            merchant_id: "M:1".into(),
            calls: CallKind::Queries,
        };
        assert_eq!(bucket_key(&key), "leshua:queries:M:1");
        let (asks, _) = mpsc::channel();
        let ledger = PgRateLedger { asks };
        let block = |rate| ledger.block(RateQuota::of(rate));
        assert_eq!(
            [block(1), block(9), block(50), block(80), block(300)],
            [1, 1, 5, 8, 8]
        );
    }
}
