//! An abnormal refund (accepted, but the money reached nobody) through every
//! command, with the stub gateway: the first refund of an order for exactly 17
//! fen is abnormal until the test resolves it at the stub. It is counted and
//! totalled apart everywhere and exits 3; `retry --failed --new-ids` leaves
//! it alone; `resume` asks about it only once its hour is up, never sends it
//! again, and reports it succeeded once the gateway says so.

use crate::journal::JournalLocation;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::stub_gateway::{config, statuses};
use crate::cli::OutputFormat;
use crate::commands::app::{default_results_path, App};
use crate::commands::resume::{self, ResumeRequest};
use crate::commands::retry::{self, RetryRequest};
use crate::commands::run::{self, RunRequest};
use crate::commands::{show, status};
use crate::gateway::stub::client::StubLedger;
use crate::journal::Journal;
use crate::options::RunOptions;
use crate::report::export::{self, Filter};
use crate::zone::Zone;

/// The results file's row for `refund_id`, by column name.
fn results_row(path: &Path, refund_id: &str) -> HashMap<String, String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect::<HashMap<_, _>>()
        })
        .find(|row| row["refund_id"] == refund_id)
        .unwrap()
}

/// (submissions, queries) the stub has seen for `id`.
fn asked(ledger: &StubLedger, id: &str) -> (u32, u32) {
    let refund = ledger.refund(id).unwrap();
    (refund.submissions, refund.queries)
}

/// Its hour passes: the abnormal refund `refund_id` falls due now.
fn hour_passes(journal_path: &Path, refund_id: &str) {
    let journal = Journal::open(journal_path).unwrap();
    for record in journal.refunds_named(refund_id).unwrap() {
        journal.make_due(record.id).unwrap();
    }
}

fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap()
}

/// What `status`, `status --batch 1`, `export` and `show` say of it.
fn reports_show_it_apart(journal_path: &Path) {
    let journal = Journal::open_read_only(journal_path).unwrap().unwrap();
    status_shows_it_apart(&journal);
    export_totals_it_apart(&journal);
    drop(journal);
    show_says_what_to_do(journal_path);
}

fn status_shows_it_apart(journal: &Journal) {
    let view = |format| status::View {
        format,
        rows: false,
        zone: Zone::utc(),
    };
    let list = text(|out| status::list(journal, &view(OutputFormat::Table), out).unwrap());
    assert!(
        list.contains(
            "\n  requested 3 (1.30 yuan); refunded 1 (1.00 yuan); failed 1 (0.13 yuan); abnormal 1 (0.17 yuan)\n"
        ),
        "{list}"
    );
    let csv = text(|out| status::list(journal, &view(OutputFormat::Csv), out).unwrap());
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(
        ",not_sent_fen,abnormal_count,abnormal_fen,approval,approval_recorded_by,approved_by"
    ));
    assert!(
        lines[1].ends_with(",1,13,0,0,0,0,0,0,0,0,1,17,not needed,,"),
        "{csv}"
    );
    let json = text(|out| status::list(journal, &view(OutputFormat::Json), out).unwrap());
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let money = &json["batches"][0]["money"];
    assert_eq!(
        (
            money["abnormal"]["count"].as_u64(),
            money["abnormal"]["yuan"].as_str()
        ),
        (Some(1), Some("0.17"))
    );
    assert_eq!(money["failed"]["count"], 1);
    assert_eq!(money["unresolved"]["count"], 0);
    let detail = text(|out| status::detail(journal, 1, &view(OutputFormat::Table), out).unwrap());
    assert!(
        detail.contains(
            "\n  failed                                   1            0.13 yuan\n\
             \x20 in review                                0            0.00 yuan\n\
             \x20 abnormal                                 1            0.17 yuan\n\
             \x20 unresolved                               0            0.00 yuan\n"
        ),
        "{detail}"
    );
    assert!(detail.contains("\n  abnormal    ABNORMAL                       1           0.17 yuan  accepted, but the refund reached nobody"), "{detail}");
}

fn export_totals_it_apart(journal: &Journal) {
    let mut exported = Vec::new();
    let utc = Zone::utc();
    let totals =
        export::export_csv(journal, &Filter::default(), &utc, &mut exported, false).unwrap();
    let exported = String::from_utf8(exported).unwrap();
    assert!(
        exported.contains("\n#totals,abnormal,1,17,0.17\n"),
        "{exported}"
    );
    assert!(
        exported.contains("\n#totals,failed,1,13,0.13\n"),
        "{exported}"
    );
    assert!(
        totals
            .lines()
            .contains(&("abnormal".to_owned(), 1, Some(crate::money::Fen(17)))),
        "the XLSX's figures are these lines too"
    );
}

fn show_says_what_to_do(journal_path: &Path) {
    let utc = Zone::utc();
    let shown = text(|out| {
        show::run(
            &JournalLocation::file(journal_path),
            "r3",
            OutputFormat::Table,
            &utc,
            out,
        )
        .unwrap();
    });
    assert!(
        shown.contains(
            "\n  status abnormal (abnormal)  gateway refund id STUB-r3  error ABNORMAL: "
        ),
        "{shown}"
    );
    for step in [
        "\n  what to do:\n    - the gateway accepted this refund, but the money reached nobody: the payer's card is cancelled or frozen\n",
        "\n    - act at the gateway: in WeChat Pay's merchant platform (交易中心), or through its apply-abnormal-refund API, have the money paid to the payer another way\n",
        "\n    - bulkrefund asks the gateway about it at most hourly, on `bulkrefund resume` (next after ",
        "), and reports it succeeded (paid through channel OTHER_BALANCE or OTHER_BANKCARD) or closed\n",
        "\n    - never resend it and never give it a new id: `retry` leaves it alone\n",
    ] {
        assert!(shown.contains(step), "{step}\n{shown}");
    }
    let json = text(|out| {
        show::run(
            &JournalLocation::file(journal_path),
            "r3",
            OutputFormat::Json,
            &utc,
            out,
        )
        .unwrap();
    });
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["refunds"][0]["status"], "abnormal");
    assert_eq!(
        json["refunds"][0]["what_to_do"].as_array().unwrap().len(),
        4
    );
    let paid = text(|out| {
        show::run(
            &JournalLocation::file(journal_path),
            "r1",
            OutputFormat::Json,
            &utc,
            out,
        )
        .unwrap();
    });
    assert!(!paid.contains("what_to_do"), "only for an abnormal refund");
}

