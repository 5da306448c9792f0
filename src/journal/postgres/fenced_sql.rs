//! The statements of the fenced writes ([`super::fenced`]), prepared once
//! per connection: the engine's writer commits one change per refund and
//! step, and on a loopback server the round trips are most of what a commit
//! costs. An unprepared statement takes two (parse, then bind and execute);
//! a prepared one takes one; and a change's row update, its event and its
//! attempt are one statement (data-modifying `WITH`s), so a change is one
//! round trip whatever it writes.

use postgres::{Client, Statement};

use super::clock::NOW_MS;

/// A change of state: the refund's row, only while it is in the expected
/// state (`$12`) and, under a claim, still held by that claim
/// (`$16`/`$17`) with its lease running when it is an intent (`$18`); then,
/// for the row it changed and for nothing else, the event (at `$19`, why
/// `$20`) and the attempt (when `$21` names its kind). Returns how many rows it changed: 0 or 1.
const TRANSITION: &str = "WITH changed AS (
    UPDATE refunds SET state = $2::text, error_code = $3::text, error_message = $4::text,
    gateway_refund_id = COALESCE($5::text, gateway_refund_id),
    next_attempt_at = COALESCE($6::bigint, 0), finished_at = $7::text,
    ever_created = CASE WHEN $8::bool THEN 1 ELSE ever_created END,
    attempts = attempts + $9::bigint, submits = submits + $10::bigint,
    first_sent_at = COALESCE(first_sent_at, $11::text),
    gateway_success_at = COALESCE($13::text, gateway_success_at),
    gateway_created_at = COALESCE($14::text, gateway_created_at),
    claim_owner = CASE WHEN $15::bool THEN NULL ELSE claim_owner END,
    lease_until_ms = CASE WHEN $15::bool THEN NULL ELSE lease_until_ms END
    WHERE id = $1::bigint AND state = $12::text
    AND ($16::text IS NULL OR (claim_owner = $16::text AND claim_generation = $17::bigint))
    AND ($18::bigint IS NULL OR lease_until_ms >= $18::bigint)
    RETURNING id
), attempt AS (
    INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
    SELECT id, $21::text, $22::text, $23::bigint, $24::text, $25::text, $26::bigint
    FROM changed WHERE $21::text IS NOT NULL
), event AS (
    INSERT INTO events (refund, at, from_state, to_state, why)
    SELECT id, $19::text, $12::text, $2::text, $20::text FROM changed
)
SELECT COUNT(*) FROM changed";

/// A reschedule: the refund stays in its state; its row, only while its
/// claim is still `$12`/`$13`, and then its attempt (`$14`…`$19`). Returns
/// how many rows it changed: 0 or 1.
const RESCHEDULE: &str = "WITH changed AS (
    UPDATE refunds SET next_attempt_at = $2::bigint, error_code = $3::text,
    error_message = $4::text,
    gateway_refund_id = COALESCE($5::text, gateway_refund_id),
    attempts = attempts + $6::bigint, submits = submits + $7::bigint,
    first_sent_at = COALESCE(first_sent_at, $8::text),
    gateway_success_at = COALESCE($9::text, gateway_success_at),
    gateway_created_at = COALESCE($10::text, gateway_created_at),
    claim_owner = CASE WHEN $11::bool THEN NULL ELSE claim_owner END,
    lease_until_ms = CASE WHEN $11::bool THEN NULL ELSE lease_until_ms END
    WHERE id = $1::bigint AND claim_owner = $12::text AND claim_generation = $13::bigint
    RETURNING id
), attempt AS (
    INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
    SELECT id, $14::text, $15::text, $16::bigint, $17::text, $18::text, $19::bigint FROM changed
)
SELECT COUNT(*) FROM changed";

/// The fenced writes' statements, prepared on one connection (a
/// [`Statement`] is a cheap handle: cloned, it names the same one).
#[derive(Clone)]
pub struct FencedStatements {
    pub transition: Statement,
    pub reschedule: Statement,
    /// A refund's state, its row locked.
    pub state_of: Statement,
    /// Now on the server's clock ([`NOW_MS`]).
    pub now: Statement,
}

impl FencedStatements {
    /// Prepares them on `client`, before a transaction begins (so that no
    /// failed statement of one can stand in the way).
    pub fn prepare(client: &mut Client) -> Result<FencedStatements, postgres::Error> {
        Ok(FencedStatements {
            transition: client.prepare(TRANSITION)?,
            reschedule: client.prepare(RESCHEDULE)?,
            state_of: client.prepare("SELECT state FROM refunds WHERE id = $1 FOR UPDATE")?,
            now: client.prepare(&format!("SELECT {NOW_MS}"))?,
        })
    }
}
