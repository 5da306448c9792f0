//! Alipay's wire format (docs/specs/alipay.md, "Wire format", "Common
//! parameters", "Signing a request", the two calls' tables): the
//! `biz_content` JSON in bulkrefund's fixed key order, the common parameters,
//! the RSA2 signature over the sorted parameters, the form body, and the
//! reading of an answer's `…_response` value. Echoed fields are read as
//! "some JSON" ([`Echoed`]), not as strings: the contract makes a field of
//! another JSON type a mismatch, which must reach the echo check rather than
//! fail the read.

use serde::{Deserialize, Serialize};

use crate::gateway::rsa_sign::RsaSigner;

pub const REFUND_METHOD: &str = "alipay.trade.refund";
pub const QUERY_METHOD: &str = "alipay.trade.fastpay.refund.query";
/// The member of an answer raised before routing.
pub const ERROR_MEMBER: &str = "error_response";
/// The only form parameter bulkrefund's answers come back in.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";

/// Which call an answer answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Refund,
    Query,
}

impl Call {
    pub fn method(self) -> &'static str {
        match self {
            Call::Refund => REFUND_METHOD,
            Call::Query => QUERY_METHOD,
        }
    }
}

/// The answer's member for `method`: its dots made `_`, then `_response`.
pub fn response_member(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// `alipay.trade.refund`'s business fields. Field order is bulkrefund's
/// (serde keeps it, and a resend of the refund sends the same string): the
/// trade's ids, the number, the amount, then the optional fields, as the
/// contract's vector writes them.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RefundBiz<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_no: Option<&'a str>,
    pub out_request_no: &'a str,
    /// Yuan, two decimals ([`super::yuan::from_fen`]).
    pub refund_amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<&'a str>,
}

/// `alipay.trade.fastpay.refund.query`'s business fields: the trade's ids as
/// the refund sent them, the number, and the refund time asked for.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct QueryBiz<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_no: Option<&'a str>,
    pub out_request_no: &'a str,
    pub query_options: [&'a str; 1],
}

/// What [`QueryBiz::query_options`] asks for: the answer's refund time.
pub const QUERY_OPTIONS: [&str; 1] = ["gmt_refund_pay"];

/// Compact JSON, exactly the string that is signed and sent.
pub fn biz_content<T: Serialize>(biz: &T) -> String {
    serde_json::to_string(biz).expect("business fields always serialize")
}

/// The common parameters of one call, besides `sign`.
pub struct Common<'a> {
    pub app_id: &'a str,
    pub method: &'a str,
    /// `yyyy-MM-dd HH:mm:ss`, Beijing time ([`beijing_timestamp`]).
    pub timestamp: &'a str,
    /// Only when a service provider acts for the merchant.
    pub app_auth_token: Option<&'a str>,
}

/// A call's parameters in the order the form body lists them (app_id,
/// method, format, charset, sign_type, timestamp, version, app_auth_token,
/// biz_content), `sign` not yet among them.
pub fn parameters(common: &Common, biz_content: &str) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("app_id", common.app_id.to_owned()),
        ("method", common.method.to_owned()),
        ("format", "JSON".to_owned()),
        ("charset", "utf-8".to_owned()),
        ("sign_type", "RSA2".to_owned()),
        ("timestamp", common.timestamp.to_owned()),
        ("version", "1.0".to_owned()),
    ];
    if let Some(token) = common.app_auth_token {
        params.push(("app_auth_token", token.to_owned()));
    }
    params.push(("biz_content", biz_content.to_owned()));
    params
}

