//! What the conformance suite needs to know about one gateway, and nothing
//! else: how to build its refunds, orders and batch rows, its profile in the
//! test configuration, clients wired to the simulator (with the right key, a
//! wrong key, a short timeout), the fields its answers echo (and which of its
//! answers echo each), and the words it uses for a bad signature and an
//! over-refund. Each gateway implements [`Fixture`] in its own file
//! (`leshua.rs`, `alipay.rs`, ...); the cases in `answers.rs`, `runs.rs`,
//! `pacing.rs` and `kills.rs` only call these methods.

use std::time::Duration;

use bulkrefund::gateway::{Gateway, GatewayKind, RefundOrder};
use bulkrefund::sim::SimHandle;

use crate::common::{BatchFile, Orders, Profiles};

/// Which of a gateway's answers echo a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoedBy {
    /// The submit's answer and the query's.
    Both,
    /// Only the submit's (the query's answer has no such field).
    Submit,
    /// Only the query's (the submit's answer has no such field).
    Query,
}

impl EchoedBy {
    pub fn submit(self) -> bool {
        self != EchoedBy::Query
    }

    pub fn query(self) -> bool {
        self != EchoedBy::Submit
    }
}

pub trait Fixture: Sync {
    /// The gateway under test.
    fn kind(&self) -> GatewayKind;

    /// Its profile's name in the test configuration (`Profiles::write`).
    fn profile(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The batch column (and results column) holding the refund id.
    fn id_column(&self) -> &'static str;

    /// A refund for direct client calls against one of the orders of
    /// `Orders::standard()`: order `T{order}` (1..=9, 1000 fen each, paid).
    fn refund(&self, id: &str, order: u32, fen: u64) -> RefundOrder;

    /// A client with the profile's key, its requests timed out after `timeout`.
    fn client_timing_out(&self, sim: &SimHandle, timeout: Duration) -> Box<dyn Gateway>;

    /// A client with the profile's key and a generous timeout.
    fn client(&self, sim: &SimHandle) -> Box<dyn Gateway> {
        self.client_timing_out(sim, Duration::from_secs(5))
    }

    /// A client whose requests are signed with a key the gateway does not hold
    /// (a forged request).
    fn forged_client(&self, sim: &SimHandle) -> Box<dyn Gateway>;

    /// The gateway's code for a request whose signature fails, as the
    /// client's `Outcome::Rejected` carries it.
    fn sign_error_code(&self) -> &'static str;

    /// The profile setting a key problem points to (in the run's stop message).
    fn key_setting(&self) -> &'static str;

    /// Whether the gateway signs its answers (the simulator's `bad_sign_rate`
    /// forges that signature; a gateway whose answers carry none is unaffected).
    fn signs_answers(&self) -> bool;

    /// Every field its answers echo, as the simulator's `mismatch_field` names
    /// them; the client's `Outcome::Mismatch` names the field (an `_empty` suffix
    /// marks the field echoed as an empty string, a `_number`
    /// suffix marks the same field sent as another JSON type).
    fn echoed_fields(&self) -> &'static [&'static str];

    /// Which answers echo `field` (one of `echoed_fields`, or the
    /// `replay_field`): the echo cases check those answers only. A gateway
    /// whose submit and query answers echo different fields (Alipay: the
    /// refund answer the trade's cumulative `refund_fee`, the query answer
    /// the refund's number and its own amount) says so per field; the
    /// others echo every field in both.
    fn echoed_by(&self, _field: &str) -> EchoedBy {
        EchoedBy::Both
    }

    /// The echoed field that ties an answer to its request (a nonce, a request
    /// id): a correctly signed answer replayed from an earlier request differs
    /// only there.
    fn replay_field(&self) -> &'static str;

    /// The header of its batch files.
    fn batch(&self) -> BatchFile;

    /// A batch row: refund `id` of `fen` against the order `order`, paid
    /// `total` (a gateway that wants the order's total sends it).
    fn row(&self, id: &str, order: &str, fen: u64, total: u64) -> String;

    /// `orders` plus a paid order `order` of `fen`, as `row` refers to it.
    fn paid_order(&self, orders: Orders, order: &str, fen: u64) -> Orders;

    /// The results file's `error_code` for a refund over what is left of its
    /// order (formula-safe: a leading `-` is quoted).
    fn over_refund_code(&self) -> &'static str;

    /// The profiles of a run that refunds one order more than once: the
    /// gateway's own gap between one order's refunds shortened to what its
    /// simulator allows.
    fn profiles(&self) -> Profiles {
        Profiles::default()
    }

    /// Why the client waits after the simulator's rate limit (its 429), as
    /// the client's `Outcome::Retry` says it.
    fn rate_limited_why(&self) -> &'static str {
        "HTTP 429: rate limited"
    }

    /// The HTTP status of the simulator's busy answer (`busy_rate`).
    fn busy_status(&self) -> u16 {
        503
    }

    /// Whether answers carry a signed timestamp a client must refuse when
    /// stale (the simulator's `stale_answer_rate`).
    fn stale_answers(&self) -> bool {
        false
    }
}
