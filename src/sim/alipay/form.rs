//! The gateway's common parameters and the request's signature
//! (docs/specs/alipay.md, "Common parameters", "Signing a request"): the form
//! body and the query string read into one set of parameters (a name given
//! twice is refused), then checked in the contract's order, the RSA2
//! signature last, over every parameter but `sign` (empty ones dropped,
//! sorted by name, `name=value` joined with `&`, values as decoded).

use std::collections::BTreeMap;

use crate::gateway::rsa_sign::{RsaDigest, RsaVerifier};

/// The three calls the simulator serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    Refund,
    RefundQuery,
    BillUrl,
}

impl Call {
    fn parse(method: &str) -> Option<Call> {
        match method {
            "alipay.trade.refund" => Some(Call::Refund),
            "alipay.trade.fastpay.refund.query" => Some(Call::RefundQuery),
            "alipay.data.dataservice.bill.downloadurl.query" => Some(Call::BillUrl),
            _ => None,
        }
    }

    pub(super) fn method(self) -> &'static str {
        match self {
            Call::Refund => "alipay.trade.refund",
            Call::RefundQuery => "alipay.trade.fastpay.refund.query",
            Call::BillUrl => "alipay.data.dataservice.bill.downloadurl.query",
        }
    }

    /// The answer's member: the method with `.` replaced by `_`, plus `_response`.
    pub(super) fn member(self) -> String {
        format!("{}_response", self.method().replace('.', "_"))
    }
}

/// The member of answers to requests whose method is missing or unknown (ours).
pub(super) const ERROR_MEMBER: &str = "error_response";

/// A request that passed every gateway-level check.
#[derive(Debug)]
pub(super) struct Request {
    pub app_id: String,
    pub call: Call,
    /// The business fields as the one JSON string sent; empty when absent.
    pub biz_content: String,
}

/// A gateway-level refusal: `code`, `msg`, `sub_code`, `sub_msg`, under `member`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub member: String,
    pub code: &'static str,
    pub msg: &'static str,
    pub sub_code: &'static str,
    pub sub_msg: &'static str,
}

impl Refusal {
    fn new(
        member: &str,
        code: &'static str,
        sub_code: &'static str,
        sub_msg: &'static str,
    ) -> Refusal {
        let msg = match code {
            "40001" => "Missing Required Arguments",
            "40002" => "Invalid Arguments",
            "40005" => "Call Limited",
            _ => "Business Failed",
        };
        Refusal {
            member: member.to_owned(),
            code,
            msg,
            sub_code,
            sub_msg,
        }
    }
}

/// The parameters of the query string and the form body; `None` when a name
/// is given twice (in either, or in both).
pub(super) fn parameters(query: Option<&str>, body: &[u8]) -> Option<BTreeMap<String, String>> {
    let mut parameters = BTreeMap::new();
    let pairs = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .chain(url::form_urlencoded::parse(body));
    for (name, value) in pairs {
        if parameters
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return None;
        }
    }
    Some(parameters)
}

/// What the simulator knows of the app's side.
pub(super) struct AppKey<'a> {
    pub verifier: &'a RsaVerifier,
    /// The `wrong_key` fault: the simulator holds another key, nothing verifies.
    pub wrong_key: bool,
}

/// The string an app signs: every parameter but `sign`, empty ones dropped,
/// in ascending byte order of their names, `name=value` joined with `&`.
pub fn string_to_sign(parameters: &BTreeMap<String, String>) -> String {
    parameters
        .iter()
        .filter(|(name, value)| name.as_str() != "sign" && !value.is_empty())
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `yyyy-MM-dd HH:mm:ss`, exactly.
fn is_timestamp(text: &str) -> bool {
    text.len() == 19 && jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text).is_ok()
}

