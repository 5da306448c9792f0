//! The rich journal (tests/pg/rich.rs) made richer for the report reads:
//! two more batches of one file (one finished, one whose import never
//! finished), two more merchants named so that byte order and a locale's
//! order disagree (`Zeta` before `alpha`), a refund in every state, a retry
//! chain, rows of every verdict (invalid, conflict, a duplicate), a row in a
//! second batch naming a refund another batch sent, the gateway's own times
//! on some refunds and none on others, and attempts spread over days (times
//! with and without milliseconds, on both sides of midnight in Beijing) so
//! that latency buckets differ with the width and the zone.

/// The batches added, and the refunds (their journal ids) of each state.
pub const SECOND: i64 = 50;
pub const SAME_FILE: i64 = 51;
pub const UNFINISHED: i64 = 52;
pub const FILE_HASH: &str = "hash-of-second.csv";

/// (id, merchant, state, amount, gateway success, finished, first sent, created, retry_of)
type Refund = (
    i64,
    &'static str,
    &'static str,
    i64,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<i64>,
);

/// (id, results path, started, imported, finished) of a batch added.
type BatchSpec = (
    i64,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// (batch, line, verdict, refund, fen, error code, message) of a row with a verdict of its own.
type OwnVerdict = (
    i64,
    i64,
    &'static str,
    Option<i64>,
    Option<i64>,
    &'static str,
    &'static str,
);

const REFUNDS: [Refund; 10] = [
    (
        100,
        "Zeta",
        "pending",
        100,
        None,
        None,
        None,
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        101,
        "Zeta",
        "in_flight",
        201,
        None,
        None,
        Some("2026-11-20T15:59:59.999Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        102,
        "alpha",
        "processing",
        302,
        None,
        None,
        Some("2026-11-20T16:00:00Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        103,
        "Zeta",
        "succeeded",
        403,
        Some("2026-11-21T03:00:00Z"),
        Some("2026-11-21T03:00:01.000Z"),
        Some("2026-11-21T02:59:59.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        104,
        "alpha",
        "failed",
        504,
        None,
        Some("2026-11-22T10:00:00.000Z"),
        Some("2026-11-22T09:00:00.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        105,
        "Zeta",
        "unknown",
        605,
        None,
        None,
        Some("2026-11-23T00:00:00.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        106,
        "alpha",
        "retry_wait",
        706,
        None,
        None,
        Some("2026-11-24T12:30:00.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        107,
        "Zeta",
        "review",
        807,
        None,
        Some("2026-11-25T08:00:00.000Z"),
        Some("2026-11-25T07:00:00.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        108,
        "alpha",
        "abnormal",
        908,
        Some("2026-11-26T16:00:00.000Z"),
        Some("2026-11-26T17:00:00.000Z"),
        Some("2026-11-26T15:00:00.000Z"),
        "2026-11-20T01:00:00.000Z",
        None,
    ),
    (
        109,
        "alpha",
        "succeeded",
        504,
        Some("2026-11-28T04:00:00.000Z"),
        Some("2026-11-28T04:00:00.500Z"),
        Some("2026-11-28T03:59:00.000Z"),
        "2026-11-27T00:00:00.000Z",
        Some(104),
    ),
];

/// Attempts: (refund, at, latency in ms), spread over ten days.
const ATTEMPTS: [(i64, &str, i64); 14] = [
    (101, "2026-11-20T15:59:59.999Z", 1200),
    (102, "2026-11-20T16:00:00Z", 80),
    (102, "2026-11-20T16:00:00.400Z", 95),
    (103, "2026-11-21T02:59:59.000Z", 40),
    (103, "2026-11-21T03:00:00.000Z", 41),
    (104, "2026-11-22T09:00:00.000Z", 300),
    (105, "2026-11-23T00:00:00.000Z", 5000),
    (105, "2026-11-23T05:59:59.000Z", 15),
    (106, "2026-11-24T12:30:00.000Z", 77),
    (107, "2026-11-25T07:00:00.000Z", 66),
    (108, "2026-11-26T15:00:00.000Z", 250),
    (108, "2026-11-26T16:00:00.000Z", 260),
    (109, "2026-11-28T03:59:00.000Z", 12),
    (109, "2026-11-30T23:00:00.000Z", 0),
];

/// Adds the batches, refunds, rows and attempts described above to the
/// SQLite journal at `conn`.
pub fn enrich(conn: &rusqlite::Connection) {
    let batch = "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id,
                     header, results_path, started_at, imported_at, finished_at)
                 VALUES (?1, 'second.csv', ?2, 'wechat', 'wechatpay', 'Zeta',
                     '[\"merchant_refund_id\",\"amount\",\"note\"]', ?3, ?4, ?5, ?6)";
    let batches: [BatchSpec; 3] = [
        (
            SECOND,
            Some("/tmp/second.results.csv"),
            "2026-11-20T01:00:00.000Z",
            Some("2026-11-20T01:00:01.000Z"),
            Some("2026-11-28T05:00:00.000Z"),
        ),
        (
            SAME_FILE,
            None,
            "2026-11-29T01:00:00.000Z",
            Some("2026-11-29T01:00:01.000Z"),
            None,
        ),
        (UNFINISHED, None, "2026-11-29T02:00:00.000Z", None, None),
    ];
    for (id, results, started, imported, finished) in batches {
        conn.execute(
            batch,
            rusqlite::params![id, FILE_HASH, results, started, imported, finished],
        )
        .unwrap();
    }
    for (id, merchant, state, fen, success, finished, sent, created, retry_of) in REFUNDS {
        let line = if retry_of.is_some() { 6 } else { id - 98 };
        let error = matches!(state, "failed" | "review" | "abnormal").then_some("E_CODE");
        conn.execute(
            "INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
                 amount_fen, fields, state, gateway_refund_id, attempts, error_code,
                 error_message, first_sent_at, finished_at, retry_of, created_at, order_key,
                 gateway, merchant_id, gateway_success_at)
             VALUES (?1, 'wechatpay:' || ?2, 'W' || ?1, 'fp' || ?1, 'wechat', ?3, ?4, ?5,
                 '{\"out_trade_no\":\"T' || ?1 || '\",\"note\":\"退款, \\\"quoted\\\"\"}', ?6,
                 CASE WHEN ?7 IS NULL THEN NULL ELSE 'G' || ?1 END, ?1 - 99, ?8,
                 CASE WHEN ?8 IS NULL THEN NULL ELSE 'it said no to ' || ?1 END, ?9, ?10, ?11,
                 ?12, 'T' || ?1, 'wechatpay', ?2, ?7)",
            rusqlite::params![
                id, merchant, SECOND, line, fen, state, success, error, sent, finished, retry_of,
                created
            ],
        )
        .unwrap();
    }
    rows(conn);
    for (refund, at, latency) in ATTEMPTS {
        conn.execute(
            "INSERT INTO attempts (refund, kind, at, http_status, gateway_codes, outcome, latency_ms)
             VALUES (?1, 'query', ?2, 200, NULL, 'processing', ?3)",
            rusqlite::params![refund, at, latency],
        )
        .unwrap();
    }
}

/// The batches' rows: each refund's (a retry's head listed by the row that
/// asked for it), an invalid, a conflicting and a duplicate row, and a row
/// of the second batch of the same file naming a refund the first sent.
fn rows(conn: &rusqlite::Connection) {
    let insert = "INSERT INTO batch_rows (batch_id, line, cells, refund, row_status, fen,
                      error_code, error_message)
                  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    for (id, ..) in REFUNDS.iter().filter(|r| r.8.is_none()) {
        let refund = if *id == 104 { 109 } else { *id };
        let cells = format!("[\"W{id}\",\"1.00\",\"=cmd\"]");
        conn.execute(
            insert,
            rusqlite::params![
                SECOND,
                id - 98,
                cells,
                refund,
                None::<String>,
                None::<i64>,
                None::<String>,
                None::<String>
            ],
        )
        .unwrap();
    }
    let own: [OwnVerdict; 4] = [
        (
            SECOND,
            20,
            "invalid",
            None,
            Some(990),
            "BAD_AMOUNT",
            "the amount is not money",
        ),
        (
            SECOND,
            21,
            "conflict",
            None,
            Some(991),
            "ID_CONFLICT",
            "W103 was used for other content",
        ),
        (
            SECOND,
            22,
            "duplicate",
            Some(106),
            None,
            "DUPLICATE",
            "repeats line 8",
        ),
        (
            SAME_FILE,
            2,
            "duplicate",
            Some(103),
            Some(403),
            "DUPLICATE",
            "repeats batch 50",
        ),
    ];
    for (batch, line, status, refund, fen, code, message) in own {
        conn.execute(
            insert,
            rusqlite::params![
                batch,
                line,
                "[\"x\",\"y\"]",
                refund,
                status,
                fen,
                code,
                message
            ],
        )
        .unwrap();
    }
    conn.execute(
        insert,
        rusqlite::params![
            SAME_FILE,
            3,
            "[\"W103\",\"4.03\",\"\"]",
            103,
            None::<String>,
            None::<i64>,
            None::<String>,
            None::<String>
        ],
    )
    .unwrap();
}
