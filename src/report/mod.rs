//! What bulkrefund tells people: status summaries ([`summary`]).

pub mod summary;
