//! The shared rate of a PostgreSQL journal: send slots of one key granted
//! to every process and machine from one row of `rate_buckets`, the key's
//! theoretical arrival time (GCRA's TAT) in microseconds on the SERVER's
//! clock, so that machines whose clocks disagree still share one schedule.
//!
//! A grant of `n` slots is one statement (an `INSERT … ON CONFLICT … DO
//! UPDATE … RETURNING`): under the row's lock it moves the TAT from
//! `max(tat, now)` on by `n` emission intervals, and the slots are the `n`
//! instants it passed over. Grants are serialised by the row lock, so each
//! starts where the one before ended (or later, after a lull): all the
//! slots of a key, whoever was granted them, are at least an interval apart.
//! There is no burst tolerance: a burst lets `burst − 1` slots more into
//! some second, and no send window spans processes to take them out again
//! (engine/pg_ledger.rs chooses the interval and says why).

use super::PgError;

/// The server's clock in microseconds since the Unix epoch, read where it
/// is written: `clock_timestamp()` is the time of the call (not of the
/// transaction), so in the `DO UPDATE` it is read after the row is locked.
const SERVER_NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// Moves the key's TAT on by `$2` (= n × interval, µs) from `max(tat, now)`;
/// returns the new TAT and the server's clock after the move.
fn grant_statement() -> String {
    format!(
        "INSERT INTO rate_buckets AS bucket (key, tat_us) VALUES ($1, {SERVER_NOW_US} + $2) \
         ON CONFLICT (key) DO UPDATE \
         SET tat_us = GREATEST(bucket.tat_us, {SERVER_NOW_US}) + $2 \
         RETURNING bucket.tat_us, {SERVER_NOW_US}"
    )
}

/// Slots granted by the server, on its clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSlots {
    /// In order, `interval_us` apart, microseconds since the Unix epoch.
    pub slots_us: Vec<i64>,
    /// The server's clock when the grant was made (at or after the lock,
    /// so at or after the first slot when the key was idle).
    pub now_us: i64,
}

/// Grants `wanted` slots of `key`, `interval_us` apart, in one round trip.
/// Nothing is asked for zero slots.
pub fn grant_slots(
    client: &mut postgres::Client,
    key: &str,
    interval_us: i64,
    wanted: u32,
) -> Result<ServerSlots, PgError> {
    let doing = || format!("granting send slots of {key}");
    if wanted == 0 {
        let row = client
            .query_one(&format!("SELECT {SERVER_NOW_US}"), &[])
            .map_err(|e| PgError::query(doing(), &e))?;
        return Ok(ServerSlots {
            slots_us: Vec::new(),
            now_us: row.get(0),
        });
    }
    let span = span_us(interval_us, wanted);
    let row = client
        .query_one(&grant_statement(), &[&key, &span])
        .map_err(|e| PgError::query(doing(), &e))?;
    let tat_us: i64 = row.get(0);
    Ok(ServerSlots {
        slots_us: slots_before(tat_us, interval_us, wanted),
        now_us: row.get(1),
    })
}

/// The time `wanted` slots take: what a grant moves the TAT on by.
pub fn span_us(interval_us: i64, wanted: u32) -> i64 {
    interval_us.max(1).saturating_mul(i64::from(wanted))
}

/// The `wanted` slots a grant that left the TAT at `tat_us` passed over:
/// the first at the old `max(tat, now)`, the last an interval before `tat_us`.
pub fn slots_before(tat_us: i64, interval_us: i64, wanted: u32) -> Vec<i64> {
    let interval = interval_us.max(1);
    (0..i64::from(wanted))
        .map(|i| tat_us - (i64::from(wanted) - i) * interval)
        .collect()
}

/// What the statement does to the TAT, in Rust (for the tests of the
/// arithmetic): `None` is a key with no row yet.
pub fn next_tat(tat_us: Option<i64>, now_us: i64, interval_us: i64, wanted: u32) -> i64 {
    tat_us.map_or(now_us, |tat| tat.max(now_us)) + span_us(interval_us, wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_passes_over_its_slots_from_the_later_of_the_tat_and_now() {
        // A new key: from now.
        let tat = next_tat(None, 1_000, 100, 3);
        assert_eq!(tat, 1_300);
        assert_eq!(slots_before(tat, 100, 3), vec![1_000, 1_100, 1_200]);
        // Asked again before those were due: on from where they ended.
        let tat = next_tat(Some(tat), 1_050, 100, 2);
        assert_eq!(slots_before(tat, 100, 2), vec![1_300, 1_400]);
        // After a lull: from now, no burst.
        let tat = next_tat(Some(tat), 9_000, 100, 2);
        assert_eq!(slots_before(tat, 100, 2), vec![9_000, 9_100]);
        assert_eq!(slots_before(tat, 100, 0), Vec::<i64>::new());
    }

    /// Grants made in any order of lock, each with the clock its statement
    /// read, leave every slot of the key an interval or more after the one
    /// before it: no grant overlaps another.
    #[test]
    fn interleaved_grants_never_overlap() {
        let interval = 20_100;
        let mut tat = None;
        let mut all = Vec::new();
        let mut now = 0i64;
        for (step, wanted) in [5u32, 1, 8, 3, 5, 5, 2, 7].into_iter().enumerate() {
            // The clock moves on by uneven steps, sometimes past the TAT.
            now += [3_000, 150_000, 10, 400_000][step % 4];
            let moved = next_tat(tat, now, interval, wanted);
            let slots = slots_before(moved, interval, wanted);
            assert!(slots[0] >= now, "step {step}: a slot before the clock");
            all.extend(slots);
            tat = Some(moved);
        }
        assert!(all.windows(2).all(|w| w[1] - w[0] >= interval), "{all:?}");
    }
}
