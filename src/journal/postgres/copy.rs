//! `journal copy`'s PostgreSQL side: an SQLite journal copied whole into an
//! empty PostgreSQL journal, and proven, in ONE transaction. Every table the
//! journal holds is streamed row by row from SQLite ([`crate::journal::sqlite::dump`])
//! into `COPY … FROM STDIN` (text format, a small buffer at a time: a
//! million refunds never sit in memory), every column, the ids kept, so
//! that retry chains, batch rows, events, attempts, reconciliation rows and
//! approvals point at the same rows; each identity then continues past the
//! largest id copied. Before COMMIT the copy is proven: every table's row
//! count, and per batch the same money figures ([`figures`]) computed on
//! both sides by the same SQL text; any difference rolls everything back.
//! A target that holds anything already is refused: a copy is into an empty
//! journal, never a merge.

use std::io::Write;

use postgres::Client;

use super::error::describe;
use super::PgError;
use crate::journal::sqlite::dump::{Cell, GroupFigure};
use crate::journal::sqlite::SqliteJournal;
use crate::journal::state::{sql_list, State};
use crate::journal::{money_rules, JournalError};

/// The tables copied, in an order their references allow, each with the
/// order its rows are read in (the journal's own order of writing them).
pub const COPIED_TABLES: &[(&str, &[&str])] = &[
    ("batches", &["id"]),
    ("imports", &["id"]),
    ("refunds", &["id"]),
    ("batch_rows", &["batch_id", "line"]),
    ("attempts", &["id"]),
    ("events", &["id"]),
    ("reconciliations", &["id"]),
    ("reconciliation_rows", &["rowid"]),
    ("approvals", &["id"]),
];

/// A money figure computed per batch on both sides: the rows of `from`
/// (its batch column `batch`) that `only` keeps, grouped by `key`, counted
/// and their `fen` summed.
pub struct Figure {
    pub name: &'static str,
    pub from: &'static str,
    pub batch: &'static str,
    pub key: &'static str,
    pub fen: &'static str,
    /// A condition on the rows ("" for all), built from money_rules.rs.
    pub only: String,
}

/// The distinct refunds a batch's rows name: the intents, each the head of
/// its chain (money_rules.rs), with its state and amount.
const INTENTS: &str = "(SELECT DISTINCT i.batch_id, r.state, r.amount_fen, r.id \
                       FROM batch_rows i JOIN refunds r ON r.id = i.refund) AS intents";

/// The figures the proof compares: every refund by state, every row by its
/// verdict, every intent by its head's state (which also proves the rows
/// still point at the same refunds), and the intents that count as
/// refunded, as what may still leave and as not settled, by the states
/// money_rules.rs lists, the one place that defines them.
pub fn figures() -> Vec<Figure> {
    let intents_in = |name, states: &[State]| Figure {
        name,
        from: INTENTS,
        batch: "batch_id",
        key: "''",
        fen: "amount_fen",
        only: format!("WHERE state IN {}", sql_list(states)),
    };
    vec![
        Figure {
            name: "refunds by state",
            from: "refunds",
            batch: "batch_id",
            key: "state",
            fen: "amount_fen",
            only: String::new(),
        },
        Figure {
            name: "rows by row status",
            from: "batch_rows",
            batch: "batch_id",
            key: "row_status",
            fen: "fen",
            only: String::new(),
        },
        Figure {
            name: "intents by state",
            from: INTENTS,
            batch: "batch_id",
            key: "state",
            fen: "amount_fen",
            only: String::new(),
        },
        intents_in("intents refunded", &money_rules::REFUNDED),
        intents_in("intents that may still leave", &money_rules::MAY_LEAVE),
        intents_in("intents not settled", &money_rules::NOT_SETTLED),
    ]
}

/// The one SQL text of a figure, read alike by SQLite and PostgreSQL:
/// columns batch, key ('' for NULL), count, fen.
pub fn figure_sql(figure: &Figure) -> String {
    format!(
        "SELECT {batch}, COALESCE({key}, ''), COUNT(*), CAST(COALESCE(SUM({fen}), 0) AS BIGINT) \
         FROM {from} {only} GROUP BY {batch}, COALESCE({key}, '') ORDER BY 1, 2",
        batch = figure.batch,
        key = figure.key,
        fen = figure.fen,
        from = figure.from,
        only = figure.only
    )
}

