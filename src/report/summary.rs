//! The money, one definition for the run summary, `status`, `export` and the
//! results file (README, "The money"):
//! - an *intent* is a refund the operator asked for (an input row's refund id)
//!   followed through its retry chain; its status is that of the chain's last
//!   link. A *gateway refund* is one id sent to the gateway.
//! - refunded = the succeeded gateway refunds, each counted once: a gateway
//!   refund belongs to the one batch that sent it, so a batch that lists a
//!   refund another batch paid shows it as "already paid earlier (batch N)".
//! - amounts are given per status over intents, never one total that adds
//!   different statuses; rows never sent (invalid, conflict, duplicate) apart.

use std::fmt::Write as _;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

use crate::journal::{money_rules, Journal, JournalError, RowStatus, Status};
use crate::money::Fen;

/// A number of intents (or rows) and their amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    pub count: u64,
    pub fen: Fen,
}

impl Sum {
    pub fn add(&mut self, count: u64, fen: Fen) {
        self.count += count;
        self.fen = self.fen.saturating_add(fen);
    }

    pub fn is_zero(&self) -> bool {
        self.count == 0
    }
}

/// `{"count": 3, "fen": 1234, "yuan": "12.34"}`: fen for machines, yuan as
/// exact text for people (never a float).
impl Serialize for Sum {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Sum", 3)?;
        s.serialize_field("count", &self.count)?;
        s.serialize_field("fen", &self.fen.0)?;
        s.serialize_field("yuan", &self.fen.to_string())?;
        s.end()
    }
}

/// Intents by status: what was asked, and where each ask stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IntentMoney {
    /// Every intent, whatever its status: what the operator asked for.
    pub requested: Sum,
    pub refunded: Sum,
    pub failed: Sum,
    pub in_review: Sum,
    /// Accepted, but the money reached nobody (WeChat's ABNORMAL): a person
    /// acts at the gateway. Apart from failed and from unresolved.
    pub abnormal: Sum,
    /// Processing, unknown or pending: `resume` finishes them.
    pub unresolved: Sum,
    pub processing: Sum,
    pub unknown: Sum,
    pub pending: Sum,
}

impl IntentMoney {
    /// Counts intents whose chain's last link has `status`.
    pub fn add(&mut self, status: Status, count: u64, fen: Fen) {
        self.requested.add(count, fen);
        let sum = match status {
            Status::Succeeded => &mut self.refunded,
            Status::Failed => &mut self.failed,
            Status::Review => &mut self.in_review,
            Status::Abnormal => &mut self.abnormal,
            Status::Processing => &mut self.processing,
            Status::Unknown => &mut self.unknown,
            // A row's own verdicts never reach here; were one to, it would
            // stay in sight as unresolved rather than vanish.
            Status::Pending | Status::Invalid | Status::Conflict | Status::Duplicate => {
                &mut self.pending
            }
        };
        sum.add(count, fen);
        if !matches!(
            status,
            Status::Succeeded | Status::Failed | Status::Review | Status::Abnormal
        ) {
            self.unresolved.add(count, fen);
        }
    }

    /// (label, sum) in reading order; the three kinds of unresolved only when
    /// any is unresolved.
    pub fn lines(&self) -> Vec<(&'static str, Sum)> {
        let mut lines = vec![
            ("requested", self.requested),
            ("refunded", self.refunded),
            ("failed", self.failed),
            ("in review", self.in_review),
        ];
        // Only WeChat has abnormal refunds: the line shows when there are any.
        if !self.abnormal.is_zero() {
            lines.push(("abnormal", self.abnormal));
        }
        lines.push(("unresolved", self.unresolved));
        for (label, sum) in [
            ("  processing", self.processing),
            ("  unknown", self.unknown),
            ("  pending", self.pending),
        ] {
            if !sum.is_zero() {
                lines.push((label, sum));
            }
        }
        lines
    }
}

/// Rows of a batch that were never a refund to send.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotSent {
    pub invalid: Sum,
    pub conflict: Sum,
    pub duplicate: Sum,
}

/// Refunds a batch lists that another batch sent and the gateway paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaidElsewhere {
    pub batch: i64,
    #[serde(flatten)]
    pub sum: Sum,
}

/// One batch's money.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchMoney {
    pub batch: i64,
    #[serde(flatten)]
    pub intents: IntentMoney,
    /// Refunded by the gateway refunds this batch sent (its runs, resumes and retries).
    pub paid_by_this_batch: Sum,
    /// Refunded, but sent by another batch: not paid again, not counted again.
    pub paid_by_other_batches: Vec<PaidElsewhere>,
    pub not_sent: NotSent,
}

