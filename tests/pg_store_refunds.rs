//! The PostgreSQL store's refund reads (one refund, scopes, chains, a
//! refund's history) and its reconciliation operations, against a real
//! server (tests/pg/server.rs; skipped, saying so, where no server binaries
//! exist), compared with the SQLite store on the same journal: a journal
//! made against the simulator (retry chains, two gateways and merchants, a
//! duplicate row, a batch listing known refunds, two real `bulkrefund
//! reconcile` runs of one day) and a few states set by hand, copied into
//! PostgreSQL, then every operation asked of both with many arguments.

mod common;

#[path = "pg/rich.rs"]
mod rich;
#[path = "pg/server.rs"]
mod server;
#[path = "pg/tables.rs"]
mod tables;
#[path = "pg/twin.rs"]
mod twin;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::Path;

use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::days::{gateway_zone, DayBasis};
use bulkrefund::journal::reconcile_rows::{FindingRecord, Money, ReconciliationMeta};
use bulkrefund::journal::{Journal, JournalError, Scope};
use bulkrefund::money::Fen;
use common::*;
use jiff::civil::Date;
use twin::Twin;

/// `yyyyMMddHHmmss` in Beijing time, as the Leshua portal writes a refund's time.
fn portal_time(utc: &str) -> String {
    let at: jiff::Timestamp = utc.parse().unwrap();
    at.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

/// A Leshua portal statement of the day the first of `prefix`'s refunds
/// counts on: one refund left out, one with another amount, one still
/// processing, one made outside bulkrefund. Returns it and the day.
fn portal_bill(journal: &Path, prefix: &str) -> (String, Date) {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT refund_id, amount_fen, gateway_refund_id,
                    COALESCE(json_extract(fields, '$.third_order_id'),
                             json_extract(fields, '$.leshua_order_id')),
                    COALESCE(gateway_success_at, finished_at)
             FROM refunds WHERE state = 'succeeded' AND refund_id LIKE ?1 ORDER BY refund_id",
        )
        .unwrap();
    let refunds: Vec<(String, u64, String, String, String)> = stmt
        .query_map([format!("{prefix}%")], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let zone = gateway_zone();
    let date = zone.day_of(&refunds[0].4).unwrap();
    let mut bill = String::from(
        "merchant_id,merchant_refund_id,leshua_refund_id,third_order_id,refund_amount,status,refund_time\n",
    );
    let of_day: Vec<_> = refunds
        .iter()
        .filter(|r| zone.day_of(&r.4) == Some(date))
        .collect();
    assert!(of_day.len() >= 4, "a run of seconds stays on one day");
    for (i, (id, fen, gateway_id, order, at)) in of_day.iter().enumerate() {
        let (fen, status, time) = match i {
            0 => continue,
            1 => (fen - 1, "11", portal_time(at)),
            2 => (*fen, "10", String::new()),
            _ => (*fen, "11", portal_time(at)),
        };
        bill.push_str(&format!(
            "{LESHUA_MERCHANT},{id},{gateway_id},{order},{fen},{status},{time}\n"
        ));
    }
    let noon = format!("{}120000", date.strftime("%Y%m%d"));
    bill.push_str(&format!(
        "{LESHUA_MERCHANT},OUTSIDE-1,LS-OUT-1,PORTAL-ORDER,1234,11,{noon}\n"
    ));
    (bill, date)
}

/// The journal: batch 1 (five Leshua refunds, all failed, retried under new
/// ids by batch 1's retry), batch 2 (eight Leshua refunds, succeeded, its
/// day reconciled twice through the real binary), batch 3 (WeChat Pay, one
/// row twice), batch 4 (Leshua, an id WeChat Pay's batch uses too), batch 5
/// (batch 1's first rows again), then states set by hand: review, abnormal
/// and due, processing, unknown, pending never sent, an unfinished batch,
/// the gateway's success times on either side of a Beijing midnight,
/// a chain of three links, and rich.rs's other tables (a third
/// reconciliation, of another day).
fn refunds_journal() -> (tokio::runtime::Runtime, World) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let world = runtime.block_on(async {
        let scratch = tempfile::tempdir().unwrap();
        let (failing, failing_orders) = generated(scratch.path(), GatewayKind::Leshua, 5, "K");
        let (paid, paid_orders) = generated(scratch.path(), GatewayKind::Leshua, 8, "RC");
        let orders = Orders::standard()
            .extend(failing_orders)
            .extend(paid_orders);
        let world = World::start(orders, every_refund_fails()).await;
        assert_eq!(world.run(&failing, "leshua", quick()).await.exit_code, 3);
        world.sim.set_faults(Default::default());
        assert_eq!(world.retry(1, true).await.unwrap().exit_code, 0);
        assert_eq!(world.run(&paid, "leshua", quick()).await.exit_code, 0);
        let wechat = BatchFile::wechatpay()
            .rows([
                "DUPID,T1,W1,500,1000",
                "WX2,T2,W2,300,1000",
                "DUPID,T1,W1,500,1000",
                "WX3,T3,W3,200,1000",
                "WX4,T4,W4,100,1000",
            ])
            .write(world.dir.path(), "wechat.csv");
        let wechat_run = world.run(&wechat, "wechatpay", quick()).await;
        assert!(wechat_run.exit_code <= 3, "{}", wechat_run.exit_code);
        let leshua = BatchFile::leshua()
            .rows(["DUPID,T1,500", "LX2,T2,700"])
            .write(world.dir.path(), "leshua.csv");
        assert_eq!(world.run(&leshua, "leshua", quick()).await.exit_code, 0);
        let text = std::fs::read_to_string(&failing).unwrap();
        let first_rows: Vec<&str> = text.lines().take(3).collect();
        let again = world.write("again.csv", first_rows.join("\n") + "\n");
        let again_run = world.run(&again, "leshua", quick()).await;
        assert!(again_run.exit_code <= 3, "{}", again_run.exit_code);
        let (bill, date) = portal_bill(&world.journal(), "RC");
        let bill = world.write("portal.csv", bill);
        let date = date.to_string();
        for out in ["day1.csv", "day2.csv"] {
            let out = world.path(out);
            let args = [
                "reconcile",
                "--profile",
                "leshua",
                "--date",
                &date,
                "--file",
                bill.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ];
            let reconciled = world.bulkrefund(&args).await;
            assert_eq!(reconciled.code, 3, "{}", reconciled.stderr);
        }
        world
    });
    let conn = rusqlite::Connection::open(world.journal()).unwrap();
    conn.execute_batch(
        "UPDATE refunds SET state = 'review', error_code = 'BR_CONTRADICTION'
             WHERE refund_id = 'WX2';
         UPDATE refunds SET state = 'abnormal', error_code = 'ABNORMAL', next_attempt_at = 0
             WHERE refund_id = 'LX2';
         UPDATE refunds SET state = 'processing', finished_at = NULL, gateway_success_at = NULL
             WHERE id = (SELECT MAX(id) FROM refunds WHERE refund_id LIKE 'RC%');
         UPDATE refunds SET state = 'unknown', finished_at = NULL WHERE refund_id = 'WX4';
         UPDATE refunds SET state = 'pending', submits = 0, ever_created = 0,
             first_sent_at = NULL, finished_at = NULL WHERE refund_id = 'WX3';
         UPDATE batches SET finished_at = NULL WHERE id = 5;
         UPDATE refunds SET gateway_success_at = '2026-11-30T15:59:59.999Z'
             WHERE refund_id = 'KR000000002R2';
         UPDATE refunds SET gateway_success_at = '2026-11-30T16:00:00Z'
             WHERE refund_id = 'KR000000003R2';
         UPDATE refunds SET gateway_success_at = '2026-12-01T03:30:00.000Z'
             WHERE refund_id = 'DUPID' AND gateway = 'wechatpay';
         UPDATE refunds SET state = 'failed' WHERE refund_id = 'KR000000001R2';
         INSERT INTO refunds (scope, refund_id, fingerprint, profile, batch_id, line, amount_fen,
                              fields, state, retry_of, created_at, order_key, gateway, merchant_id)
             SELECT scope, refund_id || 'R3', fingerprint, profile, batch_id, line, amount_fen,
                    fields, 'pending', id, created_at, order_key, gateway, merchant_id
             FROM refunds WHERE refund_id = 'KR000000001R2';
         UPDATE batch_rows SET refund = (SELECT MAX(id) FROM refunds)
             WHERE refund = (SELECT id FROM refunds WHERE refund_id = 'KR000000001R2');",
    )
    .unwrap();
    // A third link: a chain of three (R, R2, R3), as a second retry leaves it.
    let links: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM refunds WHERE refund_id LIKE 'KR000000001%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(links, 3);
    rich::other_tables(&conn);
    (runtime, world)
}

