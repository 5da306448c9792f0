//! Money as integer fen. Owns the only two ways an amount enters bulkrefund
//! (`refund_amount` in fen, `refund_amount_yuan` in decimal yuan) and the one way
//! it leaves as text (yuan with two decimals). No float ever touches an amount:
//! yuan are parsed digit by digit.

use std::fmt;

/// The largest amount a gateway field can carry: `refund_amount` is at most 10 digits.
pub const MAX_FEN: u64 = 9_999_999_999;

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub u64);

/// Why a cell is not an amount; the text completes "VALUE ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("is not a whole number of fen (digits only, no sign, no separators)")]
    NotInteger,
    #[error("is not a decimal amount of yuan (digits, an optional '.' and at most 2 decimals)")]
    NotDecimal,
    #[error("has more than 2 decimals")]
    TooManyDecimals,
    #[error("must be more than zero")]
    Zero,
    #[error("is more than the largest amount a gateway accepts (99999999.99 yuan)")]
    TooLarge,
    #[error("has a leading zero")]
    LeadingZero,
}

impl Fen {
    /// Parses integer fen: `1` to `9999999999`, digits only.
    pub fn parse_fen(text: &str) -> Result<Fen, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotInteger);
        }
        if text.len() > 1 && text.starts_with('0') {
            return Err(AmountError::LeadingZero);
        }
        let fen = digits_value(text.as_bytes()).ok_or(AmountError::TooLarge)?;
        Fen::checked(fen)
    }

    /// Parses decimal yuan (`12`, `12.5`, `12.50`, `0.01`) into fen exactly.
    pub fn parse_yuan(text: &str) -> Result<Fen, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (whole, decimals) = match text.split_once('.') {
            Some((w, d)) => (w, d),
            None => (text, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(decimals) {
            return Err(AmountError::NotDecimal);
        }
        if text.ends_with('.') {
            return Err(AmountError::NotDecimal);
        }
        if decimals.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        let yuan = digits_value(whole.as_bytes()).ok_or(AmountError::TooLarge)?;
        let mut cents = digits_value(decimals.as_bytes()).unwrap_or(0);
        if decimals.len() == 1 {
            cents *= 10;
        }
        let fen = yuan
            .checked_mul(100)
            .and_then(|f| f.checked_add(cents))
            .ok_or(AmountError::TooLarge)?;
        Fen::checked(fen)
    }

    fn checked(fen: u64) -> Result<Fen, AmountError> {
        match fen {
            0 => Err(AmountError::Zero),
            f if f > MAX_FEN => Err(AmountError::TooLarge),
            f => Ok(Fen(f)),
        }
    }

    /// Adds, saturating: totals of millions of rows stay far below u64::MAX.
    pub fn saturating_add(self, other: Fen) -> Fen {
        Fen(self.0.saturating_add(other.0))
    }
}

/// The value of a run of ASCII digits, or None on overflow. Empty is 0.
fn digits_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Displays as yuan with exactly two decimals: `Fen(1250)` is `12.50`.
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Fen {
    /// Yuan for a person on a terminal, the thousands grouped:
    /// `Fen(1234567)` is `12,345.67`. Files keep [`Fen`]'s plain form, which
    /// programs and spreadsheets read back.
    pub fn grouped(self) -> String {
        let whole = (self.0 / 100).to_string();
        let mut text = String::with_capacity(whole.len() + whole.len() / 3 + 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                text.push(',');
            }
            text.push(digit);
        }
        format!("{text}.{:02}", self.0 % 100)
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen(0), Fen::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yuan_forms_finance_staff_type() {
        assert_eq!(Fen::parse_yuan("12"), Ok(Fen(1200)));
        assert_eq!(Fen::parse_yuan("12.5"), Ok(Fen(1250)));
        assert_eq!(Fen::parse_yuan("12.50"), Ok(Fen(1250)));
        assert_eq!(Fen::parse_yuan("0.01"), Ok(Fen(1)));
        assert_eq!(Fen::parse_yuan("99999999.99"), Ok(Fen(MAX_FEN)));
    }

    #[test]
    fn yuan_rejects_what_is_not_exact() {
        use AmountError::*;
        for (text, why) in [
            ("12.345", TooManyDecimals),
            ("-1", NotDecimal),
            ("1e3", NotDecimal),
            ("¥12", NotDecimal),
            ("1,200.00", NotDecimal),
            ("0", Zero),
            ("0.00", Zero),
            ("", Empty),
            ("12.", NotDecimal),
            (".5", NotDecimal),
            ("+1", NotDecimal),
            (" 1", NotDecimal),
            ("100000000", TooLarge),
            ("99999999999999999999999", TooLarge),
        ] {
            assert_eq!(Fen::parse_yuan(text), Err(why), "{text:?}");
        }
    }

    #[test]
    fn fen_rejects_what_the_gateway_rejects() {
        use AmountError::*;
        assert_eq!(Fen::parse_fen("100"), Ok(Fen(100)));
        assert_eq!(Fen::parse_fen("9999999999"), Ok(Fen(MAX_FEN)));
        for (text, why) in [
            ("0", Zero),
            ("007", LeadingZero),
            ("1.5", NotInteger),
            ("-1", NotInteger),
            ("", Empty),
            ("10000000000", TooLarge),
            ("18446744073709551616", TooLarge),
        ] {
            assert_eq!(Fen::parse_fen(text), Err(why), "{text:?}");
        }
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(1).to_string(), "0.01");
        assert_eq!(Fen(1250).to_string(), "12.50");
        assert_eq!(Fen(0).to_string(), "0.00");
    }

    #[test]
    fn grouped_for_people() {
        assert_eq!(Fen(0).grouped(), "0.00");
        assert_eq!(Fen(99_999).grouped(), "999.99");
        assert_eq!(Fen(100_000).grouped(), "1,000.00");
        assert_eq!(Fen(1_234_567).grouped(), "12,345.67");
        assert_eq!(Fen(12_345_678).grouped(), "123,456.78");
        assert_eq!(Fen(MAX_FEN).grouped(), "99,999,999.99");
    }

    proptest! {
        #[test]
        fn yuan_round_trips(fen in 1u64..=MAX_FEN) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_string()), Ok(Fen(fen)));
            prop_assert_eq!(Fen::parse_fen(&fen.to_string()), Ok(Fen(fen)));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = Fen::parse_yuan(&text);
            let _ = Fen::parse_fen(&text);
        }
    }
}
