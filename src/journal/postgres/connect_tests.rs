//! Reading a journal URL: role, host or socket directory, port, database,
//! options; a password in it refused without echoing it; malformed parts
//! named; and the names a socket answers to in the password file.

use std::path::PathBuf;

use super::*;

fn parse(url: &str) -> Target {
    Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn refused(url: &str) -> String {
    Target::parse(url)
        .err()
        .unwrap_or_else(|| panic!("{url} was taken"))
        .to_string()
}

#[test]
fn urls_name_role_host_port_and_database() {
    let t = parse("postgres://alice@db.example:6543/journal?options=-c%20search_path%3Dbr");
    assert_eq!(t.role, "alice");
    assert_eq!(t.host, Host::Tcp("db.example".into()));
    assert_eq!(t.port, 6543);
    assert_eq!(t.dbname, "journal");
    assert_eq!(t.options.as_deref(), Some("-c search_path=br"));

    let t = parse("postgresql://bob@/journal?host=/tmp/pg%20dir&port=5433");
    assert_eq!(t.host, Host::Socket(PathBuf::from("/tmp/pg dir")));
    assert_eq!((t.role.as_str(), t.port), ("bob", 5433));

    let t = parse("postgres://%2Fvar%2Frun%2Fpg/j?user=carol");
    assert_eq!(t.host, Host::Socket(PathBuf::from("/var/run/pg")));
    assert_eq!((t.role.as_str(), t.dbname.as_str()), ("carol", "j"));

    let t = parse("postgres://dave@[::1]:5432");
    assert_eq!(t.host, Host::Tcp("::1".into()));
    // libpq's defaults: the default socket, port 5432, the database named
    // as the role.
    let t = parse("postgres://erin@");
    assert_eq!(t.host, Host::Socket(PathBuf::from(DEFAULT_SOCKET_DIR)));
    assert_eq!((t.port, t.dbname.as_str()), (5432, "erin"));
}

#[test]
fn a_password_in_the_url_is_refused_without_echoing_it() {
    for url in [
        "postgres://alice:hunter2@db/journal",
        "postgres://alice:@db/journal",
        "postgres://alice@db/journal?password=hunter2",
        "postgres://alice:hunter2/x@db/journal",
        "postgres://alice:2024/hunter2@db.example.com/journal",
    ] {
        let message = refused(url);
        assert!(
            message.contains("carries a password, which is refused"),
            "{message}"
        );
        assert!(message.contains("journal_password = { env"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn malformed_urls_name_the_part() {
    assert!(refused("mysql://x").contains("must begin with postgres://"));
    assert!(refused("postgres://a@h:99999/j").contains("the port is not a number"));
    // A password cut short by a slash reads as a port: not echoed either.
    let message = refused("postgres://alice:hunter/2@h/j");
    assert!(!message.contains("hunter"), "{message}");
    assert!(refused("postgres://a@h/j?sslmode=require").contains("no TLS"));
    assert!(refused("postgres://a@h/j?colour=blue").contains("'colour' is not known"));
    assert!(refused("postgres://a@h1,h2/j").contains("several hosts"));
    assert!(refused("postgres://a%zz@h/j").contains("two hex digits"));
}

#[test]
fn a_socket_answers_the_password_file_to_its_directory_or_localhost_when_default() {
    let own = parse("postgres://alice@/j?host=/tmp/pg").passfile_key();
    assert_eq!(own.hosts, ["/tmp/pg"]);
    let default = parse("postgres://alice@/j").passfile_key();
    assert_eq!(default.hosts, [DEFAULT_SOCKET_DIR, "localhost"]);
    let tcp = parse("postgres://alice@db:5433/j").passfile_key();
    assert_eq!((tcp.hosts, tcp.port), (vec!["db".to_owned()], 5433));
}
