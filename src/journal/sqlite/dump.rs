//! Whole tables read out of the SQLite journal, row by row, for `journal
//! copy` (moving a journal to PostgreSQL): a table's columns in the file's
//! own order, every row in id order streamed to the caller (never the whole
//! table in memory), a table's row count, and grouped money figures per
//! batch. Only tables the journal's schema holds are read: a name is checked
//! against `sqlite_master` before it goes into any SQL.

use rusqlite::types::ValueRef;

use super::{JournalError, SqliteJournal};

/// One value of a copied row: the journal stores integers, text and NULLs
/// (no floats, no blobs; anything else is an error, not a guess).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// One grouped figure of one batch: the group's key (a state, a row status;
/// empty for NULL), how many rows and their summed fen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupFigure {
    pub batch: i64,
    pub key: String,
    pub count: i64,
    pub fen: i64,
}

impl SqliteJournal {
    /// Begins one read transaction, so that every table and figure read
    /// until [`SqliteJournal::dump_end`] comes from the same moment (a run
    /// may be writing meanwhile: WAL keeps this reader's snapshot).
    pub fn dump_begin(&self) -> Result<(), JournalError> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        // The snapshot is taken at the first read, made now.
        self.conn
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
        Ok(())
    }

    /// Ends the read transaction [`SqliteJournal::dump_begin`] began.
    pub fn dump_end(&self) -> Result<(), JournalError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// The columns of `table`, in the file's order.
    pub fn dump_columns(&self, table: &str) -> Result<Vec<String>, JournalError> {
        self.known_table(table)?;
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
        let names = stmt
            .query_map([table], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(names)
    }

    /// Every row of `table` (the `columns` given, ordered by `order_by`, a
    /// list of its columns or `rowid`), handed to `each` one at a time; the first
    /// error `each` gives ends the reading and is returned.
    pub fn dump_rows<E: From<JournalError>>(
        &self,
        table: &str,
        columns: &[String],
        order_by: &[&str],
        mut each: impl FnMut(&[Cell]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.known_table(table)?;
        let known = self.dump_columns(table)?;
        let all_known = columns
            .iter()
            .map(String::as_str)
            .chain(order_by.iter().copied())
            .all(|c| c == "rowid" || known.iter().any(|k| k == c));
        if !all_known {
            return Err(JournalError::Store(format!("a column not in the table {table}")).into());
        }
        let sql = format!(
            "SELECT {} FROM {table} ORDER BY {}",
            quoted(columns.iter().map(String::as_str)),
            quoted(order_by.iter().copied())
        );
        let mut stmt = self.conn.prepare(&sql).map_err(JournalError::from)?;
        let mut rows = stmt.query([]).map_err(JournalError::from)?;
        let mut cells = Vec::with_capacity(columns.len());
        while let Some(row) = rows.next().map_err(JournalError::from)? {
            cells.clear();
            for (i, column) in columns.iter().enumerate() {
                let cell = match row.get_ref(i).map_err(JournalError::from)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Int(n),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(_) | ValueRef::Blob(_) => {
                        return Err(JournalError::Store(format!(
                            "{table}.{column} holds a value that is neither integer nor text"
                        ))
                        .into())
                    }
                };
                cells.push(cell);
            }
            each(&cells)?;
        }
        Ok(())
    }

    /// How many rows `table` holds.
    pub fn dump_count(&self, table: &str) -> Result<i64, JournalError> {
        self.known_table(table)?;
        let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
        Ok(self.conn.query_row(&sql, [], |r| r.get(0))?)
    }

    /// Runs a grouped figure query written for both stores (columns: batch,
    /// key, count, fen), as `journal copy`'s proof builds it.
    pub fn dump_figures(&self, sql: &str) -> Result<Vec<GroupFigure>, JournalError> {
        let mut stmt = self.conn.prepare(sql)?;
        let figures = stmt
            .query_map([], |r| {
                Ok(GroupFigure {
                    batch: r.get(0)?,
                    key: r.get(1)?,
                    count: r.get(2)?,
                    fen: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(figures)
    }

    fn known_table(&self, table: &str) -> Result<(), JournalError> {
        let found: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if found == 1 {
            Ok(())
        } else {
            Err(JournalError::Store(format!(
                "the journal has no table {table}"
            )))
        }
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    // `rowid` stays bare: quoted, it would name a column.
    names
        .map(|n| match n {
            "rowid" => n.to_owned(),
            _ => format!("\"{n}\""),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
