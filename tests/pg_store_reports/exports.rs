//! The export's reads and the attempts' latency, asked of both stores under
//! many filters: every batch (and none, and a missing one) by every period
//! (bounds that fall exactly on a refund's time, with and without
//! milliseconds) by many sets of statuses (each alone, some together, all,
//! a row's own verdict that no refund can have), and a stop after a few rows.

use bulkrefund::journal::report_rows::ExportFilter;
use bulkrefund::journal::Status;

use super::{exported, journal, Copied};

type Period = (Option<&'static str>, Option<&'static str>);

/// Periods on the time a refund counts by (and an attempt's own time).
const PERIODS: [Period; 7] = [
    (None, None),
    // Exactly refund 103's gateway time, and attempt 102's, as written.
    (Some("2026-11-21T03:00:00Z"), None),
    (Some("2026-11-20T16:00:00Z"), None),
    // Exactly refund 108's time: until is exclusive.
    (None, Some("2026-11-26T16:00:00.000Z")),
    // Beijing's days 2026-11-21 to 2026-11-27.
    (
        Some("2026-11-20T16:00:00.000Z"),
        Some("2026-11-27T16:00:00.000Z"),
    ),
    (Some("2026-12-01T00:00:00.000Z"), None),
    (Some("2030-01-01T00:00:00.000Z"), None),
];

/// The sets of statuses: none (all), each alone, some together, all.
fn status_sets() -> Vec<Vec<Status>> {
    let mut sets = vec![Vec::new()];
    sets.extend(Status::ALL.iter().map(|s| vec![*s]));
    sets.push(vec![Status::Succeeded, Status::Failed]);
    sets.push(vec![
        Status::Review,
        Status::Abnormal,
        Status::Pending,
        Status::Invalid,
    ]);
    sets.push(Status::ALL.to_vec());
    sets
}

/// Every batch of the journal, none, and one that is missing.
fn batch_choices(copied: &Copied) -> Vec<Option<i64>> {
    let mut batches: Vec<Option<i64>> = copied
        .sqlite
        .batches()
        .unwrap()
        .iter()
        .map(|b| Some(b.id))
        .collect();
    batches.push(None);
    batches.push(Some(999));
    batches
}

pub fn every_filter(copied: &Copied) {
    let (sqlite, pg) = (&*copied.sqlite, &*copied.pg);
    assert_eq!(pg.export_span().unwrap(), sqlite.export_span().unwrap());
    assert!(pg.export_span().unwrap().is_some());
    let (mut held, mut empty) = (0, 0);
    for batch in batch_choices(copied) {
        for (since, until) in PERIODS {
            for statuses in status_sets() {
                let filter = ExportFilter {
                    batch,
                    since: since.map(str::to_owned),
                    until: until.map(str::to_owned),
                    statuses,
                };
                let rows = exported(sqlite, &filter, None);
                assert_eq!(exported(pg, &filter, None), rows, "{filter:?}");
                let merchants = sqlite.export_merchants(&filter).unwrap();
                assert_eq!(
                    pg.export_merchants(&filter).unwrap(),
                    merchants,
                    "{filter:?}"
                );
                if rows.is_empty() {
                    empty += 1;
                } else {
                    held += 1;
                    assert!(!merchants.is_empty());
                }
            }
        }
    }
    assert!(
        held > 100 && empty > 100,
        "{held} filters held refunds, {empty} none"
    );
    stops_and_particulars(copied);
}

/// Stopping after a few rows, and what particular filters must hold.
fn stops_and_particulars(copied: &Copied) {
    let (sqlite, pg) = (&*copied.sqlite, &*copied.pg);
    let all = ExportFilter::default();
    let every = exported(pg, &all, None);
    assert!(every.len() >= 20, "{}", every.len());
    for stop in [1, 2, 7] {
        let first = exported(pg, &all, Some(stop));
        assert_eq!(first, exported(sqlite, &all, Some(stop)));
        assert_eq!(first, every[..stop]);
    }
    // Byte order, not a locale's: upper case before lower case.
    let merchants = pg.export_merchants(&all).unwrap();
    let zeta = merchants.iter().position(|m| m == "Zeta").unwrap();
    assert_eq!(merchants[zeta + 1], "alpha", "{merchants:?}");
    let second = ExportFilter {
        batch: Some(journal::SECOND),
        statuses: vec![Status::Failed],
        ..ExportFilter::default()
    };
    assert!(
        exported(pg, &second, None).is_empty(),
        "a retried failure has no status left"
    );
    let succeeded = ExportFilter {
        statuses: vec![Status::Succeeded],
        ..second
    };
    assert_eq!(exported(pg, &succeeded, None).len(), 2);
    let at_the_bound = ExportFilter {
        since: Some("2026-11-21T03:00:00Z".into()),
        // Byte order: `…00Z` sorts after `…00.001Z`, so the bound is a second on.
        until: Some("2026-11-21T03:00:01Z".into()),
        ..ExportFilter::default()
    };
    let rows = exported(pg, &at_the_bound, None);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows, exported(sqlite, &at_the_bound, None));
}

pub fn latency(copied: &Copied) {
    let (sqlite, pg) = (&*copied.sqlite, &*copied.pg);
    let offsets = [0, 8 * 3600, -5 * 3600, 5 * 3600 + 1800, 13 * 3600 + 45 * 60];
    let mut widths = std::collections::BTreeSet::new();
    for batch in batch_choices(copied) {
        for (since, until) in PERIODS {
            let filter = ExportFilter {
                batch,
                since: since.map(str::to_owned),
                until: until.map(str::to_owned),
                // Ignored by the latency: the attempts are the batch's.
                statuses: vec![Status::Review],
            };
            for max_buckets in [1, 2, 5, 12, 120, 1000] {
                for offset in offsets {
                    let curve = sqlite
                        .attempt_latency(&filter, max_buckets, offset)
                        .unwrap();
                    assert_eq!(
                        pg.attempt_latency(&filter, max_buckets, offset).unwrap(),
                        curve,
                        "{filter:?}, {max_buckets} buckets, offset {offset}"
                    );
                    if !curve.buckets.is_empty() {
                        widths.insert(curve.bucket_seconds);
                    }
                }
            }
        }
    }
    assert!(widths.len() >= 4, "bucket widths seen: {widths:?}");
    let second = ExportFilter {
        batch: Some(journal::SECOND),
        ..ExportFilter::default()
    };
    let beijing = pg.attempt_latency(&second, 120, 8 * 3600).unwrap();
    assert_eq!(beijing.attempts(), 14);
    assert_ne!(
        beijing.buckets,
        pg.attempt_latency(&second, 120, 0).unwrap().buckets,
        "the zone moves the buckets"
    );
}
