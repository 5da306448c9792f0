//! What bulkrefund tells people: the results file ([`results`]), the
//! reconciliation export ([`export`]) and status summaries ([`summary`]).

pub mod export;
pub mod results;
pub mod summary;
