//! The send window of one lane (docs/DESIGN.md, "Rate, concurrency,
//! retries"): the slots given out in the last second plus [`WINDOW_SLACK`].
//! A request takes the first slot that keeps every such window at `limit` or
//! fewer, and goes at that time. The limiter spaces requests; this makes the
//! promise exact, whatever stalled before. Slots are handed out in order, so
//! waiters do not crowd the same freed place.
//!
//! A slot stays *outstanding* from when it is given out until its request
//! has gone ([`SendWindow::moved`]): a request that went out after its slot
//! (woken late, signed on a busy core) moves the slot to when it went, and
//! the slots a second later wait for it by as much, and no more. So that a
//! move never comes after a slot it should have held back was given out, no
//! slot is given out while the one `limit` places before it is outstanding.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How much longer than a second the send window is: the room left for a
/// request to reach the gateway later than it left (a descheduled thread,
/// the network) without two seconds' requests landing in one. It is also
/// the price: the rate is at most `limit` per 1.005 s, 0.995 of it (README,
/// "Rate and concurrency").
pub const WINDOW_SLACK: Duration = Duration::from_millis(5);

/// The slack of the windows that begin in a run's first second. Every
/// request then opens a connection of its own, and a new connection reaches
/// the gateway later than a warm one by the time it takes to connect: with
/// only [`WINDOW_SLACK`], the first second's early requests, late on their
/// new connections, and the requests a second later, quick on warm ones,
/// landed 101 in one second at a rate of 100 (`scripts/bench`). It costs the
/// run at most this much time, once.
pub const START_SLACK: Duration = Duration::from_millis(25);

/// A lull after which the next request is a run's first again (its
/// connection closed meanwhile).
const IDLE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
struct Slot {
    at: Instant,
    /// Its request went (or will never go): `at` is final.
    gone: bool,
}

pub struct SendWindow {
    limit: usize,
    span: Duration,
    /// In order of `at`; the last `limit`, and every outstanding one.
    slots: Mutex<VecDeque<Slot>>,
    /// The first slot given out: windows that begin within a second of it
    /// take [`START_SLACK`].
    first: Mutex<Option<Instant>>,
}

impl SendWindow {
    pub fn new(limit: u32) -> SendWindow {
        SendWindow {
            limit: limit.max(1) as usize,
            span: Duration::from_secs(1) + WINDOW_SLACK,
            slots: Mutex::new(VecDeque::with_capacity(limit.max(1) as usize + 1)),
            first: Mutex::new(None),
        }
    }

    /// Takes the first free slot at or after `now` and says when it is
    /// (`Ok`), or says when to ask again (`Err`): the slot `limit` places
    /// back is still outstanding, and no slot after it is later than it
    /// plus a second.
    pub fn reserve(&self, now: Instant) -> Result<Instant, Instant> {
        let mut slots = self.slots.lock().expect("window lock");
        let first = {
            let mut first = self.first.lock().expect("window lock");
            // After a lull (a prompt, a long pause) the connections have
            // closed: the next second starts anew.
            if slots.back().is_none_or(|last| now > last.at + IDLE) {
                *first = Some(now);
            }
            first.unwrap_or(now)
        };
        let mut at = slots.back().map_or(now, |last| last.at.max(now));
        if slots.len() >= self.limit {
            let opens = slots[slots.len() - self.limit];
            if !opens.gone {
                return Err(opens.at.max(now) + self.span);
            }
            let starting = opens.at < first + Duration::from_secs(1);
            let extra = if starting {
                START_SLACK - WINDOW_SLACK
            } else {
                Duration::ZERO
            };
            at = at.max(opens.at + self.span + extra);
        }
        slots.push_back(Slot { at, gone: false });
        // Only the last `limit` slots can hold a later one back; the one
        // dropped here was checked gone above.
        while slots.len() > self.limit {
            slots.pop_front();
        }
        Ok(at)
    }

    /// Moves the outstanding `slot` to `at` (never earlier), its request
    /// having gone then (`gone`) or not yet. Returns where it now is.
    pub fn moved(&self, slot: Instant, at: Instant, gone: bool) -> Instant {
        let at = at.max(slot);
        let mut slots = self.slots.lock().expect("window lock");
        // Outstanding slots are never dropped (`reserve`).
        let Some(index) = slots.iter().rposition(|s| !s.gone && s.at == slot) else {
            debug_assert!(false, "a slot moved that was not given out");
            return at;
        };
        slots.remove(index);
        let place = slots.partition_point(|s| s.at <= at);
        slots.insert(place, Slot { at, gone });
        at
    }
}

