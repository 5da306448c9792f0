//! Where a PostgreSQL journal is and how bulkrefund logs in to it: a
//! `postgres://` or `postgresql://` URL read into a [`Target`] (role, host or
//! socket directory, port, database, options), the password found in the one
//! order allowed — the configured secret, else the password file
//! ([`super::passfile`]) — and the connection made. A password written in the
//! URL is refused before anything connects: it would sit in shell history and
//! in the process list. Connections are plain (no TLS): over a Unix socket or
//! a trusted network, as docs/postgres.md says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{describe, PgError};
use super::passfile::{self, Passfile, PassfileVerdict};
use crate::secret::{Secret, SecretRef};

/// Debian's (and libpq's usual) socket directory, used when the URL names
/// no host.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
pub const DEFAULT_PORT: u16 = 5432;
/// How long a connection may take before it is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// The directory holding the server's socket (`.s.PGSQL.<port>`).
    Socket(PathBuf),
    /// A host name or address, over TCP.
    Tcp(String),
}

/// A PostgreSQL journal's address, as read from its URL. It never holds a
/// password (a URL with one is refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub role: String,
    pub host: Host,
    pub port: u16,
    pub dbname: String,
    /// Server options (`-c search_path=…`), from `?options=`.
    pub options: Option<String>,
}

impl Target {
    /// Reads `postgres://[role@][host][:port][/dbname][?param=value&…]`.
    /// The host may be a percent-encoded socket directory, or given as
    /// `?host=/socket/dir`; parameters are `host`, `port`, `dbname`, `user`,
    /// `options`, and `sslmode` = `disable` or `prefer` (no TLS is spoken).
    /// Errors name the part that is wrong, never the URL.
    pub fn parse(url: &str) -> Result<Target, PgError> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it must begin with postgres:// or postgresql://"))?;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
        // A password holding a '/' puts its '@' after the first '/': the
        // "host" would be the role and the "database" the password's end.
        if authority.contains(':') && path.contains('@') {
            return Err(PgError::PasswordInUrl);
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let mut role = match userinfo {
            Some(info) if info.contains(':') => return Err(PgError::PasswordInUrl),
            Some(info) => Some(decode(info, "the role")?),
            None => None,
        };
        let (mut host, mut port) = split_host_port(hostport)?;
        let mut dbname = Some(decode(path, "the database name")?).filter(|d| !d.is_empty());
        let mut options = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key, "a parameter's name")?;
            if key == "password" {
                return Err(PgError::PasswordInUrl);
            }
            let value = decode(value, &format!("the parameter '{key}'"))?;
            match key.as_str() {
                "host" => host = Some(value),
                "port" => port = Some(parse_port(&value)?),
                "dbname" => dbname = Some(value),
                "user" => role = Some(value),
                "options" => options = Some(value),
                "sslmode" if value == "disable" || value == "prefer" => {}
                "sslmode" => {
                    return Err(bad(format!(
                        "sslmode={value} is not supported: bulkrefund speaks no TLS to \
                         PostgreSQL; connect over a Unix socket or a trusted network \
                         (sslmode=disable)"
                    )))
                }
                "application_name" | "connect_timeout" => {}
                other => return Err(bad(format!("the parameter '{other}' is not known"))),
            }
        }
        let role = match role.filter(|r| !r.is_empty()) {
            Some(role) => role,
            None => os_user().ok_or_else(|| {
                bad("it names no role, and the user running bulkrefund has no name")
            })?,
        };
        let host = match host.filter(|h| !h.is_empty()) {
            None => Host::Socket(PathBuf::from(DEFAULT_SOCKET_DIR)),
            Some(h) if h.starts_with('/') => Host::Socket(PathBuf::from(h)),
            Some(h) if h.contains(',') => {
                return Err(bad("several hosts are not supported: name one"))
            }
            Some(h) => Host::Tcp(h),
        };
        Ok(Target {
            dbname: dbname.unwrap_or_else(|| role.clone()),
            role,
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            options,
        })
    }

    /// What a password file's line must match for this target: a Unix
    /// socket answers to its directory, and to `localhost` when that is the
    /// default directory (libpq's rule).
    pub fn passfile_key(&self) -> passfile::Key {
        let hosts = match &self.host {
            Host::Tcp(host) => vec![host.clone()],
            Host::Socket(dir) => {
                let mut names = vec![dir.to_string_lossy().into_owned()];
                if dir == Path::new(DEFAULT_SOCKET_DIR) {
                    names.push("localhost".to_owned());
                }
                names
            }
        };
        passfile::Key {
            hosts,
            port: self.port,
            dbname: self.dbname.clone(),
            role: self.role.clone(),
        }
    }

    /// Where the server is, for messages: `socket /dir (port 5432)` or `host:port`.
    pub fn at(&self) -> String {
        match &self.host {
            Host::Socket(dir) => format!(
                "socket {} (port {}), database '{}'",
                dir.display(),
                self.port,
                self.dbname
            ),
            Host::Tcp(host) => format!("{host}:{}, database '{}'", self.port, self.dbname),
        }
    }
}

/// Where a password came from, so that a caller (and a test) can say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordOrigin {
    /// The configured `{ env = … }` / `{ file = … }` secret.
    Secret,
    /// A line of this password file.
    Passfile(PathBuf),
    /// No password: the server may not ask for one (peer or trust).
    None,
    /// The password file was there but ignored, and why (also said as a
    /// warning on standard error).
    PassfileIgnored { path: PathBuf, why: String },
}

