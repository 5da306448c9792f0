//! What `validate` shows: the verdict an import would give every row,
//! decided without writing the journal; against no journal at all when there
//! is none yet (then the embedded store's scratch space decides, writing nothing).

use super::import_rows::{ImportError, Tally};
use super::Journal;
use crate::batch::{CheckedRow, FileError};
use crate::gateway::GatewayKind;

/// Decides every row's verdict as an import would, writing nothing.
pub fn preview(
    journal: Option<&Journal>,
    gateway: GatewayKind,
    merchant_id: &str,
    mut rows: impl Iterator<Item = Result<CheckedRow, FileError>>,
    mut on_problem: impl FnMut(&str),
) -> Result<Tally, ImportError> {
    match journal {
        Some(journal) => journal.preview(gateway, merchant_id, &mut rows, &mut on_problem),
        None => super::sqlite::preview::preview(None, gateway, merchant_id, rows, on_problem),
    }
}
