//! A real PostgreSQL server for a test: `initdb` in a temporary directory
//! (password authentication, scram-sha-256, for every connection), started
//! by `pg_ctl` listening only on a Unix socket in that directory, with
//! fsync off for the tests (`start_with` takes other settings: the
//! benchmark's server keeps fsync on); stopped (`-m immediate`) and removed on drop, also when the
//! test panics. As root the server runs as the `postgres` user, through
//! `runuser -u postgres --` (PostgreSQL refuses to run as root).
//!
//! The server binaries are `$BULKREFUND_PG_BIN` (a directory) when set, else
//! the newest `/usr/lib/postgresql/*/bin`, else `initdb` on the PATH. Without
//! them the test writes one line, "skipped: <test>: …", to standard error
//! and passes, unless `BULKREFUND_REQUIRE_REAL` is set and not `0` (CI),
//! where it fails.

// Not every test file uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The superuser initdb makes, and its password.
pub const SUPERUSER: &str = "bulkrefund_super";
const SUPER_PASSWORD: &str = "super-secret-for-tests";

pub struct PgServer {
    /// Dropped after the server is stopped (see `Drop`).
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as, when the test runs as root.
    run_as: Option<&'static str>,
}

impl PgServer {
    /// Starts a server for `test`, or says the test is skipped and returns
    /// `None` where no server binaries exist.
    pub fn start(test: &str) -> Option<PgServer> {
        PgServer::start_with(test, "-c fsync=off")
    }

    /// [`PgServer::start`] with `settings`, more of the server's options
    /// (`-c name=value …`) than where it listens: fsync stays on unless they
    /// turn it off.
    pub fn start_with(test: &str, settings: &str) -> Option<PgServer> {
        let Some(bin) = find_binaries() else {
            let why = "no PostgreSQL server binaries (initdb) found";
            if require_real() {
                panic!("{test}: {why}, and BULKREFUND_REQUIRE_REAL is set");
            }
            say_skipped(&format!("{test}: {why}"));
            return None;
        };
        let dir = tempfile::Builder::new().prefix("pg").tempdir().unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        let run_as = root.then_some("postgres");
        let pwfile = dir.path().join("superuser-password");
        std::fs::write(&pwfile, SUPER_PASSWORD).unwrap();
        if root {
            chown_to_postgres(dir.path());
            chown_to_postgres(&pwfile);
        }
        let server = PgServer { dir, bin, run_as };
        let data = server.data_dir();
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-A".as_ref(),
                "scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let options = format!(
            "-c listen_addresses='' -k {} {settings}",
            server.socket_dir().display()
        );
        let log = server.dir.path().join("server.log");
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "120".as_ref(),
                "start".as_ref(),
            ],
        );
        Some(server)
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A journal URL for `role` on `db`, over the socket.
    pub fn url(&self, role: &str, db: &str) -> String {
        format!(
            "postgres://{role}@/{db}?host={}",
            self.socket_dir().display()
        )
    }

    /// A connection as the superuser to `db`.
    pub fn superuser(&self, db: &str) -> postgres::Client {
        self.client(SUPERUSER, SUPER_PASSWORD, db)
    }

    /// How to connect as the superuser to `db`.
    pub fn superuser_config(&self, db: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .user(SUPERUSER)
            .password(SUPER_PASSWORD)
            .dbname(db);
        config
    }

    /// A connection as `role` with `password` to `db`, made directly with
    /// the driver (test setup, not the code under test).
    pub fn client(&self, role: &str, password: &str, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.socket_dir())
            .user(role)
            .password(password)
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting as {role} to {db}: {e}"))
    }

    /// Runs `sql` as the superuser in `db`.
    pub fn exec(&self, db: &str, sql: &str) {
        self.superuser(db)
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server's programs (as `postgres` when root); its
    /// failure fails the test with its output.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let exe = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            output.status.success(),
            "{program} failed ({}): {}{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let exe = self.bin.join("pg_ctl");
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        // Not asserted: a drop during a panic must not panic again.
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The directory of `initdb` and `pg_ctl`.
fn find_binaries() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("BULKREFUND_PG_BIN") {
        let dir = PathBuf::from(named);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| dir.join("initdb").is_file())
}

fn chown_to_postgres(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let (uid, gid) = postgres_ids();
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: chown takes a NUL-terminated path, which c_path is.
    let changed = unsafe { libc::chown(c_path.as_ptr(), uid, gid) };
    assert_eq!(changed, 0, "chown {}", path.display());
}

/// The uid and gid of the user `postgres`, looked up once: `getpwnam`
/// answers in static storage that a concurrent call overwrites, and the
/// tests of one binary start their servers on many threads at once (a
/// server once got a directory chowned to the wrong ids: initdb's
/// "Permission denied").
fn postgres_ids() -> (libc::uid_t, libc::gid_t) {
    static IDS: std::sync::OnceLock<(libc::uid_t, libc::gid_t)> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| {
        // SAFETY: getpwnam returns null or a pointer into static storage,
        // read at once; only this initialisation, which runs once and
        // alone, calls it.
        unsafe {
            let pw = libc::getpwnam(c"postgres".as_ptr());
            assert!(
                !pw.is_null(),
                "running as root, but there is no user 'postgres'"
            );
            ((*pw).pw_uid, (*pw).pw_gid)
        }
    })
}

/// `BULKREFUND_REQUIRE_REAL` set to anything but empty or `0` (CI): missing
/// server binaries fail the test instead of skipping it.
fn require_real() -> bool {
    std::env::var("BULKREFUND_REQUIRE_REAL").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// "skipped: ..." on the process's standard error itself: libtest captures
/// what `eprintln!` writes, not what goes to the stderr handle, so the line
/// is seen in `cargo test`'s output.
fn say_skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {why}");
}
