//! The day a refund counts for ([`crate::journal::days`]) as SQL over
//! `refunds`: the expressions built from [`COUNTED_BY`], and how a row that
//! selected them becomes a [`Counted`]. The rest of the day's definition is
//! re-exported, so `super::days` is the whole of it here.

pub use crate::journal::days::*;

/// SQL over `refunds` (unqualified columns): the journal time (RFC 3339 UTC,
/// compared as text) a refund counts by: `COALESCE` over [`COUNTED_BY`].
pub const COUNTED_AT: &str = "COALESCE(gateway_success_at, finished_at, first_sent_at, created_at)";

/// SQL over `refunds`: 1 when [`COUNTED_AT`] is bulkrefund's clock, not the
/// gateway's (the first of [`COUNTED_BY`] is missing).
pub const COUNTED_BY_OUR_CLOCK: &str = "(gateway_success_at IS NULL)";

/// [`COUNTED_AT`] over the refunds table named `alias` in a join.
pub fn counted_at(alias: &str) -> String {
    qualified(COUNTED_AT, alias)
}

/// [`COUNTED_BY_OUR_CLOCK`] over the refunds table named `alias` in a join.
pub fn counted_by_our_clock(alias: &str) -> String {
    qualified(COUNTED_BY_OUR_CLOCK, alias)
}

fn qualified(sql: &str, alias: &str) -> String {
    let mut out = sql.to_owned();
    for column in COUNTED_BY {
        out = out.replace(column, &format!("{alias}.{column}"));
    }
    out
}

impl Counted {
    /// From the two columns a query selected: [`COUNTED_AT`] and
    /// [`COUNTED_BY_OUR_CLOCK`].
    pub(crate) fn read(row: &rusqlite::Row, at: usize, ours: usize) -> rusqlite::Result<Counted> {
        Ok(Counted {
            at: row.get(at)?,
            basis: if row.get::<_, bool>(ours)? {
                DayBasis::Bulkrefund
            } else {
                DayBasis::Gateway
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_is_the_neutral_definition() {
        assert_eq!(COUNTED_AT, format!("COALESCE({})", COUNTED_BY.join(", ")));
        assert_eq!(COUNTED_BY_OUR_CLOCK, format!("({} IS NULL)", COUNTED_BY[0]));
    }

    #[test]
    fn one_expression_whatever_the_alias() {
        assert_eq!(
            counted_at("f"),
            "COALESCE(f.gateway_success_at, f.finished_at, f.first_sent_at, f.created_at)"
        );
        assert_eq!(counted_by_our_clock("f"), "(f.gateway_success_at IS NULL)");
    }
}
