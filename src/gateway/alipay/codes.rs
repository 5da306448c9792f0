//! What each of Alipay's error codes proves (docs/specs/alipay.md, "Error
//! codes: what each proves"): the business codes (`40004`) of each call and
//! the gateway-level ones, which may come unsigned. Only the refund call's
//! listed refusals fail a refund; none of them, and no gateway-level code,
//! created one, so every failure leaves the number free (Alipay asks for the
//! same number on a retry). What proves nothing is unknown and queried.

use super::wire::{Call, Echoed, Status};
use crate::gateway::{IdUse, Outcome, Receipt};

/// What the client does next besides reporting the outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    Nothing,
    /// `fund_change` `N`: the query that settles it waits
    /// [`super::classify::QUERY_AFTER_NO_FUND_CHANGE`] after the refund.
    QueryLater,
    /// `ACQ.DISCORDANT_REPEAT_REQUEST`: a query says what the number holds.
    AskWhatTheNumberHolds,
}

/// A gateway's value as we quote it: at most 64 characters.
pub fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}

/// The sub_code (or the code, without one) a failure reports, and its message.
fn failure(status: &Status, meaning: &str) -> (String, String) {
    let code = match status.sub_code() {
        "" => shown(&status.code),
        sub => shown(sub),
    };
    let said = status
        .sub_msg
        .as_ref()
        .or(status.msg.as_ref())
        .and_then(Echoed::text)
        .map(shown)
        .unwrap_or_default();
    (code.clone(), format!("{code}: {said} ({meaning})"))
}

fn refused(status: &Status, meaning: &str) -> Outcome {
    let (code, message) = failure(status, meaning);
    Outcome::failed(code, message, Receipt::default(), IdUse::Free)
}

/// `40004` on `alipay.trade.refund` that proves nothing was refunded: the
/// trade or the account refuses it (contract, "Error codes"). Alipay asks
/// for the same number on a retry, so none of them uses the number up.
pub const REFUND_REFUSALS: &[(&str, &str)] = &[
    ("ACQ.TRADE_NOT_EXIST", "no such trade"),
    ("ACQ.TRADE_STATUS_ERROR", "the trade is not paid"),
    (
        "ACQ.TRADE_HAS_CLOSE",
        "the trade is closed: unpaid, or already fully refunded",
    ),
    (
        "ACQ.TRADE_HAS_FINISHED",
        "past the refundable period: retrying cannot help",
    ),
    (
        "ACQ.REASON_TRADE_REFUND_FEE_ERR",
        "the amount is more than the trade's refundable rest",
    ),
    (
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "the amount is not the trade's total",
    ),
    ("ACQ.REFUND_FEE_ERROR", "the amount is invalid"),
    (
        "ACQ.SELLER_BALANCE_NOT_ENOUGH",
        "the merchant's balance is too low: top it up, then retry --failed sends the same number",
    ),
    ("ACQ.INVALID_PARAMETER", "a field is invalid"),
    ("ACQ.REASON_TRADE_BEEN_FREEZEN", "the trade is frozen"),
    (
        "ACQ.TRADE_NOT_ALLOW_REFUND",
        "the trade may not be refunded",
    ),
    (
        "ACQ.NOT_ALLOW_PARTIAL_REFUND",
        "the trade may not be refunded in part",
    ),
    (
        "ACQ.ONLINE_TRADE_VOUCHER_NOT_ALLOW_REFUND",
        "a voucher trade may not be refunded",
    ),
    (
        "ACQ.REASON_TRADE_STATUS_INVALID",
        "the trade's state does not allow it",
    ),
    ("ACQ.TRADE_SETTLE_ERROR", "the trade's settlement failed"),
    (
        "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
        "the refund's split does not add up",
    ),
    (
        "ACQ.REFUNDALLOC_UNAUTH_LIMIT",
        "the refund's split is not authorized",
    ),
    (
        "ACQ.REFUND_ROYALTY_PAYEE_ACCOUNT_NOT_EXIST",
        "a royalty payee's account does not exist",
    ),
    (
        "ACQ.REFUND_ACCOUNT_NOT_EXIST",
        "the refund's account does not exist",
    ),
    ("ACQ.BUYER_NOT_EXIST", "the payer's account does not exist"),
    ("ACQ.BUYER_ERROR", "the payer's account is in error"),
    (
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
        "the payer's account is disabled",
    ),
    ("ACQ.USER_NOT_MATCH_ERR", "the payer does not match"),
    ("ACQ.CUSTOMER_VALIDATE_ERROR", "the customer check failed"),
    ("ACQ.CURRENCY_NOT_SUPPORT", "the currency is not supported"),
    (
        "ACQ.ENTERPRISE_PAY_BIZ_ERROR",
        "an enterprise payment error",
    ),
    (
        "ACQ.OVERDRAFT_AGREEMENT_NOT_MATCH",
        "the overdraft agreement does not match",
    ),
    (
        "ACQ.OVERDRAFT_ASSIGN_ACCOUNT_INVALID",
        "the overdraft account is invalid",
    ),
];