/// Checks the parameters in the contract's order: the method, then what is
/// missing, the app, the values of `format`, `charset`, `timestamp` and
/// `sign_type`, and the signature last. `format` and `charset` may be left
/// out (ours: Alipay's defaults are `JSON` and the only charset taken here).
pub(super) fn check(
    parameters: &BTreeMap<String, String>,
    knows_app: impl Fn(&str) -> bool,
    key: &AppKey,
) -> Result<Request, Refusal> {
    let get = |name: &str| {
        parameters
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(method) = get("method") else {
        return Err(Refusal::new(
            ERROR_MEMBER,
            "40001",
            "isv.missing-method",
            "缺少方法名参数",
        ));
    };
    let Some(call) = Call::parse(method) else {
        return Err(Refusal::new(
            ERROR_MEMBER,
            "40002",
            "isv.invalid-method",
            "不存在的方法名",
        ));
    };
    let member = call.member();
    let refuse = |code, sub_code, sub_msg| Err(Refusal::new(&member, code, sub_code, sub_msg));
    let Some(sign) = get("sign") else {
        return refuse("40001", "isv.missing-signature", "缺少签名参数");
    };
    let Some(app_id) = get("app_id") else {
        return refuse("40001", "isv.missing-app-id", "缺少AppID参数");
    };
    let Some(timestamp) = get("timestamp") else {
        return refuse("40001", "isv.missing-timestamp", "缺少时间戳参数");
    };
    if get("version").is_none() {
        return refuse("40001", "isv.missing-version", "缺少版本参数");
    }
    if !knows_app(app_id) {
        return refuse("40002", "isv.invalid-app-id", "无效的AppID参数");
    }
    if get("format").is_some_and(|f| !f.eq_ignore_ascii_case("JSON")) {
        return refuse("40002", "isv.invalid-format", "无效的数据格式");
    }
    if get("charset").is_some_and(|c| !c.eq_ignore_ascii_case("utf-8")) {
        return refuse("40002", "isv.invalid-charset", "无效的字符集");
    }
    if !is_timestamp(timestamp) {
        return refuse("40002", "isv.invalid-timestamp", "非法的时间戳参数");
    }
    if get("sign_type") != Some("RSA2") {
        return refuse("40002", "isv.invalid-signature-type", "无效的签名类型");
    }
    let message = string_to_sign(parameters);
    if key.wrong_key || !key.verifier.verify(&message, sign, RsaDigest::Sha256) {
        return refuse("40002", "isv.invalid-signature", "验签出错");
    }
    Ok(Request {
        app_id: app_id.to_owned(),
        call,
        biz_content: get("biz_content").unwrap_or("").to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!("../../../tests/vectors/alipay/made_here_vectors.json");

    fn vector(name: &str) -> serde_json::Value {
        let all: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        all[name].clone()
    }

    fn key() -> RsaVerifier {
        RsaVerifier::from_pem(crate::sim::sample_keys::ALIPAY_APP_PUBLIC_KEY).unwrap()
    }

    /// Every signed request of the vectors, read from its form body as sent.
    #[test]
    fn the_vectors_requests_verify_from_their_form_bodies() {
        let verifier = key();
        let app = AppKey {
            verifier: &verifier,
            wrong_key: false,
        };
        for (name, call) in [
            ("refund_request", Call::Refund),
            ("refund_query_request", Call::RefundQuery),
            ("bill_downloadurl_request", Call::BillUrl),
        ] {
            let v = vector(name);
            let body = v["http"]["body"].as_str().unwrap();
            let parameters = parameters(None, body.as_bytes()).unwrap();
            assert_eq!(string_to_sign(&parameters), v["string_to_sign"], "{name}");
            let request = check(&parameters, |id| id == "2021000123456789", &app).unwrap();
            assert_eq!(request.call, call);
            assert_eq!(request.biz_content, v["params"]["biz_content"]);
            // The same parameters in the query string of a GET.
            let from_query = super::parameters(Some(body), b"").unwrap();
            assert!(check(&from_query, |_| true, &app).is_ok());
            // One byte of biz_content changed: the signature fails.
            let mut changed = parameters.clone();
            changed.get_mut("biz_content").unwrap().push(' ');
            let refused = check(&changed, |_| true, &app).unwrap_err();
            assert_eq!(
                (refused.code, refused.sub_code),
                ("40002", "isv.invalid-signature")
            );
        }
    }

    #[test]
    fn each_common_parameter_is_refused_with_the_contracts_code() {
        let verifier = key();
        let app = AppKey {
            verifier: &verifier,
            wrong_key: false,
        };
        let body = vector("refund_request")["http"]["body"]
            .as_str()
            .unwrap()
            .to_owned();
        let base = parameters(None, body.as_bytes()).unwrap();
        let refused = |change: &dyn Fn(&mut BTreeMap<String, String>)| {
            let mut p = base.clone();
            change(&mut p);
            let r = check(&p, |id| id == "2021000123456789", &app).unwrap_err();
            (r.member, r.code, r.sub_code)
        };
        let member = "alipay_trade_refund_response".to_owned();
        let set = |name: &'static str, value: &'static str| {
            move |p: &mut BTreeMap<String, String>| {
                p.insert(name.into(), value.into());
            }
        };
        let without = |name: &'static str| {
            move |p: &mut BTreeMap<String, String>| {
                p.remove(name);
            }
        };
        assert_eq!(
            refused(&without("method")),
            (ERROR_MEMBER.into(), "40001", "isv.missing-method")
        );
        assert_eq!(
            refused(&set("method", "alipay.trade.pay")),
            (ERROR_MEMBER.into(), "40002", "isv.invalid-method")
        );
        for (name, sub_code) in [
            ("sign", "isv.missing-signature"),
            ("app_id", "isv.missing-app-id"),
            ("timestamp", "isv.missing-timestamp"),
            ("version", "isv.missing-version"),
        ] {
            assert_eq!(refused(&without(name)), (member.clone(), "40001", sub_code));
        }
        for (name, value, sub_code) in [
            ("app_id", "2021000000000000", "isv.invalid-app-id"),
            ("format", "XML", "isv.invalid-format"),
            ("charset", "GBK", "isv.invalid-charset"),
            ("timestamp", "2026-11-22T09:30:00", "isv.invalid-timestamp"),
            ("sign_type", "RSA", "isv.invalid-signature-type"),
        ] {
            assert_eq!(
                refused(&set(name, value)),
                (member.clone(), "40002", sub_code)
            );
        }
        assert_eq!(
            refused(&without("sign_type")),
            (member.clone(), "40002", "isv.invalid-signature-type")
        );
        // A name given twice.
        assert_eq!(parameters(Some("app_id=1"), body.as_bytes()), None);
        // The wrong-key fault: a good signature fails.
        let wrong = AppKey {
            verifier: &verifier,
            wrong_key: true,
        };
        let r = check(&base, |_| true, &wrong).unwrap_err();
        assert_eq!(r.sub_code, "isv.invalid-signature");
    }
}
