//! The conformance suite every gateway passes: the hostile cases (an answer
//! about another refund, per echoed field; a forged or stale signature; a
//! redirect; an oversize or endless body; a huge `Retry-After`; a timeout,
//! then a query; a refund never created, then the same id; a wrong key stops
//! the run; refunds of one order in input order; busy answers pause the
//! profile; SIGKILL mid-run), written once over a [`fixture::Fixture`] and
//! run for each gateway. A gateway is added by its fixture file, which ends
//! with `crate::conformance!(TheFixture);`, and one line below that declares
//! it; its tests are then named `<gateway>::<case>`.

mod common;

#[path = "conformance/answers.rs"]
mod answers;
#[path = "conformance/fixture.rs"]
mod fixture;
#[path = "conformance/kills.rs"]
mod kills;
#[path = "conformance/pacing.rs"]
mod pacing;
#[path = "conformance/runs.rs"]
mod runs;

/// Every case as a test of the gateway whose fixture module invokes it.
#[macro_export]
macro_rules! conformance {
    ($fixture:expr) => {
        $crate::conformance!(@cases $fixture;
            answers::echo_mismatch_per_field,
            answers::echo_case_fails_for_a_client_that_skips_the_check,
            answers::forged_or_stale_signature,
            answers::redirects_are_never_followed,
            answers::oversize_and_endless_bodies_are_unknown,
            answers::a_huge_retry_after_is_capped,
            answers::a_timeout_is_unknown,
            runs::echo_mismatch_in_a_run_goes_to_review,
            runs::a_wrong_key_stops_the_run,
            runs::a_timeout_is_queried_before_anything_is_sent_again,
            runs::never_created_then_the_same_id,
            runs::redirected_and_oversized_answers_in_a_run_end_as_the_ledger_says,
            pacing::refunds_of_one_order_go_in_input_order,
            pacing::busy_answers_pause_the_profile,
            kills::sigkill_mid_run_loses_and_doubles_nothing,
        );
    };
    (@cases $fixture:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::$module::$case(&$fixture).await
            }
        )+
    };
}

// One line per gateway: its fixture, whose tests are `<gateway>::<case>`.
#[path = "conformance/alipay.rs"]
mod alipay;
#[path = "conformance/leshua.rs"]
mod leshua;
#[path = "conformance/lianshang.rs"]
mod lianshang;
#[path = "conformance/wechatpay.rs"]
mod wechatpay;
