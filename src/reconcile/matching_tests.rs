//! Every outcome and edge of [`super::reconcile`], each with the exact finding.

use std::str::FromStr;

use jiff::civil::Date;
use jiff::Timestamp;

use super::*;
use crate::gateway::GatewayKind;

fn day(text: &str) -> Date {
    Date::from_str(text).unwrap()
}

/// A succeeded journal refund of order `O-{id}` counted at `at` (UTC, as the journal writes).
fn refund(row_id: i64, id: &str, fen: u64, at: &str) -> JournalRefund {
    JournalRefund {
        id: row_id,
        refund_id: id.into(),
        state: State::Succeeded,
        fen: Fen(fen),
        order_id: format!("O-{id}"),
        gateway_order_id: String::new(),
        gateway_refund_id: Some(format!("G-{id}")),
        counted_at: Some(at.into()),
        basis: DayBasis::Gateway,
        sent: true,
        batch_id: 1,
        line: row_id as u64 + 1,
        retry_of: None,
        retried_as: None,
    }
}

fn in_state(mut refund: JournalRefund, state: State) -> JournalRefund {
    refund.state = state;
    if state != State::Succeeded {
        refund.counted_at = None;
    }
    refund
}

fn row(line: u64, id: &str, fen: u64, status: BillStatus) -> BillRow {
    BillRow {
        refund_id: id.into(),
        gateway_refund_id: Some(format!("G-{id}")),
        order_id: Some(format!("O-{id}")),
        gateway_order_id: None,
        fen: Fen(fen),
        status,
        success_at: Some(Timestamp::from_str("2026-11-30T04:00:00Z").unwrap()),
        line,
    }
}

fn ok(line: u64, id: &str, fen: u64) -> BillRow {
    row(line, id, fen, BillStatus::Succeeded)
}

fn bill(date: &str, rows: Vec<BillRow>) -> Bill {
    Bill {
        gateway: GatewayKind::Leshua,
        merchant_id: Some("0000000018".into()),
        date: day(date),
        rows,
        totals: BillTotals::default(),
    }
}

/// Noon of 2026-11-30 in Beijing.
const NOON: &str = "2026-11-30T04:00:00.000Z";

fn only_day(day: &Bill) -> DayBills<'_> {
    DayBills {
        day,
        before: None,
        after: None,
    }
}

fn side(named: Vec<JournalRefund>, expected: Vec<JournalRefund>) -> JournalSide {
    JournalSide {
        named,
        expected,
        unresolved: Vec::new(),
    }
}

/// (outcome, refund id, note) of each finding, in report order.
fn summary(matched: &Matched) -> Vec<(Outcome, String, String)> {
    matched
        .findings
        .iter()
        .map(|f| (f.outcome, f.refund_id.clone(), f.note.clone()))
        .collect()
}

fn one(matched: &Matched) -> &Finding {
    assert_eq!(matched.findings.len(), 1, "{:?}", summary(matched));
    &matched.findings[0]
}

#[test]
fn the_same_refund_with_the_same_amount_and_status_is_matched() {
    let r1 = refund(1, "R1", 2599, NOON);
    let day = bill("2026-11-30", vec![ok(2, "R1", 2599)]);
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1.clone()]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::Matched);
    assert_eq!(finding.note, "");
    assert_eq!(finding.journal.as_ref(), Some(&r1));
    assert_eq!(finding.bill_day, Some(day.date));
    assert!(!matched.totals.needs_attention());
    assert_eq!(
        matched.totals.of(Outcome::Matched),
        OutcomeSum {
            count: 1,
            journal_fen: Fen(2599),
            bill_fen: Fen(2599)
        }
    );
    assert_eq!(
        matched.totals.expected,
        Sum {
            count: 1,
            fen: Fen(2599)
        }
    );
}

#[test]
fn another_amount_is_amount_differs_and_an_alarm() {
    let r1 = refund(1, "R1", 2599, NOON);
    let day = bill("2026-11-30", vec![ok(2, "R1", 2000)]);
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::AmountDiffers);
    assert_eq!(
        finding.note,
        "alarm: the gateway moved 20.00 yuan, the journal asked for 25.99 yuan: a person compares the two"
    );
    assert!(matched.totals.needs_attention());
    assert_eq!(
        matched.totals.of(Outcome::AmountDiffers),
        OutcomeSum {
            count: 1,
            journal_fen: Fen(2599),
            bill_fen: Fen(2000)
        }
    );
}