/// Both stores' answers, the same (as their `Debug` text): `Some` of it, or
/// `None` when both refused.
fn same<T: Debug>(
    what: &str,
    sqlite: Result<T, JournalError>,
    pg: Result<T, JournalError>,
) -> Option<String> {
    match (sqlite, pg) {
        (Ok(a), Ok(b)) => {
            let (a, b) = (format!("{a:?}"), format!("{b:?}"));
            assert_eq!(a, b, "{what}: SQLite, then PostgreSQL");
            Some(a)
        }
        (Err(_), Err(_)) => None,
        (a, b) => panic!("{what}: SQLite {a:?}, PostgreSQL {b:?}"),
    }
}

/// How many answers of each operation held something.
#[derive(Default)]
struct Held(BTreeMap<&'static str, usize>);

impl Held {
    /// Compares, and counts the answer when it is neither refused nor empty.
    fn check<T: Debug>(
        &mut self,
        op: &'static str,
        arg: impl Debug,
        sqlite: Result<T, JournalError>,
        pg: Result<T, JournalError>,
    ) {
        let said = same(&format!("{op}({arg:?})"), sqlite, pg);
        let counted = self.0.entry(op).or_default();
        if said.is_some_and(|s| !["[]", "{}", "false"].contains(&s.as_str())) {
            *counted += 1;
        }
    }

    fn assert_every_one_held_something(&self, ops: usize) {
        assert_eq!(self.0.len(), ops, "{:?}", self.0.keys());
        for (op, count) in &self.0 {
            assert!(*count > 0, "{op} answered nothing but empty answers");
        }
    }
}

fn scopes(refunds: &[i64], batches: &[i64]) -> Vec<Scope> {
    let mut scopes = vec![
        Scope::All,
        Scope::Batches(batches.to_vec()),
        Scope::Batches(vec![]),
        Scope::Batches(vec![99]),
        Scope::Refunds(refunds.to_vec()),
        Scope::Refunds(vec![]),
        Scope::Refunds(refunds.iter().step_by(3).copied().collect()),
    ];
    scopes.extend(batches.iter().map(|b| Scope::Batches(vec![*b])));
    scopes.extend(refunds.iter().map(|r| Scope::Refunds(vec![*r, 999])));
    scopes
}

/// Every refund's id, name, gateway and merchant; every batch; from SQLite.
type Names = Vec<(i64, String, GatewayKind, String)>;

fn names(journal: &Path) -> (Names, Vec<i64>) {
    let conn = rusqlite::Connection::open(journal).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, refund_id, gateway, merchant_id FROM refunds ORDER BY id")
        .unwrap();
    let names = stmt
        .query_map([], |r| {
            let gateway: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                GatewayKind::parse(&gateway).unwrap(),
                r.get(3)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let batches = conn
        .prepare("SELECT id FROM batches ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (names, batches)
}

fn compare_refund_reads(journal: &Path, sqlite: &Journal, pg: &Journal, held: &mut Held) {
    let (names, batches) = names(journal);
    assert_eq!(batches.len(), 5);
    assert!(names.len() > 20, "{}", names.len());
    let ids: Vec<i64> = names.iter().map(|n| n.0).collect();
    for id in ids.iter().copied().chain([0, 9999]) {
        held.check("refund", id, sqlite.refund(id), pg.refund(id));
        held.check("chain_head", id, sqlite.chain_head(id), pg.chain_head(id));
        held.check(
            "chain_links",
            id,
            sqlite.chain_links(id),
            pg.chain_links(id),
        );
        held.check(
            "refund_times",
            id,
            sqlite.refund_times(id),
            pg.refund_times(id),
        );
        held.check(
            "transitions",
            id,
            sqlite.transitions(id),
            pg.transitions(id),
        );
        held.check("attempts", id, sqlite.attempts(id), pg.attempts(id));
        held.check("listings", id, sqlite.listings(id), pg.listings(id));
        let found = (sqlite.found_in_bills(id), pg.found_in_bills(id));
        held.check("found_in_bills", id, found.0, found.1);
    }
    let mut named: BTreeSet<&str> = names.iter().map(|n| n.1.as_str()).collect();
    named.insert("no such id");
    for name in named {
        let (a, b) = (sqlite.refunds_named(name), pg.refunds_named(name));
        held.check("refunds_named", name, a, b);
    }
    for (_, name, gateway, merchant) in &names {
        for (merchant, name) in [
            (merchant.as_str(), name.as_str()),
            (merchant, "X"),
            ("0", name),
        ] {
            let a = sqlite.id_taken(*gateway, merchant, name);
            let b = pg.id_taken(*gateway, merchant, name);
            held.check("id_taken", (gateway, merchant, name), a, b);
        }
    }
    let lists = [ids.clone(), vec![], ids[..3].to_vec(), vec![9999]];
    for list in lists {
        // A map: its Debug order is the hasher's, so compare it sorted.
        let sorted = |m: Result<std::collections::HashMap<_, _>, _>| m.map(BTreeMap::from_iter);
        let (a, b) = (sqlite.last_attempts(&list), pg.last_attempts(&list));
        held.check("last_attempts", &list, sorted(a), sorted(b));
    }
    for batch in batches.iter().copied().chain([0, 99]) {
        let (a, b) = (sqlite.batch_refunds(batch), pg.batch_refunds(batch));
        held.check("batch_refunds", batch, a, b);
    }
    for scope in scopes(&ids, &batches) {
        let (a, b) = (
            sqlite.refunds_in_review(&scope),
            pg.refunds_in_review(&scope),
        );
        held.check("refunds_in_review", &scope, a, b);
        // SQLite names the profiles in no stated order.
        let sorted = |p: Result<Vec<String>, _>| p.map(BTreeSet::from_iter);
        let a = sorted(sqlite.unresolved_profiles(&scope));
        let b = sorted(pg.unresolved_profiles(&scope));
        held.check("unresolved_profiles", &scope, a, b);
        let (a, b) = (sqlite.affected_batches(&scope), pg.affected_batches(&scope));
        held.check("affected_batches", &scope, a, b);
    }
}

fn compare_reconcile_reads(journal: &Path, sqlite: &Journal, pg: &Journal, held: &mut Held) {
    let (names, _) = names(journal);
    let mut merchants: BTreeSet<(GatewayKind, String)> =
        names.iter().map(|n| (n.2, n.3.clone())).collect();
    merchants.insert((GatewayKind::Leshua, "0000000018".into()));
    merchants.insert((GatewayKind::Alipay, "nobody".into()));
    let zone = gateway_zone();
    let mut dates = BTreeSet::new();
    for (id, ..) in &names {
        let times = sqlite.refund_times(*id).unwrap();
        for at in [Some(times.created_at), times.finished_at] {
            if let Some(day) = at.and_then(|at| zone.day_of(&at)) {
                for shift in -2..=2 {
                    dates.insert(day.checked_add(jiff::Span::new().days(shift)).unwrap());
                }
            }
        }
    }
    for day in ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"] {
        dates.insert(day.parse().unwrap());
    }
    let mut ids: Vec<String> = names.iter().map(|n| n.1.clone()).collect();
    ids.push("OUTSIDE-1".into());
    for (gateway, merchant) in &merchants {
        let (g, m) = (*gateway, merchant.as_str());
        // More ids than one statement names (500): read in chunks.
        let many: Vec<String> = (0..1200)
            .map(|i| format!("X{i}"))
            .chain(ids.iter().cloned())
            .collect();
        for list in [ids.clone(), vec![], ids[..2].to_vec(), many] {
            let (a, b) = (
                sqlite.refunds_for_bill(g, m, &list),
                pg.refunds_for_bill(g, m, &list),
            );
            held.check("refunds_for_bill", (g, m, &list), a, b);
        }
        for date in &dates {
            let a = sqlite.refunds_expected_around(g, m, *date);
            let b = pg.refunds_expected_around(g, m, *date);
            held.check("refunds_expected_around", (g, m, date), a, b);
            let a = sqlite.refunds_unresolved_on(g, m, *date);
            let b = pg.refunds_unresolved_on(g, m, *date);
            held.check("refunds_unresolved_on", (g, m, date), a, b);
        }
    }
    held.check(
        "reconciled_days",
        (),
        sqlite.reconciled_days(),
        pg.reconciled_days(),
    );
    let first = dates.first().unwrap().to_string();
    let last = dates.last().unwrap().to_string();
    for (from, to) in [
        (first.as_str(), last.as_str()),
        ("2026-12-01", "2026-12-01"),
        (last.as_str(), first.as_str()),
        ("0000-00-00", "9999-99-99"),
    ] {
        let (a, b) = (
            sqlite.recorded_reconciliations(from, to),
            pg.recorded_reconciliations(from, to),
        );
        held.check("recorded_reconciliations", (from, to), a, b);
    }
}

#[test]
fn every_refund_and_reconciliation_read_answers_the_same_on_both_stores() {
    let Some(twin) = Twin::start("every_refund_and_reconciliation_read_answers_the_same") else {
        return;
    };
    let (_runtime, world) = refunds_journal();
    twin.copy_into_pg(&world.journal());
    assert_eq!(
        twin.differences(&world.journal(), &[]),
        Vec::<String>::new()
    );
    let sqlite = Journal::open(&world.journal()).unwrap();
    let pg = twin.pg();
    let mut held = Held::default();
    compare_refund_reads(&world.journal(), &sqlite, &pg, &mut held);
    compare_reconcile_reads(&world.journal(), &sqlite, &pg, &mut held);
    held.assert_every_one_held_something(20);
    // The gateway's time places a refund on its Beijing day: 23:59:59.999
    // of 30 November, and midnight, which is 1 December.
    let around = pg
        .refunds_expected_around(
            GatewayKind::Leshua,
            LESHUA_MERCHANT,
            "2026-11-29".parse().unwrap(),
        )
        .unwrap();
    let ids: Vec<(&str, DayBasis)> = around
        .iter()
        .map(|r| (r.refund_id.as_str(), r.basis))
        .collect();
    assert_eq!(ids, [("KR000000002R2", DayBasis::Gateway)]);
    let days: Vec<(GatewayKind, String)> = pg
        .reconciled_days()
        .unwrap()
        .into_iter()
        .map(|d| (d.gateway, d.day))
        .collect();
    for day in ["2026-11-30", "2026-12-01"] {
        assert!(
            days.contains(&(GatewayKind::Leshua, day.into())),
            "{days:?}"
        );
    }
    assert!(
        days.contains(&(GatewayKind::Wechatpay, "2026-12-01".into())),
        "{days:?}"
    );
    // A chain of three: its root leads to its head, which lists all three.
    let root = pg.refunds_named("KR000000001").unwrap()[0].id;
    let head = pg.chain_head(root).unwrap();
    assert_eq!(pg.refund(head).unwrap().refund_id, "KR000000001R2R3");
    let links: Vec<String> = pg
        .chain_links(head)
        .unwrap()
        .into_iter()
        .map(|r| r.refund_id)
        .collect();
    assert_eq!(links, ["KR000000001R2R3", "KR000000001R2", "KR000000001"]);
    assert!(!pg.listings(head).unwrap().is_empty());
    // The reconciliations the binary recorded are there, the latest of the
    // day read back, with its findings.
    let days = pg.reconciled_days().unwrap();
    assert!(days
        .iter()
        .any(|d| d.latest.as_ref().is_some_and(|l| l.id == 2)));
    assert!(!days
        .iter()
        .any(|d| d.latest.as_ref().is_some_and(|l| l.id == 1)));
    let recorded = pg.recorded_reconciliations("0000", "9999").unwrap();
    // By day: rich.rs's of 2026-12-01, then the binary's (today's run).
    assert_eq!(recorded.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 2]);
    let outcomes: Vec<&str> = recorded[1]
        .findings
        .iter()
        .map(|f| f.outcome.as_str())
        .collect();
    // The bill is of batch 2's day, which the other batches' refunds share:
    // every one of them is missing from it.
    assert_eq!(
        outcomes[..3],
        ["amount_differs", "status_differs", "not_in_journal"]
    );
    assert!(outcomes.len() > 4, "{outcomes:?}");
    assert!(outcomes[3..].iter().all(|o| *o == "missing_from_bill"));
}

fn meta(bill_date: &str) -> ReconciliationMeta {
    ReconciliationMeta {
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: LESHUA_MERCHANT.into(),
        source: "bill.csv".into(),
        raw_path: None,
        raw_sha256: "abc".into(),
        neighbours: "none read: a test".into(),
        bill_date: bill_date.parse().unwrap(),
        bill: Money {
            count: 3,
            fen: Fen(3000),
        },
        counts: [1, 1, 0, 1, 1],
        unresolved_not_in_bill: 2,
        expected: Money {
            count: 2,
            fen: Fen(2000),
        },
    }
}

fn findings() -> Vec<FindingRecord> {
    let finding = |outcome, refund_id: &str, refund| FindingRecord {
        outcome,
        refund_id: refund_id.into(),
        refund,
        bill_day: Some("2026-11-30".parse().unwrap()),
        bill_line: Some(4),
        gateway_refund_id: Some("LS-1".into()),
        journal_status: Some("succeeded"),
        bill_status: Some("SUCCESS".into()),
        journal_fen: Some(Fen(1000)),
        bill_fen: Some(Fen(999)),
        bill_success_at: Some("2026-11-30T04:00:00.000Z".into()),
        note: "a\ttab and 退款".into(),
    };
    vec![
        finding("matched", "KR000000001R2", Some(6)),
        finding("amount_differs", "KR000000002R2", Some(7)),
        FindingRecord {
            bill_day: None,
            bill_line: None,
            gateway_refund_id: None,
            journal_status: None,
            bill_status: None,
            journal_fen: None,
            bill_fen: None,
            bill_success_at: None,
            ..finding("missing_from_bill", "KR000000003R2", Some(8))
        },
        finding("not_in_journal", "OUTSIDE", None),
    ]
}

#[test]
fn a_reconciliation_is_recorded_alike_on_both_stores() {
    let Some(twin) = Twin::start("a_reconciliation_is_recorded_alike_on_both_stores") else {
        return;
    };
    let (_runtime, world) = rich::source_journal();
    twin.copy_into_pg(&world.journal());
    let mut sqlite = Journal::open(&world.journal()).unwrap();
    let mut pg = twin.pg();
    for (date, findings) in [("2026-11-30", findings()), ("2026-11-30", vec![])] {
        let a = sqlite
            .record_reconciliation(&meta(date), &findings)
            .unwrap();
        let b = pg.record_reconciliation(&meta(date), &findings).unwrap();
        assert_eq!(a, b, "the same id on both");
    }
    // rich.rs's journal holds reconciliation 3: each store goes on past it.
    let recorded = pg
        .recorded_reconciliations("2026-11-30", "2026-11-30")
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, 5, "the latest of the day");
    // Each store's own clock stamped `reconciled_at`; all else is the same.
    let unstamped = |journal: &Journal| {
        journal
            .recorded_reconciliations("2026-11-01", "2026-12-31")
            .map(|all| {
                all.into_iter()
                    .map(|mut r| {
                        r.reconciled_at.clear();
                        r
                    })
                    .collect::<Vec<_>>()
            })
    };
    let recorded = same(
        "recorded_reconciliations",
        unstamped(&sqlite),
        unstamped(&pg),
    );
    assert!(recorded.is_some_and(|r| r.contains("id: 5,") && r.contains("id: 3,")));
    let found = pg.found_in_bills(7).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reconciliation, 4);
    assert_eq!(found[0].outcome, "amount_differs");
    assert_eq!(found[0].bill_line, Some(4));
    assert_eq!(found[0].note, "a\ttab and 退款");
    // `reconciled_at` is each store's own clock (SQLite this machine's,
    // PostgreSQL the server's): the one column that may differ.
    drop(sqlite);
    assert_eq!(
        twin.differences(&world.journal(), &["reconciled_at"]),
        Vec::<String>::new()
    );
    let mut client = twin.superuser();
    let row = client
        .query_one(
            "SELECT bill_date, source, bill_count, bill_fen, matched, amount_differs,
                    status_differs, not_in_journal, missing_from_bill, unresolved_not_in_bill,
                    expected_count, expected_fen, reconciled_at
             FROM reconciliations WHERE id = 4",
            &[],
        )
        .unwrap();
    let counts: Vec<i64> = (2..12).map(|i| row.get(i)).collect();
    assert_eq!(counts, [3, 3000, 1, 1, 0, 1, 1, 2, 2, 2000]);
    assert_eq!(row.get::<_, String>(0), "2026-11-30");
    assert_eq!(row.get::<_, String>(1), "bill.csv");
    let at: String = row.get(12);
    let at: jiff::Timestamp = at.parse().unwrap();
    let now = jiff::Timestamp::now();
    assert!((now.as_second() - at.as_second()).abs() < 600, "{at}");
    let rows: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM reconciliation_rows WHERE reconciliation = 4",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 4);
}
