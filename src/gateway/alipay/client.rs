//! The Alipay client: writes a call's `biz_content` from the refund's fields,
//! signs the parameters (a fresh Beijing timestamp per HTTP attempt), posts
//! the form to the profile's `gateway.do`, and hands a 2xx answer to
//! [`super::classify::answer`]. It never retries by itself; what it adds to
//! the answer is Alipay's own advice, kept here so the engine needs no Alipay
//! rule:
//! - `fund_change` `N`: the query that settles it waits until 10 s after the
//!   refund was sent;
//! - `ACQ.DISCORDANT_REPEAT_REQUEST`: one query says what the number holds
//!   (this refund → its answer; another amount or nothing → review), never a
//!   new number;
//! - a busy answer (`40005`, HTTP 200) waits what its `Retry-After` asks, as
//!   an HTTP 429 does.
//!
//! A systematic refusal (bad signature, unknown app, no permission) is
//! `Outcome::Rejected` at once: the engine stops the profile on the first,
//! as for every gateway; the contract's "3 in a row" is not counted here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use url::Url;

use super::classify::{answer, Asked, Call, Follow};
use super::wire::{
    beijing_timestamp, biz_content, form_body, parameters, signed, Common, QueryBiz, RefundBiz,
    QUERY_OPTIONS,
};
use super::yuan;
use crate::gateway::rsa_sign::{RsaSigner, RsaVerifier};
use crate::gateway::{http, status_only, Attempt, Gateway, IdUse, Outcome, Receipt, RefundOrder};
use crate::money::Fen;
use crate::secret::Secret;

/// The clock requests are stamped with (tests set theirs).
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(jiff::Timestamp::now)
}

/// The largest refund Alipay takes: 100000000.00 yuan.
const MAX_REFUND_FEN: u64 = 10_000_000_000;

pub struct AlipaySettings {
    /// The whole gateway URL (`…/gateway.do`): every call posts to it.
    pub gateway_url: Url,
    pub app_id: String,
    pub signer: RsaSigner,
    pub alipay_key: Arc<RsaVerifier>,
    pub app_auth_token: Option<Secret>,
    pub timeout: Duration,
    pub clock: Clock,
}

pub struct AlipayClient {
    http: reqwest::Client,
    settings: AlipaySettings,
    /// Each trade's total refunded, as the last answer that moved money on
    /// it said (`refund_fee`). A refund's answer names no number, only the
    /// trade's running total: a later part's answer must cover what an
    /// earlier one said plus this part, or it is an earlier part's answer.
    totals: Mutex<HashMap<(String, String), Fen>>,
}

/// The `User-Agent` every request carries.
fn user_agent() -> String {
    format!("bulkrefund/{}", env!("CARGO_PKG_VERSION"))
}

/// What a refund's calls ask, from its fields.
pub fn asked(refund: &RefundOrder) -> Asked {
    Asked {
        out_request_no: refund.refund_id.clone(),
        out_trade_no: refund.field("out_trade_no").map(str::to_owned),
        trade_no: refund.field("trade_no").map(str::to_owned),
        refund: refund.amount,
    }
}

/// The refund's `biz_content`, or why its fields cannot make one. The same
/// fields make the same string on every resend.
pub fn refund_biz(refund: &RefundOrder) -> Result<String, String> {
    let (out_trade_no, trade_no) = (refund.field("out_trade_no"), refund.field("trade_no"));
    if out_trade_no.is_none() && trade_no.is_none() {
        return Err("the refund has neither out_trade_no nor trade_no".into());
    }
    if !(1..=MAX_REFUND_FEN).contains(&refund.amount.0) {
        return Err(format!(
            "{} yuan is outside Alipay's 0.01 to 100000000.00",
            refund.amount
        ));
    }
    Ok(biz_content(&RefundBiz {
        out_trade_no,
        trade_no,
        out_request_no: &refund.refund_id,
        refund_amount: yuan::from_fen(refund.amount),
        refund_reason: refund.field("refund_reason"),
        operator_id: refund.field("operator_id"),
        store_id: refund.field("store_id"),
        terminal_id: refund.field("terminal_id"),
    }))
}

