//! `retry` and `export` against the simulator: the ledger shows each retry
//! created once and the old refund untouched; the export's totals equal its
//! rows, its cells are formula-safe, and the XLSX reads back as the CSV.

mod common;

use std::collections::HashMap;

use bulkrefund::commands::retry;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::Status;
use bulkrefund::options::RunOptions;
use bulkrefund::report::export::{self, ExportFormat, Filter, Heading, COLUMNS};
use bulkrefund::report::xlsx::PRINT_ORDER;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::{OrderStatus, RefundState};
use bulkrefund::zone::Zone;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_and_failed_refunds_need_new_ids_and_keep_the_chain() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Lianshang, 4, "C");
    let world = World::start(orders, every_refund_fails()).await;
    assert_eq!(world.run(&batch, "lianshang", quick()).await.exit_code, 3);
    // Without --new-ids nothing can be sent: each id was used by a refund the gateway created.
    let plan = world.plan(1, false);
    assert!(plan.send.is_empty());
    assert!(plan.skipped.is_empty());
    assert_eq!(plan.used_up.len(), 4);
    assert!(
        plan.used_up[0].why.contains("retry with --new-ids"),
        "{:?}",
        plan.used_up
    );
    assert!(world.retry(1, false).await.is_none());
    assert_eq!(world.ledger().refunds.len(), 4, "nothing was sent");

    world.sim.set_faults(FaultConfig::default());
    let outcome = world.retry(1, true).await.expect("sent under new ids");
    assert_eq!(outcome.exit_code, 0);
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 8);
    for i in 1..=4 {
        let old = format!("C-R{i:09}");
        let new = format!("{old}R2");
        assert_eq!(
            ledger.refund(&old).unwrap().status,
            RefundState::Failed,
            "the old refund is untouched"
        );
        assert_eq!(ledger.id(&old).unwrap().submissions, 1);
        assert_eq!(ledger.refund(&new).unwrap().status, RefundState::Succeeded);
        assert_eq!(
            (
                ledger.id(&new).unwrap().submissions,
                ledger.id(&new).unwrap().created
            ),
            (1, 1)
        );
    }
    // The batch's results now report the retries; the export shows the chain.
    let rows = world.results(&batch);
    assert!(rows.iter().all(|r| r["status"] == "succeeded"));
    let out = world.dir.path().join("export.csv");
    let journal = world.read_journal();
    export_to(&journal, &Filter::default(), &out, ExportFormat::Csv);
    let exported = read_export(&out).0;
    let retried: Vec<_> = exported
        .iter()
        .filter(|r| !r["retry_of"].is_empty())
        .collect();
    assert_eq!(retried.len(), 4);
    assert!(retried
        .iter()
        .all(|r| r["refund_id"] == format!("{}R2", r["retry_of"])));
    // In the XLSX a person reads, the retry ids are not cut off: their
    // columns are as wide as the longest id (in digit widths, and a margin).
    let xlsx = world.dir.path().join("export.xlsx");
    export_to(&journal, &Filter::default(), &xlsx, ExportFormat::Xlsx);
    let widths = column_widths(&xlsx);
    for column in ["refund_id", "retried_as"] {
        let col = COLUMNS.iter().position(|c| *c == column).unwrap();
        let at = PRINT_ORDER.iter().position(|&c| c == col).unwrap();
        let longest = exported.iter().map(|r| r[column].len()).max().unwrap();
        assert_eq!(longest, "C-R000000001R2".len());
        assert!(
            widths[at] >= longest as f64 + 1.0,
            "{column}: {} for {longest} characters",
            widths[at]
        );
    }
    // A second round derives the next id in the chain.
    let plan = retry::plan(&journal, 1, true).unwrap();
    assert!(plan.send.is_empty(), "nothing failed is left in the batch");
}

