//! What bulkrefund tells people: the results file ([`results`]) and status
//! summaries ([`summary`]).

pub mod results;
pub mod summary;
