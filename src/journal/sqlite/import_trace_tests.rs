//! The import's trace (imports.rs) as the import (import.rs) leaves it: kept
//! apart from both, so that neither file's tests make the two depend on each
//! other.

use rusqlite::Connection;

use super::batch_meta::BatchMeta;
use super::import::{import_checked, ImportError, Refusal};
use super::imports::InterruptedImport;
use super::SqliteJournal;

fn meta(name: &str) -> BatchMeta {
    BatchMeta {
        file_name: name.into(),
        file_hash: format!("hash of {name}"),
        profile: "leshua".into(),
        gateway: crate::gateway::GatewayKind::Leshua,
        merchant_id: "m".into(),
        header: vec![],
        input_path: None,
        results_path: None,
        results_bom: false,
    }
}

#[test]
fn the_attempt_is_committed_before_the_import_and_cleared_by_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut journal = SqliteJournal::open(&path).unwrap();
    // What another connection (a process after a kill) sees mid-import.
    let traces_seen = || -> i64 {
        let other = Connection::open(&path).unwrap();
        other
            .query_row("SELECT COUNT(*) FROM imports", [], |r| r.get(0))
            .unwrap()
    };
    let mut seen = None;
    import_checked(
        &mut journal,
        &meta("a.csv"),
        std::iter::empty(),
        || false,
        |_| {},
        |_| {
            seen = Some(traces_seen());
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, Some(1), "committed outside the import's transaction");
    assert_eq!(traces_seen(), 0, "the import's commit clears it");
    // Refused (or interrupted): cleared too, the operator was told.
    let refused = import_checked(
        &mut journal,
        &meta("b.csv"),
        std::iter::empty(),
        || false,
        |_| {},
        |_| Err(Refusal::undecided("no terminal to ask on")),
    );
    assert!(matches!(refused, Err(ImportError::Refused(_))));
    assert!(journal.interrupted_imports().unwrap().is_empty());
    // Killed after the trace: it stands until the same file is imported.
    journal.begin_import(&meta("c.csv")).unwrap();
    let left = journal.interrupted_imports().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].file_name, "c.csv");
    crate::journal::sqlite::import::import(
        &mut journal,
        &meta("c.csv"),
        std::iter::empty(),
        || false,
        |_| {},
    )
    .unwrap();
    assert!(journal.interrupted_imports().unwrap().is_empty());
}

/// Issue 18 review, item 2: a killed import's trace goes when the
/// operator decides against its file, or forgets it; not for want of an
/// answer.
#[test]
fn a_decision_against_the_file_or_forget_import_clears_its_trace() {
    let mut journal = SqliteJournal::open_in_memory().unwrap();
    let refuse = |journal: &mut SqliteJournal, refusal: Refusal| {
        let result = import_checked(
            journal,
            &meta("d.csv"),
            std::iter::empty(),
            || false,
            |_| {},
            |_| Err(refusal),
        );
        assert!(matches!(result, Err(ImportError::Refused(_))));
    };
    let killed = journal.begin_import(&meta("d.csv")).unwrap();
    let other = journal.begin_import(&meta("e.csv")).unwrap();
    refuse(&mut journal, Refusal::undecided("no terminal to ask on"));
    let ids = |journal: &SqliteJournal| -> Vec<i64> {
        let traces = journal.interrupted_imports().unwrap();
        traces.iter().map(|t| t.id).collect()
    };
    assert_eq!(ids(&journal), [killed, other], "no decision: it stands");
    refuse(&mut journal, Refusal::decided("not confirmed"));
    assert_eq!(ids(&journal), [other], "declined: that file's trace goes");
    let forgotten = journal.forget_import(other).unwrap().unwrap();
    assert_eq!(forgotten.file_name, "e.csv");
    assert!(ids(&journal).is_empty());
    assert_eq!(journal.forget_import(other).unwrap(), None);
}

#[test]
fn the_command_to_run_again_is_quoted_for_the_shell() {
    let trace = InterruptedImport {
        id: 7,
        file_name: "nov 30's.csv".into(),
        profile: "leshua".into(),
        started_at: String::new(),
    };
    assert!(trace.describe("then").ends_with(
        "Run it again: `bulkrefund run 'nov 30'\\''s.csv' --profile leshua`; or, if it is \
         not to be run, forget it: `bulkrefund journal forget-import 7`"
    ));
}
