//! Is this answer about the refund we asked about? (docs/DESIGN.md, "Every answer is
//! hostile until proven".) A verified answer is believed only when every field
//! it echoes equals what the request asked: ids exactly, amounts in fen. Each
//! gateway lists its fields; this collects the differences into the text an
//! operator reads when the refund goes to `review`.

/// The longest piece of a gateway's value quoted back: a lying gateway must not
/// be able to fill the journal through an error message.
const QUOTED_CHARS: usize = 64;

/// The differences found so far between an answer and its request.
#[derive(Debug, Default)]
pub struct EchoCheck {
    differences: Vec<String>,
}

fn quoted(value: &str) -> String {
    let shown: String = value.chars().take(QUOTED_CHARS).collect();
    if shown.len() < value.len() {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    }
}

impl EchoCheck {
    /// A field the answer may echo: when it does (non-empty), it must equal `asked`.
    pub fn text(&mut self, field: &str, answered: Option<&str>, asked: &str) {
        if let Some(answered) = answered.filter(|a| !a.is_empty()) {
            if answered != asked {
                self.differ(field, &quoted(answered), &quoted(asked));
            }
        }
    }

    /// Records a difference in words of the caller's choosing (a wrong JSON type, say).
    pub fn differ(&mut self, field: &str, answered: &str, asked: &str) {
        self.differences
            .push(format!("{field} is {answered}, not {asked}"));
    }

    /// `None` when the answer is about the request; otherwise what did not match.
    pub fn finish(self) -> Option<String> {
        if self.differences.is_empty() {
            None
        } else {
            Some(format!(
                "the answer is not about this refund: {}; never believed",
                self.differences.join("; ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_echoed_fields_are_compared_and_every_difference_is_named() {
        let mut check = EchoCheck::default();
        check.text("merchant_refund_id", Some("R1"), "R1");
        check.text("third_order_id", None, "T1");
        check.text("nonce_str", Some(""), "abc");
        assert!(check.finish().is_none());
        let mut check = EchoCheck::default();
        check.text("merchant_refund_id", Some("R9"), "R1");
        check.text("refund_amount", Some("200"), "100");
        assert_eq!(
            check.finish().unwrap(),
            "the answer is not about this refund: merchant_refund_id is \"R9\", not \"R1\"; \
             refund_amount is \"200\", not \"100\"; never believed"
        );
    }

    #[test]
    fn a_long_value_is_cut() {
        let mut check = EchoCheck::default();
        check.text("merchant_refund_id", Some(&"X".repeat(10_000)), "R1");
        assert!(check.finish().unwrap().len() < 200);
    }
}
