//! A journal with something of everything, made against the simulator,
//! for tests that compare what the two stores answer about the same journal.

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;

use super::common::*;

/// A journal made against the simulator: batch 1's five refunds all failed
/// and were retried under new ids (retry chains), then one refund is put in
/// review and one made abnormal in the file, as the states a gateway's
/// contradiction and WeChat Pay's abnormal answer leave.
/// The runtime is returned with the world: the simulator runs on it. The
/// tests themselves are not async: the `postgres` client (the test's and the
/// binary's) must not be used inside a runtime.
pub fn source_journal() -> (tokio::runtime::Runtime, World) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let world = runtime.block_on(async {
        let (world, batch) =
            World::with_generated(GatewayKind::Leshua, 5, "K", every_refund_fails()).await;
        assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 3);
        world.sim.set_faults(FaultConfig::default());
        let retried = world.retry(1, true).await.expect("batch 1 is retried");
        assert_eq!(retried.exit_code, 0);
        world
    });
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    let chains: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM refunds WHERE retry_of IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(chains, 5, "every refund of batch 1 has a retry");
    // The file's states, set behind the engine's back (the copy copies rows;
    // which state they hold matters only to the figures).
    conn.execute_batch(
        "UPDATE refunds SET state = 'review', error_code = 'BR_CONTRADICTION'
             WHERE id = (SELECT MAX(id) FROM refunds);
         UPDATE refunds SET state = 'abnormal', error_code = 'ABNORMAL'
             WHERE id = (SELECT MAX(id) - 1 FROM refunds);",
    )
    .unwrap();
    other_tables(&conn);
    (runtime, world)
}

/// Rows in the tables a run leaves empty (an unfinished import, a
/// reconciliation with a row, a refusal), their text holding what COPY's
/// text format must escape: a tab, a newline, a carriage return, a backslash.
pub fn other_tables(conn: &rusqlite::Connection) {
    let awkward = "a\ttab\tand\na newline,\r\nCRLF, a \\ backslash, \\N and 退款";
    conn.execute(
        "INSERT INTO imports (id, file_name, file_hash, input_path, profile, started_at)
         VALUES (7, ?1, 'h', NULL, 'leshua', '2026-12-01T00:00:00Z')",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO reconciliations (id, profile, gateway, merchant_id, bill_date, source,
             raw_path, raw_sha256, neighbours, reconciled_at, bill_count, bill_fen, matched,
             amount_differs, status_differs, not_in_journal, missing_from_bill,
             unresolved_not_in_bill, expected_count, expected_fen)
         VALUES (3, 'leshua', 'leshua', '0000000018', '2026-12-01', 'api', NULL, 's', ?1,
             '2026-12-02T00:00:00Z', 1, 8019, 1, 0, 0, 0, 0, 0, 1, 8019)",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO reconciliation_rows (reconciliation, outcome, refund_id, refund, bill_day,
             bill_line, gateway_refund_id, journal_status, bill_status, journal_fen, bill_fen,
             bill_success_at, note)
         VALUES (3, 'matched', 'KR000000001R2', 6, '2026-12-01', 2, NULL, 'succeeded',
             'SUCCESS', 8019, 8019, NULL, ?1)",
        [awkward],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO approvals (batch_id, at, person, person_name, verdict, why)
         VALUES (1, '2026-12-02T00:00:00Z', 'uid:1000', 'alice', 'refused', ?1)",
        [awkward],
    )
    .unwrap();
}