impl BatchMoney {
    pub fn for_batch(journal: &Journal, batch: i64) -> Result<BatchMoney, JournalError> {
        let mut money = BatchMoney {
            batch,
            ..BatchMoney::default()
        };
        for total in journal.batch_intents(batch)? {
            money.intents.add(total.status, total.count, total.fen);
            if !money_rules::is_refunded(total.status) {
                continue;
            }
            if money_rules::paid_by_this_batch(total.status, total.owner, batch) {
                money.paid_by_this_batch.add(total.count, total.fen);
            } else {
                let mut sum = Sum::default();
                sum.add(total.count, total.fen);
                money.paid_by_other_batches.push(PaidElsewhere {
                    batch: total.owner,
                    sum,
                });
            }
        }
        for (verdict, count, fen) in journal.batch_unsent(batch)? {
            let sum = match verdict {
                RowStatus::Invalid => &mut money.not_sent.invalid,
                RowStatus::Conflict => &mut money.not_sent.conflict,
                RowStatus::Duplicate => &mut money.not_sent.duplicate,
            };
            sum.add(count, fen);
        }
        Ok(money)
    }

    /// The exit code these outcomes deserve (docs/specs/cli.md, "Exit codes").
    /// A duplicate row counts as the row it repeats, already counted. An
    /// abnormal refund needs a person, as one in review does: 3.
    pub fn exit_code(&self) -> u8 {
        let intents = &self.intents;
        if !intents.unresolved.is_zero() {
            crate::exit::UNRESOLVED
        } else if !intents.failed.is_zero()
            || !intents.in_review.is_zero()
            || !intents.abnormal.is_zero()
            || !self.not_sent.invalid.is_zero()
            || !self.not_sent.conflict.is_zero()
        {
            crate::exit::SOME_FAILED
        } else {
            crate::exit::SUCCESS
        }
    }

    /// The label of a payment by another batch, by which came first.
    fn elsewhere_label(&self, other: i64) -> String {
        if other < self.batch {
            format!("already paid earlier (batch {other})")
        } else {
            format!("paid by a later batch (batch {other})")
        }
    }

    /// (label, sum) in reading order: the intents, how the refunded split,
    /// then the rows not sent (those with rows).
    pub fn lines(&self) -> Vec<(String, Sum)> {
        let mut lines = Vec::new();
        for (label, sum) in self.intents.lines() {
            lines.push((label.to_owned(), sum));
            if label == "refunded" && !sum.is_zero() {
                lines.push(("  paid by this batch".into(), self.paid_by_this_batch));
                for other in &self.paid_by_other_batches {
                    lines.push((
                        format!("  {}", self.elsewhere_label(other.batch)),
                        other.sum,
                    ));
                }
            }
        }
        for (label, sum) in [
            ("not sent: invalid", self.not_sent.invalid),
            ("not sent: conflict", self.not_sent.conflict),
            ("not sent: duplicate", self.not_sent.duplicate),
        ] {
            if !sum.is_zero() {
                lines.push((label.into(), sum));
            }
        }
        lines
    }

    /// One line per figure: `  refunded        38     1,234.56 yuan`.
    pub fn table(&self) -> String {
        table(self.lines())
    }

    /// `requested 40 (1,240.00 yuan); refunded 38 (1,234.56 yuan) ...`, the
    /// figures that are not zero, requested always; how the refunded split
    /// when another batch paid some of it.
    pub fn one_line(&self) -> String {
        let split = !self.paid_by_other_batches.is_empty();
        let parts: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|(label, sum)| label == "requested" || !sum.is_zero())
            .filter(|(label, _)| !label.starts_with("  ") || (split && label.contains("paid")))
            .map(|(label, sum)| {
                format!(
                    "{} {} ({} yuan)",
                    label.trim(),
                    sum.count,
                    sum.fen.grouped()
                )
            })
            .collect();
        parts.join("; ")
    }
}

