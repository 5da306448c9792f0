//! Every row of a journal table, every column as text (NULL as `None`), read
//! from a SQLite journal file or a PostgreSQL one, so that tests compare
//! the two stores row for row.

use std::path::Path;

/// The tables of a journal, each with the order its rows are compared in.
pub const TABLES: &[(&str, &str)] = &[
    ("batches", "id"),
    ("imports", "id"),
    ("refunds", "id"),
    ("batch_rows", "batch_id, line"),
    ("attempts", "id"),
    ("events", "id"),
    ("reconciliations", "id"),
    (
        "reconciliation_rows",
        "reconciliation, refund_id, outcome, note",
    ),
    ("approvals", "id"),
];

/// Every row of `table`, every column as text (NULL as None), in `order`.
pub fn sqlite_rows(journal: &Path, table: &str, order: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let columns = sqlite_columns(&conn, table);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM {table} ORDER BY {order}",
            columns.join(", ")
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                        rusqlite::types::ValueRef::Text(t) => {
                            Some(String::from_utf8(t.to_vec()).unwrap())
                        }
                        other => panic!("{table}: {other:?}"),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

pub fn sqlite_columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    let names = stmt.query_map([table], |r| r.get(0)).unwrap();
    names.collect::<Result<_, _>>().unwrap()
}

pub fn pg_rows(
    client: &mut postgres::Client,
    table: &str,
    columns: &[String],
    order: &str,
) -> Vec<Vec<Option<String>>> {
    // Aliased: an output column named as the table's would be what ORDER BY sorts (as text).
    let list: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c}::text AS column_{i}"))
        .collect();
    client
        .query(
            &format!("SELECT {} FROM {table} ORDER BY {order}", list.join(", ")),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (0..columns.len()).map(|i| r.get(i)).collect())
        .collect()
}
