//! A second person's approval on a PostgreSQL journal, against a real server
//! each test starts (tests/pg/server.rs; skipped, saying so, where no server
//! binaries exist). The person is the role PostgreSQL authenticated: alice
//! recorded a batch and is refused (the refusal kept), also when she sets
//! the group role as hers; bob approves it, once; the trail and the waiting
//! list say so; carol, with no grants, cannot open the journal; and a role
//! that lost INSERT on `approvals` gets an error that says so.

use bulkrefund::journal::approval::{approve, ApprovalStore, ApproveError, Person, Verdict};
use bulkrefund::journal::postgres::{
    grants, schema, ConfiguredSecret, Passfile, PgError, PgJournal,
};
use bulkrefund::journal::JournalError;
use bulkrefund::money::Fen;
use bulkrefund::secret::SecretRef;

#[path = "pg/server.rs"]
mod server;
use server::PgServer;

const DB: &str = "journal";
const OWNER_PASSWORD: &str = "owner-pw-a81";
const BATCH: i64 = 1;

/// The team (docs/postgres.md): the journal's owner, the group role with
/// the grants, alice and bob its members, carol a login and nothing more,
/// dave with the grants given to him directly (so they can be taken away).
fn team(server: &PgServer) {
    let op = grants::OPERATOR_ROLE;
    let mut sql = format!(
        "CREATE ROLE bulkrefund_owner LOGIN PASSWORD '{OWNER_PASSWORD}';
         CREATE ROLE {op} NOLOGIN;"
    );
    for role in ["alice", "bob", "carol", "dave"] {
        sql += &format!("CREATE ROLE {role} LOGIN PASSWORD '{}';", password(role));
    }
    sql += &format!("GRANT {op} TO alice; GRANT {op} TO bob;");
    server.exec("postgres", &sql);
    server.exec(
        "postgres",
        &format!("CREATE DATABASE {DB} OWNER bulkrefund_owner"),
    );
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    schema::migrate(&mut owner).unwrap();
    owner.batch_execute(&grants::operator_grants()).unwrap();
    let dave = grants::operator_grants().replace(op, "dave");
    owner.batch_execute(&dave).unwrap();
}

fn password(role: &str) -> String {
    format!("{role}-pw-{}", role.len() * 7919)
}

/// A batch held for approval, as SQLite's import leaves one: over 25.00
/// yuan, recorded by alice; two pending refunds (15.00 each) it holds back,
/// and a row naming an earlier, succeeded refund (not held: it cannot leave).
fn seed(server: &PgServer) {
    server.exec(
        DB,
        "INSERT INTO batches (id, file_name, file_hash, profile, gateway, merchant_id, header,
                              started_at, approval_over_fen, recorded_by, recorded_by_name)
         VALUES (1, 'month-end.csv', 'h1', 'leshua', 'leshua', 'm1', '[]',
                 '2026-12-01T09:00:00.000Z', 2500, 'alice', 'alice');
         INSERT INTO refunds (id, scope, refund_id, fingerprint, profile, batch_id, line,
                              amount_fen, fields, state, created_at)
         VALUES (1, 'm1', 'R0', 'f0', 'leshua', 1, 2, 1000, '{}', 'succeeded', 't'),
                (2, 'm1', 'R1', 'f1', 'leshua', 1, 3, 1500, '{}', 'pending', 't'),
                (3, 'm1', 'R2', 'f2', 'leshua', 1, 4, 1500, '{}', 'pending', 't');
         INSERT INTO batch_rows (batch_id, line, cells, refund, row_status, fen)
         VALUES (1, 2, '[]', 1, 'new', 1000), (1, 3, '[]', 2, 'new', 1500),
                (1, 4, '[]', 3, 'new', 1500);",
    );
}

/// `role` opens the journal with its password from an env secret; `options`
/// are the URL's server options (`-c role=…`), percent-encoded.
fn open_as(server: &PgServer, role: &str, options: &str) -> Result<PgJournal, PgError> {
    let var = format!("PG_APPROVAL_{}_PW", role.to_uppercase());
    std::env::set_var(&var, password(role));
    let env = SecretRef::Env { env: var };
    let dir = tempfile::tempdir().unwrap();
    let secret = ConfiguredSecret {
        reference: &env,
        dir: dir.path(),
    };
    let mut url = server.url(role, DB);
    if !options.is_empty() {
        url += &format!("&options={options}");
    }
    PgJournal::open(&url, Some(secret), &Passfile::Nowhere)
}

