//! Until the core's `IdUse` and `Outcome::Abnormal` land from main: the same
//! calls over today's `Outcome`. An ABNORMAL refund stays unknown meanwhile
//! (queried again, never failed nor resent). Deleted at the merge.

use crate::gateway::{Outcome, Receipt};

/// Whether a failed refund used its id up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdUse {
    Spent,
    Free,
}

pub fn failed(
    code: impl Into<String>,
    message: impl Into<String>,
    receipt: Receipt,
    _id: IdUse,
) -> Outcome {
    Outcome::failed(code, message, receipt)
}

pub fn abnormal(_receipt: Receipt) -> Outcome {
    Outcome::unknown("WeChat Pay reports the refund ABNORMAL: the money reached nobody; a person must act in the merchant platform")
}
