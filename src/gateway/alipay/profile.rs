//! An Alipay profile's own settings (docs/specs/alipay.md, "Common
//! parameters"): the app's private key (a secret, by reference), Alipay's
//! public key (a file), and, for a service provider acting for the merchant,
//! an `app_auth_token` (a secret); optionally the merchant's `pid`, the
//! account its daily bills name (checked against each bill fetched). The app
//! id (`app_id` on the wire) is the common `merchant_id`, as WeChat's `mchid`
//! is; an `app_id` setting may repeat it, never differ from it. Keys are
//! loaded once, here; no error shows a key or a token.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::bill_fetch::{is_account_of, AlipayBills};
use super::client::{system_clock, AlipayClient, AlipaySettings};
use super::keys;
use crate::gateway::bill::{Bill, BillError, BillSource};
use crate::gateway::bill_read::quoted;
use crate::gateway::rsa_sign::{RsaSigner, RsaVerifier};
use crate::gateway::section::{Endpoint, GatewayProfile, SectionContext};
use crate::gateway::{http, ClientError, Gateway};
use crate::secret::{Secret, SecretRef};
use crate::setting::SettingError;
use crate::small_files;

/// The settings below, as an error may name them.
pub const SETTINGS: &[&str] = &[
    "app_id",
    "private_key",
    "alipay_public_key",
    "app_auth_token",
    "pid",
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    app_id: Option<String>,
    private_key: Option<SecretRef>,
    alipay_public_key: PublicFile,
    app_auth_token: Option<SecretRef>,
    /// The merchant's Alipay PID (`2088` and 12 digits): the account its
    /// daily bills name (`#账号`), checked when given.
    pid: Option<String>,
}

/// A public key: a file, never a secret (so no warning when others can read it).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicFile {
    file: PathBuf,
}

impl Section {
    pub fn check(&self, context: &SectionContext) -> Result<Arc<dyn GatewayProfile>, SettingError> {
        check_transport(&context.endpoint.base_url)?;
        if let Some(app_id) = &self.app_id {
            if app_id.trim() != context.endpoint.merchant_id {
                return Err(SettingError::new(
                    "app_id",
                    "differs from merchant_id: an Alipay profile's merchant_id is its app_id \
                     (leave app_id out, or make them equal)",
                ));
            }
        }
        let pem = SecretRef::read(
            self.private_key.as_ref(),
            "private_key",
            context.dir,
            context.profile,
        )?;
        let signer = keys::private_key(pem.expose())
            .map_err(|e| SettingError::new("private_key", e.to_string()))?;
        let path = context.dir.join(&self.alipay_public_key.file);
        let text = small_files::read(&path, small_files::MAX_KEY, "64 KiB")
            .map(|(text, _)| text)
            .map_err(|e| {
                SettingError::new(
                    "alipay_public_key.file",
                    format!(
                        "{} cannot be read ({})",
                        self.alipay_public_key.file.display(),
                        e.brief()
                    ),
                )
            })?;
        let alipay_key = keys::public_key(&text)
            .map_err(|e| SettingError::new("alipay_public_key", e.to_string()))?;
        let app_auth_token = match &self.app_auth_token {
            None => None,
            Some(reference) => {
                let token = SecretRef::read(
                    Some(reference),
                    "app_auth_token",
                    context.dir,
                    context.profile,
                )?;
                let token = token.expose().trim();
                if token.is_empty() || token.len() > 40 {
                    return Err(SettingError::new(
                        "app_auth_token",
                        "is not 1 to 40 characters",
                    ));
                }
                Some(Secret::new(token))
            }
        };
        let pid = self.pid.as_deref().map(str::trim).map(str::to_owned);
        if let Some(pid) = &pid {
            if !(pid.len() == 16
                && pid.starts_with("2088")
                && pid.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(SettingError::new(
                    "pid",
                    "is not an Alipay PID (2088 and 12 digits)",
                ));
            }
        }
        Ok(Arc::new(AlipayProfile {
            signer,
            alipay_key: Arc::new(alipay_key),
            app_auth_token,
            pid,
        }))
    }
}

/// Alipay's gateway-level refusals are believed unsigned (the contract): a
/// forged `isv.invalid-…` could fail a refund that was paid. So plain http
/// only to this machine (the simulator), where nobody stands between.
fn check_transport(base_url: &url::Url) -> Result<(), SettingError> {
    http::https_or_loopback(base_url, "Alipay").map_err(|why| SettingError::new("base_url", why))
}

#[derive(Debug)]
struct AlipayProfile {
    signer: RsaSigner,
    alipay_key: Arc<RsaVerifier>,
    app_auth_token: Option<Secret>,
    pid: Option<String>,
}

impl AlipayProfile {
    /// What the client and the bill source are built from.
    fn settings(&self, endpoint: &Endpoint) -> AlipaySettings {
        AlipaySettings {
            gateway_url: endpoint.base_url.clone(),
            app_id: endpoint.merchant_id.clone(),
            signer: self.signer.clone(),
            alipay_key: self.alipay_key.clone(),
            app_auth_token: self
                .app_auth_token
                .as_ref()
                .map(|t| Secret::new(t.expose())),
            timeout: endpoint.timeout,
            clock: system_clock(),
        }
    }
}