#[test]
fn an_unresolved_journal_refund_that_differs_is_left_to_resume() {
    let r1 = in_state(refund(1, "R1", 100, NOON), State::Processing);
    let day = bill("2026-11-30", vec![ok(2, "R1", 100)]);
    let matched = reconcile(only_day(&day), &side(vec![r1], vec![]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::StatusDiffers);
    assert_eq!(
        finding.note,
        "the journal holds it processing, the bill says succeeded: run `bulkrefund resume`, it queries the gateway"
    );
    // The same status on both sides is matched, even unresolved.
    let day = bill(
        "2026-11-30",
        vec![row(2, "R1", 100, BillStatus::Processing)],
    );
    let r1 = in_state(refund(1, "R1", 100, NOON), State::Processing);
    let matched = reconcile(only_day(&day), &side(vec![r1], vec![]));
    assert_eq!(one(&matched).outcome, Outcome::Matched);
    let r1 = in_state(refund(1, "R1", 100, NOON), State::Unknown);
    let day = bill("2026-11-30", vec![ok(2, "R1", 100)]);
    let matched = reconcile(only_day(&day), &side(vec![r1], vec![]));
    assert!(one(&matched).note.contains("holds it unknown"));
}

#[test]
fn a_final_disagreement_is_an_alarm() {
    let r1 = refund(1, "R1", 100, NOON);
    let day = bill("2026-11-30", vec![row(2, "R1", 100, BillStatus::Failed)]);
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::StatusDiffers);
    assert_eq!(
        finding.note,
        "alarm: bulkrefund counts it succeeded, the bill says failed: the money may not have moved; `bulkrefund show` it, then ask the gateway"
    );
}

#[test]
fn a_failed_link_the_bill_says_was_paid_warns_of_its_retry() {
    let mut r1 = in_state(refund(1, "R1", 100, NOON), State::Failed);
    r1.retried_as = Some("R1R2".into());
    let mut r2 = refund(2, "R1R2", 100, NOON);
    r2.retry_of = Some("R1".into());
    r2.order_id = "O-R1".into();
    let mut paid_again = ok(3, "R1R2", 100);
    paid_again.order_id = Some("O-R1".into());
    let day = bill("2026-11-30", vec![ok(2, "R1", 100), paid_again]);
    let matched = reconcile(only_day(&day), &side(vec![r1, r2.clone()], vec![r2]));
    assert_eq!(
        summary(&matched),
        [
            (Outcome::Matched, "R1R2".to_owned(), String::new()),
            (
                Outcome::StatusDiffers,
                "R1".to_owned(),
                "alarm: bulkrefund counts it failed (unpaid) but the bill says succeeded: it was paid and its retry R1R2 was sent too: the payer may be paid twice; a person checks with the gateway".to_owned()
            ),
        ]
    );
}

#[test]
fn a_chain_is_matched_link_by_link() {
    let r1 = in_state(refund(1, "R1", 100, NOON), State::Failed);
    let mut r2 = refund(2, "R1R2", 100, NOON);
    r2.order_id = "O-R1".into();
    let mut second = ok(3, "R1R2", 100);
    second.order_id = Some("O-R1".into());
    let day = bill(
        "2026-11-30",
        vec![row(2, "R1", 100, BillStatus::Failed), second],
    );
    let matched = reconcile(only_day(&day), &side(vec![r1, r2.clone()], vec![r2]));
    let outcomes: Vec<(Outcome, String)> = matched
        .findings
        .iter()
        .map(|f| (f.outcome, f.refund_id.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Matched, "R1".to_owned()),
            (Outcome::Matched, "R1R2".to_owned())
        ]
    );
}

#[test]
fn a_status_the_contract_does_not_name_differs_with_its_raw_value() {
    let r1 = refund(1, "R1", 100, NOON);
    let day = bill(
        "2026-11-30",
        vec![row(2, "R1", 100, BillStatus::Other("13".into()))],
    );
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1]));
    let finding = one(&matched);
    assert_eq!(finding.outcome, Outcome::StatusDiffers);
    assert!(
        finding
            .note
            .contains("the bill says a status bulkrefund does not know (\"13\")"),
        "{}",
        finding.note
    );
}

#[test]
fn refunds_made_outside_bulkrefund_are_not_in_the_journal() {
    let never_sent = JournalRefund {
        sent: false,
        ..in_state(refund(1, "P1", 100, NOON), State::Pending)
    };
    let mut no_id = ok(4, "", 300);
    no_id.gateway_refund_id = Some("G-x".into());
    let day = bill(
        "2026-11-30",
        vec![ok(2, "X9", 500), ok(3, "P1", 100), no_id],
    );
    let matched = reconcile(only_day(&day), &side(vec![never_sent], vec![]));
    assert_eq!(
        summary(&matched),
        [
            (
                Outcome::NotInJournal,
                String::new(),
                "the bill gives no refund id".to_owned()
            ),
            (
                Outcome::NotInJournal,
                "P1".to_owned(),
                "the journal holds this id (pending) but never sent it".to_owned()
            ),
            (Outcome::NotInJournal, "X9".to_owned(), String::new()),
        ]
    );
    assert!(
        !matched.totals.needs_attention(),
        "outside refunds are listed, not alarms"
    );
    assert_eq!(
        matched.totals.of(Outcome::NotInJournal),
        OutcomeSum {
            count: 3,
            journal_fen: Fen(0),
            bill_fen: Fen(900)
        }
    );
}

