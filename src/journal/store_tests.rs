//! The handle works through `dyn JournalStore`: a journal opened as the
//! trait object records a batch, changes a refund and reports it, with no
//! store's own type in sight.

use super::import::{self, BatchMeta, CheckedRow};
use super::store::JournalStore;
use super::{Change, Journal, State, Status};
use crate::batch::RefundRow;
use crate::gateway::GatewayKind;
use crate::money::Fen;

fn meta() -> BatchMeta {
    BatchMeta {
        file_name: "batch.csv".into(),
        file_hash: "abc".into(),
        profile: "leshua".into(),
        gateway: GatewayKind::Leshua,
        merchant_id: "M1".into(),
        header: vec![
            "merchant_refund_id".into(),
            "third_order_id".into(),
            "refund_amount".into(),
        ],
        input_path: None,
        results_path: None,
        results_bom: false,
    }
}

fn row(line: u64, id: &str, fen: u64) -> Result<CheckedRow, crate::batch::FileError> {
    let fields = [("third_order_id".to_string(), format!("T{line}"))].into();
    Ok(CheckedRow::Valid {
        line,
        cells: vec![id.into(), format!("T{line}"), fen.to_string()],
        refund: RefundRow {
            refund_id: id.into(),
            amount: Fen(fen),
            fields,
            fingerprint: format!("T{line}||{fen}"),
            order_key: format!("T{line}"),
        },
    })
}

#[test]
fn a_journal_is_recorded_changed_and_reported_through_the_trait_object() {
    let mut journal = Journal::open_in_memory().unwrap();
    let rows = vec![row(2, "R1", 100), row(3, "R2", 250)];
    let tally = import::import(&mut journal, &meta(), rows.into_iter(), || false, |_| {}).unwrap();
    assert_eq!(
        (tally.batch_id, tally.new, tally.new_fen),
        (Some(1), 2, Fen(350))
    );

    let store: &mut dyn JournalStore = &mut *journal;
    let first = store.refunds_named("R1").unwrap()[0].id;
    store
        .apply(
            first,
            State::Pending,
            &Change::to(State::InFlight, "sending"),
        )
        .unwrap();
    store
        .apply(
            first,
            State::InFlight,
            &Change::to(State::Succeeded, "paid"),
        )
        .unwrap();
    let stale = store.apply(first, State::Pending, &Change::to(State::InFlight, "again"));
    assert!(
        matches!(stale, Err(super::JournalError::Stale { .. })),
        "{stale:?}"
    );

    let mut totals = store.status_totals(1, false).unwrap();
    totals.sort_by_key(|(status, _, _)| status.to_string());
    assert_eq!(
        totals,
        vec![
            (Status::Pending, 1, Fen(250)),
            (Status::Succeeded, 1, Fen(100))
        ]
    );
    assert_eq!(store.refunded_in_all().unwrap(), (1, Fen(100)));
    assert_eq!(store.batch_refunds(1).unwrap().len(), 2);
}

#[test]
fn a_row_reader_stops_at_the_callers_error_and_returns_it() {
    let mut journal = Journal::open_in_memory().unwrap();
    let rows = vec![row(2, "R1", 100), row(3, "R2", 250), row(4, "R3", 1)];
    import::import(&mut journal, &meta(), rows.into_iter(), || false, |_| {}).unwrap();
    let mut seen = Vec::new();
    let stopped: Result<(), super::JournalError> = journal.results_rows(1, |row| {
        seen.push(row.line);
        match row.line {
            3 => Err(super::JournalError::Inconsistent("enough".into())),
            _ => Ok(()),
        }
    });
    assert_eq!(seen, vec![2, 3]);
    assert_eq!(
        stopped.unwrap_err().to_string(),
        "the journal is inconsistent: enough"
    );
}

#[test]
fn the_schedulers_reads_come_boxed_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&dir.path().join("journal.db")).unwrap();
    let rows = vec![row(2, "R1", 100), row(3, "R2", 250)];
    import::import(&mut journal, &meta(), rows.into_iter(), || false, |_| {}).unwrap();
    let reads: Box<dyn super::DueReads> = journal.due_reader(&super::Scope::All, false).unwrap();
    let due: Vec<String> = reads
        .page(0)
        .unwrap()
        .into_iter()
        .map(|due| due.record.refund_id)
        .collect();
    assert_eq!(due, ["R1", "R2"]);
    assert_eq!(reads.count(false).unwrap(), 2);
    assert_eq!(reads.count(true).unwrap(), 0);
}
