//! Bills the simulators' APIs deliver damaged (`POST
//! /__sim/bill-delivery-fault`), through the real binary's `reconcile`: a
//! bill of another merchant, a URL already expired, a SHA-1 that is not the
//! file's, a gzip cut short, a zip bomb. Each is exit 1 (a fetched bill: the
//! operator typed nothing wrong) with a clear message, no report, no raw bill
//! kept and nothing recorded in the journal; once the fault is cleared the
//! same command reconciles the day. Alipay's bill has no hash and is a zip,
//! not a gzip: it has three of the five.

use bulkrefund::gateway::GatewayKind;

use super::day_world::*;

/// Each fault in turn: exit 1, its message, no report, no raw bill, nothing
/// recorded; then, cleared, the day is reconciled and recorded once.
async fn each_refused(w: &DayWorld, faults: &[(&str, &[&str])]) {
    let d = days_ago(3);
    w.freeze(&format!("{d}T12:00:00+08:00")).await;
    w.run(&w.batch("day", 1..=3)).await;
    w.freeze(&format!("{}T12:00:00+08:00", shift(d, 1))).await;
    for (fault, said) in faults {
        w.delivery_fault(Some(fault)).await;
        let refused = w.reconcile(d, None).await;
        assert_eq!(refused.output.code, 1, "{fault}: {}", refused.output.stderr);
        for words in *said {
            assert!(
                refused.output.stderr.contains(words),
                "{fault}: {words:?} in {}",
                refused.output.stderr
            );
        }
        assert!(!refused.report.exists(), "{fault}: no report");
        assert!(!refused.raw.exists(), "{fault}: no raw bill kept");
        assert_eq!(w.reconciliations(), [], "{fault}: nothing recorded");
    }
    w.delivery_fault(None).await;
    let done = w.reconcile(d, None).await;
    assert_eq!(done.output.code, 0, "{}", done.output.stderr);
    let (rows, _) = read_report(&done.report);
    let ids: Vec<(String, String)> = (1..=3)
        .map(|i| ("matched".to_owned(), w.refund_id(i)))
        .collect();
    assert_eq!(rows, ids);
    w.assert_recorded(&done, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_bill_delivered_damaged_is_exit_1_and_nothing_is_recorded() {
    let w = DayWorld::start(GatewayKind::Wechatpay, "WD", false, 3).await;
    let merchant = format!("this profile's merchant_id is \"{}\"", w.merchant());
    let faults: [(&str, &[&str]); 5] = [
        (
            "other_merchant",
            &["a bill of another merchant: its 商户号 is ", &merchant],
        ),
        (
            "expired_url",
            &["the download URL expired, twice: WeChat Pay's bill URL lives 30 s; try again"],
        ),
        ("bad_hash", &["the bill's SHA-1 ", ": discarded"]),
        ("truncated", &["the gzipped bill is damaged or cut short"]),
        (
            "zip_bomb",
            &["the gzipped bill, inflated, is larger than ", ": not read"],
        ),
    ];
    each_refused(&w, &faults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alipay_bill_delivered_damaged_is_exit_1_and_nothing_is_recorded() {
    let w = DayWorld::start(GatewayKind::Alipay, "AD", false, 3).await;
    let faults: [(&str, &[&str]); 3] = [
        (
            "other_merchant",
            &[
                "a bill of another merchant: its #账号 is ",
                "this profile's pid is \"2088123456789012\"",
            ],
        ),
        (
            "expired_url",
            &["the download URL expired, twice: Alipay's bill URL lives 30 s; try again"],
        ),
        (
            "zip_bomb",
            &["the bill zip, inflated up to its entry ", ": not read"],
        ),
    ];
    each_refused(&w, &faults).await;
}