/// Why a copy did not happen. In every case nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the PostgreSQL journal is not empty ({holds}): nothing was copied; a copy goes into an empty journal")]
    NotEmpty { holds: String },
    #[error(
        "the copy differs from the SQLite journal, so it was rolled back and nothing was copied"
    )]
    Differs(Vec<Difference>),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Pg(#[from] PgError),
}

/// One figure that differs: where (a table, or a batch), which, and the two values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub place: String,
    pub figure: String,
    pub sqlite: String,
    pub postgres: String,
}

/// What the proof found equal: each table's rows, and each figure per batch.
#[derive(Clone, Debug, Default)]
pub struct Proof {
    pub tables: Vec<(&'static str, i64)>,
    /// The first figure ([`figures`]: refunds by state) per batch.
    pub refunds: Vec<GroupFigure>,
}

/// Copies `source` into the PostgreSQL journal of `client` (its schema
/// current) and proves the copy; commits only when the proof holds.
pub fn copy(client: &mut Client, source: &SqliteJournal) -> Result<Proof, CopyError> {
    source.dump_begin()?;
    let copied = copy_in_transaction(client, source);
    source.dump_end()?;
    copied
}

fn copy_in_transaction(client: &mut Client, source: &SqliteJournal) -> Result<Proof, CopyError> {
    let mut tx = client.transaction().map_err(query("beginning the copy"))?;
    // No one writes into the target while it is filled and proven.
    let lock = COPIED_TABLES.iter().map(|(t, _)| *t).collect::<Vec<_>>();
    tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", lock.join(", ")))
        .map_err(query("locking the journal's tables"))?;
    refuse_unless_empty(&mut tx)?;
    for (table, order_by) in COPIED_TABLES {
        copy_table(&mut tx, source, table, order_by)?;
    }
    let proof = prove(&mut tx, source)?;
    tx.commit().map_err(query("committing the copy"))?;
    Ok(proof)
}

fn refuse_unless_empty(tx: &mut postgres::Transaction<'_>) -> Result<(), CopyError> {
    let mut holds = Vec::new();
    for (table, _) in COPIED_TABLES {
        let rows = pg_count(tx, table)?;
        if rows > 0 {
            holds.push(format!("{rows} rows in {table}"));
        }
    }
    if holds.is_empty() {
        Ok(())
    } else {
        Err(CopyError::NotEmpty {
            holds: holds.join(", "),
        })
    }
}

/// Streams one table through COPY, then sets its identity past the last id.
fn copy_table(
    tx: &mut postgres::Transaction<'_>,
    source: &SqliteJournal,
    table: &str,
    order_by: &[&str],
) -> Result<(), CopyError> {
    const CHUNK: usize = 256 * 1024;
    let columns = source.dump_columns(table)?;
    let list = columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let doing = format!("copying the table {table}");
    let mut writer = tx
        .copy_in(&format!("COPY {table} ({list}) FROM STDIN"))
        .map_err(query(&doing))?;
    let mut buffer = Vec::with_capacity(CHUNK + 4096);
    source.dump_rows(table, &columns, order_by, |cells| {
        encode_line(cells, &mut buffer);
        if buffer.len() >= CHUNK {
            writer.write_all(&buffer).map_err(io(&doing))?;
            buffer.clear();
        }
        Ok::<(), CopyError>(())
    })?;
    writer.write_all(&buffer).map_err(io(&doing))?;
    writer.finish().map_err(query(&doing))?;
    if columns.iter().any(|c| c == "id") {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) \
                 FROM {table} HAVING MAX(id) IS NOT NULL"
            ),
            &[],
        )
        .map_err(query(&format!("continuing the ids of {table}")))?;
    }
    Ok(())
}