/// Lines of `label count yuan`, aligned, for the terminal (thousands grouped).
pub fn table<L: AsRef<str>>(lines: impl IntoIterator<Item = (L, Sum)>) -> String {
    let mut text = String::new();
    for (label, sum) in lines {
        let _ = writeln!(
            text,
            "  {:<34} {:>7} {:>15} yuan",
            label.as_ref(),
            sum.count,
            sum.fen.grouped()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_has_its_own_figure_and_decides_the_exit() {
        let mut money = BatchMoney {
            batch: 2,
            ..BatchMoney::default()
        };
        money.intents.add(Status::Succeeded, 2, Fen(300));
        assert_eq!(money.exit_code(), 0);
        money.intents.add(Status::Failed, 1, Fen(1));
        assert_eq!(money.exit_code(), 3);
        money.intents.add(Status::Pending, 1, Fen(5));
        money.intents.add(Status::Unknown, 1, Fen(7));
        assert_eq!(money.exit_code(), 4);
        assert_eq!(
            money.intents.requested,
            Sum {
                count: 5,
                fen: Fen(313)
            }
        );
        assert_eq!(
            money.intents.refunded,
            Sum {
                count: 2,
                fen: Fen(300)
            }
        );
        assert_eq!(
            money.intents.unresolved,
            Sum {
                count: 2,
                fen: Fen(12)
            }
        );
        money.paid_by_this_batch.add(1, Fen(100));
        money.paid_by_other_batches.push(PaidElsewhere {
            batch: 1,
            sum: Sum {
                count: 1,
                fen: Fen(200),
            },
        });
        let table = money.table();
        assert!(table.contains("already paid earlier (batch 1)"), "{table}");
        assert_eq!(
            money.one_line(),
            "requested 5 (3.13 yuan); refunded 2 (3.00 yuan); paid by this batch 1 (1.00 yuan); \
             already paid earlier (batch 1) 1 (2.00 yuan); failed 1 (0.01 yuan); unresolved 2 (0.12 yuan)"
        );
        let json = serde_json::to_value(&money).unwrap();
        assert_eq!(json["refunded"]["yuan"], "3.00");
        assert_eq!(json["paid_by_other_batches"][0]["batch"], 1);
        assert_eq!(json["paid_by_other_batches"][0]["fen"], 200);
    }

    #[test]
    fn amounts_on_the_terminal_group_their_thousands() {
        let mut money = BatchMoney::default();
        money.intents.add(Status::Succeeded, 3, Fen(1_234_567));
        assert_eq!(
            money.one_line(),
            "requested 3 (12,345.67 yuan); refunded 3 (12,345.67 yuan)"
        );
        let table = money.table();
        assert_eq!(
            table.lines().nth(1).unwrap(),
            format!("  {:<34} {:>7} {:>15} yuan", "refunded", 3, "12,345.67")
        );
    }

    #[test]
    fn a_review_or_an_invalid_row_needs_a_person() {
        let mut review = BatchMoney::default();
        review.intents.add(Status::Review, 1, Fen(1));
        assert_eq!(review.exit_code(), 3);
        let mut invalid = BatchMoney::default();
        invalid.not_sent.invalid.add(1, Fen(0));
        assert_eq!(invalid.exit_code(), 3);
        let mut duplicate = BatchMoney::default();
        duplicate.not_sent.duplicate.add(1, Fen(5));
        assert_eq!(duplicate.exit_code(), 0, "the row it repeats is counted");
    }

    #[test]
    fn an_abnormal_refund_has_a_line_of_its_own_and_exits_3() {
        let mut money = BatchMoney {
            batch: 1,
            ..BatchMoney::default()
        };
        money.intents.add(Status::Succeeded, 2, Fen(20_000));
        money.paid_by_this_batch.add(2, Fen(20_000));
        money.intents.add(Status::Failed, 1, Fen(13));
        // Without an abnormal refund, no abnormal line at all.
        let without = money.table();
        assert!(!without.contains("abnormal"), "{without}");
        money.intents.add(Status::Abnormal, 1, Fen(1_234_517));
        assert_eq!(money.exit_code(), 3);
        assert_eq!(
            money.intents.unresolved,
            Sum::default(),
            "abnormal is not unresolved"
        );
        assert_eq!(
            money.table(),
            [
                "  requested                                4       12,545.30 yuan",
                "  refunded                                 2          200.00 yuan",
                "    paid by this batch                     2          200.00 yuan",
                "  failed                                   1            0.13 yuan",
                "  in review                                0            0.00 yuan",
                "  abnormal                                 1       12,345.17 yuan",
                "  unresolved                               0            0.00 yuan",
                "",
            ]
            .join("\n")
        );
        assert_eq!(
            money.one_line(),
            "requested 4 (12,545.30 yuan); refunded 2 (200.00 yuan); failed 1 (0.13 yuan); \
             abnormal 1 (12,345.17 yuan)"
        );
        let json = serde_json::to_value(&money).unwrap();
        assert_eq!(json["abnormal"]["count"], 1);
        assert_eq!(json["abnormal"]["yuan"], "12345.17");
        // Unresolved refunds still make it 4: `resume` has work to do.
        money.intents.add(Status::Processing, 1, Fen(1));
        assert_eq!(money.exit_code(), 4);
    }
}