fn open(server: &PgServer, role: &str) -> PgJournal {
    open_as(server, role, "").unwrap_or_else(|e| panic!("{role}: {e}"))
}

/// Each event's (refund, why) the approval flow wrote, in order.
fn approval_events(server: &PgServer) -> Vec<(i64, String)> {
    let rows = server
        .superuser(DB)
        .query("SELECT refund, why FROM events ORDER BY id", &[])
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

#[test]
fn only_a_second_role_approves_and_the_trail_says_who() {
    let Some(server) = PgServer::start("only_a_second_role_approves_and_the_trail_says_who") else {
        return;
    };
    team(&server);
    seed(&server);
    let mut alice = open(&server, "alice");
    let mut bob = open(&server, "bob");

    let waiting = bob.approvals().batches_waiting().unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        (waiting[0].batch, waiting[0].refunds, waiting[0].fen),
        (BATCH, 2, Fen(3000))
    );
    assert_eq!(waiting[0].hold.over_fen, Fen(2500));
    assert_eq!(waiting[0].hold.recorded_by, Person::keyed("alice"));

    // alice recorded it: refused, and the refusal kept.
    assert_eq!(alice.approvals().person().unwrap(), Person::keyed("alice"));
    let refused = approve(&alice.approvals(), BATCH, |_| panic!("shown to alice")).unwrap_err();
    let ApproveError::SelfApproval {
        person,
        recorded_by,
        ..
    } = &refused
    else {
        panic!("{refused:?}");
    };
    assert_eq!(
        (person.key.as_str(), recorded_by.key.as_str()),
        ("alice", "alice")
    );
    assert_eq!(
        refused.to_string(),
        "refused: alice recorded batch 1, and a batch over approve_over_yuan needs a second \
         person's approval. The refusal is recorded; someone other than alice must run \
         `bulkrefund approve --batch 1`"
    );

    // alice takes the group role as hers (at connection, `-c role=…`):
    // current_user is the group, but she is still alice, and refused again.
    let mut as_group = open_as(&server, "alice", "-c%20role%3Dbulkrefund_operator").unwrap();
    assert_eq!(
        as_group.role(),
        grants::OPERATOR_ROLE,
        "the role was not set"
    );
    assert_eq!(
        as_group.approvals().person().unwrap(),
        Person::keyed("alice")
    );
    let refused = approve(&as_group.approvals(), BATCH, |_| panic!("shown")).unwrap_err();
    assert!(
        matches!(refused, ApproveError::SelfApproval { .. }),
        "{refused:?}"
    );
    assert_eq!(
        bob.approvals().batches_waiting().unwrap().len(),
        1,
        "still waits"
    );

    // bob approves what he is shown.
    let mut seen = None;
    let approved = approve(&bob.approvals(), BATCH, |state| {
        seen = Some(state.seen(&state.recorded_at))
    })
    .unwrap();
    let shown = "batch 1 (month-end.csv), recorded by alice at 2026-12-01T09:00:00.000Z: \
                 2 refunds, 30.00 yuan to send, over approve_over_yuan = 25.00";
    assert_eq!(seen.as_deref(), Some(shown));
    assert_eq!(approved.person, Person::keyed("bob"));
    assert_eq!(approved.verdict, Verdict::Approved);
    assert_eq!(
        approved.why,
        format!("a second person approved what it was shown: {shown}")
    );
    assert!(bob.approvals().batches_waiting().unwrap().is_empty());

    // Once: through the flow, "approved already"; a second record, refused
    // by the one-approval index with nothing written.
    let again = approve(&alice.approvals(), BATCH, |_| panic!("shown")).unwrap_err();
    assert!(matches!(&again, ApproveError::AlreadyApproved { by, .. } if by == &approved));
    let second = bob
        .approvals()
        .record_approval(BATCH, &Person::keyed("bob"), Verdict::Approved, "again")
        .unwrap_err();
    assert!(matches!(&second, JournalError::Store(_)), "{second:?}");
    assert_eq!(
        second.to_string(),
        "journal: batch 1 was approved already (one approval a batch): nothing was recorded \
         for bob"
    );

    let refusal = |at: &str| bulkrefund::journal::approval::ApprovalRecord {
        batch: BATCH,
        at: at.to_owned(),
        person: Person::keyed("alice"),
        verdict: Verdict::Refused,
        why: "alice recorded this batch: it needs a second person".into(),
    };
    let trail = bob.approvals().approvals_of(BATCH).unwrap();
    assert_eq!(trail.len(), 3, "{trail:?}");
    assert_eq!(trail[0], refusal(&trail[0].at));
    assert_eq!(trail[1], refusal(&trail[1].at));
    assert_eq!(trail[2], approved);
    for record in &trail {
        assert_eq!(
            record.at.len(),
            "2026-12-01T09:00:00.000Z".len(),
            "{}",
            record.at
        );
        assert!(
            record.at.ends_with('Z') && record.at.contains('T'),
            "{}",
            record.at
        );
    }

    // Each refund it held back (not the succeeded one) has each in its trail.
    let events = approval_events(&server);
    let whys = |refund: i64| -> Vec<&str> {
        events
            .iter()
            .filter(|(r, _)| *r == refund)
            .map(|(_, why)| why.as_str())
            .collect()
    };
    assert!(whys(1).is_empty(), "{events:?}");
    for refund in [2, 3] {
        let whys = whys(refund);
        assert_eq!(whys.len(), 3, "{whys:?}");
        assert!(whys[0].starts_with("batch 1 refused by alice: alice recorded"));
        assert!(whys[1].starts_with("batch 1 refused by alice: "));
        assert_eq!(
            whys[2],
            format!("batch 1 approved by bob: {}", approved.why)
        );
    }

    // The trail cannot be changed: a member has no UPDATE on it, and even
    // the journal's owner, who has, is stopped by its trigger.
    let mut direct = server.client("bob", &password("bob"), DB);
    let error = direct
        .execute("UPDATE approvals SET person = 'mallory'", &[])
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    let error = owner.execute("DELETE FROM approvals", &[]).unwrap_err();
    let said = error.as_db_error().map(|db| db.message().to_owned());
    assert_eq!(
        said.as_deref(),
        Some("approvals is append-only: the audit trail is never changed")
    );
    assert_eq!(bob.approvals().approvals_of(BATCH).unwrap().len(), 3);
}

