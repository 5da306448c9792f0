//! The Lianshang client: builds the base and business objects of both calls,
//! signs them, posts them (gzipped when the profile says so) and classifies the answer.

use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{Map, Value};
use url::Url;

use super::classify::{classify, Asked};
use super::fields::{typed_value, FieldError, BASE_FIELDS, BIZ_FIELDS};
use super::wire::{
    check_base_url, gunzip, gzip, parse_answer, string_to_sign, Call, QUERY_PATH, REFUND_PATH,
};
use crate::gateway::rsa_sign::RsaSigner;
use crate::gateway::{http, status_only};
use crate::gateway::{Attempt, ClientError, Gateway, IdUse, Outcome, Receipt, RefundOrder};

/// The `time_stamp` every request carries: Lianshang works in China Standard Time.
fn time_stamp() -> String {
    let china = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    jiff::Timestamp::now()
        .to_zoned(china)
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

#[derive(Clone, Debug)]
pub struct LianshangSettings {
    pub base_url: Url,
    pub merchant_id: String,
    pub signer: RsaSigner,
    pub timeout: Duration,
    pub allow_insecure_http: bool,
    /// Send gzip bodies (`compress_type` "1").
    pub compress: bool,
}

pub struct LianshangClient {
    http: reqwest::Client,
    refund_url: Url,
    query_url: Url,
    merchant_id: String,
    signer: RsaSigner,
    compress: bool,
}

impl LianshangClient {
    pub fn new(settings: LianshangSettings) -> Result<LianshangClient, ClientError> {
        check_base_url(&settings.base_url, settings.allow_insecure_http)?;
        Ok(LianshangClient {
            http: http::client(settings.timeout),
            refund_url: settings.base_url.join(REFUND_PATH)?,
            query_url: settings.base_url.join(QUERY_PATH)?,
            merchant_id: settings.merchant_id,
            signer: settings.signer,
            compress: settings.compress,
        })
    }

    /// The base object, from the row's base fields plus what this client fixes.
    fn base_data(
        &self,
        refund: &RefundOrder,
        service_name: &str,
        request_id: &str,
    ) -> Result<Map<String, Value>, FieldError> {
        let mut base = Map::new();
        for name in BASE_FIELDS {
            if let Some(value) = refund.field(name) {
                base.insert((*name).into(), typed_value(name, value)?);
            }
        }
        let fixed = [
            ("version", "2"),
            ("service_name", service_name),
            ("merchant_id", &self.merchant_id),
            ("request_id", request_id),
            ("time_stamp", &time_stamp()),
            ("compress_type", if self.compress { "1" } else { "0" }),
        ];
        for (name, value) in fixed {
            base.insert(name.into(), Value::String(value.into()));
        }
        Ok(base)
    }

    fn refund_body(&self, refund: &RefundOrder, request_id: &str) -> Result<Value, FieldError> {
        let base = self.base_data(refund, "CreateRefundOrder", request_id)?;
        let mut biz = Map::new();
        for name in BIZ_FIELDS {
            if let Some(value) = refund.field(name) {
                biz.insert((*name).into(), typed_value(name, value)?);
            }
        }
        biz.insert(
            "out_refund_id".into(),
            Value::String(refund.refund_id.clone()),
        );
        biz.insert("refund_cash_amount".into(), Value::from(refund.amount.0));
        biz.insert("security_type".into(), Value::String("RSA".into()));
        let sign = self.signer.sign(&string_to_sign(&[&base, &biz]));
        biz.insert("sign".into(), Value::String(sign));
        Ok(serde_json::json!({ "newBaseData": base, "newBizData": biz }))
    }

    fn query_body(&self, refund: &RefundOrder, request_id: &str) -> Result<Value, FieldError> {
        let base = self.base_data(refund, "QueryRefundStatus", request_id)?;
        let mut biz = Map::new();
        if let Some(wk) = &refund.gateway_refund_id {
            biz.insert("wk_refund_id".into(), Value::String(wk.clone()));
        }
        biz.insert(
            "out_refund_id".into(),
            Value::String(refund.refund_id.clone()),
        );
        if let Some(trade) = refund.field("out_trade_id") {
            biz.insert("out_trade_id".into(), Value::String(trade.into()));
        }
        biz.insert("security_type".into(), Value::String("RSA".into()));
        let sign = self.signer.sign(&string_to_sign(&[&base, &biz]));
        biz.insert("sign".into(), Value::String(sign));
        Ok(serde_json::json!({ "queryBaseData": base, "queryBizData": biz }))
    }

    async fn call(&self, call: Call, refund: &RefundOrder) -> Attempt {
        let asked = Asked {
            merchant_id: self.merchant_id.clone(),
            request_id: Alphanumeric.sample_string(&mut rand::thread_rng(), 32),
            refund_id: refund.refund_id.clone(),
            out_trade_id: refund.field("out_trade_id").unwrap_or("").to_owned(),
            amount: refund.amount,
        };
        let (url, body) = match call {
            Call::Refund => (
                &self.refund_url,
                self.refund_body(refund, &asked.request_id),
            ),
            Call::Query => (&self.query_url, self.query_body(refund, &asked.request_id)),
        };
        let body = match body {
            Ok(body) => serde_json::to_vec(&body).expect("a JSON value always serializes"),
            Err(why) => {
                // Nothing left: a field of the row cannot be typed as the contract wants.
                let outcome = Outcome::failed(
                    "BR_INVALID_FIELD",
                    why.to_string(),
                    Receipt::default(),
                    IdUse::Free,
                );
                return Attempt::without_answer(outcome);
            }
        };
        let mut request = self.http.post(url.clone()).header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        );
        request = if self.compress {
            request
                .header(reqwest::header::CONTENT_ENCODING, "gzip")
                .body(gzip(&body))
        } else {
            request.body(body)
        };
        match http::send(request).await {
            Ok(reply) => {
                status_only::outcome(&reply).unwrap_or_else(|| read_reply(call, &reply, &asked))
            }
            Err(attempt) => attempt,
        }
    }
}

/// What an HTTP answer proves: decompressed when it says gzip, its objects
/// found, then classified against what was asked.
fn read_reply(call: Call, reply: &http::Reply, asked: &Asked) -> Attempt {
    let unknown = |why: String| Attempt {
        outcome: Outcome::unknown(why),
        http_status: Some(reply.status),
        gateway_codes: None,
    };
    let gzipped = reply
        .headers
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let bytes = if gzipped {
        match gunzip(&reply.body) {
            Ok(bytes) => bytes,
            Err(e) => return unknown(format!("the gzip answer does not decompress: {e}")),
        }
    } else {
        reply.body.to_vec()
    };
    match parse_answer(call, &bytes) {
        Ok((base, biz)) => {
            let code = biz.get("result_code").and_then(Value::as_str).unwrap_or("");
            Attempt {
                outcome: classify(call, &base, &biz, asked),
                http_status: Some(reply.status),
                gateway_codes: Some(format!("result_code={}", code.trim())),
            }
        }
        Err(why) => unknown(why.to_string()),
    }
}

#[async_trait::async_trait]
impl Gateway for LianshangClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        self.call(Call::Refund, refund).await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        self.call(Call::Query, refund).await
    }
}
