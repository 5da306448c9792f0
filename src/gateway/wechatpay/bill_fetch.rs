//! Fetching WeChat Pay's REFUND trade bill (docs/specs/wechatpay-v3.md, "The
//! trade bill"): `GET /v3/bill/tradebill` signed like every call and its
//! answer verified like every answer; then the download URL it gives, fetched
//! with an Authorization of its own (https on the profile's host or WeChat's,
//! or this machine for the simulator; no redirects), gunzipped within the
//! cap, and kept only if its SHA-1 is the signed answer's `hash_value` and
//! every line is this merchant's. A URL that expired is applied for once
//! more. `NO_STATEMENT_EXIST` is an empty bill only when WeChat Pay signed it.

use std::sync::Arc;

use jiff::civil::Date;
use rand::distributions::{Alphanumeric, DistString};
use reqwest::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use serde::Deserialize;
use url::{Position, Url};

use super::client::WechatpaySettings;
use super::verify::Signature;
use super::wire::{authorization, Credentials};
use crate::gateway::bill::{self, BillError, BillSource, Caps, FetchedBill};
use crate::gateway::bill_read::{self, quoted};
use crate::gateway::{http, GatewayKind};

const BILL_PATH: &str = "/v3/bill/tradebill";
/// The host WeChat Pay's download URLs name.
const WECHAT_HOST: &str = "api.mch.weixin.qq.com";

/// The signed answer to a bill apply.
#[derive(Debug, Deserialize)]
struct Offer {
    hash_type: String,
    hash_value: String,
    download_url: String,
}

/// WeChat Pay's error body: its code and message.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// What an apply gave.
enum Applied {
    Offer(Offer),
    NoBill,
}

/// What a download gave.
enum Downloaded {
    Gzip(Vec<u8>),
    Expired,
}

/// A profile's WeChat Pay bill API.
pub struct WechatpayBills {
    /// The refund client's timeouts: for the signed call.
    http: reqwest::Client,
    /// Long enough for a whole bill to arrive ([`bill_read::download_client`]).
    download: reqwest::Client,
    settings: WechatpaySettings,
    caps: Caps,
}

impl WechatpayBills {
    pub fn new(settings: WechatpaySettings) -> WechatpayBills {
        WechatpayBills {
            http: http::client(settings.timeout),
            download: bill_read::download_client(
                settings.timeout,
                bill_read::READ_TIMEOUT,
                bill_read::TOTAL_TIMEOUT,
            ),
            settings,
            caps: Caps::DEFAULT,
        }
    }

    /// The same source with other caps (tests lower them).
    #[doc(hidden)]
    pub fn with_caps(self, caps: Caps) -> WechatpayBills {
        WechatpayBills { caps, ..self }
    }

    /// A signed GET of `url` (CANONICAL_URL: its path and query) through `client`.
    fn signed_get(&self, client: &reqwest::Client, url: &Url) -> reqwest::RequestBuilder {
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        let credentials = Credentials {
            mchid: &self.settings.mchid,
            serial_no: &self.settings.serial_no,
            signer: &self.settings.signer,
        };
        let canonical = &url[Position::BeforePath..];
        let ts = (self.settings.clock)();
        let auth = authorization(&credentials, "GET", canonical, ts, &nonce, b"");
        client
            .get(url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                format!("bulkrefund/{}", env!("CARGO_PKG_VERSION")),
            )
            .header("Wechatpay-Serial", &self.settings.keys.public_key_id)
    }

    async fn apply(&self, date: Date) -> Result<Applied, BillError> {
        let mut url = self
            .settings
            .base_url
            .join(BILL_PATH)
            .map_err(|e| BillError::Fetch(format!("the bill URL cannot be built: {e}")))?;
        url.set_query(Some(&format!(
            "bill_date={date}&bill_type=REFUND&tar_type=GZIP"
        )));
        let reply = http::send(self.signed_get(&self.http, &url))
            .await
            .map_err(bill_read::transport_failure)?;
        let now = (self.settings.clock)();
        match self.settings.keys.check(&reply.headers, &reply.body, now) {
            Signature::Verified => {}
            Signature::Absent => {
                return Err(BillError::Fetch(format!(
                    "WeChat Pay's answer (HTTP {}) carries no signature: not believed",
                    reply.status
                )))
            }
            Signature::Refused { setting, why } => {
                return Err(BillError::Fetch(format!(
                    "WeChat Pay's answer is not believed: {why} (check {setting})"
                )))
            }
        }
        if reply.status == 200 {
            let offer: Offer = serde_json::from_slice(&reply.body).map_err(|e| {
                BillError::Fetch(format!("the bill answer is not well formed: {e}"))
            })?;
            if !offer.hash_type.eq_ignore_ascii_case("SHA1") {
                return Err(BillError::Refused(format!(
                    "the bill answer's hash_type is {}, not SHA1",
                    quoted(&offer.hash_type)
                )));
            }
            return Ok(Applied::Offer(offer));
        }
        let error: Option<ErrorBody> = serde_json::from_slice(&reply.body).ok();
        let (code, message) = error.map_or((String::new(), String::new()), |e| (e.code, e.message));
        match code.as_str() {
            "NO_STATEMENT_EXIST" => Ok(Applied::NoBill),
            "STATEMENT_CREATING" => Err(BillError::NotReady {
                date,
                why: format!("WeChat Pay says STATEMENT_CREATING ({})", quoted(&message)),
            }),
            _ => Err(BillError::Fetch(format!(
                "WeChat Pay refused the bill: HTTP {} {} {}",
                reply.status,
                quoted(&code),
                quoted(&message)
            ))),
        }
    }

