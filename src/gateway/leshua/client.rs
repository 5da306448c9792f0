//! The Leshua client: builds both calls' parameters, signs them, posts the form
//! to the profile's endpoint and classifies the answer.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use url::Url;

use super::classify::{classify, codes, trimmed, Asked, Call};
use super::wire::{parse_xml, sign_request, PATH, SERVICE_QUERY, SERVICE_REFUND};
use crate::gateway::{http, status_only};
use crate::gateway::{Attempt, ClientError, Gateway, Outcome, RefundOrder};
use crate::money::Fen;
use crate::secret::Secret;

pub struct LeshuaSettings {
    pub base_url: Url,
    pub merchant_id: String,
    pub trade_key: Secret,
    pub notify_url: Option<String>,
    pub timeout: Duration,
}

pub struct LeshuaClient {
    http: reqwest::Client,
    endpoint: Url,
    merchant_id: String,
    trade_key: Secret,
    notify_url: Option<String>,
}

impl LeshuaClient {
    pub fn new(settings: LeshuaSettings) -> Result<LeshuaClient, ClientError> {
        Ok(LeshuaClient {
            http: http::client(settings.timeout),
            endpoint: settings.base_url.join(PATH)?,
            merchant_id: settings.merchant_id,
            trade_key: settings.trade_key,
            notify_url: settings.notify_url,
        })
    }

    /// The common parameters of both calls, with the order ids of the refund.
    fn base_params(&self, service: &str, refund: &RefundOrder) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        params.insert("service".into(), service.into());
        params.insert("merchant_id".into(), self.merchant_id.clone());
        for name in ["third_order_id", "leshua_order_id"] {
            if let Some(value) = refund.field(name) {
                params.insert(name.into(), value.into());
            }
        }
        params.insert("merchant_refund_id".into(), refund.refund_id.clone());
        params.insert(
            "nonce_str".into(),
            Alphanumeric.sample_string(&mut rand::thread_rng(), 16),
        );
        params
    }

    async fn call(&self, call: Call, mut params: BTreeMap<String, String>, amount: Fen) -> Attempt {
        params.retain(|_, v| !v.is_empty());
        let asked = Asked::from_params(&params, amount);
        let sign = sign_request(&params, &self.trade_key);
        params.insert("sign".into(), sign);
        let reply = match http::send(self.http.post(self.endpoint.clone()).form(&params)).await {
            Ok(reply) => reply,
            Err(attempt) => return attempt,
        };
        if let Some(attempt) = status_only::outcome(&reply) {
            return attempt;
        }
        match parse_xml(&reply.body) {
            Ok(fields) => Attempt {
                outcome: classify(call, &fields, &self.trade_key, &asked),
                http_status: Some(reply.status),
                gateway_codes: Some(codes(&trimmed(&fields))),
            },
            Err(e) => Attempt {
                outcome: Outcome::unknown(format!("the answer is not a <leshua> document: {e}")),
                http_status: Some(reply.status),
                gateway_codes: None,
            },
        }
    }
}

#[async_trait::async_trait]
impl Gateway for LeshuaClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        let mut params = self.base_params(SERVICE_REFUND, refund);
        params.insert("refund_amount".into(), refund.amount.0.to_string());
        if let Some(url) = refund.field("notify_url").or(self.notify_url.as_deref()) {
            params.insert("notify_url".into(), url.into());
        }
        self.call(Call::Refund, params, refund.amount).await
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let params = self.base_params(SERVICE_QUERY, refund);
        self.call(Call::Query, params, refund.amount).await
    }
}