#[test]
fn another_trades_refund_under_our_request_number_is_not_ours() {
    // Alipay: out_request_no is unique within a trade only.
    let mut ours = refund(1, "1", 100, NOON);
    ours.order_id = "T-ours".into();
    ours.gateway_order_id = "2026113022001".into();
    let mut theirs = ok(2, "1", 700);
    theirs.order_id = Some("T-other".into());
    theirs.gateway_order_id = Some("2026113022999".into());
    theirs.gateway_refund_id = Some("2026113022999".into());
    let mut mine = ok(3, "1", 100);
    mine.order_id = Some("T-ours".into());
    mine.gateway_order_id = Some("2026113022001".into());
    let day = bill("2026-11-30", vec![theirs, mine]);
    let matched = reconcile(only_day(&day), &side(vec![ours.clone()], vec![ours]));
    let found: Vec<(Outcome, u64)> = matched
        .findings
        .iter()
        .map(|f| (f.outcome, f.bill.as_ref().unwrap().line))
        .collect();
    assert_eq!(found, [(Outcome::Matched, 3), (Outcome::NotInJournal, 2)]);
    assert_eq!(
        matched.findings[1].note,
        "another refund under the same id: bulkrefund's 1 refunds order T-ours, this row another order"
    );
}

#[test]
fn a_refund_listed_twice_is_matched_once() {
    let r1 = refund(1, "R1", 100, NOON);
    let day = bill("2026-11-30", vec![ok(2, "R1", 100), ok(5, "R1", 100)]);
    let matched = reconcile(only_day(&day), &side(vec![r1.clone()], vec![r1]));
    assert_eq!(
        summary(&matched),
        [
            (Outcome::Matched, "R1".to_owned(), String::new()),
            (
                Outcome::NotInJournal,
                "R1".to_owned(),
                "the bill lists this refund id again: bulkrefund's refund is matched with line 2"
                    .to_owned()
            ),
        ]
    );
}

#[test]
fn findings_are_ordered_by_outcome_then_refund_id_and_the_totals_add_up() {
    let a = refund(1, "A", 100, NOON);
    let b = refund(2, "B", 200, NOON);
    let c = refund(3, "C", 300, NOON);
    let gone = refund(4, "D", 400, NOON);
    let mut day = bill(
        "2026-11-30",
        vec![
            ok(2, "Z-outside", 900),
            ok(3, "C", 300),
            ok(4, "B", 250),
            ok(5, "A", 100),
        ],
    );
    day.totals = BillTotals {
        count: Some(4),
        fen: Some(Fen(1550)),
    };
    let named = vec![a.clone(), b.clone(), c.clone()];
    let matched = reconcile(only_day(&day), &side(named, vec![a, b, c, gone]));
    let order: Vec<(Outcome, String)> = matched
        .findings
        .iter()
        .map(|f| (f.outcome, f.refund_id.clone()))
        .collect();
    assert_eq!(
        order,
        [
            (Outcome::Matched, "A".to_owned()),
            (Outcome::Matched, "C".to_owned()),
            (Outcome::AmountDiffers, "B".to_owned()),
            (Outcome::NotInJournal, "Z-outside".to_owned()),
            (Outcome::MissingFromBill, "D".to_owned()),
        ]
    );
    let totals = &matched.totals;
    assert_eq!(
        totals.bill,
        Sum {
            count: 4,
            fen: Fen(1550)
        }
    );
    assert_eq!(totals.stated.fen, Some(Fen(1550)));
    assert_eq!(
        totals.expected,
        Sum {
            count: 4,
            fen: Fen(1000)
        }
    );
    assert_eq!(
        totals.of(Outcome::Matched),
        OutcomeSum {
            count: 2,
            journal_fen: Fen(400),
            bill_fen: Fen(400)
        }
    );
    assert_eq!(totals.of(Outcome::MissingFromBill).count, 1);
    assert_eq!(named_ids(&day), ["A", "B", "C", "Z-outside"]);
}

#[test]
fn outcomes_round_trip_and_only_differences_need_attention() {
    for outcome in Outcome::ALL {
        assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
    }
    let attention: Vec<Outcome> = Outcome::ALL
        .into_iter()
        .filter(|o| o.needs_attention())
        .collect();
    assert_eq!(
        attention,
        [
            Outcome::AmountDiffers,
            Outcome::StatusDiffers,
            Outcome::MissingFromBill
        ]
    );
}

#[path = "matching_day_tests.rs"]
mod days;

#[test]
fn an_outside_row_with_a_status_bulkrefund_does_not_know_differs() {
    let odd = BillStatus::Other("99".into());
    let day = bill(
        "2026-11-30",
        vec![row(2, "X1", 100, odd.clone()), row(3, "", 200, odd)],
    );
    let matched = reconcile(only_day(&day), &side(vec![], vec![]));
    assert_eq!(
        summary(&matched),
        [
            (
                Outcome::StatusDiffers,
                String::new(),
                "the bill gives a status bulkrefund does not know (\"99\"): a person checks with the gateway; the bill gives no refund id".to_owned()
            ),
            (
                Outcome::StatusDiffers,
                "X1".to_owned(),
                "the bill gives a status bulkrefund does not know (\"99\"): a person checks with the gateway".to_owned()
            ),
        ]
    );
    assert!(matched.totals.needs_attention());
    assert_eq!(matched.totals.of(Outcome::NotInJournal).count, 0);
}
