//! `validate` and `status` through the real binary: exit codes, messages that
//! name line, column and rule, encodings, and a journal left untouched.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bulkrefund(args: &[&str], journal: &Path) -> Run {
    bulkrefund_with_config(args, &samples().join("bulkrefund.toml"), journal)
}

fn validate(file: &Path, profile: &str, journal: &Path) -> Run {
    bulkrefund(
        &["validate", file.to_str().unwrap(), "--profile", profile],
        journal,
    )
}

#[test]
fn clean_samples_validate_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.db");
    let run = validate(&samples().join("leshua-batch.csv"), "leshua", &journal);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("30 data rows"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("run would send:                 30 refunds, 827.80 yuan"),
        "{}",
        run.stdout
    );
    let run = validate(
        &samples().join("lianshang-batch.csv"),
        "lianshang",
        &journal,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("29 refunds, 1,118.76 yuan"),
        "{}",
        run.stdout
    );
    // Alipay's: GBK with CRLF, Chinese headers, yuan, a tab after each trade_no
    // (as Alipay's own files have it), one trade refunded in three rows.
    let run = validate(&samples().join("alipay-batch.csv"), "alipay", &journal);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("12 data rows"), "{}", run.stdout);
    assert!(
        run.stdout.contains("12 refunds, 752.79 yuan"),
        "{}",
        run.stdout
    );
    assert!(!journal.exists(), "validate must not create the journal");
}

#[test]
fn each_bad_amount_is_named_by_line_column_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let run = validate(
        &samples().join("broken/bad-amounts.csv"),
        "leshua",
        &dir.path().join("j.db"),
    );
    assert_eq!(run.code, 3);
    for expected in [
        "line 2, refund_amount_yuan: \"12.345\" has more than 2 decimals",
        "line 3, refund_amount_yuan: \"-1\" is not a decimal amount of yuan",
        "line 4, refund_amount_yuan: \"1e3\" is not a decimal amount of yuan",
        "line 5, refund_amount_yuan: \"¥12\" is not a decimal amount of yuan",
        "line 6, refund_amount_yuan: \"1,200.00\" is not a decimal amount of yuan",
        "line 7, refund_amount_yuan: \"0\" must be more than zero",
        "line 8, refund_amount_yuan: is empty",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .contains("run would send:                  1 refunds, 1.50 yuan"),
        "{}",
        run.stdout
    );
}

#[test]
fn duplicates_and_conflicts_in_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = validate(
        &samples().join("broken/duplicate-ids.csv"),
        "leshua",
        &dir.path().join("j.db"),
    );
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .contains("line 5, refund id DUP0002 is used at line 3 for a different refund"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("duplicates in this file:         1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("conflicts:                       1"),
        "{}",
        run.stdout
    );
}

#[test]
fn file_level_problems_exit_2_before_anything() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "\n").unwrap();
    let cases = [
        (
            samples().join("broken/both-amount-columns.csv"),
            "both 'refund_amount' and 'refund_amount_yuan' are present",
        ),
        (
            samples().join("broken/missing-refund-id.csv"),
            "the required column 'merchant_refund_id' (or 商户退款单号, 退款单号, 退款编号) is missing (leshua batch); the header read has",
        ),
        (empty, "has no header row"),
        (dir.path().join("absent.csv"), "cannot be read"),
    ];
    for (file, message) in cases {
        let run = validate(&file, "leshua", &journal);
        assert_eq!(run.code, 2, "{file:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{file:?}: {}", run.stderr);
        assert!(
            run.stdout.lines().count() <= 1,
            "no row output: {}",
            run.stdout
        );
    }
    let unknown_profile = validate(&samples().join("leshua-batch.csv"), "nope", &journal);
    assert_eq!(unknown_profile.code, 2);
    assert!(
        unknown_profile
            .stderr
            .contains("There is no profile 'nope'"),
        "{}",
        unknown_profile.stderr
    );
    assert!(!journal.exists());
}