/// A login: the target, and its password if any.
#[derive(Debug)]
pub struct Login {
    pub target: Target,
    password: Option<Secret>,
    pub origin: PasswordOrigin,
}

/// The configured secret of the journal's password (`journal_password =
/// { env = … }` or `{ file = … }`) and the directory a file is relative to.
pub struct ConfiguredSecret<'a> {
    pub reference: &'a SecretRef,
    pub dir: &'a Path,
}

/// The name of the setting the secret is given by, for its errors.
pub const PASSWORD_SETTING: &str = "journal_password";

impl Login {
    /// Finds the password of `target`: the configured secret when there is
    /// one (read as a gateway key is: errors never echo it), else the
    /// matching line of the password file, else none.
    pub fn resolve(
        target: Target,
        secret: Option<ConfiguredSecret<'_>>,
        passfile: &Passfile,
    ) -> Result<Login, PgError> {
        if let Some(secret) = secret {
            let password = SecretRef::read(
                Some(secret.reference),
                PASSWORD_SETTING,
                secret.dir,
                "journal",
            )?;
            return Ok(Login {
                target,
                password: Some(password),
                origin: PasswordOrigin::Secret,
            });
        }
        let (password, origin) = match passfile::lookup(passfile, &target.passfile_key()) {
            PassfileVerdict::Found { path, password } => {
                (Some(password), PasswordOrigin::Passfile(path))
            }
            PassfileVerdict::Ignored { path, why } => {
                crate::say!("Warning: the password file {}: {why}", path.display());
                (None, PasswordOrigin::PassfileIgnored { path, why })
            }
            PassfileVerdict::NoMatch => (None, PasswordOrigin::None),
        };
        Ok(Login {
            target,
            password,
            origin,
        })
    }

    /// Connects. Errors name the role and where, and say why in words the
    /// driver does not choose.
    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        let target = &self.target;
        let mut config = postgres::Config::new();
        config
            .user(&target.role)
            .dbname(&target.dbname)
            .port(target.port)
            .application_name("bulkrefund")
            .connect_timeout(CONNECT_TIMEOUT);
        match &target.host {
            Host::Socket(dir) => config.host_path(dir),
            Host::Tcp(host) => config.host(host),
        };
        if let Some(options) = &target.options {
            config.options(options);
        }
        if let Some(password) = &self.password {
            config.password(password.expose());
        }
        config
            .connect(postgres::NoTls)
            .map_err(|error| PgError::Connect {
                role: target.role.clone(),
                at: target.at(),
                why: self.why_not_connected(&error),
            })
    }

    fn why_not_connected(&self, error: &postgres::Error) -> String {
        // The driver says it only as the cause of a configuration error.
        let asked_for_missing_password = self.password.is_none()
            && std::error::Error::source(error)
                .is_some_and(|c| c.to_string() == "password missing");
        if asked_for_missing_password {
            let hint = match &self.origin {
                PasswordOrigin::PassfileIgnored { path, why } => {
                    format!(" (the password file {} was ignored: {why})", path.display())
                }
                _ => String::new(),
            };
            return format!(
                "the server asks for a password and none was given: set {PASSWORD_SETTING} = \
                 {{ env = \"VAR\" }} or {{ file = \"path\" }}, or add a line to the password \
                 file{hint}"
            );
        }
        describe(error)
    }
}

/// Reads the URL, finds the password and connects: what opening a
/// PostgreSQL journal begins with.
pub fn connect(
    url: &str,
    secret: Option<ConfiguredSecret<'_>>,
    passfile: &Passfile,
) -> Result<(postgres::Client, Login), PgError> {
    let login = Login::resolve(Target::parse(url)?, secret, passfile)?;
    let client = login.connect()?;
    Ok((client, login))
}

fn bad(why: impl Into<String>) -> PgError {
    PgError::Url { why: why.into() }
}

/// `host`, `host:port`, `[v6]:port` or nothing.
fn split_host_port(hostport: &str) -> Result<(Option<String>, Option<u16>), PgError> {
    if hostport.is_empty() {
        return Ok((None, None));
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("an IPv6 address opened with '[' is never closed"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| bad("text after the IPv6 address"))?,
            ),
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (decode(host, "the host")?, Some(port)),
            None => (decode(hostport, "the host")?, None),
        }
    };
    let port = port.map(parse_port).transpose()?;
    Ok((Some(host).filter(|h| !h.is_empty()), port))
}

/// A port. The text is not repeated in the error: in a URL such as
/// `postgres://alice:pa/ss@host` the part after the colon is a password
/// (cut short by the slash), not a port.
fn parse_port(text: &str) -> Result<u16, PgError> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("the port is not a number from 1 to 65535"))
}

/// Percent-decoding, as URLs write `/` in a socket directory (`%2Ftmp`).
fn decode(text: &str, what: &str) -> Result<String, PgError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("{what} has a '%' not followed by two hex digits")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("{what} is not UTF-8 once decoded")))
}

/// The name of the user running bulkrefund, from the password database as
/// libpq takes it (not `$USER`, which anyone can set): the default role.
fn os_user() -> Option<String> {
    // SAFETY: getpwuid returns null or a pointer into static storage, read at
    // once and copied out.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_str()
            .ok()
            .map(str::to_owned)
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
