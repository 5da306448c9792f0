//! Whether an answer came from Alipay (docs/specs/alipay.md, "Verifying an
//! answer"). Alipay signs the bytes of one member's value exactly as it wrote
//! them, so the value is cut out of the body as received: a scanner walks the
//! top-level object recording byte offsets, and nothing is ever
//! re-serialized (a re-ordered or re-spaced body still verifies, because the
//! member's own bytes did not change; one byte changed inside them does not).
//! The member absent, or there twice, leaves the answer unread.

use std::ops::Range;

use crate::gateway::rsa_sign::{RsaDigest, RsaVerifier};

/// One top-level member: its name (escapes decoded) and where its value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub value: Range<usize>,
}

/// The answer's part that counts: which member, its value's raw bytes, and
/// the top-level `sign` (decoded from its JSON string), if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut<'a> {
    pub member: String,
    pub value: &'a [u8],
    pub sign: Option<String>,
}

/// What the `sign` of an answer proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    /// Alipay's key signed these very bytes.
    Verified,
    /// No `sign` (Alipay leaves some gateway-level errors unsigned).
    Absent,
    /// A `sign` that does not verify: never believed.
    Refused,
}

/// The top-level members of a JSON object, in the order written. The body
/// must be one well-formed JSON object (checked whole first, so the scanner
/// only has to find boundaries).
pub fn members(body: &[u8]) -> Result<Vec<Member>, String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| format!("the answer is not JSON ({e}): it proves nothing"))?;
    let mut scanner = Scanner { bytes: body, at: 0 };
    scanner.object_members()
}

/// The value of the single member `wanted` (or `error_member`), and `sign`.
pub fn cut<'a>(body: &'a [u8], wanted: &str, error_member: &str) -> Result<Cut<'a>, String> {
    let members = members(body)?;
    let named = |name: &str| {
        members
            .iter()
            .filter(|m| m.name == name)
            .collect::<Vec<&Member>>()
    };
    let answers: Vec<&Member> = [named(wanted), named(error_member)].concat();
    let answer = match answers[..] {
        [one] => one,
        [] => return Err(format!("the answer has no {wanted}: it proves nothing")),
        _ => {
            return Err(format!(
                "the answer has {} {wanted}/{error_member} members: it proves nothing",
                answers.len()
            ))
        }
    };
    let value = &body[answer.value.clone()];
    if value.first() != Some(&b'{') {
        return Err(format!("the answer's {} is not an object", answer.name));
    }
    let signs = named("sign");
    let sign = match signs[..] {
        [] => None,
        [one] => Some(
            serde_json::from_slice::<String>(&body[one.value.clone()])
                .map_err(|_| "the answer's sign is not a string: it proves nothing".to_owned())?,
        ),
        _ => return Err("the answer has two signs: it proves nothing".to_owned()),
    };
    Ok(Cut {
        member: answer.name.clone(),
        value,
        sign: sign.filter(|s| !s.is_empty()),
    })
}

impl Cut<'_> {
    /// Checks `sign` over the value's raw bytes with Alipay's public key.
    pub fn signature(&self, alipay_key: &RsaVerifier) -> Signature {
        match &self.sign {
            None => Signature::Absent,
            Some(sign) if alipay_key.verify_bytes(self.value, sign, RsaDigest::Sha256) => {
                Signature::Verified
            }
            Some(_) => Signature::Refused,
        }
    }
}

