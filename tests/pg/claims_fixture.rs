//! A PostgreSQL journal for claim tests: the team's roles (an owner, the
//! operator group, alice in it), the schema and its grants, `n` pending
//! refunds seeded by the superuser, and connections of the code under test
//! (a [`PgJournal`] each, as separate processes would hold) logged in as
//! alice. Reads of what the journal holds go through the superuser's own
//! connection, never through the code under test.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use bulkrefund::journal::claim::{Claim, ClaimOwner, Lease};
use bulkrefund::journal::postgres::{grants, schema, ConfiguredSecret, Passfile, PgJournal};
use bulkrefund::journal::{AttemptKind, AttemptRecord, Change, Op, State, Update};
use bulkrefund::secret::SecretRef;

use super::server::PgServer;

pub const DB: &str = "journal";
const OWNER_PASSWORD: &str = "owner-pw-c1a2";
const ALICE_PASSWORD: &str = "alice-pw-c3b4";

/// A server with a journal of `n` pending refunds, ids 1..=n.
pub struct Fixture {
    pub server: PgServer,
    secrets: tempfile::TempDir,
}

impl Fixture {
    /// Starts a server for `test` (or `None`: skipped, said so) and seeds it.
    pub fn start(test: &str, n: i64) -> Option<Fixture> {
        let server = PgServer::start(test)?;
        server.exec(
            "postgres",
            &format!(
                "CREATE ROLE bulkrefund_owner LOGIN PASSWORD '{OWNER_PASSWORD}';
                 CREATE ROLE {} NOLOGIN;
                 CREATE ROLE alice LOGIN PASSWORD '{ALICE_PASSWORD}';
                 GRANT {} TO alice;",
                grants::OPERATOR_ROLE,
                grants::OPERATOR_ROLE
            ),
        );
        server.exec(
            "postgres",
            &format!("CREATE DATABASE {DB} OWNER bulkrefund_owner"),
        );
        let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
        schema::migrate(&mut owner).unwrap();
        owner.batch_execute(&grants::operator_grants()).unwrap();
        server.exec(
            DB,
            &format!(
                "INSERT INTO batches (file_name, file_hash, profile, gateway, merchant_id, header, started_at)
                      VALUES ('f', 'h', 'p', 'leshua', 'm', '[]', 't');
                 INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line,
                                      amount_fen, fields, state, created_at)
                      SELECT 'leshua:m', 'R' || i, 'fp', 'p', 1, i, 100, '{{}}', 'pending', 't'
                      FROM generate_series(1, {n}) AS i;"
            ),
        );
        let secrets = tempfile::tempdir().unwrap();
        let path = secrets.path().join("alice.pw");
        std::fs::write(&path, ALICE_PASSWORD).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Some(Fixture { server, secrets })
    }

    /// A new connection of the code under test, as alice.
    pub fn journal(&self) -> PgJournal {
        let file = SecretRef::File {
            file: "alice.pw".into(),
        };
        let secret = ConfiguredSecret {
            reference: &file,
            dir: self.secrets.path(),
        };
        PgJournal::open(
            &self.server.url("alice", DB),
            Some(secret),
            &Passfile::Nowhere,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Everything the journal holds about a refund: its row, its events,
    /// its attempts, each row as JSON.
    pub fn everything(&self, refund: i64) -> Vec<Vec<String>> {
        let mut client = self.server.superuser(DB);
        [
            "SELECT row_to_json(r)::text FROM refunds r WHERE id = $1",
            "SELECT row_to_json(e)::text FROM events e WHERE refund = $1 ORDER BY id",
            "SELECT row_to_json(a)::text FROM attempts a WHERE refund = $1 ORDER BY id",
        ]
        .into_iter()
        .map(|sql| {
            client
                .query(sql, &[&refund])
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect()
        })
        .collect()
    }

    /// (owner, generation, lease_until_ms) of a refund.
    pub fn claim_of(&self, refund: i64) -> (Option<String>, i64, Option<i64>) {
        let row = self
            .server
            .superuser(DB)
            .query_one(
                "SELECT claim_owner, claim_generation, lease_until_ms FROM refunds WHERE id = $1",
                &[&refund],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    }

    /// (owner, generation) of every refund, by id: one query.
    pub fn all_claims(&self) -> std::collections::BTreeMap<i64, (Option<String>, i64)> {
        self.server
            .superuser(DB)
            .query("SELECT id, claim_owner, claim_generation FROM refunds", &[])
            .unwrap()
            .iter()
            .map(|row| (row.get(0), (row.get(1), row.get(2))))
            .collect()
    }

    pub fn state(&self, refund: i64) -> State {
        let row = self
            .server
            .superuser(DB)
            .query_one("SELECT state FROM refunds WHERE id = $1", &[&refund])
            .unwrap();
        State::parse(row.get(0)).unwrap()
    }

    /// The `why` of a refund's last event.
    pub fn last_why(&self, refund: i64) -> String {
        self.server
            .superuser(DB)
            .query_one(
                "SELECT why FROM events WHERE refund = $1 ORDER BY id DESC LIMIT 1",
                &[&refund],
            )
            .unwrap()
            .get(0)
    }
}

/// Owners as two processes on two machines would be.
pub fn owners() -> (ClaimOwner, ClaimOwner) {
    (
        ClaimOwner::named("alpha:1:aaaa"),
        ClaimOwner::named("beta:2:bbbb"),
    )
}

/// A lease that lapses within the test (it waits for it on the server's clock).
pub fn short() -> Lease {
    Lease::new(Duration::from_millis(300))
}

/// A lease that outlives any test.
pub fn long() -> Lease {
    Lease::new(Duration::from_secs(3600))
}

/// Waits until the server's clock is past `until` (a lease's end): polls the
/// clock the leases are compared on, never the test machine's.
pub fn wait_past(journal: &mut PgJournal, until: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while journal.clock_ms().unwrap() <= until {
        assert!(
            std::time::Instant::now() < deadline,
            "the server's clock never passed {until}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn claimed(claims: &[(i64, Claim)]) -> Vec<(i64, i64)> {
    claims.iter().map(|(id, c)| (*id, c.generation)).collect()
}

pub fn to_in_flight(refund: i64, claim: &Claim) -> Op {
    Op::Transition {
        refund,
        from: State::Pending,
        change: Change::to(State::InFlight, "submitting"),
        claim: claim.clone(),
    }
}

/// The gateway's answer that `refund`, in `from`, succeeded, with its attempt.
pub fn succeeded_from(refund: i64, from: State, claim: &Claim) -> Op {
    Op::Settle {
        refund,
        attempt: Box::new(AttemptRecord {
            kind: AttemptKind::Submit,
            at: "2026-12-02T05:00:00.000Z".into(),
            http_status: Some(200),
            gateway_codes: Some("SUCCESS".into()),
            outcome: "succeeded".into(),
            latency_ms: 12,
        }),
        update: Update::Transition {
            from,
            change: Change::to(State::Succeeded, "the gateway refunded it"),
        },
        claim: claim.clone(),
    }
}

pub fn succeeded(refund: i64, claim: &Claim) -> Op {
    succeeded_from(refund, State::InFlight, claim)
}
