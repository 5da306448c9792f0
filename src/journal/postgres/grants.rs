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
/// sequence of the schema. A table not created yet is not checked: the
/// journal's open checks before migrating (a role without the right to read
/// the version gets this error, not a bare "permission denied") and again
/// after.
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
                 JOIN pg_class c ON c.relname = x.tab AND c.relkind IN ('r', 'p')
                 JOIN pg_namespace s ON s.oid = c.relnamespace AND s.nspname = current_schema()
                 WHERE NOT has_table_privilege(c.oid, x.privilege)
             UNION ALL
             SELECT 'USAGE on sequence ' || c.relname
                 FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                 WHERE s.nspname = current_schema()
                   -- CASE, so that only a sequence is asked about (the
                   -- planner may evaluate an AND's terms in any order).
                   AND CASE WHEN c.relkind = 'S'
                            THEN NOT has_sequence_privilege(c.oid, 'USAGE')
                            ELSE false END",
            &[&tables, &privileges],
        )
        .map_err(|e| PgError::query(doing, &e))?;
    rows.iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| PgError::query(doing, &e))
}

/// The statements that give [`OPERATOR_ROLE`] what the journal needs, for
/// the journal's owner to run once the schema exists (docs/postgres.md, the
/// team's setup). The schema is `public`, PostgreSQL's default.
pub fn operator_grants() -> String {
    let mut sql = format!("GRANT USAGE ON SCHEMA public TO {OPERATOR_ROLE};\n");
    for (table, needs) in TABLE_NEEDS {
        sql += &format!(
            "GRANT {} ON {table} TO {OPERATOR_ROLE};\n",
            needs.join(", ")
        );
    }
    sql += &format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {OPERATOR_ROLE};\n");
    sql
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
