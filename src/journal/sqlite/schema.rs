//! The journal's schema, versioned by `PRAGMA user_version`: migration N takes
//! the schema from version N to N+1, and each runs in its own transaction.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: batches, refunds, the rows of each batch, attempts and the audit trail.
    r#"
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        file_name TEXT NOT NULL,
        file_hash TEXT NOT NULL,
        profile TEXT NOT NULL,
        gateway TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        header TEXT NOT NULL,            -- JSON array of the input's column names
        results_path TEXT,
        started_at TEXT NOT NULL,
        imported_at TEXT,                -- NULL while the import is unfinished
        finished_at TEXT
    );
    CREATE TABLE refunds (
        id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL,             -- gateway:merchant_id: where a refund id is unique
        refund_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,       -- order, amount, currency
        profile TEXT NOT NULL,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        line INTEGER NOT NULL,
        amount_fen INTEGER NOT NULL,
        fields TEXT NOT NULL,            -- JSON object the gateway client sends
        state TEXT NOT NULL,
        gateway_refund_id TEXT,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,   -- unix ms
        attempts INTEGER NOT NULL DEFAULT 0,          -- HTTP attempts, queries included
        submits INTEGER NOT NULL DEFAULT 0,
        ever_created INTEGER NOT NULL DEFAULT 0,      -- the gateway has shown it holds this refund
        error_code TEXT,
        error_message TEXT,
        first_sent_at TEXT,
        finished_at TEXT,
        retry_of INTEGER REFERENCES refunds(id),
        created_at TEXT NOT NULL,
        UNIQUE (scope, refund_id)
    );
    CREATE INDEX refunds_by_state ON refunds(state, next_attempt_at);
    CREATE INDEX refunds_by_batch ON refunds(batch_id);
    CREATE TABLE batch_rows (
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        line INTEGER NOT NULL,
        cells TEXT NOT NULL,             -- JSON array of the row's cells, as read
        refund INTEGER REFERENCES refunds(id),
        row_status TEXT,                 -- invalid | conflict | duplicate; NULL: the refund's state
        fen INTEGER,
        error_code TEXT,
        error_message TEXT,
        PRIMARY KEY (batch_id, line)
    ) WITHOUT ROWID;
    CREATE INDEX batch_rows_by_refund ON batch_rows(refund, batch_id);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        refund INTEGER NOT NULL REFERENCES refunds(id),
        kind TEXT NOT NULL,              -- submit | query
        at TEXT NOT NULL,
        http_status INTEGER,
        gateway_codes TEXT,
        outcome TEXT NOT NULL,
        latency_ms INTEGER NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        refund INTEGER NOT NULL REFERENCES refunds(id),
        at TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        why TEXT NOT NULL
    );
    CREATE INDEX events_by_refund ON events(refund);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    "#,
    // 2: index only the refunds still to work on. The full (state, next_attempt_at)
    // index was rewritten on every state change; this one gains an entry at
    // import and loses it when the refund is first sent or settles.
    r#"
    DROP INDEX refunds_by_state;
    CREATE INDEX refunds_open ON refunds(next_attempt_at)
        WHERE state IN ('pending', 'retry_wait', 'unknown', 'processing');
    "#,
    // 3: the order each refund refunds (refunds of one order go one at a time,
    // in input order); one retry per refund, enforced by the journal itself (a
    // retry chain belongs to the refund, whichever batches list it); where a
    // batch's input file is (output paths are compared with it).
    r#"
    ALTER TABLE refunds ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
    UPDATE refunds SET order_key = COALESCE(
        NULLIF(json_extract(fields, '$.leshua_order_id'), ''),
        NULLIF(json_extract(fields, '$.third_order_id'), ''),
        NULLIF(json_extract(fields, '$.out_trade_id'), ''),
        '');
    CREATE INDEX refunds_by_order ON refunds(scope, order_key);
    CREATE INDEX refunds_by_retry ON refunds(retry_of) WHERE retry_of IS NOT NULL;
    CREATE TRIGGER refunds_one_retry BEFORE INSERT ON refunds
        WHEN NEW.retry_of IS NOT NULL
             AND EXISTS (SELECT 1 FROM refunds WHERE retry_of = NEW.retry_of)
        BEGIN SELECT RAISE(ABORT, 'this refund already has a retry: a retry chain has one head'); END;
    ALTER TABLE batches ADD COLUMN input_path TEXT;
    "#,
    // 4: the gateway and the merchant as columns of their own. (The scope,
    // `gateway:merchant_id`, stays the key refund ids are unique under; the
    // journal writes it and nothing reads it back apart.)
    r#"
    ALTER TABLE refunds ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
    ALTER TABLE refunds ADD COLUMN merchant_id TEXT NOT NULL DEFAULT '';
    UPDATE refunds SET gateway = substr(scope, 1, instr(scope, ':') - 1),
                       merchant_id = substr(scope, instr(scope, ':') + 1);
    "#,
    // 5: whether a batch's results file starts with a BOM (Excel reads a GBK
    // batch's Chinese only then), kept so that `resume` rewrites it the same.
    r#"
    ALTER TABLE batches ADD COLUMN results_bom INTEGER NOT NULL DEFAULT 0;
    "#,
    // 6: the refunds still processing, by when each is next polled: the
    // scheduler reads the polls due apart from the refunds to send, so that
    // polls go on (within their share of the rate) while a batch is sent.
    r#"
    CREATE INDEX refunds_polling ON refunds(next_attempt_at) WHERE state = 'processing';
    "#,
    // 7: the imports under way. A batch is imported in one transaction, so a
    // kill in the middle records nothing of it; this row, committed before that
    // transaction begins and deleted by it, is the trace that an import began
    // and never ended (`resume` and `status` name the file to run again).
    r#"
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        file_name TEXT NOT NULL,
        file_hash TEXT NOT NULL,
        input_path TEXT,
        profile TEXT NOT NULL,
        started_at TEXT NOT NULL
    );
    "#,
    // 8: the gateway's own times of a refund (RFC 3339, UTC), from its
    // answers: when it says the refund succeeded, and when it says it created
    // it. Refunds recorded before this migration have neither; what groups by
    // day falls back to `finished_at` (bulkrefund's clock) and says so.
    r#"
    ALTER TABLE refunds ADD COLUMN gateway_success_at TEXT;
    ALTER TABLE refunds ADD COLUMN gateway_created_at TEXT;
    "#,
    // 9: each reconciliation against a gateway's daily bill (`reconcile`),
    // kept as history (the same day reconciled again is a new row), and one
    // row per finding, pointing at the journal's refund where it has one, so
    // that `show` says in which bill a refund was found. Nothing of
    // `refunds`, `events` or `attempts` is touched: reconciliation is evidence.
    r#"
    CREATE TABLE reconciliations (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        gateway TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        bill_date TEXT NOT NULL,         -- YYYY-MM-DD, the Beijing day the bill covers
        source TEXT NOT NULL,            -- 'api', or the bill file's path
        raw_path TEXT,                   -- the raw bill kept beside the report
        raw_sha256 TEXT NOT NULL,        -- of the raw bill's bytes
        neighbours TEXT NOT NULL,        -- the bills of D-1 and D+1: read, or why not
        reconciled_at TEXT NOT NULL,
        bill_count INTEGER NOT NULL,
        bill_fen INTEGER NOT NULL,
        matched INTEGER NOT NULL,
        amount_differs INTEGER NOT NULL,
        status_differs INTEGER NOT NULL,
        not_in_journal INTEGER NOT NULL,
        missing_from_bill INTEGER NOT NULL,
        unresolved_not_in_bill INTEGER NOT NULL,
        -- the journal's succeeded refunds counted on bill_date when reconciled:
        -- `status` tells a day whose refunds changed since
        expected_count INTEGER NOT NULL,
        expected_fen INTEGER NOT NULL
    );
    CREATE INDEX reconciliations_by_day ON reconciliations(gateway, merchant_id, bill_date);
    CREATE TABLE reconciliation_rows (
        reconciliation INTEGER NOT NULL REFERENCES reconciliations(id),
        outcome TEXT NOT NULL,
        refund_id TEXT NOT NULL,
        refund INTEGER REFERENCES refunds(id),   -- NULL: not in the journal
        bill_day TEXT,                   -- the bill that lists it (D or D-1/D+1); NULL: none
        bill_line INTEGER,
        gateway_refund_id TEXT,
        journal_status TEXT,
        bill_status TEXT,
        journal_fen INTEGER,
        bill_fen INTEGER,
        bill_success_at TEXT,
        note TEXT NOT NULL
    );
    CREATE INDEX reconciliation_rows_by_reconciliation ON reconciliation_rows(reconciliation);
    CREATE INDEX reconciliation_rows_by_refund ON reconciliation_rows(refund) WHERE refund IS NOT NULL;
    "#,
    // 10: claims. A process claims a refund before it works on it and holds the
    // claim under a lease it renews; every later write of the refund names the
    // claim (owner and generation), so a process that lost it changes nothing.
    r#"
    ALTER TABLE refunds ADD COLUMN claim_owner TEXT;             -- host:pid:nonce of the holder; NULL: unclaimed
    ALTER TABLE refunds ADD COLUMN claim_generation INTEGER NOT NULL DEFAULT 0;  -- grows at every claim: the fence
    ALTER TABLE refunds ADD COLUMN lease_until_ms INTEGER;       -- unix ms, the journal's clock: the claim lapses then
    -- Renewal, release and the lapse at open find one owner's claims, or all of
    -- them, among refunds that are mostly unclaimed (a final refund's claim is freed).
    CREATE INDEX refunds_by_claim_owner ON refunds(claim_owner) WHERE claim_owner IS NOT NULL;
    "#,
    // 11: a second person's approval of a batch over its profile's limit.
    r#"
    ALTER TABLE batches ADD COLUMN approval_over_fen INTEGER;    -- the limit it was recorded over; NULL: needs no approval
    ALTER TABLE batches ADD COLUMN recorded_by TEXT;             -- who recorded it, the key compared (SQLite: 'uid:1000'; PostgreSQL: the role)
    ALTER TABLE batches ADD COLUMN recorded_by_name TEXT;        -- that person's name, as shown (the passwd name; the role)
    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        at TEXT NOT NULL,
        person TEXT NOT NULL,                                    -- the key, as batches.recorded_by
        person_name TEXT NOT NULL,                               -- the name, as shown
        verdict TEXT NOT NULL CHECK (verdict IN ('approved', 'refused')),
        why TEXT NOT NULL
    );
    CREATE INDEX approvals_by_batch ON approvals(batch_id);
    -- One approval releases a batch; refusals may be many.
    CREATE UNIQUE INDEX approvals_one_approval ON approvals(batch_id) WHERE verdict = 'approved';
    CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
    CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
    "#,
    // 11 -> 12: the refunds in flight by their lease's end, found without a
    // scan of the table: a running process recovers lapsed ones, and a run
    // waits for their leases (a journal of a million refunds holds few).
    r#"
    CREATE INDEX refunds_in_flight ON refunds(lease_until_ms) WHERE state = 'in_flight';
    "#,
];

/// `PRAGMA application_id` of a bulkrefund journal ("BRJL"): a file without it
/// (or with another) is not taken for a journal.
pub const APPLICATION_ID: i32 = 0x4252_4A4C;

pub const VERSION: i64 = MIGRATIONS.len() as i64;

pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

pub fn application_id(conn: &Connection) -> rusqlite::Result<i32> {
    conn.query_row("PRAGMA application_id", [], |row| row.get(0))
}

/// Why the schema could not be brought to [`VERSION`].
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the journal has schema version {found}, newer than this bulkrefund knows ({VERSION}): upgrade bulkrefund")]
    Newer { found: i64 },
    #[error("migration {step}: {source}")]
    Step {
        step: usize,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// Brings the schema to [`VERSION`]. Refuses a journal from a newer bulkrefund.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let current = version(conn)?;
    if current > VERSION {
        return Err(MigrateError::Newer { found: current });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|source| MigrateError::Step {
            step: i + 1,
            source,
        })?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    if application_id(conn)? != APPLICATION_ID {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(())
}
