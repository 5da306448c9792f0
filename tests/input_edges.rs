//! The real binary at the edges of its input, output and journal: malformed
//! rows and quotes, damaged encodings, output paths that would overwrite what
//! matters, a lock met through a symlink, a journal that is empty, foreign or
//! damaged, and an import that is all or nothing. Each checks the simulator's
//! ledger: nothing is sent when the command refuses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::OrderStatus;
use common::*;

/// A world whose gateway knows these Leshua orders, 100 yuan each.
async fn world(orders: &[&str]) -> World {
    let orders = orders.iter().enumerate().fold(Orders::new(), |o, (i, id)| {
        o.with(
            GatewayKind::Leshua,
            id,
            &format!("L{i}"),
            10_000,
            OrderStatus::Paid,
        )
    });
    World::start(orders, FaultConfig::default()).await
}

/// `run BATCH --profile leshua` and more flags, as the real binary.
async fn run_batch(w: &World, batch: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", batch.to_str().unwrap(), "--profile", "leshua"];
    args.extend(extra);
    w.bulkrefund(&args).await
}

fn batches_in_journal(w: &World) -> usize {
    w.read_journal().batches().unwrap().len()
}

const HEADER: &str = "merchant_refund_id,third_order_id,refund_amount,memo\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_with_extra_cells_is_invalid_and_never_shifts_into_our_columns() {
    let w = world(&["T1", "T2"]).await;
    let batch = w.write(
        "extra.csv",
        format!("{HEADER}R1,T1,100,ok\nRJ1,NOSUCHORDER,100,n,x,succeeded\nR2,T2,100,ok\n"),
    );
    let validate = w
        .bulkrefund(&["validate", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(validate.code, 3, "{}", validate.stdout);
    assert!(
        validate
            .stdout
            .contains("line 3: 6 cells, the header has 4"),
        "{}",
        validate.stdout
    );
    let run = run_batch(&w, &batch, &[]).await;
    assert_eq!(run.code, 3, "validate and run agree: {}", run.stderr);
    let rows = w.results(&batch);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["status"], "invalid");
    assert_eq!(
        rows[1]["error_message"],
        "line 3: 6 cells, the header has 4"
    );
    assert_eq!(rows[1]["line"], "3");
    assert!(w.sim.ledger().id("RJ1").is_none(), "never sent");
    assert_eq!(w.sim.ledger().refunds.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unterminated_quote_stops_validate_and_run_alike_with_its_line() {
    let w = world(&["T1", "T2", "T3"]).await;
    let middle = w.write(
        "middle.csv",
        format!("{HEADER}R1,T1,100,a\nR2,\"T2,100,b\nR3,T3,100,c\nR4,T3,100,\"d\"\n"),
    );
    let at_end = w.write(
        "end.csv",
        format!("{HEADER}R1,T1,100,a\nR2,T2,100,b\nR3,T3,100,\"unclosed\n"),
    );
    for (batch, line) in [(&middle, 5), (&at_end, 4)] {
        let validate = w
            .bulkrefund(&["validate", batch.to_str().unwrap(), "--profile", "leshua"])
            .await;
        assert_eq!(validate.code, 2, "{}{}", validate.stdout, validate.stderr);
        assert!(
            validate.stderr.contains(&format!("line {line}:")),
            "{}",
            validate.stderr
        );
        let run = run_batch(&w, batch, &[]).await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("line {line}:")),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("UNIQUE"), "{}", run.stderr);
    }
    assert!(!w.journal().exists(), "nothing was recorded");
    assert_eq!(w.sim.ledger().requests, 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_columns_named_like_ours_keep_their_own_values() {
    let w = world(&["T1"]).await;
    let batch = w.write(
        "named.csv",
        "merchant_refund_id,third_order_id,refund_amount,status,line\nR1,T1,100,failed,99\n",
    );
    assert_eq!(run_batch(&w, &batch, &[]).await.code, 0);
    let rows = w.results(&batch);
    assert_eq!(rows[0]["status"], "succeeded");
    assert_eq!(rows[0]["line"], "2");
    assert_eq!(rows[0]["input_status"], "failed");
    assert_eq!(rows[0]["input_line"], "99");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_order_ids_are_sent_as_written_and_a_damaged_file_is_refused() {
    let ids: Vec<String> = (1..=200).map(|i| format!("订单{i:04}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let w = world(&refs).await;
    let mut text = String::from(HEADER);
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!("R{},{id},100,月末退款\n", i + 1));
    }
    // One stray byte on line 152 (the header is line 1).
    let mut damaged = text.clone().into_bytes();
    let at = damaged
        .windows(5)
        .position(|w| w == b"R151,")
        .map(|p| p + 4)
        .unwrap();
    damaged.insert(at, 0xFF);
    let damaged = w.write("damaged.csv", damaged);
    for command in ["validate", "run"] {
        let out = w
            .bulkrefund(&[command, damaged.to_str().unwrap(), "--profile", "leshua"])
            .await;
        assert_eq!(out.code, 2, "{command}: {}", out.stderr);
        assert!(
            out.stderr.contains("line 152: is not valid UTF-8"),
            "{command}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("--encoding gbk"), "{}", out.stderr);
    }
    assert_eq!(w.sim.ledger().requests, 0);
    let clean = w.write("clean.csv", &text);
    assert_eq!(run_batch(&w, &clean, &[]).await.code, 0);
    let ledger = w.sim.ledger();
    assert_eq!(ledger.refunds.len(), 200);
    assert_eq!(ledger.refund("R151").unwrap().order_id, "订单0151");
    // A UTF-8 byte-order mark before GBK bytes: a word about the encoding.
    let mut bom_gbk = b"\xEF\xBB\xBF".to_vec();
    bom_gbk.extend_from_slice(&encoding_rs::GB18030.encode(&text).0);
    let bom_gbk = w.write("bom-gbk.csv", bom_gbk);
    let out = run_batch(&w, &bom_gbk, &[]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("byte-order mark"), "{}", out.stderr);
    assert!(!out.stderr.contains("required column"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_is_the_journal_an_input_or_the_config_is_refused() {
    let w = world(&["T1", "T2"]).await;
    let a = w.write("a.csv", format!("{HEADER}R1,T1,100,a\n"));
    assert_eq!(run_batch(&w, &a, &[]).await.code, 0);
    let b = w.write("b.csv", format!("{HEADER}R2,T2,100,b\n"));
    let link = w.path("link-to-journal.db");
    std::os::unix::fs::symlink(w.journal(), &link).unwrap();
    let dotted = w.path("sub");
    std::fs::create_dir(&dotted).unwrap();
    let outs: Vec<PathBuf> = vec![
        w.journal(),
        link.clone(),
        dotted.join("../journal.db"),
        PathBuf::from(format!("{}-wal", w.journal().display())),
        b.clone(),
        a.clone(),
        w.config.clone(),
        w.path("sub"),
        w.path("missing-dir/r.csv"),
        PathBuf::from("-"),
    ];
    for out in &outs {
        let run = run_batch(&w, &b, &["--out", out.to_str().unwrap()]).await;
        assert_eq!(run.code, 2, "--out {}: {}", out.display(), run.stderr);
    }
    assert_eq!(w.sim.ledger().refunds.len(), 1, "nothing of b.csv was sent");
    assert_eq!(batches_in_journal(&w), 1, "nor recorded");
    assert_eq!(
        std::fs::read_to_string(&b).unwrap(),
        format!("{HEADER}R2,T2,100,b\n")
    );
    // export may not overwrite a batch either; `-` is standard output.
    let export = w
        .bulkrefund(&["export", "--out", a.to_str().unwrap()])
        .await;
    assert_eq!(export.code, 2, "{}", export.stderr);
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        format!("{HEADER}R1,T1,100,a\n")
    );
    let export = w.bulkrefund(&["export", "--out", "-"]).await;
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert!(
        export.stdout.starts_with("profile,merchant_id,refund_id"),
        "{}",
        export.stdout
    );
    assert!(!Path::new("-").exists());
    let status = w.bulkrefund(&["status"]).await;
    assert_eq!(status.code, 0, "the journal is intact: {}", status.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unwritable_results_file_does_not_stop_the_others() {
    let w = world(&["T1", "T2"]).await;
    w.sim.set_faults(FaultConfig {
        processing_for: std::time::Duration::from_secs(1),
        ..FaultConfig::default()
    });
    let gone = w.path("gone");
    std::fs::create_dir(&gone).unwrap();
    let a = w.write("a.csv", format!("{HEADER}R1,T1,100,a\n"));
    let b = w.write("b.csv", format!("{HEADER}R2,T2,100,b\n"));
    let a_out = gone.join("a.results.csv");
    assert_eq!(
        run_batch(
            &w,
            &a,
            &["--out", a_out.to_str().unwrap(), "--poll-for", "0s"]
        )
        .await
        .code,
        4
    );
    assert_eq!(run_batch(&w, &b, &["--poll-for", "0s"]).await.code, 4);
    std::fs::remove_dir_all(&gone).unwrap();
    let resume = w.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 1, "{}", resume.stderr);
    assert!(
        resume.stderr.contains("resume --batch 1 --out"),
        "{}",
        resume.stderr
    );
    let rows = w.results(&b);
    assert_eq!(
        rows[0]["status"], "succeeded",
        "batch 2's results were written"
    );
    let fixed = w.path("a.fixed.csv");
    let resume = w
        .bulkrefund(&["resume", "--batch", "1", "--out", fixed.to_str().unwrap()])
        .await;
    assert_eq!(resume.code, 0, "{}", resume.stderr);
    assert_eq!(read_results(&fixed)[0]["status"], "succeeded");
    assert!(w.sim.ledger().ids.iter().all(|id| id.submissions == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_holds_through_a_symlink() {
    let ids: Vec<String> = (1..=60).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let w = world(&refs).await;
    w.sim.set_faults(FaultConfig {
        latency_ms: Some((50, 50)),
        ..FaultConfig::default()
    });
    let mut text = String::from(HEADER);
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!("R{},{id},100,x\n", i + 1));
    }
    let batch = w.write("slow.csv", text);
    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args([
            "run",
            batch.to_str().unwrap(),
            "--profile",
            "leshua",
            "--rate",
            "20",
            "--yes",
        ])
        .arg("--config")
        .arg(&w.config)
        .arg("--journal")
        .arg(w.journal())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    while w.sim.ledger().requests < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let link = w.path("link.db");
    std::os::unix::fs::symlink(w.journal(), &link).unwrap();
    let second = w.bulkrefund_with_journal(&link, &["resume"]).await;
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!(
            "in use by another bulkrefund process (pid {}",
            first.id().unwrap()
        )),
        "{}",
        second.stderr
    );
    assert_eq!(
        first.wait().await.unwrap().code(),
        Some(0),
        "the first run was not disturbed"
    );
    assert!(w.sim.ledger().ids.iter().all(|id| id.submissions == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_foreign_journal_is_refused_and_a_damaged_one_noticed() {
    let w = world(&["T1", "T2"]).await;
    let batch = w.write("a.csv", format!("{HEADER}R1,T1,100,a\n"));
    let empty = w.write("empty.db", b"");
    let run = w
        .bulkrefund_with_journal(
            &empty,
            &["run", batch.to_str().unwrap(), "--profile", "leshua"],
        )
        .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is not a bulkrefund journal: it is an empty file"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "left as it was"
    );
    let foreign = w.path("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE accounts (id); INSERT INTO accounts VALUES (1);")
        .unwrap();
    for command in [
        &["resume"][..],
        &["status"],
        &["run", batch.to_str().unwrap(), "--profile", "leshua"],
    ] {
        let out = w.bulkrefund_with_journal(&foreign, command).await;
        assert_eq!(out.code, 2, "{command:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("not a bulkrefund journal"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(w.sim.ledger().requests, 0);
    // A journal with garbage in a page: noticed before anything is sent.
    w.sim.set_faults(FaultConfig {
        processing_for: std::time::Duration::from_secs(60),
        ..FaultConfig::default()
    });
    assert_eq!(run_batch(&w, &batch, &["--poll-for", "0s"]).await.code, 4);
    let requests = w.sim.ledger().requests;
    let mut bytes = std::fs::read(w.journal()).unwrap();
    let page = 4096;
    assert!(bytes.len() > 4 * page);
    for b in &mut bytes[2 * page + 8..3 * page] {
        *b = 0xA5;
    }
    std::fs::write(w.journal(), &bytes).unwrap();
    let resume = w.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 1, "{}", resume.stderr);
    assert!(resume.stderr.contains("is damaged"), "{}", resume.stderr);
    assert_eq!(w.sim.ledger().requests, requests, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_an_older_version_left_unfinished_is_reported_then_finished() {
    let ids: Vec<String> = (1..=12).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let w = world(&refs).await;
    let mut text = String::from(HEADER);
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!("R{},{id},100,x\n", i + 1));
    }
    let batch = w.write("big.csv", &text);
    // Record the batch, then make it look like an older version's partial import.
    w.sim.set_faults(FaultConfig {
        wrong_key: true,
        ..FaultConfig::default()
    });
    assert_eq!(
        run_batch(&w, &batch, &[]).await.code,
        1,
        "stopped: nothing created"
    );
    w.sim.set_faults(FaultConfig::default());
    {
        let conn = rusqlite::Connection::open(w.journal()).unwrap();
        conn.execute_batch(
            "UPDATE batches SET imported_at = NULL, finished_at = NULL;
             DELETE FROM batch_rows WHERE line > 6;
             UPDATE refunds SET state = 'pending', first_sent_at = NULL;
             DROP TRIGGER events_no_delete;
             DELETE FROM events WHERE refund IN (SELECT id FROM refunds WHERE line > 6);
             DELETE FROM attempts;
             DELETE FROM refunds WHERE line > 6;",
        )
        .unwrap();
    }
    let before = w.sim.ledger().requests;
    let resume = w.bulkrefund(&["resume"]).await;
    assert_eq!(resume.code, 4, "{}", resume.stderr);
    assert!(
        resume.stderr.contains("the import of")
            && resume.stderr.contains("is unfinished (5 rows recorded)"),
        "{}",
        resume.stderr
    );
    assert!(
        resume.stderr.contains("run `bulkrefund run"),
        "{}",
        resume.stderr
    );
    assert_eq!(w.sim.ledger().requests, before, "none of it was sent");
    let status = w.bulkrefund(&["status"]).await;
    assert!(
        status.stdout.contains("import unfinished"),
        "{}",
        status.stdout
    );
    // The same file again finishes the import; then everything is sent, once.
    let run = run_batch(&w, &batch, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(batches_in_journal(&w), 1);
    let ledger = w.sim.ledger();
    assert_eq!(ledger.refunds.len(), 12);
    assert!(ledger.ids.iter().all(|id| id.created == 1));
    let rows = w.results(&batch);
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
}

/// The line of stderr that says what the error was.
fn error_line(out: &Output) -> &str {
    out.stderr
        .lines()
        .find(|l| l.starts_with("Error: "))
        .unwrap_or_else(|| panic!("no error in {}", out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_cell_or_row_is_refused_with_its_line_before_it_is_read_whole() {
    let w = world(&["T1"]).await;
    let cell = w.write(
        "cell.csv",
        format!("{HEADER}R1,T1,100,ok\nR2,T1,100,{}\n", "x".repeat(3 << 20)),
    );
    let out = run_batch(&w, &cell, &[]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        error_line(&out),
        format!(
            "Error: '{}', line 3: a cell is longer than 64 KiB (65,536 bytes), the most one cell \
             may hold; the file is refused without being read further",
            cell.display()
        )
    );
    // Cells within the bound, a row past it (a quoted cell's line ends do not end the row).
    let row = w.write(
        "row.csv",
        format!("{HEADER}R1,T1,100,ok\n\n{}\n", "\"a\nb\",".repeat(300_000)),
    );
    let out = w
        .bulkrefund(&["validate", row.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        error_line(&out),
        format!(
            "Error: '{}', line 4: the row is longer than 1 MiB (1,048,576 bytes), the most one row \
             may hold; the file is refused without being read further",
            row.display()
        )
    );
    assert!(w.ledger().refunds.is_empty(), "nothing sent");
    assert!(
        !w.journal().exists(),
        "refused before the journal is opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_saved_as_excel_csv_utf8_gets_results_with_a_bom() {
    let w = world(&["T1", "T2"]).await;
    let with_bom = w.write(
        "excel.csv",
        format!("\u{feff}{HEADER}R1,T1,100,月末\n").into_bytes(),
    );
    let out = run_batch(&w, &with_bom, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let results = std::fs::read(w.path("excel.results.csv")).unwrap();
    let start = "\u{feff}merchant_refund_id,third_order_id,refund_amount,memo,line,status,";
    assert_eq!(
        String::from_utf8_lossy(&results[..start.len()]),
        start,
        "the BOM, then the header"
    );
    // Without a BOM in, none out (unless --excel).
    let plain = w.write("plain.csv", format!("{HEADER}R2,T2,100,月末\n"));
    let out = run_batch(&w, &plain, &[]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let results = std::fs::read(w.path("plain.results.csv")).unwrap();
    assert!(results.starts_with(b"merchant_refund_id,"), "no BOM");
}