#[tokio::test]
async fn retry_without_a_terminal_needs_yes() {
    let work = tempfile::tempdir().unwrap();
    let (batch, orders) = generated(work.path(), GatewayKind::Leshua, 3, "Y");
    let world = World::start(
        orders,
        FaultConfig {
            busy_rate: 1.0,
            seed: Some(9),
            ..FaultConfig::default()
        },
    )
    .await;
    world
        .run(
            &batch,
            "leshua",
            RunOptions {
                max_attempts: Some(1),
                ..quick()
            },
        )
        .await;
    world.sim.set_faults(FaultConfig::default());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_bulkrefund"))
        .args(["retry", "--batch", "1", "--failed", "--config"])
        .arg(world.dir.path().join("bulkrefund.toml"))
        .arg("--journal")
        .arg(world.journal())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("retry of batch 1 will send 3 refunds"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "messages go to stderr: {stdout}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(world.ledger().refunds.is_empty(), "nothing was sent");
}

/// The refunds sheet's column widths, by position (Excel's `<col>` elements:
/// calamine reads values, not widths). The sheet is the second entry named
/// `xl/worksheets/sheet2.xml` in the zip, a raw deflate stream after its header.
fn column_widths(xlsx: &std::path::Path) -> Vec<f64> {
    use std::io::Read;
    let bytes = std::fs::read(xlsx).unwrap();
    let name = b"xl/worksheets/sheet2.xml";
    let header = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .map(|(at, _)| at)
        .find(|&at| bytes[at + 30..].starts_with(name))
        .expect("the refunds sheet");
    let field = |offset: usize| {
        u16::from_le_bytes([bytes[header + offset], bytes[header + offset + 1]]) as usize
    };
    assert_eq!(field(8), 8, "deflated");
    let data = header + 30 + field(26) + field(28);
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&bytes[data..])
        .read_to_string(&mut xml)
        .unwrap();
    let mut widths = Vec::new();
    for col in xml.split("<col ").skip(1) {
        let attribute = |name: &str| {
            let rest = col.split(&format!("{name}=\"")).nth(1).unwrap();
            rest.split('"').next().unwrap().to_owned()
        };
        let (min, max) = (attribute("min"), attribute("max"));
        let width: f64 = attribute("width").parse().unwrap();
        for position in min.parse::<usize>().unwrap()..=max.parse().unwrap() {
            widths.resize(position, 0.0);
            widths[position - 1] = width;
        }
    }
    widths
}

/// Exports with every time in UTC, no BOM.
fn export_to(
    journal: &bulkrefund::journal::Journal,
    filter: &Filter,
    out: &std::path::Path,
    format: ExportFormat,
) -> export::ExportTotals {
    let heading = Heading {
        period: "all times".into(),
        zone: Zone::utc(),
    };
    export::export(journal, filter, &heading, out, format, false).unwrap()
}

