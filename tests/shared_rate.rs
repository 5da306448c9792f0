//! One rate per gateway merchant (issue 21, Build item 3): two profiles of
//! the same gateway and merchant (their own keys or notify settings, one
//! merchant at the gateway) share the merchant's one limit in a process,
//! rather than each taking the whole of it. Measured at the simulator, whose
//! busiest one-second window is what the gateway would have counted; these
//! tests run one at a time for that reason (tests/pace.rs says why).

mod common;

use std::path::{Path, PathBuf};

use bulkrefund::batch::{CheckedBatch, ReadOptions};
use bulkrefund::config::Config;
use bulkrefund::gateway::GatewayKind;
use bulkrefund::journal::import::{self, BatchMeta};
use bulkrefund::journal::Journal;
use bulkrefund::sim::faults::FaultConfig;
use bulkrefund::sim::ledger::RefundState;
use common::*;

/// Held by each test for its whole run.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Each profile's rate, and the merchant's.
const RATE: u32 = 30;
/// Rows in each profile's batch: four seconds of the merchant's rate in all.
const ROWS: u64 = 60;

/// A second profile of the sample Leshua merchant, `name`, added to the
/// world's configuration: a copy of `leshua` (same gateway, same merchant
/// id), with `rate` of its own.
fn add_second_profile(world: &World, name: &str, rate: u32) {
    let text = std::fs::read_to_string(&world.config).unwrap();
    let start = text
        .find("[profiles.leshua]\n")
        .expect("the leshua profile");
    let end = text[start + 1..]
        .find("\n[")
        .map_or(text.len(), |e| start + 1 + e + 1);
    let section = text[start..end]
        .replace("[profiles.leshua]", &format!("[profiles.{name}]"))
        .lines()
        .map(|line| {
            if line.starts_with("rate =") {
                format!("rate = {rate}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect::<String>();
    std::fs::write(&world.config, format!("{text}\n{section}")).unwrap();
}

/// Records `batch` for `profile` in the journal and sends nothing: what a
/// run killed right after its import leaves (tests/caps.rs does the same).
fn record_without_sending(world: &World, batch: &Path, profile: &str) {
    let config = Config::load(&world.config).unwrap();
    let checked = config.profile(profile).unwrap();
    let rows = CheckedBatch::open(
        batch,
        &ReadOptions::default(),
        checked.spec(),
        checked.row_defaults(),
    )
    .unwrap();
    let meta = BatchMeta {
        file_name: batch.display().to_string(),
        file_hash: format!("{} (recorded by the test)", batch.display()),
        profile: profile.into(),
        gateway: checked.gateway,
        merchant_id: checked.merchant_id.clone(),
        header: vec![],
        input_path: None,
        results_path: None,
        results_bom: false,
    };
    let mut journal = Journal::open(&world.journal()).unwrap();
    import::import(&mut journal, &meta, rows, || false, |_| {}).unwrap();
}

/// The rows of `batch`, each in a batch file of its own beside it (the
/// header and one row), in order.
fn one_row_each(batch: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(batch).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    lines
        .enumerate()
        .map(|(i, row)| {
            let path = batch.with_extension(format!("{i}.csv"));
            std::fs::write(&path, format!("{header}\n{row}\n")).unwrap();
            path
        })
        .collect()
}

/// A world with `ROWS` refunds of profile `leshua` and `ROWS` of profile
/// `leshua_b` recorded, unsent: one merchant, the profiles' rates `RATE`
/// and `second_rate`. Each row is a batch of its own, the two profiles'
/// taking turns, so that the journal's order (the order the engine sends
/// in) has the two profiles' refunds side by side all along.
async fn two_profiles_of_one_merchant(second_rate: u32) -> World {
    let scratch = tempfile::tempdir().unwrap();
    let (batch_a, orders_a) = generated(scratch.path(), GatewayKind::Leshua, ROWS, "A");
    let (batch_b, orders_b) = generated(scratch.path(), GatewayKind::Leshua, ROWS, "B");
    let orders = orders_a.into_iter().chain(orders_b).collect::<Vec<_>>();
    let profiles = Profiles::default().pace(RATE, 32);
    let world = World::with_profiles(orders, FaultConfig::default(), profiles).await;
    add_second_profile(&world, "leshua_b", second_rate);
    let (rows_a, rows_b) = (one_row_each(&batch_a), one_row_each(&batch_b));
    assert_eq!((rows_a.len(), rows_b.len()), (ROWS as usize, ROWS as usize));
    for (a, b) in rows_a.iter().zip(&rows_b) {
        record_without_sending(&world, a, "leshua");
        record_without_sending(&world, b, "leshua_b");
    }
    world
}

/// Every refund of both batches was created once and succeeded.
fn assert_all_paid_once(world: &World) {
    let ledger = world.ledger();
    assert_eq!(ledger.refunds.len(), 2 * ROWS as usize);
    assert!(ledger.ids.iter().all(|id| id.submissions == 1));
    assert!(ledger
        .refunds
        .iter()
        .all(|r| r.status == RefundState::Succeeded));
}

/// Two profiles of one merchant, each `rate = 30`, sent in one `resume`:
/// together they keep to 30 in every second at the gateway, not 60, and
/// they do use it.
///
/// Before the merchant's pace was shared, the simulator saw 60 in one
/// second. The send window keeps every second of departures to 30; what the
/// simulator counts is arrivals, and on a machine loaded with other builds
/// (load 3 to 5 on 2 cores) it once saw 31 in a window that began with the
/// run's first request (the departures' busiest: 30), that is, a request on
/// a new connection late by more than the first second's 25 ms slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_of_one_merchant_share_its_rate() {
    let _alone = ALONE.lock().await;
    let world = two_profiles_of_one_merchant(RATE).await;
    let outcome = world.resume(quick()).await;
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.report.requests, 2 * ROWS);
    assert_all_paid_once(&world);
    let busiest = world.ledger().max_requests_in_one_second;
    assert!(
        (u64::from(RATE / 2) + 1..=u64::from(RATE)).contains(&busiest),
        "{busiest} requests in the busiest second; the merchant's rate is {RATE}"
    );
    // One merchant, one pace: the summary names it once, with both profiles.
    let [(key, pace)] = &outcome.report.limits[..] else {
        panic!("one merchant: {:?}", outcome.report.limits);
    };
    assert!(
        key.starts_with("leshua merchant ") && key.ends_with(" (profiles leshua, leshua_b)"),
        "{key}"
    );
    assert_eq!(pace.rate, RATE);
}

/// Profiles of one merchant that set different rates share the lowest (the
/// gateway's limit is the merchant's), and the run says so once, naming the
/// profiles and the rate taken. The real binary, for its stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lowest_rate_of_a_merchant_binds_and_the_run_says_so() {
    let _alone = ALONE.lock().await;
    let lower = 20;
    let world = two_profiles_of_one_merchant(lower).await;
    let output = world.bulkrefund(&["resume"]).await;
    assert_eq!(output.code, 0, "{}", output.stderr);
    assert_all_paid_once(&world);
    let warning = format!(
        "profiles leshua (rate {RATE}) and leshua_b (rate {lower}) are one merchant at the \
         gateway (leshua merchant "
    );
    assert_eq!(
        output.stderr.matches(&warning).count(),
        1,
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains(&format!("they share its lowest rate, {lower} requests/s")),
        "{}",
        output.stderr
    );
    let busiest = world.ledger().max_requests_in_one_second;
    assert!(
        (u64::from(lower / 2) + 1..=u64::from(lower)).contains(&busiest),
        "{busiest} requests in the busiest second; the lowest rate is {lower}"
    );
}
