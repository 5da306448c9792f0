//! What a PostgreSQL journal stands on, against a real server each test
//! starts (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist): logging in over the Unix socket with the password from an env
//! secret, a file secret or a password file (a password file others can read
//! is ignored, as libpq ignores it); a wrong password said without it; a
//! password in the URL refused; the schema migrated once, again, and by two
//! threads at once, and a newer one refused; its tables, columns and indexes
//! those of the SQLite journal at the same version; and a role without the
//! journal's grants told what to ask for.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bulkrefund::journal::postgres as pg_journal;
use bulkrefund::journal::postgres::{
    connect, grants, schema, ConfiguredSecret, Login, Passfile, PasswordOrigin, PgError, Target,
};
use bulkrefund::secret::SecretRef;

#[path = "pg/server.rs"]
mod server;
use server::PgServer;

const DB: &str = "journal";
const OWNER_PASSWORD: &str = "owner-pw-5f2c";
const ALICE_PASSWORD: &str = "alice-pw-7d1e";

/// The team's setup (docs/postgres.md): an owner of the journal's database,
/// the group role holding the grants, and alice, a member of it.
fn team(server: &PgServer) {
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
    // Not in a transaction (a batch of statements is one).
    server.exec(
        "postgres",
        &format!("CREATE DATABASE {DB} OWNER bulkrefund_owner"),
    );
}

/// The owner creates the schema and grants the group role what it needs.
fn owner_migrates_and_grants(server: &PgServer) {
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    schema::migrate(&mut owner).unwrap();
    owner.batch_execute(&grants::operator_grants()).unwrap();
}

