//! The benchmark's PostgreSQL journals (`--journal postgres`): one temporary
//! server for the whole run, started as the tests start theirs
//! (tests/pg/server.rs: `initdb`, `pg_ctl`, a Unix socket in a temporary
//! directory, as `postgres` through `runuser` when root) but with fsync ON,
//! PostgreSQL's default, so that every commit waits for the disk as it would
//! on a team's server; a database per journal, set up as docs/postgres.md
//! tells a team (an owner who migrates, the operator group holding the
//! grants, one login role in it: `bench`), and the password in a PGPASSFILE.
//! What the server itself spent while a run lasted is read from its
//! processes ([`super::pg_watch`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use bulkrefund::journal::postgres::{grants, outside_async, schema};

use super::pg_server::PgServer;

const OWNER: &str = "bench_owner";
const OWNER_PASSWORD: &str = "bench-owner-pw";
/// The person the benchmark's `bulkrefund` logs in as.
pub const PERSON: &str = "bench";
const PERSON_PASSWORD: &str = "bench-pw";

/// A journal as `--journal` names it: a SQLite file, or a PostgreSQL URL
/// and the password file that logs in to it.
#[derive(Clone, Debug)]
pub struct JournalAt {
    pub arg: PathBuf,
    pub passfile: Option<PathBuf>,
}

impl JournalAt {
    pub fn file(path: &Path) -> JournalAt {
        JournalAt {
            arg: path.to_owned(),
            passfile: None,
        }
    }

    /// `--journal …` on `command`, and where its password is.
    pub fn apply(&self, command: &mut Command) {
        command.arg("--journal").arg(&self.arg);
        if let Some(passfile) = &self.passfile {
            command.env("PGPASSFILE", passfile);
        }
    }
}

/// The benchmark's server and what it knows of it.
pub struct PgBench {
    pub server: PgServer,
    passfile: PathBuf,
    /// Whether pg_stat_statements is loaded (`--pg-profile`).
    pub profiling: bool,
    _dir: tempfile::TempDir,
}