#[test]
fn gbk_bom_crlf_and_unknown_columns_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let run = validate(&samples().join("broken/leshua-gbk.csv"), "leshua", &journal);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("2 refunds, 3.00 yuan"),
        "{}",
        run.stdout
    );
    let bom = dir.path().join("bom.csv");
    std::fs::write(&bom, "\u{feff}Merchant_Refund_ID , Third_Order_ID,refund_amount,备注\r\nR1,T1,100,退款\r\n\r\nR2,T1,1.5,x\r\n").unwrap();
    let run = validate(&bom, "leshua", &journal);
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .contains("line 4, refund_amount: \"1.5\" is not a whole number of fen"),
        "{}",
        run.stdout
    );
}

#[test]
fn status_without_a_journal_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = bulkrefund(&["status"], &dir.path().join("none.db"));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("There is no journal"), "{}", run.stderr);
}

fn bulkrefund_with_config(args: &[&str], config: &Path, journal: &Path) -> Run {
    run_of(
        Command::cargo_bin("bulkrefund")
            .unwrap()
            .args(args)
            .arg("--config")
            .arg(config)
            .arg("--journal")
            .arg(journal),
    )
}

fn run_of(command: &mut Command) -> Run {
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn flags_keep_the_same_bounds_as_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let batch = samples().join("leshua-batch.csv");
    for (flag, value, rule) in [
        ("--rate", "0", "must be a whole number from 1 to 100000"),
        (
            "--rate",
            "99999999999",
            "must be a whole number from 1 to 100000",
        ),
        (
            "--concurrency",
            "0",
            "must be a whole number from 1 to 4096",
        ),
        (
            "--max-attempts",
            "0",
            "must be a whole number from 1 to 100",
        ),
    ] {
        let run = bulkrefund(
            &[
                "run",
                batch.to_str().unwrap(),
                "--profile",
                "leshua",
                flag,
                value,
            ],
            &journal,
        );
        assert_eq!(run.code, 2, "{flag} {value}: {}", run.stderr);
        assert!(run.stderr.contains(rule), "{flag} {value}: {}", run.stderr);
    }
    let config = dir.path().join("bulkrefund.toml");
    let text = std::fs::read_to_string(samples().join("bulkrefund.toml"))
        .unwrap()
        .replace("rate = 50 ", "rate = 99999999999 ")
        .replace("keys/", &format!("{}/", samples().join("keys").display()));
    std::fs::write(&config, text).unwrap();
    let run = bulkrefund_with_config(
        &["validate", batch.to_str().unwrap(), "--profile", "leshua"],
        &config,
        &journal,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("profile 'leshua', rate (line 11): must be a whole number from 1 to 100000"),
        "{}",
        run.stderr
    );
    assert!(!journal.exists());
}

#[test]
fn configuration_errors_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bulkrefund.toml");
    let secret = "S3CRET-TRADE-KEY-7f3a";
    let batch = samples().join("leshua-batch.csv");
    let pem = std::fs::read_to_string(samples().join("keys/merchant-test-2048.pem")).unwrap();
    let pem_body = pem.lines().nth(1).unwrap().to_owned();
    for text in [
        format!("[profiles.leshua]\ngateway = \"leshua\"\ntrade_kye = \"{secret}\"\n"),
        format!("[profiles.leshua]\ngateway = \"leshua\"\ntrade_key = \"{secret}\n"),
        format!("[profiles.leshua]\ngateway = \"leshua\"\ntrade_key = \"{secret}\"\ntrade_key = \"{secret}\"\n"),
        format!("[profiles.leshua]\ngateway = \"leshua\"\nbase_url = \"http://127.0.0.1:9\"\nmerchant_id = \"1\"\ntrade_key = {{ env = \"{secret}\" }}\n"),
        format!("[profiles.leshua]\ngateway = \"leshua\"\nbase_url = \"http://127.0.0.1:9\"\nmerchant_id = \"1\"\ntrade_key = \"{secret}\"\n"),
        format!("[profiles.ls]\ngateway = \"lianshang\"\nprivate_key = \"{pem}\n"),
    ] {
        std::fs::write(&config, &text).unwrap();
        let run = bulkrefund_with_config(
            &["validate", batch.to_str().unwrap(), "--profile", "leshua"],
            &config,
            &dir.path().join("j.db"),
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
        assert!(!run.stderr.contains(&pem_body), "{}", run.stderr);
        assert!(run.stderr.contains("line "), "{}", run.stderr);
    }
}