/// The query's `biz_content`: the trade's ids exactly as the refund sent them.
pub fn query_biz(refund: &RefundOrder) -> String {
    biz_content(&QueryBiz {
        out_trade_no: refund.field("out_trade_no"),
        trade_no: refund.field("trade_no"),
        out_request_no: &refund.refund_id,
        query_options: QUERY_OPTIONS,
    })
}

impl AlipayClient {
    pub fn new(settings: AlipaySettings) -> AlipayClient {
        AlipayClient {
            http: http::client(settings.timeout),
            settings,
            totals: Mutex::new(HashMap::new()),
        }
    }

    /// The settings back, to build a client that differs in one.
    #[cfg(test)]
    pub fn into_settings(self) -> AlipaySettings {
        self.settings
    }

    /// The signed form body of one call, stamped now.
    pub fn form(&self, method: &str, biz: &str) -> String {
        let timestamp = beijing_timestamp((self.settings.clock)());
        let common = Common {
            app_id: &self.settings.app_id,
            method,
            timestamp: &timestamp,
            app_auth_token: self.settings.app_auth_token.as_ref().map(Secret::expose),
        };
        form_body(&signed(parameters(&common, biz), &self.settings.signer))
    }

    /// One signed HTTP attempt and what its answer proves.
    async fn send(&self, call: Call, biz: &str, asked: &Asked) -> (Attempt, Follow, Option<Fen>) {
        let request = self
            .http
            .post(self.settings.gateway_url.clone())
            .header(CONTENT_TYPE, super::wire::CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, user_agent())
            .body(self.form(call.method(), biz));
        let reply = match http::send(request).await {
            Ok(reply) => reply,
            Err(attempt) => return (attempt, Follow::Nothing, None),
        };
        if let Some(attempt) = status_only::outcome(&reply) {
            return (attempt, Follow::Nothing, None);
        }
        let read = answer(call, &reply.body, &self.settings.alipay_key, asked);
        let outcome = match read.outcome {
            Outcome::Retry { after: None, why } => Outcome::Retry {
                after: http::retry_after(&reply.headers),
                why,
            },
            other => other,
        };
        let attempt = Attempt {
            outcome,
            http_status: Some(reply.status),
            gateway_codes: read.codes,
        };
        (attempt, read.follow, read.trade_total)
    }

    /// A refund Alipay says moved money, its trade's total now `total`:
    /// believed only if the total covers what an earlier answer said was
    /// refunded on the trade plus this refund; then remembered.
    fn covers_earlier_parts(&self, refund: &RefundOrder, applied: Attempt, total: Fen) -> Attempt {
        let (out_trade_no, trade_no) = super::rows::order_ids(&refund.fields);
        let key = (out_trade_no.to_owned(), trade_no.to_owned());
        let mut totals = self.totals.lock().expect("totals lock");
        let before = totals.get(&key).copied().unwrap_or(Fen(0));
        if total.0 < before.0.saturating_add(refund.amount.0) {
            let what = format!(
                "refund_fee is {:?} in all on the trade, but an earlier answer said {:?} \
                 and this refund is {:?}: an answer about an earlier part of the trade",
                yuan::from_fen(total),
                yuan::from_fen(before),
                yuan::from_fen(refund.amount)
            );
            return Attempt {
                outcome: Outcome::Mismatch { what },
                ..applied
            };
        }
        totals.insert(key, total);
        applied
    }

    /// `ACQ.DISCORDANT_REPEAT_REQUEST`: the number was used on the trade with
    /// other parameters. One query says what it holds: this refund (its
    /// amount) → that answer; another amount → a mismatch; nothing → review
    /// too (our convention). Never a new number.
    async fn what_the_number_holds(
        &self,
        refund: &RefundOrder,
        asked: &Asked,
        applied: Attempt,
    ) -> Attempt {
        let (queried, _, _) = self.send(Call::Query, &query_biz(refund), asked).await;
        match queried.outcome {
            Outcome::NotFound => Attempt {
                outcome: Outcome::Mismatch {
                    what: "Alipay says this out_request_no was used on the trade with other \
                           parameters (ACQ.DISCORDANT_REPEAT_REQUEST), and a query finds no refund \
                           under it: a person decides; it is never sent under another number"
                        .to_owned(),
                },
                ..applied
            },
            Outcome::Succeeded(_)
            | Outcome::Processing(_)
            | Outcome::Failed { .. }
            | Outcome::Mismatch { .. } => queried,
            // Nothing learnt: unknown, and the engine asks again.
            _ => applied,
        }
    }
}

