//! The journal the scheduler's reads and the money are compared on
//! (tests/pg_store_due.rs): the rich journal ([`super::rich`]) extended by
//! hand with six batches and refunds in every state, due and not due, their
//! times far in the past or far in the future so that any two clocks agree
//! on what is due; made in SQLite and copied into PostgreSQL as `journal
//! copy` copies it.

use bulkrefund::journal::PARKED;

use super::common::World;
use super::rich;
use super::twin::Twin;

/// Due long ago, on any clock.
pub const PAST: i64 = 1_000;
/// Not due before 2096, on any clock.
pub const FUTURE: i64 = 4_000_000_000_000;

/// The batches added here: a mixed one, one held for approval, one held
/// and approved, one whose import never ended, and one of a second merchant.
pub const MIXED: i64 = 21;
pub const HELD: i64 = 22;
pub const APPROVED: i64 = 23;
pub const UNIMPORTED: i64 = 24;
pub const SECOND_MERCHANT: i64 = 25;
/// A batch of [`LARGE_ROWS`] refunds, pages of them due.
pub const LARGE: i64 = 26;
pub const LARGE_ROWS: i64 = 1200;
/// Every batch the journal holds, and one it does not.
pub const BATCHES: [i64; 8] = [
    1,
    MIXED,
    HELD,
    APPROVED,
    UNIMPORTED,
    SECOND_MERCHANT,
    LARGE,
    99,
];

