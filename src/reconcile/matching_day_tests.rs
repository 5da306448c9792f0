//! The days: a refund missing from D looked for in D−1 and D+1, a row of D
//! for a refund the journal counts on D±1, Beijing's day rather than UTC's,
//! and the unresolved refunds no bill lists.

use super::*;

#[test]
fn a_succeeded_refund_no_bill_lists_is_missing() {
    let r1 = refund(1, "R1", 2599, NOON);
    let before = bill("2026-11-29", vec![]);
    let day = bill("2026-11-30", vec![]);
    let after = bill("2026-12-01", vec![]);
    let bills = DayBills {
        day: &day,
        before: Some(&before),
        after: Some(&after),
    };
    let matched = reconcile(bills, &side(vec![], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::MissingFromBill);
    assert_eq!(finding.bill_day, None);
    assert_eq!(
        finding.note,
        "alarm: the journal counts it succeeded on 2026-11-30 (by the gateway's success time) and no bill of 2026-11-29, 2026-11-30, 2026-12-01 lists it: the money may not have moved; `bulkrefund show` it, query it and tell the gateway"
    );
    assert_eq!(
        matched.totals.of(Outcome::MissingFromBill).journal_fen,
        Fen(2599)
    );
    assert!(matched.totals.needs_attention());
    // Without the neighbours' bills, the note says which were not read.
    let mut r1 = refund(1, "R1", 2599, NOON);
    r1.basis = DayBasis::Bulkrefund;
    let matched = reconcile(only_day(&day), &side(vec![], vec![r1]));
    let note = &one(&matched).note;
    assert!(note.contains("(by bulkrefund's clock"), "{note}");
    assert!(
        note.ends_with("(the bill of 2026-11-29 and 2026-12-01 was not read: it may list it)"),
        "{note}"
    );
}

#[test]
fn a_refund_missing_from_its_day_is_found_in_the_next_days_bill() {
    // Succeeded at 23:59:58 Beijing time; the gateway put it in the next day's bill.
    let r1 = refund(1, "R1", 100, "2026-11-30T15:59:58.000Z");
    let day = bill("2026-11-30", vec![]);
    let after = bill("2026-12-01", vec![ok(7, "R1", 100)]);
    let bills = DayBills {
        day: &day,
        before: None,
        after: Some(&after),
    };
    let matched = reconcile(bills, &side(vec![], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::Matched);
    assert_eq!(finding.bill_day, Some(after.date));
    assert_eq!(
        finding.note,
        "listed in the bill of 2026-12-01, line 7; the journal counts it on 2026-11-30 (by the gateway's success time)"
    );
    // And from the day before, with its amount compared there too.
    let r1 = refund(1, "R1", 100, "2026-11-29T16:00:01.000Z");
    let before = bill("2026-11-29", vec![ok(3, "R1", 90)]);
    let bills = DayBills {
        day: &day,
        before: Some(&before),
        after: None,
    };
    let matched = reconcile(bills, &side(vec![], vec![r1]));
    assert_eq!(one(&matched).outcome, Outcome::AmountDiffers);
    assert_eq!(one(&matched).bill_day, Some(before.date));
}

#[test]
fn a_row_of_the_day_for_a_refund_the_journal_counts_the_next_day_is_matched_with_a_note() {
    // 00:00:01 on 2026-12-01 in Beijing; the bill of 2026-11-30 lists it.
    let r1 = refund(1, "R1", 100, "2026-11-30T16:00:01.000Z");
    let day = bill("2026-11-30", vec![ok(2, "R1", 100)]);
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::Matched);
    assert_eq!(
        finding.note,
        "the journal counts it on 2026-12-01 (by the gateway's success time)"
    );
    assert_eq!(
        matched.totals.expected,
        Sum::default(),
        "expected on the 1st, not the 30th"
    );
}

#[test]
fn the_day_is_beijings_not_utcs() {
    // 2026-11-30T20:00Z is 2026-12-01 04:00 in Beijing, though still the 30th in UTC.
    let late = refund(1, "R1", 100, "2026-11-30T20:00:00.000Z");
    let day = bill("2026-11-30", vec![]);
    let matched = reconcile(only_day(&day), &side(vec![], vec![late.clone()]));
    assert!(
        matched.findings.is_empty(),
        "not expected on the 30th: {:?}",
        summary(&matched)
    );
    let next = bill("2026-12-01", vec![]);
    let matched = reconcile(only_day(&next), &side(vec![], vec![late]));
    assert_eq!(one(&matched).outcome, Outcome::MissingFromBill);
}

#[test]
fn unresolved_refunds_no_bill_lists_are_counted_not_found() {
    let listed = in_state(refund(1, "R1", 100, NOON), State::Processing);
    let quiet = in_state(refund(2, "R2", 250, NOON), State::Unknown);
    let elsewhere = in_state(refund(3, "R3", 400, NOON), State::Abnormal);
    let day = bill(
        "2026-11-30",
        vec![row(2, "R1", 100, BillStatus::Processing)],
    );
    let after = bill("2026-12-01", vec![row(1, "R3", 400, BillStatus::Abnormal)]);
    let bills = DayBills {
        day: &day,
        before: None,
        after: Some(&after),
    };
    let journal = JournalSide {
        named: vec![listed.clone()],
        expected: vec![],
        unresolved: vec![listed, quiet, elsewhere],
    };
    let matched = reconcile(bills, &journal);
    assert_eq!(one(&matched).outcome, Outcome::Matched);
    assert_eq!(
        matched.totals.unresolved_not_in_bill,
        Sum {
            count: 1,
            fen: Fen(250)
        }
    );
}