/// One row in COPY's text format: tab-separated, `\N` for NULL, and the
/// backslash, tab, newline and carriage return escaped.
fn encode_line(cells: &[Cell], out: &mut Vec<u8>) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match cell {
            Cell::Null => out.extend_from_slice(b"\\N"),
            Cell::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Cell::Text(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        other => out.push(other),
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

/// Every table's count and every figure on both sides, inside the
/// transaction; the first difference and all others are returned together.
fn prove(tx: &mut postgres::Transaction<'_>, source: &SqliteJournal) -> Result<Proof, CopyError> {
    let mut differences = Vec::new();
    let mut proof = Proof::default();
    for (table, _) in COPIED_TABLES {
        let (ours, theirs) = (source.dump_count(table)?, pg_count(tx, table)?);
        if ours != theirs {
            differences.push(Difference {
                place: format!("table {table}"),
                figure: "rows".into(),
                sqlite: ours.to_string(),
                postgres: theirs.to_string(),
            });
        }
        proof.tables.push((table, ours));
    }
    for (i, figure) in figures().iter().enumerate() {
        let sql = figure_sql(figure);
        let ours = source.dump_figures(&sql)?;
        let theirs = pg_figures(tx, &sql, figure.name)?;
        differences.extend(compare(figure.name, &ours, &theirs));
        if i == 0 {
            proof.refunds = ours;
        }
    }
    if differences.is_empty() {
        Ok(proof)
    } else {
        Err(CopyError::Differs(differences))
    }
}

/// The differences of one figure, group by group (a group missing on one
/// side counts as 0 rows, 0 fen there).
fn compare(name: &str, ours: &[GroupFigure], theirs: &[GroupFigure]) -> Vec<Difference> {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(i64, &str), [(i64, i64); 2]> = BTreeMap::new();
    for (side, figures) in [ours, theirs].into_iter().enumerate() {
        for f in figures {
            groups.entry((f.batch, f.key.as_str())).or_default()[side] = (f.count, f.fen);
        }
    }
    groups
        .into_iter()
        .filter(|(_, [a, b])| a != b)
        .map(|((batch, key), [a, b])| Difference {
            place: format!("batch {batch}"),
            figure: match key {
                "" => name.to_owned(),
                key => format!("{name} '{key}'"),
            },
            sqlite: format!("{} rows, {} fen", a.0, a.1),
            postgres: format!("{} rows, {} fen", b.0, b.1),
        })
        .collect()
}

fn pg_count(tx: &mut postgres::Transaction<'_>, table: &str) -> Result<i64, CopyError> {
    let row = tx
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .map_err(query(&format!("counting the rows of {table}")))?;
    Ok(row.get(0))
}

fn pg_figures(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    name: &str,
) -> Result<Vec<GroupFigure>, CopyError> {
    let rows = tx
        .query(sql, &[])
        .map_err(query(&format!("reading the figure {name}")))?;
    Ok(rows
        .iter()
        .map(|r| GroupFigure {
            batch: r.get(0),
            key: r.get(1),
            count: r.get(2),
            fen: r.get(3),
        })
        .collect())
}

fn query(doing: &str) -> impl Fn(postgres::Error) -> CopyError + '_ {
    move |e| {
        CopyError::Pg(PgError::Query {
            doing: doing.to_owned(),
            why: describe(&e),
        })
    }
}

fn io(doing: &str) -> impl Fn(std::io::Error) -> CopyError + '_ {
    move |e| {
        CopyError::Pg(PgError::Query {
            doing: doing.to_owned(),
            why: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_escapes_what_copy_text_reads_specially() {
        let mut out = Vec::new();
        let cells = [
            Cell::Int(-7),
            Cell::Null,
            Cell::Text("a\tb\nc\rd\\e \\N 退".into()),
            Cell::Text(String::new()),
        ];
        encode_line(&cells, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "-7\t\\N\ta\\tb\\nc\\rd\\\\e \\\\N 退\t\n"
        );
    }

    #[test]
    fn a_difference_names_the_batch_the_figure_and_both_values() {
        let figure = |count, fen| GroupFigure {
            batch: 2,
            key: "succeeded".into(),
            count,
            fen,
        };
        let ours = [figure(3, 300)];
        let theirs = [figure(3, 301)];
        assert_eq!(compare("refunds by state", &ours, &ours), vec![]);
        assert_eq!(
            compare("refunds by state", &ours, &theirs),
            vec![Difference {
                place: "batch 2".into(),
                figure: "refunds by state 'succeeded'".into(),
                sqlite: "3 rows, 300 fen".into(),
                postgres: "3 rows, 301 fen".into(),
            }]
        );
        // A group on one side only is a difference against nothing.
        assert_eq!(compare("refunds by state", &ours, &[]).len(), 1);
    }
}
