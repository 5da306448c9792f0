//! The stub gateway through everything a real gateway goes through: its
//! profile section in the configuration, its batch columns and row rules in
//! the scan and the import, its client under the engine, the journal's gateway
//! column, the results file, the export's order ids and `retry --new-ids`.

use crate::journal::JournalLocation;

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::commands::app::{default_results_path, App};
use crate::commands::retry::{self, RetryRequest};
use crate::commands::run::{self, RunRequest};
use crate::config::Config;
use crate::gateway::stub::client::StubLedger;
use crate::gateway::GatewayKind;
use crate::journal::Journal;
use crate::options::RunOptions;
use crate::report::export::{self, Filter};

pub(super) fn config(dir: &Path, ledger: &str) -> Config {
    let text = format!(
        "[profiles.acme]\ngateway = \"stub\"\nbase_url = \"http://127.0.0.1:9\"\n\
         merchant_id = \"ACME\"\nledger = \"{ledger}\"\n"
    );
    let path = dir.join("bulkrefund.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap()
}

/// (refund id or line, status) of each row of a results file.
pub(super) fn statuses(path: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, status) = (column("refund_id"), column("status"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[id].to_owned(), r[status].to_owned())
        })
        .collect()
}

#[test]
fn a_stub_profile_holds_only_the_stubs_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "settings");
    let profile = config.profile("acme").unwrap();
    assert_eq!(profile.gateway, GatewayKind::Stub);
    let text = "[profiles.acme]\ngateway = \"stub\"\nbase_url = \"http://127.0.0.1:9\"\n\
                merchant_id = \"ACME\"\nledger = \"x\"\ntrade_key = { env = \"K\" }\n";
    let error = Config::parse(Path::new("bulkrefund.toml"), text)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("line 6, column 1, in [profiles.acme], trade_key: `trade_key` is not a setting of a stub profile"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stub_batch_is_run_reported_exported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = StubLedger::named("scenario");
    let options = RunOptions {
        poll_for: Duration::from_secs(5),
        quiet: true,
        ..RunOptions::default()
    };
    let journal_path = dir.path().join("journal.db");
    let app = App::new(
        config(dir.path(), "scenario"),
        JournalLocation::file(&journal_path),
        options,
        CancellationToken::new(),
    );
    let batch = dir.path().join("stub.csv");
    std::fs::write(
        &batch,
        "refund_id,order_id,amount_fen\nr1,o1,100\nr2,o2,13\nbad-id,o3,100\n",
    )
    .unwrap();
    let request = RunRequest::confirmed(&batch, "acme");
    let outcome = run::run(&app, request).await.unwrap();
    assert_eq!(outcome.exit_code, 3, "r2 failed, bad-id is invalid");
    let results = default_results_path(&batch);
    assert_eq!(
        statuses(&results),
        [
            ("r1".into(), "succeeded".into()),
            ("r2".into(), "failed".into()),
            ("bad-id".into(), "invalid".into()),
        ]
    );
    assert_eq!(ledger.refund("r1").unwrap().submissions, 1);
    assert!(
        ledger.refund("bad-id").is_none(),
        "an invalid row is never sent"
    );

    // The journal keeps the stub as the refunds' gateway; the export asks the
    // stub for their order ids.
    let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
    let mut exported = Vec::new();
    let utc = crate::zone::Zone::utc();
    export::export_csv(&journal, &Filter::default(), &utc, &mut exported, false).unwrap();
    let text = String::from_utf8(exported).unwrap();
    assert!(text.contains(",r1,") && text.contains(",o1,"), "{text}");
    drop(journal);

    // retry --new-ids: the stub confirms r2 failed, then pays its derived id.
    let request = RetryRequest {
        batch: 1,
        new_ids: true,
        yes: true,
        allow_over_limit: false,
    };
    let retried = retry::run(&app, request)
        .await
        .unwrap()
        .expect("r2 is retried");
    assert_eq!(retried.exit_code, 3, "bad-id is still invalid");
    let r2 = ledger.refund("r2").unwrap();
    assert_eq!((r2.succeeded, r2.submissions), (false, 1));
    let r2r2 = ledger.refund("r2R2").unwrap();
    assert_eq!((r2r2.succeeded, r2r2.submissions), (true, 1));
    assert_eq!(
        statuses(&results)[1],
        ("r2".into(), "succeeded".into()),
        "the row reports the head of its chain"
    );
}
