//! Whether the role logged in may do what the journal does, checked once at
//! open with PostgreSQL's own privilege functions, so that a role without
//! them learns it at once, in one error naming the role, everything missing
//! and the GRANT to ask for — not halfway through a batch. A team's roles
//! (docs/postgres.md): one `CREATE ROLE … LOGIN` per person, each a member
//! of the group role [`OPERATOR_ROLE`], which holds the grants.

use postgres::Client;

use super::error::PgError;
use super::schema_sql::TABLE_NEEDS;

/// The group role that holds the journal's grants.
pub const OPERATOR_ROLE: &str = "bulkrefund_operator";

/// The role logged in: the person, as PostgreSQL authenticated them (who
/// recorded a batch, who approves it).
pub fn current_user(client: &mut Client) -> Result<String, PgError> {
    client
        .query_one("SELECT current_user::text", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| PgError::query("asking who is logged in", &e))
}

/// Checks every privilege the journal needs: USAGE on the schema, TEMP on
/// the database, each table's own (see [`TABLE_NEEDS`]), USAGE on every
/// sequence of the schema. Run after [`super::schema::migrate`] (the tables
/// must exist).
pub fn check(client: &mut Client) -> Result<(), PgError> {
    let role = current_user(client)?;
    let missing = missing(client)?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(PgError::Grants {
        grant: format!("GRANT {OPERATOR_ROLE} TO {};", quote_ident(&role)),
        role,
        missing: missing.join(", "),
    })
}

/// Each privilege the role lacks, as `INSERT on refunds`.
pub fn missing(client: &mut Client) -> Result<Vec<String>, PgError> {
    let doing = "checking the role's privileges";
    let (tables, privileges): (Vec<&str>, Vec<&str>) = TABLE_NEEDS
        .iter()
        .flat_map(|(table, needs)| needs.iter().map(move |need| (*table, *need)))
        .unzip();
    let rows = client
        .query(
            "SELECT 'USAGE on schema ' || current_schema()
                 WHERE NOT has_schema_privilege(current_schema(), 'USAGE')
             UNION ALL
             SELECT 'TEMPORARY on database ' || current_database()
                 WHERE NOT has_database_privilege(current_database(), 'TEMPORARY')
             UNION ALL
             SELECT x.privilege || ' on ' || x.tab
                 FROM unnest($1::text[], $2::text[]) AS x(tab, privilege)
                 WHERE NOT has_table_privilege(x.tab, x.privilege)
             UNION ALL
             SELECT 'USAGE on sequence ' || c.relname
                 FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                 WHERE c.relkind = 'S' AND s.nspname = current_schema()
                   AND NOT has_sequence_privilege(c.oid, 'USAGE')",
            &[&tables, &privileges],
        )
        .map_err(|e| PgError::query(doing, &e))?;
    rows.iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| PgError::query(doing, &e))
}

/// A role's name as SQL writes it: bare when it is lowercase letters,
/// digits and underscores, else double-quoted.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names_are_quoted_when_sql_needs_it() {
        assert_eq!(super::quote_ident("alice"), "alice");
        assert_eq!(super::quote_ident("Alice"), "\"Alice\"");
        assert_eq!(super::quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(super::quote_ident("1st"), "\"1st\"");
    }
}
