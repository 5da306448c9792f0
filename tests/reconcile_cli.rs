//! `bulkrefund reconcile`, the real binary, on a journal a run against the
//! simulator built, with a hand-written Leshua portal statement: one refund
//! made outside bulkrefund, one the bill omits, one with another amount, one
//! still processing in the bill, the rest matched. The report names exactly
//! those four findings (the fifth of the list, a day's neighbours,
//! is the matching's unit tests'), the exit is 3, refunds, events and attempts
//! are byte for byte what they were, each reconciliation is kept, `status`
//! says the day is reconciled and `show` in which bill a refund was found.
//! Another merchant's bill is refused (exit 2) and nothing is recorded.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days::gateway_zone;
use bulkrefund::sim::faults::FaultConfig;
use common::*;

/// A journal refund: (refund id, fen, gateway refund id, order id, the time it counts by).
type Refund = (String, u64, String, String, String);

fn refunds(journal: &Path) -> Vec<Refund> {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT refund_id, amount_fen, gateway_refund_id,
                    COALESCE(json_extract(fields, '$.third_order_id'), json_extract(fields, '$.leshua_order_id')),
                    COALESCE(gateway_success_at, finished_at)
             FROM refunds WHERE state = 'succeeded' ORDER BY refund_id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

/// Every row of the tables reconciliation must never change, as text.
fn dump(journal: &Path) -> String {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut text = String::new();
    for table in ["refunds", "events", "attempts", "batches", "batch_rows"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).unwrap();
                text.push_str(&format!("{value:?}|"));
            }
            text.push('\n');
        }
    }
    text
}

fn reconciliations(journal: &Path) -> i64 {
    let conn = rusqlite::Connection::open(journal).unwrap();
    conn.query_row("SELECT COUNT(*) FROM reconciliations", [], |r| r.get(0))
        .unwrap()
}

