//! The configuration's errors: each names the file, the line and the setting,
//! never a value.

use super::*;

fn config(text: &str) -> Config {
    Config::parse(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/bulkrefund.toml"
        )),
        text,
    )
    .unwrap()
}

const LESHUA: &str = r#"
[profiles.leshua]
gateway = "leshua"
base_url = "http://127.0.0.1:8900"
merchant_id = "0000000018"
trade_key = { file = "keys/leshua-trade.key" }
"#;

const SECRET: &str = "S3CRET-VALUE-0042";

#[test]
fn a_file_secret_loads_and_defaults_apply() {
    let profile = config(LESHUA).profile("leshua").unwrap();
    assert_eq!(
        (profile.rate, profile.concurrency, profile.max_attempts),
        (50, 256, 8),
        "no concurrency set: in flight follows the latency, up to max_concurrency"
    );
    let bounded = config(&format!("{LESHUA}max_concurrency = 64\n"));
    assert_eq!(bounded.profile("leshua").unwrap().concurrency, 64);
    let set = config(&format!("{LESHUA}concurrency = 8\n"));
    assert_eq!(set.profile("leshua").unwrap().concurrency, 8);
    assert_eq!(profile.timeout, Duration::from_secs(10));
    assert_eq!(profile.same_order_gap, Duration::ZERO);
    assert_eq!(
        (profile.gateway, profile.merchant_id.as_str()),
        (GatewayKind::Leshua, "0000000018")
    );
    assert!(
        !format!("{profile:?}").contains("TESTKEY"),
        "Debug must not show the key"
    );
}

fn profile_error(text: &str) -> String {
    config(text).profile("leshua").unwrap_err().to_string()
}

#[test]
fn a_gateway_with_one_limit_refuses_a_query_rate() {
    assert_eq!(config(LESHUA).profile("leshua").unwrap().query_rate, None);
    let error = profile_error(&format!("{LESHUA}query_rate = 100\n"));
    assert!(
        error.contains("query_rate")
            && error.contains("one limit for refunds and queries together"),
        "{error}"
    );
}

#[test]
fn a_literal_secret_is_refused_without_echoing_it() {
    let text = LESHUA.replace(
        r#"{ file = "keys/leshua-trade.key" }"#,
        &format!("\"{SECRET}\""),
    );
    let error = profile_error(&text);
    assert!(
        error.contains("profile 'leshua', trade_key (line 6): a literal secret"),
        "{error}"
    );
    assert!(!error.contains(SECRET));
}

#[test]
fn errors_name_the_file_the_line_and_the_setting() {
    let error = profile_error(&LESHUA.replace("keys/leshua-trade.key", "missing.key"));
    assert!(
        error.ends_with("profile 'leshua', trade_key.file (line 6): the file it names cannot be read (entity not found)"),
        "{error}"
    );
    assert!(error.starts_with('\''), "{error}");
    for (setting, value, rule) in [
        ("rate", "0", "must be a whole number from 1 to 100000"),
        (
            "rate",
            "99999999999",
            "must be a whole number from 1 to 100000",
        ),
        ("concurrency", "0", "must be a whole number from 1 to 4096"),
        (
            "max_concurrency",
            "0",
            "must be a whole number from 1 to 4096",
        ),
        ("max_attempts", "0", "must be a whole number from 1 to 100"),
        ("timeout", "\"0s\"", "must be from 1ms to 10m"),
        (
            "same_order_gap",
            "\"soon\"",
            "must be a duration like 500ms, 10s or 10m",
        ),
    ] {
        let error = profile_error(&format!("{LESHUA}{setting} = {value}\n"));
        assert!(
            error.ends_with(&format!("profile 'leshua', {setting} (line 7): {rule}")),
            "{error}"
        );
    }
    assert!(
        profile_error(&LESHUA.replace("http://127.0.0.1:8900", "not a url"))
            .contains("profile 'leshua', base_url (line 4): is not a URL")
    );
    assert!(config(LESHUA)
        .profile("nope")
        .unwrap_err()
        .to_string()
        .contains("profiles: leshua"));
}

