//! `reconcile`'s own rules: bill files by position or date, and the fetch
//! path through a bill API of the test's (the stub gateway has none).

use crate::journal::JournalLocation;

use super::*;

fn day(text: &str) -> Date {
    Date::from_str(text).unwrap()
}

#[test]
fn bill_files_by_position_or_by_date() {
    let d = day("2026-11-30");
    let files = |names: &[&str]| {
        let paths: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
        bill_files(d, &paths)
    };
    assert_eq!(
        files(&["a.csv", "b.csv", "c.csv"]).unwrap(),
        [
            (d, PathBuf::from("a.csv")),
            (day("2026-11-29"), PathBuf::from("b.csv")),
            (day("2026-12-01"), PathBuf::from("c.csv")),
        ]
    );
    assert_eq!(
        files(&["a.csv", "2026-12-01=next.csv"]).unwrap(),
        [
            (d, PathBuf::from("a.csv")),
            (day("2026-12-01"), PathBuf::from("next.csv")),
        ]
    );
    assert!(files(&[]).unwrap().is_empty());
    let error = |names: &[&str]| files(names).unwrap_err().0;
    assert!(error(&["a", "b", "c", "d"]).contains("at most three"));
    assert!(error(&["2026-12-05=x.csv"]).contains("is not 2026-11-30 or a day next to it"));
    assert!(error(&["a.csv", "2026-11-30=b.csv"]).contains("two bills for 2026-11-30"));
    assert!(error(&["2026-12-01=b.csv"]).contains("no bill for 2026-11-30 itself"));
    assert!(parse_date("2026-11-3", "--date").is_err());
}

mod fetched {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::commands::app::App;
    use crate::commands::run::{self as run_command, RunRequest};
    use crate::commands::stub_gateway::config;
    use crate::gateway::bill::{BillRow, BillStatus, BillTotals, FetchedBill};
    use crate::gateway::stub::client::StubLedger;
    use crate::gateway::GatewayKind;
    use crate::money::Fen;
    use crate::options::RunOptions;

    /// A bill API of the test's: the bill of each day it holds, else not
    /// ready; one of another merchant than ACME refused, as a fetcher does.
    struct Bills {
        days: HashMap<Date, Bill>,
        asked: Mutex<Vec<Date>>,
    }

    #[async_trait::async_trait]
    impl BillSource for Bills {
        async fn fetch(&self, date: Date) -> Result<FetchedBill, BillError> {
            self.asked.lock().unwrap().push(date);
            let bill = self.days.get(&date).cloned().ok_or(BillError::NotReady {
                date,
                why: "STATEMENT_CREATING".into(),
            })?;
            if bill.merchant_id.as_deref() != Some("ACME") {
                return Err(BillError::Refused("a bill of merchant OTHER".into()));
            }
            Ok(FetchedBill {
                raw: format!("raw bill of {date}").into_bytes(),
                raw_extension: "csv",
                bill,
            })
        }
    }

    fn row(line: u64, id: &str, fen: u64) -> BillRow {
        BillRow {
            refund_id: id.into(),
            gateway_refund_id: None,
            order_id: None,
            gateway_order_id: None,
            fen: Fen(fen),
            status: BillStatus::Succeeded,
            success_at: None,
            line,
        }
    }

    fn bill(date: Date, merchant: &str, rows: Vec<BillRow>) -> Bill {
        Bill {
            gateway: GatewayKind::Stub,
            merchant_id: Some(merchant.into()),
            date,
            rows,
            totals: BillTotals::default(),
        }
    }

    /// A journal where the stub paid r1 (1.00) and r2 (2.00), and the Beijing day they count on.
    async fn paid(dir: &Path, ledger: &str) -> (Profile, PathBuf, Date) {
        let _ledger = StubLedger::named(ledger);
        let journal_path = dir.join("journal.db");
        let options = RunOptions {
            poll_for: Duration::from_secs(5),
            quiet: true,
            ..RunOptions::default()
        };
        let config = config(dir, ledger);
        let profile = config.profile("acme").unwrap();
        let app = App::new(
            config,
            JournalLocation::file(&journal_path),
            options,
            CancellationToken::new(),
        );
        let batch = dir.join("stub.csv");
        std::fs::write(
            &batch,
            "refund_id,order_id,amount_fen\nr1,o1,100\nr2,o2,200\n",
        )
        .unwrap();
        let outcome = run_command::run(&app, RunRequest::confirmed(&batch, "acme"))
            .await
            .unwrap();
        assert_eq!(outcome.exit_code, 0);
        drop(app);
        let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
        let ids = ["r1".to_owned(), "r2".to_owned()];
        let sent = journal
            .refunds_for_bill(GatewayKind::Stub, "ACME", &ids)
            .unwrap();
        let date = sent[0].day().unwrap();
        assert_eq!(sent[1].day(), Some(date), "both refunds of one second");
        (profile, journal_path, date)
    }

