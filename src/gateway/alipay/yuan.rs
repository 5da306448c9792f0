//! Alipay's amounts are strings in yuan (docs/specs/alipay.md, "Wire format"):
//! written from fen exactly, always with two decimals (2599 → `"25.99"`), and
//! read back digit by digit. No float ever touches them. What is read is any
//! `digits[.d[d]]` the gateway may answer (zero included: a trade without
//! refunds has `refund_fee` `"0.00"`); a sign, a third decimal, an exponent or
//! a value past u64 is refused, and the caller calls that a mismatch.

use crate::money::Fen;

/// Why a gateway's text is not an amount of yuan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum YuanError {
    #[error("is not digits with an optional '.' and one or two decimals")]
    NotAmount,
    #[error("has more than two decimals")]
    TooManyDecimals,
    #[error("is larger than any amount")]
    Overflow,
}

/// Fen as Alipay's yuan string: `fen / 100`, `.`, `fen % 100` on two digits.
pub fn from_fen(fen: Fen) -> String {
    format!("{}.{:02}", fen.0 / 100, fen.0 % 100)
}

/// A yuan string as fen, exactly.
pub fn to_fen(text: &str) -> Result<Fen, YuanError> {
    let (whole, decimals) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(decimals) {
        return Err(YuanError::NotAmount);
    }
    if text.contains('.') && decimals.is_empty() {
        return Err(YuanError::NotAmount);
    }
    if decimals.len() > 2 {
        return Err(YuanError::TooManyDecimals);
    }
    let value = |s: &str| {
        s.bytes().try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    };
    let yuan = value(whole).ok_or(YuanError::Overflow)?;
    let mut cents = value(decimals).unwrap_or(0);
    if decimals.len() == 1 {
        cents *= 10;
    }
    yuan.checked_mul(100)
        .and_then(|f| f.checked_add(cents))
        .map(Fen)
        .ok_or(YuanError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_to_yuan_always_has_two_decimals() {
        for (fen, text) in [
            (2599, "25.99"),
            (5, "0.05"),
            (100, "1.00"),
            (1, "0.01"),
            (10, "0.10"),
            (10_000_000_000, "100000000.00"),
            (u64::MAX, "184467440737095516.15"),
        ] {
            assert_eq!(from_fen(Fen(fen)), text);
            assert_eq!(to_fen(text), Ok(Fen(fen)), "{text}");
        }
    }

    #[test]
    fn yuan_to_fen_is_exact() {
        assert_eq!(to_fen("25.9"), Ok(Fen(2590)));
        assert_eq!(to_fen("25"), Ok(Fen(2500)));
        assert_eq!(to_fen("0.00"), Ok(Fen(0)));
        assert_eq!(to_fen("0"), Ok(Fen(0)));
        assert_eq!(to_fen("007.10"), Ok(Fen(710)));
        // 0.1 + 0.2 is not a float problem here.
        assert_eq!(to_fen("0.30"), Ok(Fen(30)));
    }

    #[test]
    fn what_is_not_an_amount_is_refused() {
        use YuanError::*;
        for (text, why) in [
            ("25.999", TooManyDecimals),
            ("0.001", TooManyDecimals),
            ("-1.00", NotAmount),
            ("+1.00", NotAmount),
            ("1e2", NotAmount),
            ("1.", NotAmount),
            (".5", NotAmount),
            ("", NotAmount),
            (" 1.00", NotAmount),
            ("1.00 ", NotAmount),
            ("1,000.00", NotAmount),
            ("１.00", NotAmount),
            ("1.0.0", NotAmount),
            ("NaN", NotAmount),
            ("184467440737095516.16", Overflow),
            ("99999999999999999999", Overflow),
        ] {
            assert_eq!(to_fen(text), Err(why), "{text:?}");
        }
    }
}