/// The run: r1 paid, r2 declined, r3 abnormal.
async fn run_reports_it_apart(app: &App, batch: &Path, ledger: &StubLedger) {
    let outcome = run::run(app, RunRequest::confirmed(batch, "acme"))
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 3, "r2 failed, r3 is abnormal");
    assert_eq!(
        outcome.batches[0].2.table(),
        [
            "  requested                                3            1.30 yuan",
            "  refunded                                 1            1.00 yuan",
            "    paid by this batch                     1            1.00 yuan",
            "  failed                                   1            0.13 yuan",
            "  in review                                0            0.00 yuan",
            "  abnormal                                 1            0.17 yuan",
            "  unresolved                               0            0.00 yuan",
            "",
        ]
        .join("\n")
    );
    let results = default_results_path(batch);
    assert_eq!(statuses(&results)[2], ("r3".into(), "abnormal".into()));
    let row = results_row(&results, "r3");
    assert_eq!(
        (
            row["error_code"].as_str(),
            row["gateway_refund_id"].as_str(),
            row["refund_fen"].as_str()
        ),
        ("ABNORMAL", "STUB-r3", "17")
    );
    assert_eq!(asked(ledger, "r3"), (1, 0));
}

/// `retry --failed --new-ids`: r2 gets a new id; r3 is not touched.
async fn retry_leaves_it_alone(app: &App, ledger: &StubLedger) {
    let retry = RetryRequest {
        batch: 1,
        new_ids: true,
        yes: true,
        allow_over_limit: false,
    };
    let retried = retry::run(app, retry)
        .await
        .unwrap()
        .expect("r2 is retried");
    assert_eq!(retried.exit_code, 3, "r3 is still abnormal");
    assert!(ledger.refund("r2R2").unwrap().succeeded);
    assert_eq!(asked(ledger, "r3"), (1, 0), "never sent again, not asked");
    assert!(ledger.refund("r3R2").is_none(), "never a new id");
}

/// `resume`, then its exit code.
async fn resume(app: &App) -> u8 {
    resume::resume(app, ResumeRequest::default())
        .await
        .unwrap()
        .exit_code
}

/// `resume` asks only once its hour is up; still abnormal, it waits another.
async fn resume_asks_hourly(app: &App, journal_path: &Path, results: &Path, ledger: &StubLedger) {
    // Before its hour is up, resume leaves it alone, and still exits 3.
    assert_eq!(resume(app).await, 3);
    assert_eq!(asked(ledger, "r3"), (1, 0));
    // Its hour up, resume asks once: still abnormal, asked again in an hour.
    hour_passes(journal_path, "r3");
    assert_eq!(resume(app).await, 3);
    assert_eq!(asked(ledger, "r3"), (1, 1));
    let row = results_row(results, "r3");
    assert_eq!(
        (row["status"].as_str(), row["error_code"].as_str()),
        ("abnormal", "ABNORMAL")
    );
    let journal = Journal::open_read_only(journal_path).unwrap().unwrap();
    let r3 = journal.refunds_named("r3").unwrap().remove(0);
    let hour = crate::engine::policy::ABNORMAL_RECHECK.as_millis() as i64;
    assert!(r3.next_attempt_at > crate::journal::now_ms() + hour - 60_000);
    drop(journal);
    assert_eq!(resume(app).await, 3);
    assert_eq!(asked(ledger, "r3"), (1, 1), "not again within the hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abnormal_refund_is_reported_apart_never_resent_and_asked_about_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = StubLedger::named("abnormal");
    let options = RunOptions {
        poll_for: Duration::from_secs(5),
        quiet: true,
        ..RunOptions::default()
    };
    let journal_path = dir.path().join("journal.db");
    let app = App::new(
        config(dir.path(), "abnormal"),
        JournalLocation::file(&journal_path),
        options,
        CancellationToken::new(),
    );
    let batch = dir.path().join("stub.csv");
    std::fs::write(
        &batch,
        "refund_id,order_id,amount_fen\nr1,o1,100\nr2,o2,13\nr3,o3,17\n",
    )
    .unwrap();
    run_reports_it_apart(&app, &batch, &ledger).await;
    reports_show_it_apart(&journal_path);
    retry_leaves_it_alone(&app, &ledger).await;
    let results = default_results_path(&batch);
    resume_asks_hourly(&app, &journal_path, &results, &ledger).await;

    // A person pays it at the gateway; the next hourly query learns it.
    ledger.resolve("r3");
    hour_passes(&journal_path, "r3");
    assert_eq!(resume(&app).await, 0, "every refund of the batch is paid");
    assert_eq!(asked(&ledger, "r3"), (1, 2), "one submit, ever");
    assert_eq!(statuses(&results)[2], ("r3".into(), "succeeded".into()));
    let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
    let r3 = journal.refunds_named("r3").unwrap().remove(0);
    let kinds: Vec<String> = journal
        .attempts(r3.id)
        .unwrap()
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, ["submit", "query", "query"]);
}