    fn request(dir: &Path, date: Date) -> Request {
        Request {
            date,
            files: Vec::new(),
            out: dir.join("day.csv"),
            format: report::ReportFormat::Table(ExportFormat::Csv),
            excel: false,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refund_missing_from_the_fetched_day_is_fetched_from_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let (profile, journal_path, date) = paid(dir.path(), "reconcile-neighbours").await;
        let (before, after) = (shift(date, -1), shift(date, 1));
        let bills = Bills {
            days: HashMap::from([
                (
                    date,
                    bill(date, "ACME", vec![row(2, "r1", 100), row(3, "X9", 5)]),
                ),
                (after, bill(after, "ACME", vec![row(2, "r2", 200)])),
            ]),
            asked: Mutex::new(Vec::new()),
        };
        let request = request(dir.path(), date);
        let code = run_with(
            &profile,
            &JournalLocation::file(&journal_path),
            None,
            &request,
            Some(&bills),
        )
        .await
        .unwrap();
        assert_eq!(code, exit::SUCCESS, "matched, and one made outside");
        assert_eq!(*bills.asked.lock().unwrap(), [date, before, after]);
        let kept = |day: Date| dir.path().join(format!("{day}.stub.bill.csv"));
        assert_eq!(
            std::fs::read_to_string(kept(date)).unwrap(),
            format!("raw bill of {date}")
        );
        assert!(kept(after).exists());
        assert!(!kept(before).exists(), "not ready: nothing kept");
        let report = std::fs::read_to_string(&request.out).unwrap();
        assert!(
            report.contains(",r2,STUB-r2,o2,succeeded,succeeded,200,200,"),
            "{report}"
        );
        assert!(
            report.contains(&format!("listed in the bill of {after}, line 2")),
            "{report}"
        );
        let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
        let r2 = journal.refunds_named("r2").unwrap()[0].id;
        let found = journal.found_in_bills(r2).unwrap();
        assert_eq!(found[0].bill_day, Some(after.to_string()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_merchants_fetched_bill_is_refused_and_a_whole_day_asks_no_neighbour() {
        let dir = tempfile::tempdir().unwrap();
        let (profile, journal_path, date) = paid(dir.path(), "reconcile-refused").await;
        let request = request(dir.path(), date);
        // Another merchant's bill: exit 1 (fetched, not typed), nothing recorded.
        let other = Bills {
            days: HashMap::from([(date, bill(date, "OTHER", vec![]))]),
            asked: Mutex::new(Vec::new()),
        };
        let error = run_with(
            &profile,
            &JournalLocation::file(&journal_path),
            None,
            &request,
            Some(&other),
        )
        .await
        .unwrap_err();
        assert_eq!(crate::commands::exit_code_for(&error), exit::FATAL);
        assert!(format!("{error:#}").contains("merchant OTHER"), "{error:#}");
        let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
        let r2 = journal.refunds_named("r2").unwrap()[0].id;
        assert!(journal.found_in_bills(r2).unwrap().is_empty());
        drop(journal);
        assert!(!request.out.exists(), "no report for a refused bill");
        // Everything listed on the day: the neighbours are not asked for.
        let whole = Bills {
            days: HashMap::from([(
                date,
                bill(date, "ACME", vec![row(2, "r1", 100), row(3, "r2", 200)]),
            )]),
            asked: Mutex::new(Vec::new()),
        };
        let code = run_with(
            &profile,
            &JournalLocation::file(&journal_path),
            None,
            &request,
            Some(&whole),
        )
        .await
        .unwrap();
        assert_eq!(code, exit::SUCCESS);
        assert_eq!(*whole.asked.lock().unwrap(), [date]);
    }

    /// A report that would land on a batch's input, on a raw bill's name or
    /// in a folder that does not exist is refused (exit 2) before anything
    /// is fetched or recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_report_path_that_cannot_be_is_refused_before_anything_is_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let (profile, journal_path, date) = paid(dir.path(), "reconcile-out").await;
        let whole = Bills {
            days: HashMap::from([(
                date,
                bill(date, "ACME", vec![row(2, "r1", 100), row(3, "r2", 200)]),
            )]),
            asked: Mutex::new(Vec::new()),
        };
        let input = std::fs::read(dir.path().join("stub.csv")).unwrap();
        for (out, says) in [
            ("stub.csv", "the input of a batch"),
            ("2026-11-30.stub.bill.csv", "where raw bills are kept"),
            ("no-such-folder/day.csv", "--out"),
        ] {
            let mut request = request(dir.path(), date);
            request.out = dir.path().join(out);
            let error = run_with(
                &profile,
                &JournalLocation::file(&journal_path),
                None,
                &request,
                Some(&whole),
            )
            .await
            .unwrap_err();
            assert_eq!(crate::commands::exit_code_for(&error), exit::USAGE, "{out}");
            assert!(format!("{error:#}").contains(says), "{out}: {error:#}");
        }
        assert!(whole.asked.lock().unwrap().is_empty(), "nothing fetched");
        assert_eq!(std::fs::read(dir.path().join("stub.csv")).unwrap(), input);
        let journal = Journal::open_read_only(&journal_path).unwrap().unwrap();
        assert!(journal
            .reconciled_days()
            .unwrap()
            .iter()
            .all(|d| d.latest.is_none()));
    }
}

/// A kept raw bill is evidence an earlier reconciliation recorded the hash
/// of: a bill fetched again with other bytes never replaces it.
#[test]
fn a_kept_raw_bill_is_never_replaced_by_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let protected = Protected::new();
    let keep = |bytes: &[u8]| {
        let sha = sha256(bytes);
        keep_raw(
            dir.path(),
            "2026-11-30.wechatpay.bill".into(),
            "csv",
            (bytes, &sha),
            &protected,
        )
        .unwrap()
    };
    let first = keep(b"first bill");
    assert_eq!(first, dir.path().join("2026-11-30.wechatpay.bill.csv"));
    assert_eq!(keep(b"first bill"), first, "the same bytes: the same file");
    let second = keep(b"second bill");
    let sha = sha256(b"second bill");
    assert_eq!(
        second,
        dir.path()
            .join(format!("2026-11-30.wechatpay.bill.{}.csv", &sha[..12]))
    );
    assert_eq!(std::fs::read(&first).unwrap(), b"first bill");
    assert_eq!(std::fs::read(&second).unwrap(), b"second bill");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
