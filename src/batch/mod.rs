//! Batch input: the streaming CSV reader ([`reader`]) and the row rules ([`rows`]).

pub mod reader;
pub mod rows;

pub use reader::{CsvInput, FileError, RawRow};
pub use rows::{Columns, RefundRow, RowProblem};