#[async_trait::async_trait]
impl Gateway for AlipayClient {
    async fn submit(&self, refund: &RefundOrder) -> Attempt {
        let biz = match refund_biz(refund) {
            Ok(biz) => biz,
            Err(why) => {
                // Nothing sent: the row's fields cannot make the contract's call.
                let outcome =
                    Outcome::failed("BR_INVALID_FIELD", why, Receipt::default(), IdUse::Free);
                return Attempt::without_answer(outcome);
            }
        };
        let asked = asked(refund);
        let (applied, follow, trade_total) = self.send(Call::Refund, &biz, &asked).await;
        match follow {
            Follow::Nothing => match trade_total {
                Some(total) => self.covers_earlier_parts(refund, applied, total),
                None => applied,
            },
            // Unknown: the engine queries it no sooner than the gateway's
            // `first_query_after` (10 s, Alipay's advice) after the send.
            Follow::QueryLater => applied,
            Follow::AskWhatTheNumberHolds => {
                self.what_the_number_holds(refund, &asked, applied).await
            }
        }
    }

    async fn query(&self, refund: &RefundOrder) -> Attempt {
        let (attempt, _, _) = self
            .send(Call::Query, &query_biz(refund), &asked(refund))
            .await;
        attempt
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use axum::body::{to_bytes, Body};
    use axum::extract::Request;
    use axum::response::Response;

    use super::*;
    use crate::gateway::alipay::testing::{
        alipay_key, app_key, app_signer, signed_answer, vector, APP_ID,
    };
    use crate::gateway::alipay::wire::{self, response_member, string_to_sign};
    use crate::gateway::rsa_sign::RsaDigest;

    /// What the test server saw: each call's decoded parameters, in order, and its Content-Type.
    type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

    const TRADE_NO: &str = "2026110122001400000000000002";

    fn made_here(name: &str) -> String {
        let all: serde_json::Value =
            serde_json::from_str(vector!("made_here_vectors.json")).unwrap();
        all[name]["raw"].as_str().unwrap().to_owned()
    }

    /// The simulator's check, in short: the app key signed the decoded parameters.
    fn signature_verifies(params: &[(String, String)]) -> bool {
        let sign = params
            .iter()
            .find(|(k, _)| k == "sign")
            .map(|(_, v)| v.as_str());
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let app = app_key();
        sign.is_some_and(|sign| app.verify(&string_to_sign(&borrowed), sign, RsaDigest::Sha256))
    }

    fn found(no: &str, yuan: &str) -> String {
        let value = format!(
            r#"{{"code":"10000","msg":"Success","out_request_no":"{no}","out_trade_no":"T20261101000002","refund_amount":"{yuan}","refund_status":"REFUND_SUCCESS","trade_no":"{TRADE_NO}"}}"#
        );
        signed_answer(&response_member(wire::QUERY_METHOD), &value)
    }

    /// Alipay as the vectors play it: R20261122-0003 is refunded; 0004 was
    /// refunded before (a repeat answers fund_change N); 0005 was used with
    /// another amount; BADKEY's requests are refused unsigned.
    fn gateway_answer(params: &[(String, String)]) -> String {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let biz: serde_json::Value = serde_json::from_str(&get("biz_content")).unwrap();
        let no = biz["out_request_no"].as_str().unwrap().to_owned();
        let refund_member = response_member(wire::REFUND_METHOD);
        let not_found = signed_answer(
            &response_member(wire::QUERY_METHOD),
            r#"{"code":"10000","msg":"Success"}"#,
        );
        if !signature_verifies(params) || no == "BADKEY" {
            return made_here("refund_answer_invalid_signature_unsigned");
        }
        if no.starts_with("BUSY") {
            let limited = r#"{"code":"40005","msg":"Call Limited","sub_code":"isv.method-call-limited","sub_msg":"调用频率超限"}"#;
            return format!("{{\"{refund_member}\":{limited}}}");
        }
        match (get("method").as_str(), no.as_str()) {
            (wire::REFUND_METHOD, "R20261122-0003") => made_here("refund_answer_fund_change_Y"),
            // A lying gateway: 0003's signed answer, replayed for another part.
            (wire::REFUND_METHOD, replayed) if replayed.starts_with("REPLAY") => {
                made_here("refund_answer_fund_change_Y")
            }
            (wire::REFUND_METHOD, "R20261122-0004" | "R20261122-0006") => {
                made_here("refund_answer_replay_fund_change_N")
            }
            (wire::REFUND_METHOD, "R20261122-0005") => signed_answer(
                &refund_member,
                r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.DISCORDANT_REPEAT_REQUEST","sub_msg":"请求信息不一致"}"#,
            ),
            (wire::QUERY_METHOD, "R20261122-0003") => made_here("query_answer_found"),
            (wire::QUERY_METHOD, "R20261122-0004") => found("R20261122-0004", "25.99"),
            _ => not_found,
        }
    }

    async fn serve(request: Request, seen: Seen) -> Response {
        let content_type = request
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = to_bytes(request.into_body(), 1 << 16).await.unwrap();
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let answer = gateway_answer(&params);
        // BUSY's answer asks for a wait (far too long: capped); BUSY-NO-WAIT's does not.
        let busy = params
            .iter()
            .any(|(k, v)| k == "biz_content" && v.contains("\"BUSY\""));
        seen.lock().unwrap().push((params, content_type));
        // Alipay's observed Content-Type for a JSON body.
        let response = Response::builder().header("content-type", "text/html;charset=utf-8");
        let response = if busy {
            response.header("retry-after", "99999")
        } else {
            response
        };
        response.body(Body::from(answer)).unwrap()
    }

    fn order(id: &str) -> RefundOrder {
        RefundOrder {
            refund_id: id.into(),
            amount: Fen(2599),
            fields: BTreeMap::from([
                ("out_trade_no".to_owned(), "T20261101000002".to_owned()),
                ("refund_reason".to_owned(), "月末退款 month-end".to_owned()),
            ]),
            gateway_refund_id: None,
        }
    }

    async fn started() -> (AlipayClient, Seen) {
        let seen: Seen = Arc::default();
        let app = {
            let seen = seen.clone();
            axum::Router::new().fallback(move |request: Request| serve(request, seen.clone()))
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/gateway.do", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = AlipayClient::new(AlipaySettings {
            gateway_url: Url::parse(&url).unwrap(),
            app_id: APP_ID.into(),
            signer: app_signer(),
            alipay_key: Arc::new(alipay_key()),
            app_auth_token: None,
            timeout: Duration::from_secs(5),
            clock: system_clock(),
        });
        (client, seen)
    }

