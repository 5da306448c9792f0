//! The day a refund counts for ([`crate::journal::days`]) as PostgreSQL
//! over `refunds`: the expressions are built here from
//! [`COUNTED_BY`], the one definition both stores read, never typed out
//! again. Times are RFC 3339 UTC text, compared as text (`COLLATE "C"`:
//! byte order, as SQLite compares them).

use crate::journal::days::COUNTED_BY;

/// The journal time a refund counts by (`COALESCE` over [`COUNTED_BY`]),
/// over the refunds table named `alias` (`""`: unqualified columns).
pub(super) fn counted_at(alias: &str) -> String {
    let columns: Vec<String> = COUNTED_BY
        .iter()
        .map(|column| qualified(column, alias))
        .collect();
    format!("COALESCE({})", columns.join(", "))
}

/// True when [`counted_at`] is bulkrefund's clock, not the gateway's (the
/// first of [`COUNTED_BY`] is missing): a boolean.
pub(super) fn counted_by_our_clock(alias: &str) -> String {
    format!("({} IS NULL)", qualified(COUNTED_BY[0], alias))
}

fn qualified(column: &str, alias: &str) -> String {
    if alias.is_empty() {
        column.to_owned()
    } else {
        format!("{alias}.{column}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_expression_whatever_the_alias() {
        assert_eq!(
            counted_at(""),
            "COALESCE(gateway_success_at, finished_at, first_sent_at, created_at)"
        );
        assert_eq!(
            counted_at("f"),
            "COALESCE(f.gateway_success_at, f.finished_at, f.first_sent_at, f.created_at)"
        );
        assert_eq!(counted_by_our_clock(""), "(gateway_success_at IS NULL)");
        assert_eq!(counted_by_our_clock("f"), "(f.gateway_success_at IS NULL)");
    }
}