#[test]
fn a_key_file_others_can_read_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keys.join("leshua-trade.key");
    std::fs::copy(samples().join("keys/leshua-trade.key"), &key).unwrap();
    let config = dir.path().join("bulkrefund.toml");
    std::fs::copy(samples().join("bulkrefund.toml"), &config).unwrap();
    let batch = samples().join("leshua-batch.csv");
    use std::os::unix::fs::PermissionsExt;
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = bulkrefund_with_config(
            &["validate", batch.to_str().unwrap(), "--profile", "leshua"],
            &config,
            &dir.path().join("j.db"),
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stderr.contains("can be read by other users (mode 644)"),
            warned,
            "{mode:o}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_column_names_the_profile_the_file_fits() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let run = validate(&samples().join("lianshang-batch.csv"), "leshua", &journal);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "the required column 'merchant_refund_id' (or 商户退款单号, 退款单号, 退款编号) is missing (leshua batch); \
             the header read has 6 columns, split at ',': \"out_refund_id\", \"out_trade_id\", \
             \"original_wk_trade_id\", \"refund_cash_amount\", \"refund_msg\", \"customer\"; \
             did you mean `--profile lianshang`? The file has that profile's columns"
        ),
        "{}",
        run.stderr
    );
    // A file that fits no profile gets no guess.
    let neither = dir.path().join("neither.csv");
    std::fs::write(&neither, "id,amount\nR1,100\n").unwrap();
    let run = validate(&neither, "leshua", &journal);
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
}

/// The binary with exactly these arguments.
fn plain(args: &[&str]) -> Run {
    run_of(Command::cargo_bin("bulkrefund").unwrap().args(args))
}

#[test]
fn help_lists_the_exit_codes_and_the_tools_generate() {
    let help = plain(&["--help"]);
    assert!(
        help.stdout
            .contains("Exit codes:\n  0  every row succeeded"),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout
            .contains("  4  some refunds are still unresolved"),
        "{}",
        help.stdout
    );
    // sim and demo take no flag they would ignore.
    for command in ["sim", "demo"] {
        let help = plain(&[command, "--help"]);
        for ignored in ["--config", "--journal", "--timezone"] {
            assert!(!help.stdout.contains(ignored), "{command}: {}", help.stdout);
        }
    }
    let bash = plain(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("_bulkrefund()"), "{}", bash.stdout);
    assert!(bash.stdout.contains("--allow-over-limit"));
    let man = plain(&["man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.starts_with(".ie"), "{}", &man.stdout[..40]);
    assert!(man.stdout.contains(".TH bulkrefund 1"), "{}", man.stdout);
}

/// A copy of the sample configuration in `dir`, its key paths made absolute,
/// with `change` applied to its text.
fn sample_config(dir: &Path, change: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(samples().join("bulkrefund.toml"))
        .unwrap()
        .replace("keys/", &format!("{}/", samples().join("keys").display()));
    let config = dir.join("bulkrefund.toml");
    std::fs::write(&config, change(text)).unwrap();
    config
}

/// `validate` of the sample Leshua batch with this configuration; a command
/// that waited on a FIFO is stopped after a minute rather than hanging the suite.
fn validate_with(config: &Path, journal: &Path) -> Run {
    let batch = samples().join("leshua-batch.csv");
    run_of(
        Command::cargo_bin("bulkrefund")
            .unwrap()
            .args(["validate", batch.to_str().unwrap(), "--profile", "leshua"])
            .arg("--config")
            .arg(config)
            .arg("--journal")
            .arg(journal)
            .timeout(std::time::Duration::from_secs(60)),
    )
}

#[test]
fn a_configuration_or_key_file_that_is_not_a_small_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let large = dir.path().join("large.toml");
    std::fs::write(&large, "# a comment\n".repeat(100_000)).unwrap();
    for (config, why) in [
        (
            Path::new("/dev/zero"),
            "it is a character device, not a regular file",
        ),
        (
            fifo.as_path(),
            "it is a FIFO (a named pipe), not a regular file",
        ),
        (
            large.as_path(),
            "it is larger than 1 MiB, the most bulkrefund reads for it",
        ),
    ] {
        let run = validate_with(config, &journal);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(
            run.stderr.trim(),
            format!(
                "Error: The configuration file '{}' cannot be read ({why}); give one with --config or $BULKREFUND_CONFIG",
                config.display()
            )
        );
    }
    let large_key = dir.path().join("large.key");
    std::fs::write(&large_key, "k".repeat(65 * 1024)).unwrap();
    for (key, why) in [
        ("/dev/zero", "it is a character device, not a regular file"),
        (
            fifo.to_str().unwrap(),
            "it is a FIFO (a named pipe), not a regular file",
        ),
        (
            large_key.to_str().unwrap(),
            "it is larger than 64 KiB, the most bulkrefund reads for it",
        ),
    ] {
        let config = sample_config(dir.path(), |text| {
            let sample = samples().join("keys/leshua-trade.key");
            text.replace(sample.to_str().unwrap(), key)
        });
        let run = validate_with(&config, &journal);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "trade_key.file (line 9): the file it names cannot be read ({why})"
            )),
            "{}",
            run.stderr
        );
    }
    assert!(!journal.exists());
}