#[test]
fn a_secret_typed_where_a_name_belongs_is_never_echoed() {
    for reference in [
        format!("{{ env = \"{SECRET}\" }}"),
        format!("{{ file = \"{SECRET}\" }}"),
    ] {
        let text = LESHUA.replace(r#"{ file = "keys/leshua-trade.key" }"#, &reference);
        let error = profile_error(&text);
        assert!(!error.contains(SECRET), "{error}");
        assert!(error.contains("(line 6)"), "{error}");
    }
}

fn parse_error(text: &str) -> String {
    Config::parse(Path::new("bulkrefund.toml"), text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn toml_errors_never_quote_the_file() {
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\nMIIEv{SECRET}QIBADANBgkqhkiG9w0BAQEFAASC==\n-----END PRIVATE KEY-----"
    );
    let cases = [
        (
            format!("{LESHUA}trade_kye = \"{SECRET}\"\n"),
            7,
            "did you mean `trade_key`?",
        ),
        (
            format!("{LESHUA}notify_url = \"{SECRET}\n"),
            7,
            "a string is not closed",
        ),
        (
            format!("{LESHUA}trade_key = \"{SECRET}\"\n"),
            7,
            "a setting is given twice",
        ),
        (
            format!("{LESHUA}rate = \"{SECRET}\"\n"),
            7,
            "a value of the wrong type",
        ),
        (
            LESHUA.replace("\"leshua\"\nbase_url", &format!("\"{SECRET}\"\nbase_url")),
            3,
            "not one of leshua, lianshang",
        ),
        (
            format!("[profiles.ls]\ngateway = \"lianshang\"\nprivate_key = \"{pem}"),
            3,
            "a string is not closed",
        ),
    ];
    for (text, line, kind) in cases {
        let error = parse_error(&text);
        assert!(!error.contains(SECRET), "{error}");
        assert!(!error.contains("MIIE"), "{error}");
        assert!(
            error.starts_with("The configuration file 'bulkrefund.toml' is not valid: line "),
            "{error}"
        );
        assert!(error.contains(&format!("line {line},")), "{error}");
        assert!(error.contains(kind), "{error}");
    }
    assert!(parse_error(&format!("{LESHUA}rate = 1\n")).is_empty());
}

#[test]
fn a_key_file_others_can_read_still_loads() {
    // The warning goes to stderr; the key is still used.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("open.key");
    std::fs::write(&key, "TESTKEY").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = LESHUA.replace("keys/leshua-trade.key", key.to_str().unwrap());
    assert!(config(&text).profile("leshua").is_ok());
}

#[test]
fn lianshang_profile_checks_key_and_transport() {
    let text = r#"
[profiles.ls]
gateway = "lianshang"
base_url = "https://pay.example.com"
merchant_id = "pay001"
private_key = { file = "keys/merchant-test-2048.pem" }
rsa_digest = "sha1"
[profiles.ls.defaults]
refund_expire = 30
appid = "app01"
"#;
    let profile = config(text).profile("ls").unwrap();
    assert_eq!(profile.row_defaults()["refund_expire"], "30");
    let check = |text: String| config(&text).profile("ls").unwrap_err().to_string();
    assert!(check(text.replace("https://pay", "http://pay"))
        .contains("profile 'ls', base_url (line 4):"));
    assert!(
        check(text.replace("merchant-test-2048.pem", "merchant-test-2048.pub.pem"))
            .contains("profile 'ls', private_key (line 6): not an RSA private key")
    );
    assert!(check(text.replace("\"sha1\"", "\"md5\""))
        .contains("profile 'ls', rsa_digest (line 7): must be sha256 or sha1"));
    let insecure_allowed = text.replace(
        "\"https://pay.example.com\"",
        "\"http://pay.example.com\"\nallow_insecure_http = true",
    );
    assert!(config(&insecure_allowed).profile("ls").is_ok());
}

const LIANSHANG: &str = r#"
[profiles.ls]
gateway = "lianshang"
base_url = "https://pay.example.com"
merchant_id = "pay001"
private_key = { file = "keys/merchant-test-2048.pem" }
"#;

#[test]
fn a_profile_holds_only_its_own_gateways_settings() {
    // The review's case: a Leshua profile with a Lianshang key loaded without an error.
    let leshua_with_rsa =
        format!("{LESHUA}private_key = {{ file = \"missing.pem\" }}\nrsa_digest = \"md5\"\n");
    let error = parse_error(&leshua_with_rsa);
    assert!(
        error.contains("line 7, column 1, in [profiles.leshua], private_key: `private_key` is not a setting of a leshua profile"),
        "{error}"
    );
    assert!(error.contains("the settings here are base_url"), "{error}");
    let error = parse_error(&format!(
        "{LIANSHANG}trade_key = {{ env = \"{SECRET}\" }}\n"
    ));
    assert!(
        error.contains("line 7, column 1, in [profiles.ls], trade_key: `trade_key` is not a setting of a lianshang profile"),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    for setting in ["notify_url = \"https://x.example/n\"", "compress = true"] {
        let text = if setting.starts_with("compress") {
            format!("{LESHUA}{setting}\n")
        } else {
            format!("{LIANSHANG}{setting}\n")
        };
        assert!(
            parse_error(&text).contains("is not a setting of a"),
            "{setting}"
        );
    }
}

#[test]
fn a_sections_errors_name_their_line_and_never_the_value() {
    let error = parse_error(&format!("{LIANSHANG}compress = \"{SECRET}\"\n"));
    assert!(
        error.contains("line 7, column 12, in [profiles.ls], compress: a value of the wrong type (expected a boolean)"),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    let error = parse_error(&format!(
        "{LIANSHANG}[profiles.ls.defaults]\nappid = \"a\"\nrefund_expire = [\"{SECRET}\"]\n"
    ));
    assert!(error.is_empty(), "{error}");
    let error = config(&format!(
        "{LIANSHANG}[profiles.ls.defaults]\nappid = \"a\"\nrefund_expire = [\"{SECRET}\"]\n"
    ))
    .profile("ls")
    .unwrap_err()
    .to_string();
    assert!(
        error.ends_with(
            "profile 'ls', defaults.refund_expire (line 9): must be text or a whole number"
        ),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    let error = parse_error(&LESHUA.replace("gateway = \"leshua\"\n", ""));
    assert!(
        error.contains("line 2, column 11, in [profiles.leshua]: the setting `gateway` is missing"),
        "{error}"
    );
    let error = parse_error(&LESHUA.replace("base_url = \"http://127.0.0.1:8900\"\n", ""));
    assert!(
        error.contains("the setting `base_url` is missing"),
        "{error}"
    );
}

/// The names an unknown-field message lists for a type: its settings as serde knows them.
fn serde_names<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
    let mut table = toml::Table::new();
    table.insert("\u{1}".into(), toml::Value::Integer(0));
    let error = toml::Value::Table(table)
        .try_into::<T>()
        .unwrap_err()
        .to_string();
    toml_errors::expected_names(&error)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_lists_of_names_are_the_types_fields() {
    assert_eq!(serde_names::<CommonText>(), COMMON_SETTINGS);
    assert_eq!(
        serde_names::<crate::gateway::leshua::profile::Section>(),
        crate::gateway::leshua::profile::SETTINGS
    );
    assert_eq!(
        serde_names::<crate::gateway::lianshang::profile::Section>(),
        crate::gateway::lianshang::profile::SETTINGS
    );
}

#[test]
fn a_misspelt_profile_suggests_the_nearest_one() {
    let names = ["leshua", "lianshang", "lianshang-hk"];
    assert_eq!(super::nearest("lesuha", &names), Some("leshua"));
    assert_eq!(super::nearest("LianShang", &names), Some("lianshang"));
    assert_eq!(super::nearest("lianshanghk", &names), Some("lianshang-hk"));
    assert_eq!(super::nearest("wechat", &names), None);
}