#[cfg(test)]
impl SendWindow {
    pub fn given_out(&self) -> usize {
        self.slots.lock().expect("window lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// A slot whose request goes at once.
    fn take(window: &SendWindow, now: Instant) -> Instant {
        let slot = window.reserve(now).expect("nothing outstanding");
        window.moved(slot, slot, true)
    }

    #[test]
    fn no_window_of_a_second_and_the_slack_holds_more_slots_than_the_limit() {
        let mut rng = rand::thread_rng();
        for limit in [1u32, 3, 100, 200] {
            let window = SendWindow::new(limit);
            let start = Instant::now();
            let mut now = start;
            let mut slots = Vec::new();
            for _ in 0..limit * 12 {
                // Requests ask in bursts and in lulls, sometimes behind their slot.
                now += Duration::from_micros(rng.gen_range(0..4_000_000 / u64::from(limit)));
                slots.push(take(&window, now));
            }
            assert!(slots.windows(2).all(|w| w[0] <= w[1]), "slots in order");
            for (i, &first) in slots.iter().enumerate() {
                let within = slots[i..]
                    .iter()
                    .take_while(|&&t| t < first + Duration::from_secs(1) + WINDOW_SLACK)
                    .count();
                assert!(within <= limit as usize, "limit {limit}: {within}");
            }
            // Asked all at once, the window gives `limit` slots per 1.005 s, no fewer.
            let window = SendWindow::new(limit);
            let slots: Vec<Instant> = (0..limit * 10).map(|_| take(&window, start)).collect();
            let span = Duration::from_secs(1) + WINDOW_SLACK;
            let first_span = Duration::from_secs(1) + START_SLACK;
            assert_eq!(slots[limit as usize], start + first_span, "limit {limit}");
            assert_eq!(
                slots[slots.len() - 1],
                start + first_span + span * 8,
                "limit {limit}"
            );
        }
    }

    #[test]
    fn the_send_window_never_holds_more_than_its_limit() {
        let window = SendWindow::new(3);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(take(&window, at(0)), at(0));
        assert_eq!(take(&window, at(0)), at(0));
        assert_eq!(take(&window, at(10)), at(10));
        // A fourth within the first window takes the slot the first frees,
        // 1.025 s after it: the run's first second has the wider slack.
        assert_eq!(take(&window, at(500)), at(1_025));
        // The next waiter is not sent to the same place: it takes the second's.
        assert_eq!(take(&window, at(600)), at(1_025));
        assert_eq!(take(&window, at(700)), at(1_035));
        // A window opening after the first second has the usual 5 ms.
        assert_eq!(take(&window, at(1_100)), at(2_030));
        // Slots stay in order: a request now never jumps ahead of a later slot.
        assert_eq!(take(&window, at(1_101)), at(2_030));
        assert_eq!(take(&window, at(5_000)), at(5_000));
        // After a lull of more than 30 s, a second starts anew, with its slack.
        for _ in 0..3 {
            take(&window, at(40_000));
        }
        assert_eq!(take(&window, at(40_000)), at(41_025));
    }

    /// Requests reserve ahead of when they go (many wait for their slots at
    /// once) and go late by up to 20 ms: every window of a second and the
    /// slack holds at most `limit` departures. Without the rule that no slot
    /// is given out while the one `limit` back is outstanding, a rate of 1
    /// to 3 with a few requests waiting went over (a hostile review's model).
    #[test]
    fn requests_that_go_late_hold_the_later_ones_back_not_over_the_limit() {
        let mut rng = rand::thread_rng();
        for (limit, waiting) in [(1u32, 3usize), (2, 3), (3, 4), (10, 33), (150, 50)] {
            let window = SendWindow::new(limit);
            let mut now = Instant::now();
            // (slot, when its request goes), in the order they were given out.
            let mut queued: VecDeque<(Instant, Instant)> = VecDeque::new();
            let mut left = Vec::new();
            while left.len() < limit as usize * 12 {
                // Fill the waiters' places, then let the earliest one go.
                while queued.len() < waiting {
                    match window.reserve(now) {
                        Ok(slot) => {
                            let late = if rng.gen_bool(0.1) {
                                rng.gen_range(0..20_000)
                            } else {
                                rng.gen_range(0..1_000)
                            };
                            queued.push_back((slot, slot + Duration::from_micros(late)));
                        }
                        Err(_) => break,
                    }
                }
                let (slot, goes) = queued.pop_front().expect("a waiter");
                now = now.max(goes);
                left.push(window.moved(slot, goes, true));
            }
            left.sort();
            for (i, &first) in left.iter().enumerate() {
                let within = left[i..]
                    .iter()
                    .take_while(|&&t| t < first + Duration::from_secs(1) + WINDOW_SLACK)
                    .count();
                assert!(within <= limit as usize, "limit {limit}: {within}");
            }
        }
    }

    #[test]
    fn no_slot_is_given_out_while_the_one_a_limit_back_is_outstanding() {
        let window = SendWindow::new(1);
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let a = window.reserve(at(0)).unwrap();
        // The first request has not gone by 500 ms: it will go no earlier,
        // so the next asks again a second and the slack after that.
        assert_eq!(window.reserve(at(500)), Err(at(1_505)));
        // It went at 800 ms: the next slot is a second and the (first
        // second's) slack after that.
        assert_eq!(window.moved(a, at(800), true), at(800));
        assert_eq!(window.reserve(at(1_505)), Ok(at(1_825)));
        // A move never goes earlier than the slot.
        let b = at(1_825);
        assert_eq!(window.moved(b, at(1_000), true), b);
    }
}