impl PgBench {
    /// Starts the server (fsync on); with `profiling`, pg_stat_statements
    /// loaded and I/O timing on, for the statement profile, and the plan of
    /// every statement slower than 20 ms logged (auto_explain; the log is
    /// kept, see [`PgBench::keep_log`]).
    pub fn start(profiling: bool) -> PgBench {
        let settings = if profiling {
            "-c shared_preload_libraries=pg_stat_statements,auto_explain \
             -c pg_stat_statements.track=all -c track_io_timing=on -c track_wal_io_timing=on \
             -c auto_explain.log_min_duration=20 -c auto_explain.log_analyze=on \
             -c auto_explain.log_buffers=on"
        } else {
            ""
        };
        outside_async(|| {
            let server = PgServer::start_with("bench", settings)
                .expect("--journal postgres needs PostgreSQL's server binaries (initdb, pg_ctl)");
            server.exec(
                "postgres",
                &format!(
                    "CREATE ROLE {OWNER} LOGIN CREATEDB PASSWORD '{OWNER_PASSWORD}';
                     CREATE ROLE {op} NOLOGIN;
                     CREATE ROLE {PERSON} LOGIN PASSWORD '{PERSON_PASSWORD}';
                     GRANT {op} TO {PERSON};",
                    op = grants::OPERATOR_ROLE
                ),
            );
            if profiling {
                server.exec("postgres", "CREATE EXTENSION pg_stat_statements");
            }
            let dir = tempfile::tempdir().unwrap();
            let passfile = dir.path().join("pgpass");
            std::fs::write(
                &passfile,
                format!(
                    "{}:5432:*:{PERSON}:{PERSON_PASSWORD}\n",
                    server.socket_dir().display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
            PgBench {
                server,
                passfile,
                profiling,
                _dir: dir,
            }
        })
    }

    /// A new, empty journal in database `db` (dropped first if there): the
    /// schema made by its owner, the operator group's grants.
    pub fn fresh_journal(&self, db: &str) -> JournalAt {
        outside_async(|| {
            self.server
                .exec("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
            self.server
                .exec("postgres", &format!("CREATE DATABASE {db} OWNER {OWNER}"));
            let mut owner = self.server.client(OWNER, OWNER_PASSWORD, db);
            schema::migrate(&mut owner).unwrap();
            owner.batch_execute(&grants::operator_grants()).unwrap();
        });
        JournalAt {
            arg: self.server.url(PERSON, db).into(),
            passfile: Some(self.passfile.clone()),
        }
    }

    pub fn drop_journal(&self, db: &str) {
        outside_async(|| {
            self.server
                .exec("postgres", &format!("DROP DATABASE IF EXISTS {db}"))
        });
    }

    /// One query's first column as text, as the superuser in `db`.
    pub fn read(&self, db: &str, sql: &str) -> Vec<Vec<String>> {
        outside_async(|| {
            let mut client = self.server.superuser(db);
            let rows = client
                .simple_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).unwrap_or("").to_owned())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    }

    /// The size of database `db` on disk, in MiB.
    pub fn database_mib(&self, db: &str) -> f64 {
        let rows = self.read("postgres", &format!("SELECT pg_database_size('{db}')"));
        rows[0][0].parse::<f64>().unwrap() / (1024.0 * 1024.0)
    }

    /// The server as the figures stand on it: its version and the settings
    /// that decide what a commit costs.
    pub fn describe(&self) -> String {
        let show = |name: &str| {
            self.read("postgres", &format!("SHOW {name}"))
                .first()
                .map_or("?".into(), |r| r[0].clone())
        };
        let (trip, commit) = self.statement_prices();
        format!(
            "PostgreSQL {} on a Unix socket; fsync={}, synchronous_commit={}, wal_sync_method={}, shared_buffers={}; data in {} ({}); a round trip (prepared `SELECT 1`) {trip:.0} µs, a commit that reaches the disk (one-row INSERT) {commit:.0} µs (medians)",
            show("server_version"),
            show("fsync"),
            show("synchronous_commit"),
            show("wal_sync_method"),
            show("shared_buffers"),
            self.server.socket_dir().display(),
            filesystem_of(self.server.socket_dir()),
        )
    }

    /// Copies the server's log (with `--pg-profile`, the slow statements'
    /// plans) to `to`, as the server is removed when the bench ends.
    pub fn keep_log(&self, to: &Path) {
        let _ = std::fs::copy(self.server.socket_dir().join("server.log"), to);
    }

    /// What one statement costs on this server, from this machine, as the
    /// superuser in a scratch table: a round trip (a prepared `SELECT 1`),
    /// and a commit that must reach the disk (a one-row INSERT, committed
    /// alone): the two prices a journal's write pays, in µs, medians.
    pub fn statement_prices(&self) -> (f64, f64) {
        outside_async(|| {
            let mut client = self.server.superuser("postgres");
            client
                .batch_execute("CREATE TABLE IF NOT EXISTS bench_commits (at bigint)")
                .unwrap();
            let select = client.prepare("SELECT 1").unwrap();
            let insert = client
                .prepare("INSERT INTO bench_commits VALUES ($1)")
                .unwrap();
            let mut median = |n: usize, f: &mut dyn FnMut(&mut postgres::Client)| {
                let mut times: Vec<f64> = (0..n)
                    .map(|_| {
                        let started = std::time::Instant::now();
                        f(&mut client);
                        started.elapsed().as_secs_f64() * 1e6
                    })
                    .collect();
                times.sort_by(f64::total_cmp);
                times[n / 2]
            };
            let trip = median(2_000, &mut |c| {
                c.query_one(&select, &[]).unwrap();
            });
            let commit = median(300, &mut |c| {
                c.execute(&insert, &[&1i64]).unwrap();
            });
            client.batch_execute("DROP TABLE bench_commits").unwrap();
            (trip, commit)
        })
    }

    /// The postmaster's pid, from its data directory.
    pub fn postmaster_pid(&self) -> u32 {
        let file = self.server.socket_dir().join("data/postmaster.pid");
        let text = std::fs::read_to_string(&file).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }
}

/// The type and device of the filesystem holding `path` (`df --output`).
fn filesystem_of(path: &Path) -> String {
    Command::new("df")
        .args(["--output=source,fstype"])
        .arg(path)
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .nth(1)
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "filesystem unknown".into())
}