#[test]
fn a_configuration_anyone_can_change_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = sample_config(dir.path(), |text| text);
    for (mode, warned) in [(0o666, true), (0o664, false)] {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = validate_with(&config, &dir.path().join("j.db"));
        assert_eq!(run.code, 0, "{}", run.stderr);
        let warning = format!(
            "Warning: the configuration file '{}' can be changed by any user (mode 666); \
             make it yours alone: chmod o-w it",
            config.display()
        );
        assert_eq!(
            run.stderr.lines().any(|line| line == warning),
            warned,
            "{mode:o}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_misspelt_profile_and_a_tab_separated_paste_get_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let run = validate(&samples().join("leshua-batch.csv"), "lesuha", &journal);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.lines().last().unwrap(),
        format!(
            "Error: There is no profile 'lesuha' in '{}' (profiles: alipay, leshua, lianshang, wechatpay); did you mean `--profile leshua`?",
            samples().join("bulkrefund.toml").display()
        )
    );
    let pasted = dir.path().join("pasted.csv");
    std::fs::write(
        &pasted,
        "merchant_refund_id\tthird_order_id\trefund_amount\nR1\tT1\t100\n",
    )
    .unwrap();
    let run = validate(&pasted, "leshua", &journal);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.lines().last().unwrap(),
        format!(
            "Error: '{}': the required column 'merchant_refund_id' (or 商户退款单号, 退款单号, 退款编号) \
             is missing (leshua batch); the header read has 1 column, split at ',': \
             \"merchant_refund_id\\tthird_order_id\\trefund_amount\"; \
             the file looks separated by a tab: pass --delimiter tab",
            pasted.display()
        )
    );
    let run = bulkrefund(
        &[
            "validate",
            pasted.to_str().unwrap(),
            "--profile",
            "leshua",
            "--delimiter",
            "tab",
        ],
        &journal,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn chinese_headers_are_read_for_both_gateways() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.db");
    let leshua = dir.path().join("leshua.csv");
    std::fs::write(
        &leshua,
        "商户退款单号,商户订单号,退款金额（元）*,备注\nR1,T1,12.50,月末\nR2,T2,1.234,坏\n",
    )
    .unwrap();
    let run = validate(&leshua, "leshua", &journal);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "line 3, 退款金额（元）* (refund_amount_yuan): \"1.234\" has more than 2 decimals"
        ),
        "{}",
        run.stdout
    );
    let lianshang = dir.path().join("lianshang.csv");
    std::fs::write(
        &lianshang,
        "退款单号,订单号,链商订单号,退款金额\nR-1,T1,WK1,25.99\n",
    )
    .unwrap();
    let run = validate(&lianshang, "lianshang", &journal);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("25.99"), "{}", run.stdout);
    let both = dir.path().join("both.csv");
    std::fs::write(
        &both,
        "out_refund_id,商户退款单号,订单号,链商订单号,退款金额\n",
    )
    .unwrap();
    let run = validate(&both, "lianshang", &journal);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(
            "'out_refund_id' and '商户退款单号' both name the column 'out_refund_id': keep one of them"
        ),
        "{}",
        run.stderr
    );
}
