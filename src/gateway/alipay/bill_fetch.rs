//! Fetching Alipay's daily bill (docs/specs/alipay.md, "The daily bill"):
//! `alipay.data.dataservice.bill.downloadurl.query` signed and its answer
//! verified as every call's; then `bill_download_url`, unsigned and without
//! a hash, so trusted only as the signed answer gave it: https on an
//! `alipay.com` host (or this machine for the simulator), no redirects, at
//! most the zipped cap, each entry inflated within its cap. A URL that died
//! (404) is asked for once more. `isp.bill_not_exist` is an empty bill only
//! when Alipay signed it.
//!
//! The merchant: the `#账号` line names the merchant's Alipay account (its
//! PID and `0156`), which the app id does not tell. A profile that sets
//! `pid` has its bills checked against it; one that does not relies on the
//! signed answer, made for this app, and the account is only logged.

use std::sync::Arc;

use jiff::civil::Date;
use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use url::Url;

use super::client::{AlipayClient, AlipaySettings};
use super::verify::{cut, Signature};
use super::wire::{parse_status, response_member, Echoed, ERROR_MEMBER};
use crate::gateway::bill::{BillError, BillSource, Caps, FetchedBill};
use crate::gateway::bill_read::{self, quoted};
use crate::gateway::rsa_sign::RsaVerifier;
use crate::gateway::{http, GatewayKind};

pub const BILL_METHOD: &str = "alipay.data.dataservice.bill.downloadurl.query";

/// What an ask gave.
enum Asked {
    Url(String),
    NoBill,
}

/// A profile's Alipay bill API.
pub struct AlipayBills {
    /// The refund client's timeouts: for the signed call.
    http: reqwest::Client,
    /// Long enough for a whole bill to arrive ([`bill_read::download_client`]).
    download: reqwest::Client,
    /// Signs the call's form (the refund client's own signing).
    client: AlipayClient,
    gateway_url: Url,
    alipay_key: Arc<RsaVerifier>,
    /// The merchant's PID, when the profile gives it: `#账号` must name it.
    pid: Option<String>,
    caps: Caps,
}

impl AlipayBills {
    pub fn new(settings: AlipaySettings, pid: Option<String>) -> AlipayBills {
        AlipayBills {
            http: http::client(settings.timeout),
            download: bill_read::download_client(
                settings.timeout,
                bill_read::READ_TIMEOUT,
                bill_read::TOTAL_TIMEOUT,
            ),
            gateway_url: settings.gateway_url.clone(),
            alipay_key: settings.alipay_key.clone(),
            client: AlipayClient::new(settings),
            pid,
            caps: Caps::DEFAULT,
        }
    }

    /// The same source with other caps (tests lower them).
    #[doc(hidden)]
    pub fn with_caps(self, caps: Caps) -> AlipayBills {
        AlipayBills { caps, ..self }
    }