/// A refund added by hand: (id, batch, state, next_attempt_at, fen, order_key, profile).
pub type Added = (i64, i64, &'static str, i64, i64, &'static str, &'static str);

/// The refunds added, in every state, due and not due.
pub const ADDED: &[Added] = &[
    // The first refund of order O1 is due; the second waits for it.
    (101, MIXED, "pending", PAST, 1000, "O1", "leshua"),
    (102, MIXED, "pending", PAST, 1200, "O1", "leshua"),
    (103, MIXED, "retry_wait", FUTURE, 700, "", "leshua"),
    (104, MIXED, "retry_wait", PAST, 700, "", "leshua"),
    (105, MIXED, "unknown", PAST, 300, "", "leshua"),
    (106, MIXED, "unknown", FUTURE, 300, "", "leshua"),
    (107, MIXED, "processing", 5_000, 450, "", "leshua"),
    (108, MIXED, "processing", FUTURE, 450, "", "leshua"),
    (109, MIXED, "processing", 5_000, 450, "", "leshua"),
    (110, MIXED, "processing", 2_000, 450, "", "leshua"),
    // Abnormal: due for its hourly query, and not yet.
    (111, MIXED, "abnormal", PAST, 990, "", "leshua"),
    (112, MIXED, "abnormal", FUTURE, 990, "", "leshua"),
    // Order O2: its first refund succeeded, so the second is due (with
    // when the first finished, for a gap).
    (113, MIXED, "succeeded", 0, 1500, "O2", "leshua"),
    (114, MIXED, "pending", PAST, 1200, "O2", "leshua"),
    (115, MIXED, "failed", 0, 800, "", "leshua"),
    (116, MIXED, "failed", 0, 820, "", "leshua"),
    (117, MIXED, "review", 0, 640, "", "leshua"),
    (118, MIXED, "in_flight", PAST, 1200, "", "leshua"),
    (119, MIXED, "unknown", PARKED, 555, "", "leshua"),
    // Another desk's profile in the same batch, with a tie for the largest.
    (120, MIXED, "pending", FUTURE, 900, "", "B-desk"),
    (121, MIXED, "pending", FUTURE, 900, "", "B-desk"),
    (122, MIXED, "retry_wait", FUTURE, 100, "", "a-desk"),
    (123, MIXED, "succeeded", 0, 2500, "", "leshua"),
    (124, MIXED, "failed", 0, 330, "", "leshua"),
    // Held: nothing is sent; the unknown one is still queried, the
    // processing one still polled.
    (131, HELD, "pending", PAST, 5000, "", "leshua"),
    (132, HELD, "unknown", PAST, 5000, "", "leshua"),
    (133, HELD, "processing", 3_000, 5000, "", "leshua"),
    (134, HELD, "retry_wait", PAST, 5000, "", "leshua"),
    (141, APPROVED, "pending", PAST, 6000, "", "leshua"),
    (142, APPROVED, "retry_wait", PAST, 6000, "", "leshua"),
    // An import that never ended: the never-sent refund waits for it, the
    // one already sent does not.
    (151, UNIMPORTED, "pending", PAST, 70, "", "leshua"),
    (152, UNIMPORTED, "pending", PAST, 71, "", "leshua"),
    (161, SECOND_MERCHANT, "pending", PAST, 10, "", "Other"),
    (162, SECOND_MERCHANT, "succeeded", 0, 20, "", "Other"),
    (163, SECOND_MERCHANT, "abnormal", PAST, 30, "", "Other"),
];

/// Every refund a read is asked about: the rich journal's, the ones added, a missing one.
pub fn refunds() -> Vec<i64> {
    (1..=12)
        .chain(ADDED.iter().map(|a| a.0))
        .chain([999])
        .collect()
}

/// Where the rich journal's refunds are: (id space, gateway, merchant).
struct Space(String, String, String);

impl Space {
    /// The id space and merchant of `batch`'s refunds.
    fn of(&self, batch: i64) -> (String, &str) {
        match batch {
            SECOND_MERCHANT => (format!("{}:0000000099", self.1), "0000000099"),
            _ => (self.0.clone(), &self.2),
        }
    }
}

/// Extends the rich journal at `path` with the batches added here, their
/// refunds and their rows: a known refund of batch 1 listed again, a
/// duplicate row, an invalid row and a conflict, denials, a live claim of
/// another process.
fn extend(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let space = conn
        .query_row(
            "SELECT scope, gateway, merchant_id FROM refunds WHERE id = 1",
            [],
            |r| Ok(Space(r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // The abnormal refund of the rich journal: its hourly query not due yet.
    conn.execute(
        "UPDATE refunds SET next_attempt_at = ?1 WHERE state = 'abnormal'",
        [FUTURE],
    )
    .unwrap();
    for batch in [MIXED, HELD, APPROVED, UNIMPORTED, SECOND_MERCHANT, LARGE] {
        conn.execute(
            "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id,
                 header, started_at, imported_at)
             VALUES (?1, 'b' || ?1 || '.csv', 'hash' || ?1, 'leshua', ?2, ?3, '[]',
                 '2026-12-01T00:00:00.000Z', ?4)",
            rusqlite::params![
                batch,
                space.1,
                space.of(batch).1,
                (batch != UNIMPORTED).then_some("2026-12-01T00:00:01.000Z")
            ],
        )
        .unwrap();
    }
    for (line, added) in ADDED.iter().enumerate() {
        add_refund(&conn, &space, added, line as i64 + 1);
    }
    add_large(&conn, &space);
    conn.execute_batch(&format!(
        "UPDATE batches SET approval_over_fen = 100, recorded_by = 'uid:1', recorded_by_name = 'carol'
             WHERE id IN ({HELD}, {APPROVED});
         INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
             VALUES ({APPROVED}, '2026-12-01T01:00:00Z', 'uid:2', 'dave', 'approved', 'ok'),
                    ({HELD}, '2026-12-01T01:00:00Z', 'uid:2', 'dave', 'refused', 'no');
         INSERT INTO batch_rows (batch_id, line, cells, refund, row_status, fen, error_code, error_message)
             VALUES ({MIXED}, 1, '[]', 6, NULL, NULL, NULL, NULL),
                    ({MIXED}, 2, '[]', 101, 'duplicate', 1000, NULL, NULL),
                    ({MIXED}, 3, '[]', 115, 'duplicate', 800, NULL, NULL),
                    ({MIXED}, 4, '[]', NULL, 'invalid', NULL, 'BR_INVALID', 'no amount'),
                    ({MIXED}, 5, '[]', NULL, 'invalid', 12, 'BR_INVALID', 'bad id'),
                    ({MIXED}, 6, '[]', 123, 'conflict', 2600, 'BR_CONFLICT', 'other amount'),
                    ({HELD}, 1, '[]', 106, NULL, NULL, NULL, NULL),
                    ({HELD}, 2, '[]', 103, NULL, NULL, NULL, NULL);
         UPDATE refunds SET claim_owner = 'host-b:4242', claim_generation = 3,
             lease_until_ms = {FUTURE} WHERE id IN (104, 105);"
    ))
    .unwrap();
    let denied = bulkrefund::journal::DENIED_AFTER_AN_ANSWER;
    let first = format!("{denied} (the first time)");
    for (refund, from, to, why) in [
        (105, "unknown", "pending", first.as_str()),
        (105, "unknown", "pending", denied),
        (105, "pending", "unknown", denied),
        (105, "unknown", "pending", "never created"),
        (132, "unknown", "pending", denied),
    ] {
        conn.execute(
            "INSERT INTO events (refund, at, from_state, to_state, why)
             VALUES (?1, '2026-12-01T00:20:00.000Z', ?2, ?3, ?4)",
            rusqlite::params![refund, from, to, why],
        )
        .unwrap();
    }
}

/// One refund of [`ADDED`], on `line` of its batch's refunds, and its row.
fn add_refund(conn: &rusqlite::Connection, space: &Space, added: &Added, line: i64) {
    let &(id, batch, state, next, fen, order, profile) = added;
    let (scope, merchant) = space.of(batch);
    let settled = matches!(state, "succeeded" | "failed" | "review");
    let code = matches!(state, "failed" | "review" | "abnormal").then_some(if id == 124 {
        "E2"
    } else {
        "E1"
    });
    conn.execute(
        "INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
             amount_fen, fields, state, next_attempt_at, error_code, error_message,
             first_sent_at, finished_at, created_at, order_key, gateway, merchant_id,
             attempts, submits, ever_created)
         VALUES (?1, ?2, 'R' || ?1, 'fp' || ?1, ?3, ?4, ?5, ?6, '{\"order\":\"x\"}', ?7, ?8,
             ?9, ?10, ?11, ?12, '2026-12-01T00:00:00.000Z', ?13, ?14, ?15, 2, 1, 1)",
        rusqlite::params![
            id,
            scope,
            profile,
            batch,
            line,
            fen,
            state,
            next,
            code,
            code.map(|c| format!("the gateway said {c} about #{id}")),
            (id != 151).then_some("2026-12-01T00:10:00.000Z"),
            settled.then(|| format!("2026-12-01T00:{:02}:00.000Z", id % 60)),
            order,
            space.1,
            merchant,
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO batch_rows (batch_id, line, cells, refund, fen) VALUES (?1, ?2, '[]', ?3, ?4)",
        rusqlite::params![batch, id, id, fen],
    )
    .unwrap();
}

/// Batch [`LARGE`]: refunds 1001 on, most pending and due, every fifth
/// unknown, every seventh processing; every third of an order shared with
/// others; amounts with many ties for the largest.
fn add_large(conn: &rusqlite::Connection, space: &Space) {
    conn.execute(
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {LARGE_ROWS})
             INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
                 amount_fen, fields, state, next_attempt_at, created_at, order_key, gateway,
                 merchant_id, first_sent_at)
             SELECT 1000 + i, ?1, 'L' || i, 'fpl' || i, 'leshua', {LARGE}, i, 100 + i % 50, '{{}}',
                 CASE WHEN i % 5 = 0 THEN 'unknown' WHEN i % 7 = 0 THEN 'processing'
                      ELSE 'pending' END,
                 {PAST} + i % 13, '2026-12-01T00:00:00.000Z',
                 CASE WHEN i % 3 = 0 THEN 'L' || (i % 11) ELSE '' END, ?2, ?3, NULL
             FROM n"
        ),
        rusqlite::params![space.0, space.1, space.2],
    )
    .unwrap();
    conn.execute(
        &format!(
            "INSERT INTO batch_rows (batch_id, line, cells, refund, fen)
             SELECT {LARGE}, line, '[]', id, amount_fen FROM refunds WHERE batch_id = {LARGE}"
        ),
        [],
    )
    .unwrap();
}

/// A server, and the rich journal extended, in SQLite and copied into it.
pub fn journals(test: &str) -> Option<(Twin, tokio::runtime::Runtime, World)> {
    let twin = Twin::start(test)?;
    let (runtime, world) = rich::source_journal();
    extend(&world.journal());
    twin.copy_into_pg(&world.journal());
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
    Some((twin, runtime, world))
}
