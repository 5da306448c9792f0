//! The password file, read by libpq's rules: `$PGPASSFILE`, else
//! `~/.pgpass`; lines `hostname:port:database:username:password`, `#`
//! comments, `*` matching anything in the first four fields, `\:` and `\\`
//! escaping a colon and a backslash; the first line that matches wins (the
//! names a connection answers to are the caller's: [`Key`]). A file whose mode lets
//! its group or others in (more open than 0600) is ignored with a warning,
//! as libpq ignores it.

use std::path::{Path, PathBuf};

use crate::secret::Secret;
use crate::small_files;

/// Where the password file is looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Passfile {
    /// This file (it need not exist).
    At(PathBuf),
    /// None is read.
    Nowhere,
}

impl Passfile {
    /// libpq's choice: `$PGPASSFILE`, else `~/.pgpass`, else none.
    pub fn from_env() -> Passfile {
        if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
            return Passfile::At(PathBuf::from(path));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Passfile::At(Path::new(&home).join(".pgpass")),
            None => Passfile::Nowhere,
        }
    }
}

/// What a line must match: the names the host answers to (a Unix socket's
/// directory, and `localhost` for the default one), the port, the database
/// and the role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub hosts: Vec<String>,
    pub port: u16,
    pub dbname: String,
    pub role: String,
}

/// What the password file says for a target.
#[derive(Debug)]
pub enum PassfileVerdict {
    Found {
        path: PathBuf,
        password: Secret,
    },
    /// No file, or no line matches.
    NoMatch,
    /// The file is there but not read, and why.
    Ignored {
        path: PathBuf,
        why: String,
    },
}

/// The password the file gives for `key`, if it is readable and private.
pub fn lookup(passfile: &Passfile, key: &Key) -> PassfileVerdict {
    let Passfile::At(path) = passfile else {
        return PassfileVerdict::NoMatch;
    };
    let path = path.clone();
    if !path.exists() {
        return PassfileVerdict::NoMatch;
    }
    let (text, meta) = match small_files::read(&path, small_files::MAX_KEY, "64 KiB") {
        Ok(read) => read,
        Err(e) => {
            let why = format!("it cannot be read ({})", e.brief());
            return PassfileVerdict::Ignored { path, why };
        }
    };
    if let Some(mode) = small_files::mode(&meta).filter(|mode| mode & 0o077 != 0) {
        let why = format!(
            "it is ignored, as libpq ignores it: its group or others can read it (mode \
             {mode:03o}); permissions should be u=rw (0600) or less: chmod 600 it"
        );
        return PassfileVerdict::Ignored { path, why };
    }
    match find(&text, key) {
        Some(password) => PassfileVerdict::Found {
            path,
            password: Secret::new(password),
        },
        None => PassfileVerdict::NoMatch,
    }
}

/// The password of the first line that matches `key`.
fn find(text: &str, key: &Key) -> Option<String> {
    let port = key.port.to_string();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(fields)
        .find(|[host, line_port, db, user, _]| {
            (host == "*" || key.hosts.iter().any(|h| h == host))
                && matches(line_port, &port)
                && matches(db, &key.dbname)
                && matches(user, &key.role)
        })
        .map(|[.., password]| password)
}

fn matches(field: &str, value: &str) -> bool {
    field == "*" || field == value
}

/// A line's five fields, unescaped; `None` for a line with fewer. As in
/// libpq, the password ends at the next unescaped colon.
fn fields(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => fields.push(String::new()),
            '\\' => match chars.next() {
                Some(next) => fields.last_mut()?.push(next),
                None => fields.last_mut()?.push('\\'),
            },
            c => fields.last_mut()?.push(c),
        }
    }
    if fields.len() < 5 {
        return None;
    }
    fields.truncate(5);
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hosts: &[&str]) -> Key {
        Key {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            port: 5432,
            dbname: "journal".into(),
            role: "alice".into(),
        }
    }

    #[test]
    fn escapes_and_wildcards() {
        let k = key(&["db.example"]);
        let text = "# a comment\nother:*:*:*:no\n*:5432:journal:alice:pa\\:ss\\\\word:end\n";
        assert_eq!(find(text, &k).as_deref(), Some("pa:ss\\word"));
        assert_eq!(find("*:5433:*:*:no\n", &k), None);
        assert_eq!(find("db.example:*:*:bob:no\n", &k), None);
        assert_eq!(find("too:few:fields\n", &k), None);
        assert_eq!(find("db.example:*:*:*:yes\n", &k).as_deref(), Some("yes"));
    }
}