fn read_export(path: &std::path::Path) -> (Vec<HashMap<String, String>>, Vec<Vec<String>>) {
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
    assert_eq!(header, COLUMNS);
    let mut rows = Vec::new();
    let mut totals = Vec::new();
    for record in reader.records() {
        let record: Vec<String> = record.unwrap().iter().map(str::to_owned).collect();
        if record[0] == "#totals" {
            if record[1] != "figure" {
                totals.push(record);
            }
        } else if record[0] == "#by_day" || record[0] == "#by_day_note" {
            continue;
        } else {
            rows.push(header.iter().cloned().zip(record).collect());
        }
    }
    (rows, totals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_filters_totals_formula_safety_and_xlsx() {
    let work = tempfile::tempdir().unwrap();
    let (batch, mut orders) = generated(work.path(), GatewayKind::Leshua, 20, "E");
    orders.push(order(
        GatewayKind::Leshua,
        "=HYPERLINK(\"x\")",
        "LX",
        500,
        OrderStatus::Paid,
    ));
    let evil = work.path().join("evil.csv");
    std::fs::write(&evil, "merchant_refund_id,third_order_id,refund_amount\nEVIL1,\"=HYPERLINK(\"\"x\"\")\",100\nEVIL2,NOPE,100\n").unwrap();
    let world = World::start(orders, FaultConfig::default()).await;
    assert_eq!(world.run(&batch, "leshua", quick()).await.exit_code, 0);
    assert_eq!(world.run(&evil, "leshua", quick()).await.exit_code, 3);
    let journal = world.read_journal();
    let out = world.dir.path().join("all.csv");
    let totals = export_to(&journal, &Filter::default(), &out, ExportFormat::Csv);
    let (rows, total_rows) = read_export(&out);
    assert_eq!(rows.len(), 22);
    // Each figure equals the sum of its rows; "requested" is every intent
    // (no link was retried here), and no figure adds different statuses.
    let sum = |figure: &str| -> (u64, u64) {
        let status = match figure {
            "refunded" => "succeeded",
            "in review" => "review",
            other => other,
        };
        let chosen: Vec<_> = rows
            .iter()
            .filter(|r| figure == "requested" || r["status"] == status)
            .collect();
        (
            chosen.len() as u64,
            chosen
                .iter()
                .map(|r| r["amount_fen"].parse::<u64>().unwrap())
                .sum(),
        )
    };
    for total in &total_rows {
        let (count, fen) = sum(&total[1]);
        assert_eq!(
            (
                total[2].parse::<u64>().unwrap(),
                total[3].parse::<u64>().unwrap()
            ),
            (count, fen),
            "{total:?}"
        );
    }
    let figures: Vec<&str> = total_rows.iter().map(|t| t[1].as_str()).collect();
    assert_eq!(
        figures,
        ["requested", "refunded", "failed", "in review", "unresolved"]
    );
    assert_eq!(totals.intents.requested.count, 22);
    assert_eq!(totals.intents.refunded.count, 21);
    // A cell that starts with `=` comes out escaped.
    let evil_row = rows.iter().find(|r| r["refund_id"] == "EVIL1").unwrap();
    assert_eq!(evil_row["order_id"], "'=HYPERLINK(\"x\")");
    assert_eq!(evil_row["status"], "succeeded");
    // Filters: by batch, by status, by time.
    let count = |filter: Filter| {
        let path = world.dir.path().join("filtered.csv");
        export_to(&journal, &filter, &path, ExportFormat::Csv);
        read_export(&path).0.len()
    };
    assert_eq!(
        count(Filter {
            batch: Some(2),
            ..Filter::default()
        }),
        2
    );
    assert_eq!(
        count(Filter {
            statuses: vec![Status::Failed],
            ..Filter::default()
        }),
        1
    );
    assert_eq!(
        count(Filter {
            statuses: vec![Status::Succeeded, Status::Failed],
            ..Filter::default()
        }),
        22
    );
    assert_eq!(
        count(Filter {
            since: Some(Zone::utc().bound("2999-01-01", false).unwrap()),
            ..Filter::default()
        }),
        0
    );
    assert_eq!(
        count(Filter {
            until: Some(Zone::utc().bound("2000-01-01", true).unwrap()),
            ..Filter::default()
        }),
        0
    );
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let today_filter = Filter {
        since: Some(Zone::utc().bound(&today, false).unwrap()),
        until: Some(Zone::utc().bound(&today, true).unwrap()),
        ..Filter::default()
    };
    assert_eq!(count(today_filter), 22);

    // The XLSX holds the same values.
    let xlsx = world.dir.path().join("all.xlsx");
    export_to(&journal, &Filter::default(), &xlsx, ExportFormat::Xlsx);
    assert_xlsx_equals_csv(&xlsx, &rows, &total_rows);
}

fn assert_xlsx_equals_csv(
    xlsx: &std::path::Path,
    rows: &[HashMap<String, String>],
    totals: &[Vec<String>],
) {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut workbook: Xlsx<_> = open_workbook(xlsx).unwrap();
    assert_eq!(workbook.sheet_names(), ["summary", "refunds", "by day"]);
    let sheet = workbook.worksheet_range("refunds").unwrap();
    let mut sheet_rows = sheet.rows();
    let title = sheet_rows.next().unwrap()[0].to_string();
    assert!(
        title.starts_with("bulkrefund export · merchant ")
            && title.contains("all times · time zone UTC · generated "),
        "{title}"
    );
    let header: Vec<String> = sheet_rows
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    // Printed in the order a reader needs them: the refund, its order, amount and status first.
    let print_order: Vec<&str> = PRINT_ORDER.iter().map(|&c| COLUMNS[c]).collect();
    assert_eq!(header, print_order);
    assert_eq!(
        header[..4],
        ["refund_id", "order_id", "amount_yuan", "status"]
    );
    let mut n = 0;
    for (cells, expected) in sheet_rows.zip(rows) {
        n += 1;
        for (cell, column) in cells.iter().zip(&header) {
            let column = column.as_str();
            let csv_value = &expected[column];
            match cell {
                Data::Float(number) if column == "amount_yuan" => {
                    assert_eq!(format!("{number:.2}"), *csv_value)
                }
                Data::Float(number) => assert_eq!(format!("{number}"), *csv_value, "{column}"),
                Data::Int(number) => assert_eq!(number.to_string(), *csv_value, "{column}"),
                Data::DateTime(datetime) => {
                    // An Excel serial date: days since 1899-12-30; 25569 of them before the unix epoch.
                    let read_ms = ((datetime.as_f64() - 25569.0) * 86_400_000.0).round() as i64;
                    let written = csv_value.parse::<jiff::Timestamp>().unwrap();
                    let apart = (read_ms - written.as_millisecond()).abs();
                    assert!(apart <= 1, "{column}: {read_ms} vs {csv_value}");
                }
                Data::String(text) => {
                    // The CSV escapes formula-like text; a typed XLSX string needs no escape.
                    let unescaped = csv_value
                        .strip_prefix('\'')
                        .filter(|_| text.starts_with(['=', '+', '-', '@']))
                        .unwrap_or(csv_value);
                    assert_eq!(text, unescaped, "{column}");
                }
                Data::Empty => assert_eq!(csv_value, "", "{column}"),
                other => panic!("unexpected cell {other:?} in {column}"),
            }
        }
    }
    assert_eq!(n, rows.len());
    let sheet = workbook.worksheet_range("summary").unwrap();
    let read: Vec<Vec<String>> = sheet
        .rows()
        .skip(2)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let expected: Vec<Vec<String>> = totals.iter().map(|t| t[1..].to_vec()).collect();
    assert_eq!(read.len(), expected.len());
    for (r, e) in read.iter().zip(&expected) {
        assert_eq!((&r[0], &r[1], &r[2]), (&e[0], &e[1], &e[2]));
        assert_eq!(format!("{:.2}", r[3].parse::<f64>().unwrap()), e[3]);
    }
}
