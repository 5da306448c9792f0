//! Reconciliation against a gateway's daily statement (对账单, "bill";
//! `../shared/specs/statements.md`): reading a bill into [`bill::Bill`],
//! whichever gateway and layout it came in, and matching it refund by refund
//! against the journal. Read-only on refunds: a finding is evidence for a
//! person or for `resume`, never an answer about a refund.

pub mod bill;