impl GatewayProfile for AlipayProfile {
    fn client(&self, endpoint: &Endpoint) -> Result<Arc<dyn Gateway>, ClientError> {
        Ok(Arc::new(AlipayClient::new(self.settings(endpoint))))
    }

    fn bills(&self, endpoint: &Endpoint) -> Result<Option<Arc<dyn BillSource>>, BillError> {
        let source = AlipayBills::new(self.settings(endpoint), self.pid.clone());
        Ok(Some(Arc::new(source)))
    }

    /// An Alipay bill names its merchant by account (`#账号`: the PID, with
    /// `0156` appended), never by the app_id that is the profile's
    /// `merchant_id`: only the `pid` can tell whose it is. Without one a
    /// file is refused, not read unchecked: unlike a bill fetched with the
    /// app's own signed request (whose merchant the API vouches for), a file
    /// given by hand may be anyone's, and another merchant's bill would be
    /// recorded as a day of alarms.
    fn owns_bill(&self, _endpoint: &Endpoint, bill: &Bill) -> Result<(), BillError> {
        let account = bill.merchant_id.as_deref().unwrap_or("");
        match &self.pid {
            Some(pid) if is_account_of(account, pid) => Ok(()),
            Some(pid) => Err(BillError::Refused(format!(
                "it is the bill of account {}, not of this profile's pid {}",
                quoted(account),
                quoted(pid)
            ))),
            None => Err(BillError::Refused(format!(
                "the Alipay bill names account {}, and the profile has no pid to check it \
                 against: set the profile's pid (2088 and 12 digits, the account without its \
                 0156) to read an Alipay bill file",
                quoted(account)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/alipay");

    /// A section over the test keys of tests/vectors/alipay/ (test keys only).
    const ALI: &str = r#"
private_key = { file = "node_app-private-key.pem" }
alipay_public_key = { file = "made_here_alipay_sim_public_key.pem" }
"#;

    fn endpoint(base: &str) -> Endpoint {
        Endpoint {
            base_url: url::Url::parse(base).unwrap(),
            merchant_id: "2021000123456789".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn check_at(text: &str, base: &str) -> Result<Arc<dyn GatewayProfile>, String> {
        let section: Section = toml::from_str(text).map_err(|e| e.to_string())?;
        let endpoint = endpoint(base);
        let context = SectionContext {
            profile: "ali",
            dir: Path::new(VECTORS),
            endpoint: &endpoint,
        };
        section
            .check(&context)
            .map_err(|e| format!("{}: {}", e.setting, e.message))
    }

    fn check(text: &str) -> Result<Arc<dyn GatewayProfile>, String> {
        check_at(text, "http://127.0.0.1:8903/gateway.do")
    }

    #[test]
    fn a_section_loads_its_keys_and_builds_a_client() {
        let profile = check(ALI).unwrap();
        assert!(profile
            .client(&endpoint("http://127.0.0.1:8903/gateway.do"))
            .is_ok());
        let shown = format!("{profile:?}");
        assert!(
            !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
            "{shown}"
        );
        assert!(check(&format!("{ALI}app_id = \"2021000123456789\"\n")).is_ok());
        let mut token = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut token, b"201611BB8xxxxxxxxxxxxxxxxxxxedcecde6\n").unwrap();
        let with_token = check(&format!(
            "{ALI}app_auth_token = {{ file = {:?} }}\n",
            token.path().display().to_string()
        ))
        .unwrap();
        assert!(!format!("{with_token:?}").contains("201611BB8"));
    }

    #[test]
    fn plain_http_goes_only_to_this_machine() {
        assert!(check_at(ALI, "https://openapi.alipay.com/gateway.do").is_ok());
        assert!(check_at(ALI, "http://localhost:8903/gateway.do").is_ok());
        let refused = check_at(ALI, "http://openapi.alipay.com/gateway.do").unwrap_err();
        assert!(
            refused.starts_with("base_url:") && refused.contains("https only"),
            "{refused}"
        );
    }

    #[test]
    fn bad_settings_are_named_and_keys_never_shown() {
        let error = |text: String| check(&text).unwrap_err();
        let other_app = error(format!("{ALI}app_id = \"2021000000000000\"\n"));
        assert!(other_app.starts_with("app_id:"), "{other_app}");
        let unknown = error(format!("{ALI}mchid = \"1\"\n"));
        assert!(unknown.contains("unknown field `mchid`"), "{unknown}");
        let swapped = error(ALI.replace("node_app-private-key.pem", "node_app-public-key.pem"));
        assert!(
            swapped.starts_with("private_key:") && !swapped.contains("MII"),
            "{swapped}"
        );
        let not_public = error(ALI.replace(
            "made_here_alipay_sim_public_key.pem",
            "node_app-private-key.pem",
        ));
        assert!(
            not_public.starts_with("alipay_public_key:") && !not_public.contains("MII"),
            "{not_public}"
        );
        let absent = error(ALI.replace("made_here_alipay_sim_public_key.pem", "absent.pem"));
        assert!(absent.starts_with("alipay_public_key.file:"), "{absent}");
        let literal = error(ALI.replace("{ file = \"node_app-private-key.pem\" }", "\"MIIE\""));
        assert!(
            literal.starts_with("private_key:") && !literal.contains("MIIE"),
            "{literal}"
        );
        let missing =
            error(ALI.replace("private_key = { file = \"node_app-private-key.pem\" }", ""));
        assert!(missing.starts_with("private_key:"), "{missing}");
    }
}