#[test]
fn a_role_without_the_grants_is_told_and_nothing_panics() {
    let Some(server) = PgServer::start("a_role_without_the_grants_is_told_and_nothing_panics")
    else {
        return;
    };
    team(&server);
    seed(&server);

    // carol may log in, and nothing more: her open says what to ask for.
    let error = open_as(&server, "carol", "")
        .err()
        .expect("carol opened it");
    let message = error.to_string();
    assert!(
        matches!(&error, PgError::Grants { role, .. } if role == "carol"),
        "{error:?}"
    );
    assert!(
        message.starts_with("role 'carol' lacks what the PostgreSQL journal needs ("),
        "{message}"
    );
    assert!(message.contains("INSERT on approvals"), "{message}");
    assert!(
        message.ends_with(
            "Ask the journal's administrator to run: GRANT bulkrefund_operator TO carol;"
        ),
        "{message}"
    );
    assert!(!message.contains(&password("carol")), "{message}");

    // dave opened it with every grant, then lost INSERT on approvals: his
    // refusal cannot be recorded, and the error says why and what to ask.
    let mut dave = open(&server, "dave");
    server.exec(DB, "REVOKE INSERT ON approvals FROM dave");
    server.exec(
        DB,
        "UPDATE batches SET recorded_by = 'dave', recorded_by_name = 'dave'",
    );
    let error = approve(&dave.approvals(), BATCH, |_| panic!("shown")).unwrap_err();
    let ApproveError::Store(JournalError::Store(why)) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        why,
        "the PostgreSQL journal, recording that batch 1 was refused by dave: permission \
         denied for table approvals (SQLSTATE 42501). The role lacks a privilege the journal \
         needs; ask the journal's administrator to run: GRANT bulkrefund_operator TO dave;"
    );
    // Reading still works, and nothing was written.
    assert!(dave.approvals().approvals_of(BATCH).unwrap().is_empty());
    assert!(approval_events(&server).is_empty());
    assert_eq!(dave.approvals().batches_waiting().unwrap().len(), 1);
}