/// `40004`: on a refund, one of the table's codes; on a query, only "no such
/// trade" says anything (there is no refund on a trade that does not exist).
pub fn business(call: Call, status: &Status) -> (Outcome, Follow) {
    let sub_code = status.sub_code();
    let unknown = |meaning: &str| Outcome::unknown(failure(status, meaning).1);
    let outcome = match (call, sub_code) {
        (Call::Query, "ACQ.TRADE_NOT_EXIST") => Outcome::NotFound,
        (Call::Query, _) => unknown("the query proves nothing; asked again later"),
        (Call::Refund, "ACQ.SYSTEM_ERROR") => unknown(
            "Alipay's system error: the refund is queried, then sent again with the same number and amount",
        ),
        (Call::Refund, "ACQ.REFUND_CHARGE_ERROR") => {
            unknown("the fee part failed and the refund may have run: it is queried")
        }
        (Call::Refund, "ACQ.DISCORDANT_REPEAT_REQUEST") => {
            let outcome = unknown(
                "this out_request_no was used on the trade with other parameters: a query says \
                 what it holds; never sent under another number",
            );
            return (outcome, Follow::AskWhatTheNumberHolds);
        }
        (Call::Refund, sub) => match REFUND_REFUSALS.iter().find(|(code, _)| *code == sub) {
            Some((_, meaning)) => refused(status, &format!("{meaning}; nothing was refunded")),
            None => unknown("a code the contract does not list: the refund is queried"),
        },
    };
    (outcome, Follow::Nothing)
}

/// The `40002` codes that refuse every request of the profile alike.
const SYSTEMATIC: &[(&str, &str)] = &[
    (
        "isv.invalid-signature",
        "Alipay could not verify the request's signature: check private_key (its public half must be \
         the app public key set up at Alipay) and base_url (sandbox or production)",
    ),
    (
        "isv.invalid-app-id",
        "Alipay does not know this app: check merchant_id (the app_id) and base_url (sandbox or production)",
    ),
    (
        "isv.invalid-signature-type",
        "Alipay refused RSA2 for this app: set the app up for RSA2 (SHA256withRSA) keys",
    ),
];

/// A gateway-level code (signed or not): none of them created a refund.
pub fn gateway_level(call: Call, code: &str, status: &Status) -> Outcome {
    let sub_code = status.sub_code();
    let code_named = if sub_code.is_empty() {
        shown(code)
    } else {
        shown(sub_code)
    };
    let a_bug = |meaning: &str| match call {
        Call::Refund => refused(status, &format!("{meaning}; nothing was created")),
        // A query refused says nothing about the refund.
        Call::Query => Outcome::unknown(failure(status, meaning).1),
    };
    match code {
        "20000" => {
            Outcome::unknown(failure(status, "Alipay's unknown error: the call may have run").1)
        }
        "20001" => Outcome::rejected(
            code_named,
            "Alipay refused the app_auth_token: check the profile's app_auth_token",
        ),
        "40001" => a_bug("a required parameter is missing: a bug in bulkrefund"),
        "40002" => match SYSTEMATIC.iter().find(|(sub, _)| *sub == sub_code) {
            Some((_, why)) => Outcome::rejected(code_named, *why),
            None if sub_code.starts_with("isv.invalid-") => {
                a_bug("a parameter is invalid: a bug in bulkrefund")
            }
            None => Outcome::unknown(failure(status, "not in the contract's table").1),
        },
        "40003" => Outcome::rejected(
            code_named,
            "no app public key is set up at Alipay for this app_id: upload it in Alipay's portal",
        ),
        // The engine's backoff, as for any busy answer: a pause of seconds
        // per answer would stall a profile that meets a few of them.
        "40005" => Outcome::retry(
            None,
            failure(status, "Alipay's call limit: nothing was created").1,
        ),
        "40006" => Outcome::rejected(
            code_named,
            "the app may not make this call: sign the refund product in Alipay's portal",
        ),
        other => Outcome::unknown(format!(
            "code {:?} is not in the contract's table: it proves nothing",
            shown(other)
        )),
    }
}