    #[tokio::test]
    async fn signed_calls_over_http() {
        let (client, seen) = started().await;
        // The vectors' gmt_refund_pay: 2026-11-22 09:30:01, Beijing time.
        let receipt = Receipt {
            gateway_refund_id: Some(TRADE_NO.into()),
            refund_fen: None,
            success_at: Some("2026-11-22T01:30:01Z".parse().unwrap()),
            created_at: None,
        };
        let refunded = client.submit(&order("R20261122-0003")).await;
        assert_eq!(refunded.outcome, Outcome::Succeeded(receipt.clone()));
        assert_eq!(refunded.http_status, Some(200));
        assert_eq!(
            refunded.gateway_codes.as_deref(),
            Some("code=10000/fund_change=Y")
        );
        let queried = client.query(&order("R20261122-0003")).await;
        assert_eq!(
            queried.outcome,
            Outcome::Succeeded(Receipt {
                refund_fen: Some(Fen(2599)),
                ..receipt
            })
        );
        let absent = client.query(&order("R20261122-0009")).await;
        assert_eq!(absent.outcome, Outcome::NotFound);
        let seen = seen.lock().unwrap();
        let (params, content_type) = &seen[0];
        assert_eq!(content_type, wire::CONTENT_TYPE);
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "app_id",
                "method",
                "format",
                "charset",
                "sign_type",
                "timestamp",
                "version",
                "biz_content",
                "sign"
            ]
        );
        assert_eq!(params[0].1, APP_ID);
        assert_eq!(params[7].1, refund_biz(&order("R20261122-0003")).unwrap());
        let stamp = &params[5].1;
        assert!(
            stamp.len() == 19
                && jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", stamp).is_ok(),
            "{stamp}"
        );
        assert_eq!(seen[1].0[7].1, query_biz(&order("R20261122-0003")));
    }

    #[tokio::test]
    async fn fund_change_n_is_unknown_and_settled_by_the_query() {
        let (client, seen) = started().await;
        let repeat = client.submit(&order("R20261122-0004")).await;
        assert!(
            matches!(repeat.outcome, Outcome::Unknown { .. }),
            "{:?}",
            repeat.outcome
        );
        let queried = client.query(&order("R20261122-0004")).await;
        assert!(
            matches!(queried.outcome, Outcome::Succeeded(_)),
            "{:?}",
            queried.outcome
        );
        // Never a second refund call: one refund, one query.
        let methods: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p[1].1.clone())
            .collect();
        assert_eq!(methods, [wire::REFUND_METHOD, wire::QUERY_METHOD]);
        // fund_change N for a refund Alipay does not hold: the query says so,
        // and the engine sends it again under the same number.
        let (client, _) = started().await;
        let unheld = client.submit(&order("R20261122-0006")).await;
        assert!(matches!(unheld.outcome, Outcome::Unknown { .. }));
        assert_eq!(
            client.query(&order("R20261122-0006")).await.outcome,
            Outcome::NotFound
        );
    }

    /// A refund's answer names no number, only the trade's running total:
    /// the signed answer of an earlier part (25.99 in all), replayed for a
    /// later part of 1.00, says less than the 25.99 + 1.00 the trade must
    /// now hold, so it is never believed. (A client that saw no earlier
    /// part cannot tell: the query's exact echo is then the guard, and
    /// https the way to keep answers from being replayed.)
    #[tokio::test]
    async fn an_earlier_parts_answer_replayed_for_a_later_part_is_never_believed() {
        let (client, _) = started().await;
        let first = client.submit(&order("R20261122-0003")).await;
        assert!(
            matches!(first.outcome, Outcome::Succeeded(_)),
            "{:?}",
            first.outcome
        );
        let later = RefundOrder {
            amount: Fen(100),
            ..order("REPLAY-2")
        };
        let replayed = client.submit(&later).await;
        assert!(
            matches!(&replayed.outcome, Outcome::Mismatch { what } if what.contains("an earlier part")),
            "{:?}",
            replayed.outcome
        );
    }

    #[tokio::test]
    async fn a_discordant_number_is_queried_never_renumbered() {
        let (client, seen) = started().await;
        let discordant = client.submit(&order("R20261122-0005")).await;
        assert!(
            matches!(&discordant.outcome, Outcome::Mismatch { what } if what.contains("never sent under another number")),
            "{:?}",
            discordant.outcome
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].0[1].1, wire::QUERY_METHOD);
        assert!(seen[1].0[7]
            .1
            .contains("\"out_request_no\":\"R20261122-0005\""));
    }

    #[tokio::test]
    async fn a_refused_signature_is_rejected_and_a_busy_answer_waits() {
        let (client, _) = started().await;
        let refused = client.submit(&order("BADKEY")).await;
        assert!(
            matches!(&refused.outcome, Outcome::Rejected { code, why } if code == "isv.invalid-signature" && why.contains("private_key")),
            "{:?}",
            refused.outcome
        );
        assert_eq!(
            refused.gateway_codes.as_deref(),
            Some("code=40002/sub_code=isv.invalid-signature")
        );
        // 40005 in a 200, with Retry-After: the wait it asks, capped.
        let busy = client.submit(&order("BUSY")).await;
        assert_eq!(
            busy.outcome,
            Outcome::retry(
                Some(http::MAX_RETRY_AFTER),
                "isv.method-call-limited: 调用频率超限 (Alipay's call limit: nothing was created)"
            )
        );
        let unpaced = client.submit(&order("BUSY-NO-WAIT")).await;
        assert!(matches!(
            unpaced.outcome,
            Outcome::Retry { after: None, .. }
        ));
    }

    #[test]
    fn a_row_that_cannot_make_the_call_is_refused_before_sending() {
        let mut no_trade = order("R1");
        no_trade.fields.remove("out_trade_no");
        assert!(refund_biz(&no_trade).unwrap_err().contains("neither"));
        let mut too_much = order("R1");
        too_much.amount = Fen(10_000_000_001);
        assert!(refund_biz(&too_much).is_err());
        too_much.amount = Fen(10_000_000_000);
        assert!(refund_biz(&too_much)
            .unwrap()
            .contains("\"refund_amount\":\"100000000.00\""));
    }
}