/// The string an RSA2 signature covers: every parameter but `sign`
/// (`sign_type` kept), empty values dropped, sorted by name in byte order,
/// `name=value` joined by `&`, values as they are (not URL-encoded).
pub fn string_to_sign<S: AsRef<str>>(params: &[(&str, S)]) -> String {
    let mut kept: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (*name, value.as_ref()))
        .filter(|(name, value)| *name != "sign" && !value.is_empty())
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The parameters with `sign` added last: SHA256withRSA over
/// [`string_to_sign`]'s UTF-8 bytes, the app's private key.
pub fn signed(
    mut params: Vec<(&'static str, String)>,
    signer: &RsaSigner,
) -> Vec<(&'static str, String)> {
    let signature = signer.sign(&string_to_sign(&params));
    params.push(("sign", signature));
    params
}

/// The form body: every value URL-encoded as UTF-8 (`+` for a space), in
/// the parameters' order.
pub fn form_body(params: &[(&str, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        form.append_pair(name, value);
    }
    form.finish()
}

/// Now as the `timestamp` parameter writes it: Beijing time (UTC+8, no
/// daylight saving since 1991), `yyyy-MM-dd HH:mm:ss`.
pub fn beijing_timestamp(at: jiff::Timestamp) -> String {
    let beijing = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    at.to_zoned(beijing)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A field an answer echoes: its text, or the JSON type it came as instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Echoed {
    Text(String),
    /// Another JSON type (`null` included): never equal to what was sent.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Echoed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Echoed, D::Error> {
        use serde_json::Value;
        Ok(match Value::deserialize(d)? {
            Value::String(text) => Echoed::Text(text),
            Value::Null => Echoed::Other("null"),
            Value::Bool(_) => Echoed::Other("a boolean"),
            Value::Number(_) => Echoed::Other("a number"),
            Value::Array(_) => Echoed::Other("an array"),
            Value::Object(_) => Echoed::Other("an object"),
        })
    }
}

impl Echoed {
    /// The text, when it is text and not empty.
    pub fn text(&self) -> Option<&str> {
        match self {
            Echoed::Text(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }
}

/// What every answer has: `code` (a string, or the answer is malformed) and
/// its explanations.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub code: String,
    #[serde(default)]
    pub msg: Option<Echoed>,
    #[serde(default)]
    pub sub_code: Option<Echoed>,
    #[serde(default)]
    pub sub_msg: Option<Echoed>,
}

impl Status {
    /// `sub_code` as text (empty when absent or not text).
    pub fn sub_code(&self) -> &str {
        self.sub_code.as_ref().and_then(Echoed::text).unwrap_or("")
    }
}

/// `alipay.trade.refund`'s answer. Fields the contract ignores are not read.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefundAnswer {
    #[serde(flatten)]
    pub status: Status,
    pub trade_no: Option<Echoed>,
    pub out_trade_no: Option<Echoed>,
    /// `Y`: this call moved money; `N` or absent: it did not.
    pub fund_change: Option<Echoed>,
    /// Yuan refunded on the trade in total so far, this refund included.
    pub refund_fee: Option<Echoed>,
    pub gmt_refund_pay: Option<Echoed>,
}

/// `alipay.trade.fastpay.refund.query`'s answer.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct QueryAnswer {
    #[serde(flatten)]
    pub status: Status,
    pub trade_no: Option<Echoed>,
    pub out_trade_no: Option<Echoed>,
    pub out_request_no: Option<Echoed>,
    /// Yuan of this refund (not the trade's total).
    pub refund_amount: Option<Echoed>,
    pub refund_status: Option<Echoed>,
    pub gmt_refund_pay: Option<Echoed>,
}

/// Why an answer's member could not be read, for the unknown's why.
pub fn malformed(what: &str, e: &serde_json::Error) -> String {
    format!("the answer's {what} is not well formed ({e}): it proves nothing")
}

pub fn parse_refund(value: &[u8]) -> Result<RefundAnswer, String> {
    serde_json::from_slice(value).map_err(|e| malformed("refund answer", &e))
}

pub fn parse_query(value: &[u8]) -> Result<QueryAnswer, String> {
    serde_json::from_slice(value).map_err(|e| malformed("query answer", &e))
}

pub fn parse_status(value: &[u8]) -> Result<Status, String> {
    serde_json::from_slice(value).map_err(|e| malformed("error answer", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_member_is_the_method_with_underscores() {
        assert_eq!(
            response_member(REFUND_METHOD),
            "alipay_trade_refund_response"
        );
        assert_eq!(
            response_member(QUERY_METHOD),
            "alipay_trade_fastpay_refund_query_response"
        );
    }

    #[test]
    fn empty_parameters_and_sign_are_left_out_sign_type_is_kept() {
        let params = [
            ("sign", "zzz"),
            ("method", "m"),
            ("app_auth_token", ""),
            ("sign_type", "RSA2"),
            ("app_id", "1"),
            ("biz_content", "{\"a\":\"b c\"}"),
        ];
        assert_eq!(
            string_to_sign(&params),
            "app_id=1&biz_content={\"a\":\"b c\"}&method=m&sign_type=RSA2"
        );
    }

    #[test]
    fn biz_content_keeps_its_order_and_skips_what_is_not_given() {
        let biz = RefundBiz {
            out_trade_no: None,
            trade_no: Some("2026"),
            out_request_no: "R1",
            refund_amount: "0.05".into(),
            refund_reason: Some("退款 \"x\""),
            operator_id: None,
            store_id: Some("S1"),
            terminal_id: None,
        };
        assert_eq!(
            biz_content(&biz),
            r#"{"trade_no":"2026","out_request_no":"R1","refund_amount":"0.05","refund_reason":"退款 \"x\"","store_id":"S1"}"#
        );
        let query = QueryBiz {
            out_trade_no: Some("T1"),
            trade_no: Some("2026"),
            out_request_no: "R1",
            query_options: QUERY_OPTIONS,
        };
        assert_eq!(
            biz_content(&query),
            r#"{"out_trade_no":"T1","trade_no":"2026","out_request_no":"R1","query_options":["gmt_refund_pay"]}"#
        );
    }

    #[test]
    fn the_timestamp_is_beijing_time() {
        let at: jiff::Timestamp = "2026-11-22T01:30:00Z".parse().unwrap();
        assert_eq!(beijing_timestamp(at), "2026-11-22 09:30:00");
        let at: jiff::Timestamp = "2026-12-31T16:00:05Z".parse().unwrap();
        assert_eq!(beijing_timestamp(at), "2027-01-01 00:00:05");
    }

    #[test]
    fn echoed_fields_keep_their_json_type() {
        let answer = parse_refund(
            br#"{"code":"10000","msg":"Success","out_trade_no":12,"trade_no":null,"refund_fee":"1.00","unknown":[1]}"#,
        )
        .unwrap();
        assert_eq!(answer.out_trade_no, Some(Echoed::Other("a number")));
        // null is as good as absent: missing, which the echo check refuses.
        assert_eq!(answer.trade_no, None);
        assert_eq!(answer.refund_fee, Some(Echoed::Text("1.00".into())));
        assert_eq!(answer.fund_change, None);
        // `code` must be text: without it an answer proves nothing.
        assert!(parse_refund(br#"{"code":10000}"#).is_err());
        assert!(parse_refund(br#"{"msg":"Success"}"#).is_err());
        assert!(parse_query(b"[1]").is_err());
        let status = parse_status(br#"{"code":"40004","sub_code":"ACQ.X","sub_msg":"y"}"#).unwrap();
        assert_eq!(status.sub_code(), "ACQ.X");
    }
}