    async fn download(&self, offer: &Offer) -> Result<Downloaded, BillError> {
        let url = Url::parse(&offer.download_url)
            .map_err(|e| BillError::Refused(format!("the download URL is not a URL: {e}")))?;
        let base_host = self.settings.base_url.host_str().unwrap_or("");
        let hosts = |host: &str| host == base_host || host == WECHAT_HOST;
        if !bill_read::download_allowed(&url, &self.settings.base_url, &hosts) {
            return Err(BillError::Refused(format!(
                "the download URL is not https on {base_host} or {WECHAT_HOST}: not fetched"
            )));
        }
        // A gzip is smaller than what it inflates to: one cap bounds both.
        let (status, body) =
            bill_read::download(self.signed_get(&self.download, &url), self.caps.inflated).await?;
        if status == 200 {
            return Ok(Downloaded::Gzip(body));
        }
        let code = serde_json::from_slice::<ErrorBody>(&body)
            .map(|e| e.code)
            .unwrap_or_default();
        match (status, code.as_str()) {
            (400, "INVALID_REQUEST") => Ok(Downloaded::Expired),
            (403, "NO_AUTH") => Err(BillError::Refused(
                "WeChat Pay says the download URL is another merchant's (403 NO_AUTH)".into(),
            )),
            _ => Err(BillError::Fetch(format!(
                "the download answered HTTP {status} {}",
                quoted(&code)
            ))),
        }
    }

    /// The inflated bill, checked against the signed hash and the merchant.
    /// The gzip is taken and dropped once inflated, and the CSV is read
    /// borrowed: at most the raw bill and its rows are held.
    fn accept(
        &self,
        offer: &Offer,
        gzipped: Vec<u8>,
        date: Date,
    ) -> Result<FetchedBill, BillError> {
        let raw = bill::gunzip(&gzipped, self.caps.inflated)?;
        drop(gzipped);
        let hash = {
            use sha1::Digest as _;
            hex::encode(sha1::Sha1::digest(&raw))
        };
        if !hash.eq_ignore_ascii_case(offer.hash_value.trim()) {
            return Err(BillError::Refused(format!(
                "the bill's SHA-1 {hash} is not the signed answer's hash_value {}: discarded",
                quoted(&offer.hash_value)
            )));
        }
        let bill = super::bill::read(&raw, date, self.caps)?;
        if let Some(other) = bill
            .merchant_id
            .as_deref()
            .filter(|&m| m != self.settings.mchid)
        {
            return Err(BillError::Refused(format!(
                "a bill of another merchant: its 商户号 is {}, this profile's merchant_id is {}",
                quoted(other),
                quoted(&self.settings.mchid)
            )));
        }
        Ok(FetchedBill {
            raw,
            raw_extension: "csv",
            bill,
        })
    }
}

#[async_trait::async_trait]
impl BillSource for WechatpayBills {
    async fn fetch(&self, date: Date) -> Result<FetchedBill, BillError> {
        // The URL lives 30 s: one that expired on the way is applied for once more.
        for _ in 0..2 {
            let offer = match self.apply(date).await? {
                Applied::NoBill => {
                    return Ok(FetchedBill::empty(GatewayKind::Wechatpay, date, "csv"))
                }
                Applied::Offer(offer) => offer,
            };
            match self.download(&offer).await? {
                Downloaded::Gzip(gzipped) => return self.accept(&offer, gzipped, date),
                Downloaded::Expired => continue,
            }
        }
        Err(BillError::Fetch(
            "the download URL expired, twice: WeChat Pay's bill URL lives 30 s; try again".into(),
        ))
    }
}

/// The profile's bill source.
pub fn source(settings: WechatpaySettings) -> Arc<dyn BillSource> {
    Arc::new(WechatpayBills::new(settings))
}