fn write_private(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn login(
    server: &PgServer,
    role: &str,
    secret: Option<ConfiguredSecret<'_>>,
    passfile: &Passfile,
) -> Login {
    Login::resolve(
        Target::parse(&server.url(role, DB)).unwrap(),
        secret,
        passfile,
    )
    .unwrap()
}

fn logged_in_as(login: &Login) -> String {
    let mut client = login.connect().unwrap_or_else(|e| panic!("{e}"));
    grants::current_user(&mut client).unwrap()
}

#[test]
fn passwords_come_from_a_secret_or_the_password_file() {
    let Some(server) = PgServer::start("passwords_come_from_a_secret_or_the_password_file") else {
        return;
    };
    team(&server);
    let tmp = tempfile::tempdir().unwrap();

    std::env::set_var("PG_FOUNDATIONS_ALICE_PW", ALICE_PASSWORD);
    let env = SecretRef::Env {
        env: "PG_FOUNDATIONS_ALICE_PW".into(),
    };
    let secret = ConfiguredSecret {
        reference: &env,
        dir: tmp.path(),
    };
    let by_env = login(&server, "alice", Some(secret), &Passfile::Nowhere);
    assert_eq!(by_env.origin, PasswordOrigin::Secret);
    assert_eq!(logged_in_as(&by_env), "alice");

    write_private(&tmp.path().join("alice.pw"), ALICE_PASSWORD, 0o600);
    let file = SecretRef::File {
        file: "alice.pw".into(),
    };
    let secret = ConfiguredSecret {
        reference: &file,
        dir: tmp.path(),
    };
    let by_file = login(&server, "alice", Some(secret), &Passfile::Nowhere);
    assert_eq!(logged_in_as(&by_file), "alice");

    // libpq's format: the socket directory as the host, wildcards, a line
    // for another role first.
    let pgpass = tmp.path().join("pgpass");
    let socket = server.socket_dir().display().to_string();
    let lines = format!("*:*:*:bob:not-this\n{socket}:*:{DB}:alice:{ALICE_PASSWORD}\n");
    write_private(&pgpass, &lines, 0o600);
    // Read the way bulkrefund reads it at open: $PGPASSFILE. (The only test
    // that reads the variable.)
    std::env::set_var("PGPASSFILE", &pgpass);
    let from_env = Passfile::from_env();
    assert_eq!(from_env, Passfile::At(pgpass.clone()));
    let by_passfile = login(&server, "alice", None, &from_env);
    assert_eq!(by_passfile.origin, PasswordOrigin::Passfile(pgpass.clone()));
    assert_eq!(logged_in_as(&by_passfile), "alice");

    // Readable by others: ignored, with libpq's reason, and the connection
    // then fails saying so.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ignored = login(&server, "alice", None, &Passfile::At(pgpass.clone()));
    let PasswordOrigin::PassfileIgnored { path, why } = &ignored.origin else {
        panic!("a 0644 password file was used: {:?}", ignored.origin);
    };
    assert_eq!(path, &pgpass);
    assert!(why.contains("mode 644") && why.contains("0600"), "{why}");
    let error = ignored.connect().err().unwrap().to_string();
    assert!(
        error.contains("the server asks for a password and none was given"),
        "{error}"
    );
    assert!(error.contains("mode 644"), "{error}");
}

#[test]
fn a_wrong_password_is_said_without_it() {
    let Some(server) = PgServer::start("a_wrong_password_is_said_without_it") else {
        return;
    };
    team(&server);
    let tmp = tempfile::tempdir().unwrap();
    let wrong = "wrong-pw-9a8b7c";
    write_private(&tmp.path().join("alice.pw"), wrong, 0o600);
    let file = SecretRef::File {
        file: "alice.pw".into(),
    };
    let secret = ConfiguredSecret {
        reference: &file,
        dir: tmp.path(),
    };
    let login = login(&server, "alice", Some(secret), &Passfile::Nowhere);
    let error = login.connect().err().expect("a wrong password connected");
    let text = format!("{error} {error:?} {login:?}");
    assert!(!text.contains(wrong), "{text}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot connect to PostgreSQL at socket "),
        "{message}"
    );
    assert!(
        message.contains(&server.socket_dir().display().to_string()),
        "{message}"
    );
    assert!(message.contains("as role 'alice'"), "{message}");
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(message.contains("SQLSTATE 28P01"), "{message}");

    // No server at that socket: said so, in bulkrefund's words.
    let nowhere = format!("postgres://alice@/{DB}?host={}/none", tmp.path().display());
    let error = connect::connect(&nowhere, None, &Passfile::Nowhere)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with("as role 'alice': no server is listening there (no such socket)"),
        "{error}"
    );

    // A password in the URL: refused by the parse, before anything connects
    // (the server is real and the password right: still refused).
    let url = format!(
        "postgres://alice:{ALICE_PASSWORD}@/{DB}?host={}",
        server.socket_dir().display()
    );
    let error = connect::connect(&url, None, &Passfile::Nowhere)
        .err()
        .expect("a password in the URL was taken");
    assert!(matches!(error, PgError::PasswordInUrl), "{error:?}");
    assert!(!error.to_string().contains(ALICE_PASSWORD));
}