    async fn ask(&self, date: Date) -> Result<Asked, BillError> {
        let biz = format!(r#"{{"bill_type":"trade","bill_date":"{date}"}}"#);
        let request = self
            .http
            .post(self.gateway_url.clone())
            .header(CONTENT_TYPE, super::wire::CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                format!("bulkrefund/{}", env!("CARGO_PKG_VERSION")),
            )
            .body(self.client.form(BILL_METHOD, &biz));
        let reply = http::send(request)
            .await
            .map_err(bill_read::transport_failure)?;
        if !(200..300).contains(&reply.status) {
            return Err(BillError::Fetch(format!(
                "Alipay answered HTTP {}",
                reply.status
            )));
        }
        let member = response_member(BILL_METHOD);
        let found = cut(&reply.body, &member, ERROR_MEMBER).map_err(BillError::Fetch)?;
        if found.signature(&self.alipay_key) != Signature::Verified {
            return Err(BillError::Fetch(
                "Alipay's answer is unsigned or its sign does not verify (check alipay_public_key): not believed"
                    .into(),
            ));
        }
        let status = parse_status(found.value).map_err(BillError::Fetch)?;
        match (status.code.as_str(), status.sub_code()) {
            ("10000", _) => {
                let value: serde_json::Value = serde_json::from_slice(found.value)
                    .map_err(|e| BillError::Fetch(format!("the answer is not JSON: {e}")))?;
                let url = value["bill_download_url"].as_str().ok_or_else(|| {
                    BillError::Fetch("the answer has no bill_download_url".into())
                })?;
                Ok(Asked::Url(url.to_owned()))
            }
            ("40004", "isp.bill_not_exist") => Ok(Asked::NoBill),
            (code, sub_code) => Err(BillError::Fetch(format!(
                "Alipay refused the bill: code {} sub_code {} {}",
                quoted(code),
                quoted(sub_code),
                quoted(status.sub_msg.as_ref().and_then(Echoed::text).unwrap_or(""))
            ))),
        }
    }

    /// The zip, or `None` for a URL that died (404).
    async fn download(&self, url: &str) -> Result<Option<Vec<u8>>, BillError> {
        let url = Url::parse(url)
            .map_err(|e| BillError::Refused(format!("the download URL is not a URL: {e}")))?;
        let alipay = |host: &str| host == "alipay.com" || host.ends_with(".alipay.com");
        if !bill_read::download_allowed(&url, &self.gateway_url, &alipay) {
            return Err(BillError::Refused(
                "the download URL is not https on an alipay.com host: not fetched".into(),
            ));
        }
        let (status, body) = bill_read::download(self.download.get(url), self.caps.zipped).await?;
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            status => Err(BillError::Fetch(format!(
                "the download answered HTTP {status}"
            ))),
        }
    }

    fn accept(&self, zip: Vec<u8>, date: Date) -> Result<FetchedBill, BillError> {
        let bill = super::bill::read(&zip, date, self.caps)?;
        let account = bill.merchant_id.as_deref().unwrap_or("");
        match &self.pid {
            Some(pid) if !is_account_of(account, pid) => {
                return Err(BillError::Refused(format!(
                    "a bill of another merchant: its #账号 is {}, this profile's pid is {}",
                    quoted(account),
                    quoted(pid)
                )))
            }
            Some(_) => {}
            None => tracing::warn!(
                "the Alipay bill names account {}, not checked: set the profile's pid (2088…) to have it checked",
                quoted(account)
            ),
        }
        Ok(FetchedBill {
            raw: zip,
            raw_extension: "csv.zip",
            bill,
        })
    }
}

/// Whether a bill's `#账号` is the PID's: the PID itself, or the PID and the
/// `0156` Alipay appends.
pub(super) fn is_account_of(account: &str, pid: &str) -> bool {
    account == pid || account.strip_prefix(pid) == Some("0156")
}

#[async_trait::async_trait]
impl BillSource for AlipayBills {
    async fn fetch(&self, date: Date) -> Result<FetchedBill, BillError> {
        // The URL lives 30 s: one that died on the way is asked for once more.
        for _ in 0..2 {
            let url = match self.ask(date).await? {
                Asked::NoBill => {
                    return Ok(FetchedBill::empty(GatewayKind::Alipay, date, "csv.zip"))
                }
                Asked::Url(url) => url,
            };
            if let Some(zip) = self.download(&url).await? {
                return self.accept(zip, date);
            }
        }
        Err(BillError::Fetch(
            "the download URL expired, twice: Alipay's bill URL lives 30 s; try again".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::is_account_of;

    #[test]
    fn the_account_is_the_pid_with_or_without_0156() {
        assert!(is_account_of("20881234567890120156", "2088123456789012"));
        assert!(is_account_of("2088123456789012", "2088123456789012"));
        assert!(!is_account_of("20881234567890130156", "2088123456789012"));
        assert!(!is_account_of("2088123456789012015", "2088123456789012"));
        assert!(!is_account_of("", "2088123456789012"));
    }
}
