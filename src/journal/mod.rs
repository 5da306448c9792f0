//! The journal: every refund id forever, every state it went through and every
//! HTTP attempt made for it. What is the same whatever stores it lives here (the
//! refund states and their transitions, the statuses finance reads, one day's
//! definition); [`sqlite`] is the embedded store, the default that needs
//! nothing installed.

pub mod batch_meta;
pub mod claim;
pub mod days;
pub mod sqlite;
pub mod state;
pub mod status;

pub use sqlite::*;