/// Each table's columns (name, type, nullable), and the indexes, of the
/// current schema.
fn pg_shape(client: &mut postgres::Client) -> BTreeSet<String> {
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
               FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .unwrap();
    let indexes = client
        .query(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes
              WHERE schemaname = 'public'",
            &[],
        )
        .unwrap();
    let columns = columns.iter().map(|r| {
        let (t, c, ty, null): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        format!("column {t}.{c} {ty} nullable={null}")
    });
    let indexes = indexes.iter().map(|r| {
        let (t, i, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        format!("index {t}.{i} {def}")
    });
    columns.chain(indexes).collect()
}

#[test]
fn the_schema_is_sqlites_at_the_same_version_and_migrates_once() {
    let Some(server) =
        PgServer::start("the_schema_is_sqlites_at_the_same_version_and_migrates_once")
    else {
        return;
    };
    team(&server);
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    assert_eq!(schema::version(&mut owner).unwrap(), None);
    schema::migrate(&mut owner).unwrap();
    assert_eq!(schema::version(&mut owner).unwrap(), Some(12));
    assert_eq!(schema::VERSION, 12);
    let first = pg_shape(&mut owner);
    schema::migrate(&mut owner).unwrap();
    assert_eq!(
        pg_shape(&mut owner),
        first,
        "migrating again changed the schema"
    );
    assert_eq!(schema::version(&mut owner).unwrap(), Some(12));

    // The same tables and columns as the SQLite journal at version 12 (and
    // the same NOT NULLs), plus the version table and the shared rate's.
    let mut sqlite = rusqlite::Connection::open_in_memory().unwrap();
    bulkrefund::journal::schema::migrate(&mut sqlite).unwrap();
    let sqlite_columns = sqlite_columns(&sqlite);
    let pg_columns: BTreeSet<String> = first
        .iter()
        .filter_map(|line| line.strip_prefix("column "))
        .filter(|c| !c.starts_with("bulkrefund_schema.") && !c.starts_with("rate_buckets."))
        .map(|c| {
            let (name, rest) = c.split_once(' ').unwrap();
            format!("{name} {}", rest.rsplit_once(' ').unwrap().1)
        })
        .collect();
    assert_eq!(pg_columns, sqlite_columns);
    // Every integer is a BIGINT.
    assert!(!first.iter().any(|l| l.contains(" integer ")), "{first:#?}");
    // SQLite's named indexes, its retry trigger as a unique index.
    let pg_indexes: BTreeSet<String> = first
        .iter()
        .filter_map(|l| l.strip_prefix("index "))
        .map(|l| {
            l.split_once(' ')
                .unwrap()
                .0
                .split_once('.')
                .unwrap()
                .1
                .to_owned()
        })
        .filter(|name| !name.ends_with("_pkey") && !name.ends_with("_key"))
        .collect();
    let mut expected = sqlite_indexes(&sqlite);
    expected.remove("refunds_by_retry");
    expected.insert("refunds_one_retry".into());
    assert_eq!(pg_indexes, expected);
    assert!(first.contains(
        "index refunds.refunds_one_retry CREATE UNIQUE INDEX refunds_one_retry ON \
         public.refunds USING btree (retry_of) WHERE (retry_of IS NOT NULL)"
    ));
    assert!(first.contains("column rate_buckets.tat_us bigint nullable=NO"));
    // Events are append-only, as on SQLite.
    owner
        .batch_execute(
            "INSERT INTO batches (file_name, file_hash, profile, gateway, merchant_id, header, started_at)
                  VALUES ('f', 'h', 'p', 'leshua', 'm', '[]', 't');
             INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line,
                                  amount_fen, fields, state, created_at)
                  VALUES ('leshua:m', 'R1', 'fp', 'p', 1, 1, 100, '{}', 'pending', 't');
             INSERT INTO events (refund, at, to_state, why) VALUES (1, 't', 'pending', 'imported');",
        )
        .unwrap();
    let error = owner.batch_execute("DELETE FROM events").err().unwrap();
    assert!(error
        .as_db_error()
        .unwrap()
        .message()
        .contains("events is append-only"));
    let error = owner
        .batch_execute(
            "INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line,
                                  amount_fen, fields, state, created_at, retry_of)
                  VALUES ('leshua:m', 'R2', 'fp', 'p', 1, 2, 100, '{}', 'pending', 't', 1),
                         ('leshua:m', 'R3', 'fp', 'p', 1, 3, 100, '{}', 'pending', 't', 1)",
        )
        .err()
        .unwrap();
    assert_eq!(
        error.as_db_error().unwrap().constraint(),
        Some("refunds_one_retry")
    );
}

fn sqlite_columns(conn: &rusqlite::Connection) -> BTreeSet<String> {
    let tables = sqlite_names(conn, "table");
    let mut columns = BTreeSet::new();
    for table in tables {
        let mut statement = conn
            .prepare(&format!(
                "SELECT name, \"notnull\", pk FROM pragma_table_info('{table}')"
            ))
            .unwrap();
        let rows = statement
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (name, not_null, pk) = row.unwrap();
            // A primary key column is NOT NULL in PostgreSQL.
            let nullable = if not_null == 1 || pk > 0 { "NO" } else { "YES" };
            columns.insert(format!("{table}.{name} nullable={nullable}"));
        }
    }
    columns
}

