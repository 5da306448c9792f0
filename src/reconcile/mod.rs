//! Reconciliation against a gateway's daily statement (对账单, "bill";
//! `../shared/specs/statements.md`): matching a bill, read by its gateway into
//! [`crate::gateway::bill::Bill`], refund by refund against the journal.
//! Read-only on refunds: a finding is evidence for a person or for `resume`,
//! never an answer about a refund.

pub mod matching;
pub mod record;
pub mod report;
pub mod status;