/// `yyyyMMddHHmmss` in Beijing time, as the portal writes a refund's time.
fn portal_time(utc: &str) -> String {
    let at: jiff::Timestamp = utc.parse().unwrap();
    at.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

/// A report row: (outcome, refund id, note).
type Row = (String, String, String);

/// The report's rows, and its `#summary` lines by figure.
fn report(path: &Path) -> (Vec<Row>, BTreeMap<String, Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header.join(","),
        "outcome,bill_date,refund_id,gateway_refund_id,order_id,journal_status,bill_status,journal_fen,bill_fen,journal_success_at,bill_success_at,bill_day,batch_id,line,note"
    );
    let mut rows = Vec::new();
    let mut summary = BTreeMap::new();
    for record in reader.records() {
        let record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if record[0] == "#summary" {
            summary.insert(record[1].clone(), record[2..].to_vec());
        } else {
            rows.push((record[0].clone(), record[2].clone(), record[14].clone()));
        }
    }
    (rows, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_statement_reconciled_names_exactly_its_differences() {
    let (w, batch) =
        World::with_generated(GatewayKind::Leshua, 12, "RC", FaultConfig::default()).await;
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let journal = w.journal();
    let all = refunds(&journal);
    assert_eq!(all.len(), 12);
    // The Beijing day of the first refund; the bill lists that day's refunds.
    let zone = gateway_zone();
    let date = zone.day_of(&all[0].4).unwrap();
    let of_day: Vec<&Refund> = all
        .iter()
        .filter(|r| zone.day_of(&r.4) == Some(date))
        .collect();
    assert!(of_day.len() >= 4, "a run of seconds stays on one day");
    let (omitted, other_amount, processing) = (&of_day[0].0, &of_day[1].0, &of_day[2].0);
    let mut bill = String::from(
        "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,refund_amount,status,refund_time\n",
    );
    for (id, fen, gateway_id, order, at) in &of_day {
        if id == omitted {
            continue;
        }
        let fen = if id == other_amount { fen - 1 } else { *fen };
        let status = if id == processing { "10" } else { "11" };
        let time = if id == processing {
            String::new()
        } else {
            portal_time(at)
        };
        bill.push_str(&format!(
            "{LESHUA_MERCHANT},{id},{gateway_id},{order},{fen},{status},{time}\n"
        ));
    }
    let noon = format!("{}120000", date.strftime("%Y%m%d"));
    bill.push_str(&format!(
        "{LESHUA_MERCHANT},OUTSIDE-1,LS-OUT-1,PORTAL-ORDER,1234,11,{noon}\n"
    ));
    let bill_path = w.write("portal.csv", &bill);
    let before = dump(&journal);
    let out = w.path("day.csv");
    let date_text = date.to_string();
    let args = [
        "reconcile",
        "--profile",
        "leshua",
        "--date",
        &date_text,
        "--file",
        bill_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let first = w.bulkrefund(&args).await;
    assert_eq!(first.code, 3, "{}", first.stderr);
    let (rows, summary) = report(&out);
    let findings: Vec<(&str, &str)> = rows
        .iter()
        .filter(|(outcome, _, _)| outcome != "matched")
        .map(|(outcome, id, _)| (outcome.as_str(), id.as_str()))
        .collect();
    assert_eq!(
        findings,
        [
            ("amount_differs", other_amount.as_str()),
            ("status_differs", processing.as_str()),
            ("not_in_journal", "OUTSIDE-1"),
            ("missing_from_bill", omitted.as_str()),
        ]
    );
    let matched = rows.iter().filter(|(o, _, _)| o == "matched").count();
    assert_eq!(matched, of_day.len() - 3);
    let listed = of_day.len() as u64; // every refund of the day but one, and one from outside
    assert_eq!(
        summary[&format!("bill of {date}: refund rows")][0],
        listed.to_string()
    );
    assert_eq!(summary["not_in_journal (bill)"], ["1", "1234", "12.34"]);
    assert!(
        first.stderr.contains("matched (journal)"),
        "{}",
        first.stderr
    );
    // Read-only on refunds; the reconciliation is recorded, and again as history.
    assert_eq!(dump(&journal), before);
    assert_eq!(reconciliations(&journal), 1);
    let again = w.bulkrefund(&args).await;
    assert_eq!(again.code, 3, "{}", again.stderr);
    assert_eq!(reconciliations(&journal), 2);
    assert_eq!(dump(&journal), before);
    let status = w.bulkrefund(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stderr);
    let day_line = status
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(&date_text))
        .unwrap_or_else(|| panic!("{}", status.stdout));
    assert!(
        day_line.contains("(#2): matched") && day_line.contains("missing_from_bill 1"),
        "{day_line}"
    );
    let show = w.bulkrefund(&["show", omitted]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout
            .contains(&format!("in no bill around {date} (reconciliation #1")),
        "{}",
        show.stdout
    );
    let show = w.bulkrefund(&["show", other_amount]).await;
    assert!(
        show.stdout
            .contains(&format!("found in the bill of {date}, line ")),
        "{}",
        show.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_merchants_bill_is_refused_and_nothing_is_recorded() {
    let (w, batch) =
        World::with_generated(GatewayKind::Leshua, 2, "RX", FaultConfig::default()).await;
    let run = w
        .bulkrefund(&["run", batch.to_str().unwrap(), "--profile", "leshua"])
        .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bill = w.write(
        "other.csv",
        "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,refund_amount,status,refund_time\n\
         9999999999,X1,LS1,O1,100,11,20261130120000\n",
    );
    let out = w.path("day.csv");
    let args = |out: &Path| {
        vec![
            "reconcile".to_owned(),
            "--profile".into(),
            "leshua".into(),
            "--date".into(),
            "2026-11-30".into(),
            "--file".into(),
            bill.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let words = args(&out);
    let refused = w
        .bulkrefund(&words.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("merchant \"9999999999\"")
            && refused.stderr.contains(LESHUA_MERCHANT)
            && refused.stderr.contains("nothing was recorded"),
        "{}",
        refused.stderr
    );
    assert!(!out.exists(), "no report for a refused bill");
    assert_eq!(reconciliations(&w.journal()), 0);
    let words = args(&w.path("day.html"));
    let html = w
        .bulkrefund(&words.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert_eq!(html.code, 2, "{}", html.stderr);
    assert!(
        html.stderr.contains("merchant \"9999999999\""),
        "{}",
        html.stderr
    );
    assert!(!w.path("day.html").exists(), "no page for a refused bill");
    assert_eq!(reconciliations(&w.journal()), 0);
}