fn sqlite_indexes(conn: &rusqlite::Connection) -> BTreeSet<String> {
    sqlite_names(conn, "index")
        .into_iter()
        .filter(|name| !name.starts_with("sqlite_autoindex"))
        .collect()
}

fn sqlite_names(conn: &rusqlite::Connection, kind: &str) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = ?1 AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let names = statement
        .query_map([kind], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    names
}

#[test]
fn two_processes_migrating_at_once_leave_one_schema_and_a_newer_one_is_refused() {
    let Some(server) = PgServer::start(
        "two_processes_migrating_at_once_leave_one_schema_and_a_newer_one_is_refused",
    ) else {
        return;
    };
    team(&server);
    let server = &server;
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<Result<(), PgError>> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
                    barrier.wait();
                    schema::migrate(&mut owner)
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let mut owner = server.client("bulkrefund_owner", OWNER_PASSWORD, DB);
    let one_row: i64 = owner
        .query_one("SELECT count(*) FROM bulkrefund_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(one_row, 1);
    assert_eq!(schema::version(&mut owner).unwrap(), Some(12));

    owner
        .batch_execute("UPDATE bulkrefund_schema SET version = 13")
        .unwrap();
    let error = schema::migrate(&mut owner).err().unwrap();
    assert!(
        matches!(
            error,
            PgError::Newer {
                found: 13,
                known: 12
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("upgrade bulkrefund"), "{error}");
}

#[test]
fn a_role_without_the_grants_is_told_what_to_ask_for() {
    let Some(server) = PgServer::start("a_role_without_the_grants_is_told_what_to_ask_for") else {
        return;
    };
    team(&server);
    owner_migrates_and_grants(&server);
    server.exec("postgres", "CREATE ROLE bob LOGIN PASSWORD 'bob-pw-31c'");
    let tmp = tempfile::tempdir().unwrap();
    write_private(&tmp.path().join("bob.pw"), "bob-pw-31c", 0o600);
    let file = SecretRef::File {
        file: "bob.pw".into(),
    };
    let open = || {
        let secret = ConfiguredSecret {
            reference: &file,
            dir: tmp.path(),
        };
        pg_journal::open(&server.url("bob", DB), Some(secret), &Passfile::Nowhere)
    };

    let error = open().err().expect("bob opened the journal without grants");
    let PgError::Grants {
        role,
        missing,
        grant,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(role, "bob");
    assert_eq!(grant, "GRANT bulkrefund_operator TO bob;");
    for needed in [
        "SELECT on refunds",
        "INSERT on refunds",
        "UPDATE on refunds",
        "INSERT on events",
        "DELETE on imports",
        "UPDATE on rate_buckets",
    ] {
        assert!(missing.contains(needed), "{needed}: {missing}");
    }
    assert!(!missing.contains("UPDATE on events"), "{missing}");
    let message = error.to_string();
    assert!(message.starts_with("role 'bob' lacks what the PostgreSQL journal needs ("));
    assert!(message
        .ends_with("Ask the journal's administrator to run: GRANT bulkrefund_operator TO bob;"));

    server.exec(DB, "GRANT bulkrefund_operator TO bob");
    let opened = open().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened.person, "bob");

    // alice was a member from the start.
    std::env::set_var("PG_FOUNDATIONS_ALICE_PW_2", ALICE_PASSWORD);
    let env = SecretRef::Env {
        env: "PG_FOUNDATIONS_ALICE_PW_2".into(),
    };
    let secret = ConfiguredSecret {
        reference: &env,
        dir: tmp.path(),
    };
    let opened = pg_journal::open(&server.url("alice", DB), Some(secret), &Passfile::Nowhere)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened.person, "alice");
}