/// A byte-offset walk over a JSON text already known to be well formed.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!(
                "the answer is not a JSON object: {:?} expected at byte {}",
                byte as char, self.at
            ))
        }
    }

    fn object_members(&mut self) -> Result<Vec<Member>, String> {
        let mut members = Vec::new();
        self.skip_space();
        self.expect(b'{')?;
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_space();
                let name = self.string()?;
                let name = serde_json::from_slice::<String>(&self.bytes[name])
                    .map_err(|e| format!("a member's name is not a string ({e})"))?;
                self.skip_space();
                self.expect(b':')?;
                self.skip_space();
                let value = self.value()?;
                members.push(Member { name, value });
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(format!("the answer's object breaks at byte {}", self.at)),
                }
            }
        }
        self.skip_space();
        if self.at != self.bytes.len() {
            return Err("the answer has bytes after its object".to_owned());
        }
        Ok(members)
    }

    /// A string, quotes included; an escape's next byte is never its end.
    fn string(&mut self) -> Result<Range<usize>, String> {
        let start = self.at;
        self.expect(b'"')?;
        loop {
            match self.peek() {
                None => return Err("the answer ends inside a string".to_owned()),
                Some(b'\\') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    return Ok(start..self.at);
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// One value of any type, nested ones by depth (no recursion, so a
    /// hostile answer nested a million deep costs a counter, not the stack).
    fn value(&mut self) -> Result<Range<usize>, String> {
        let start = self.at;
        match self.peek() {
            None => return Err("the answer ends where a value belongs".to_owned()),
            Some(b'"') => {
                self.string()?;
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        None => return Err("the answer ends inside a value".to_owned()),
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.at += 1;
                }
            }
            Some(_) => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(format!("no value at byte {start}"));
                }
            }
        }
        Ok(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "alipay_trade_refund_response";
    const E: &str = "error_response";

    #[test]
    fn members_and_their_raw_values() {
        let body = br#" { "a\"b" : [1,{"x":"}]"}] ,"n":-1.5e3,"t":true , "o":{ "k" : "v\\" } } "#;
        let found = members(body).unwrap();
        let shown: Vec<(&str, &str)> = found
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    std::str::from_utf8(&body[m.value.clone()]).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("a\"b", r#"[1,{"x":"}]"}]"#),
                ("n", "-1.5e3"),
                ("t", "true"),
                ("o", r#"{ "k" : "v\\" }"#)
            ]
        );
        assert_eq!(members(b"{}").unwrap(), []);
    }

    #[test]
    fn what_is_not_one_json_object_is_refused() {
        for body in [
            &b""[..],
            b"[]",
            b"\"x\"",
            b"{\"a\":1}{}",
            b"{\"a\":1",
            b"<html>",
            b"{\"a\":01}",
        ] {
            assert!(
                members(body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    fn cut_of(body: &str) -> Result<Cut<'_>, String> {
        cut(body.as_bytes(), M, E)
    }

    #[test]
    fn the_member_must_be_there_once_and_an_object() {
        let ok =
            cut_of(r#"{"sign":"c2ln","alipay_trade_refund_response":{"code":"10000"}}"#).unwrap();
        assert_eq!(ok.value, br#"{"code":"10000"}"#);
        assert_eq!(ok.sign.as_deref(), Some("c2ln"));
        let error = cut_of(r#"{"error_response":{"code":"40002"}}"#).unwrap();
        assert_eq!((error.member.as_str(), error.sign), (E, None));
        for bad in [
            r#"{"sign":"x"}"#,
            r#"{"alipay_trade_refund_response":{},"alipay_trade_refund_response":{}}"#,
            r#"{"alipay_trade_refund_response":{},"error_response":{}}"#,
            r#"{"alipay_trade_refund_response":"{}"}"#,
            r#"{"alipay_trade_refund_response":{},"sign":"a","sign":"b"}"#,
            r#"{"alipay_trade_refund_response":{},"sign":1}"#,
        ] {
            assert!(cut_of(bad).is_err(), "{bad}");
        }
        // A name written with escapes is the same name.
        let escaped = cut_of(r#"{"alipay_trade_refund_response":{},"\u0073ign":"x"}"#).unwrap();
        assert_eq!(escaped.sign.as_deref(), Some("x"));
        let empty = cut_of(r#"{"alipay_trade_refund_response":{},"sign":""}"#).unwrap();
        assert_eq!(empty.sign, None);
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        // A hostile answer nested 100000 deep: walked by a counter, not by recursion.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(members(deep.as_bytes()).unwrap()[0].value.len(), 200_000);
        let unbalanced = format!("{{\"a\":{}}}", "[".repeat(100_000));
        assert!(members(unbalanced.as_bytes()).is_err());
    }
}
