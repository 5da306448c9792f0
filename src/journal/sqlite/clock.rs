//! The journal's clock on SQLite, which every lease is read on: this
//! machine's, since every process of a SQLite journal runs on it. A test may
//! set it for its own thread, to speak of leases in round numbers.

use super::now_ms;

#[cfg(test)]
thread_local! {
    /// The journal's clock in a test: the last time the test named.
    static TEST_CLOCK: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// Sets the journal's clock of this test's thread (the claim operations
/// that take a time set it too, so a test's later writes happen then).
#[cfg(test)]
pub(crate) fn set_test_clock(now: i64) {
    TEST_CLOCK.with(|clock| clock.set(Some(now)));
}

/// Now on the journal's clock, in unix milliseconds: on SQLite, this
/// machine's (every process of a journal runs on it).
pub(super) fn journal_now() -> i64 {
    #[cfg(test)]
    if let Some(now) = TEST_CLOCK.with(|clock| clock.get()) {
        return now;
    }
    now_ms()
}
