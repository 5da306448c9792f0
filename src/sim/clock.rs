//! The simulator's wall clock, which tests may set (`POST /__sim/clock`): the
//! real time, a moment it stays at (frozen), or a moment it runs on from.
//! Every wall time the simulator reports or files by reads it: a refund's
//! creation and success times, the Beijing day a bill puts it in, "today" for
//! a bill not yet made, the age of an order. Durations (rate windows,
//! `--processing-for`, a bill URL's life, timeouts) stay on the monotonic
//! clock, so a frozen wall clock never stalls them; so do the timestamps of
//! signatures, which the client stamps with its own real clock.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::SimState;

/// `POST /__sim/clock`.
pub const CLOCK_PATH: &str = "/__sim/clock";

/// What the clock reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSetting {
    /// The machine's clock.
    Real,
    /// Always this moment, until set again.
    Frozen(jiff::Timestamp),
    /// This moment at `since`, running on with the monotonic clock.
    Running { at: jiff::Timestamp, since: Instant },
}

/// The settable wall clock, shared by the ledger and every gateway module.
#[derive(Debug)]
pub struct SimClock {
    setting: Mutex<ClockSetting>,
}

impl Default for SimClock {
    fn default() -> SimClock {
        SimClock::real()
    }
}

impl SimClock {
    pub fn real() -> SimClock {
        SimClock {
            setting: Mutex::new(ClockSetting::Real),
        }
    }

    /// The simulator's wall time now.
    pub fn now(&self) -> jiff::Timestamp {
        match *self.setting.lock().expect("clock lock") {
            ClockSetting::Real => jiff::Timestamp::now(),
            ClockSetting::Frozen(at) => at,
            ClockSetting::Running { at, since } => {
                let elapsed = jiff::SignedDuration::try_from(since.elapsed())
                    .unwrap_or(jiff::SignedDuration::ZERO);
                at.checked_add(elapsed).unwrap_or(at)
            }
        }
    }

    pub fn setting(&self) -> ClockSetting {
        *self.setting.lock().expect("clock lock")
    }

    /// Stays at `at` until set again.
    pub fn freeze(&self, at: jiff::Timestamp) {
        self.set(ClockSetting::Frozen(at));
    }

    /// Reads `at` now and runs on from there.
    pub fn run_from(&self, at: jiff::Timestamp) {
        self.set(ClockSetting::Running {
            at,
            since: Instant::now(),
        });
    }

    /// Back to the machine's clock.
    pub fn set_real(&self) {
        self.set(ClockSetting::Real);
    }

    fn set(&self, setting: ClockSetting) {
        *self.setting.lock().expect("clock lock") = setting;
    }
}

/// What a body of `POST /__sim/clock` asks for; `Err` says why it is refused.
fn parse(body: &[u8]) -> Result<ClockSetting, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let object = value.as_object().ok_or("the body is not a JSON object")?;
    match object.get("real") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) if object.len() == 1 => return Ok(ClockSetting::Real),
        Some(Value::Bool(true)) => return Err("\"real\": true takes no other field".into()),
        Some(_) => return Err("\"real\" must be true".into()),
    }
    let now = match object.get("now") {
        Some(Value::String(text)) => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| format!("\"now\" {text:?} is not an RFC 3339 time with an offset"))?,
        Some(_) => return Err("\"now\" must be a string".into()),
        None => {
            return Err("{\"now\": RFC 3339, \"frozen\": bool} or {\"real\": true} expected".into())
        }
    };
    match object.get("frozen") {
        Some(Value::Bool(true)) => Ok(ClockSetting::Frozen(now)),
        None | Some(Value::Bool(false)) => Ok(ClockSetting::Running {
            at: now,
            since: Instant::now(),
        }),
        Some(_) => Err("\"frozen\" must be true or false".into()),
    }
}

/// `POST /__sim/clock`: sets the clock; answers what it reads now, in Beijing time.
pub(super) async fn handle(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    let setting = match parse(&body) {
        Ok(setting) => setting,
        Err(why) => return super::control::refused(&why),
    };
    state.clock.set(setting);
    let now = state.clock.now();
    axum::Json(json!({
        "now": beijing_rfc3339(now),
        "frozen": matches!(setting, ClockSetting::Frozen(_)),
        "real": setting == ClockSetting::Real,
    }))
    .into_response()
}

/// A time in Beijing, RFC 3339 (`2026-11-30T23:59:58+08:00`).
pub fn beijing_rfc3339(time: jiff::Timestamp) -> String {
    beijing(time).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A time on Beijing's clock (UTC+8, no daylight saving): every gateway's day.
pub fn beijing(time: jiff::Timestamp) -> jiff::Zoned {
    time.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stays_and_a_running_one_moves_on() {
        let clock = SimClock::real();
        let at: jiff::Timestamp = "2026-11-30T23:59:58+08:00".parse().unwrap();
        clock.freeze(at);
        assert_eq!(clock.now(), at);
        assert_eq!(clock.now(), at);
        clock.run_from(at);
        assert!(clock.now() >= at);
        clock.set_real();
        assert!(clock.now().as_second() > at.as_second() - 1_000_000_000);
    }

    #[test]
    fn the_body_says_frozen_running_or_real() {
        let at: jiff::Timestamp = "2026-11-30T15:59:58Z".parse().unwrap();
        assert_eq!(
            parse(br#"{"now":"2026-11-30T23:59:58+08:00","frozen":true}"#),
            Ok(ClockSetting::Frozen(at))
        );
        assert!(matches!(
            parse(br#"{"now":"2026-11-30T23:59:58+08:00"}"#),
            Ok(ClockSetting::Running { at: a, .. }) if a == at
        ));
        assert_eq!(parse(br#"{"real":true}"#), Ok(ClockSetting::Real));
        for bad in [
            &br#"{"now":"2026-11-30 23:59:58"}"#[..],
            br#"{"now":5}"#,
            br#"{"frozen":true}"#,
            br#"{"real":true,"now":"2026-11-30T23:59:58+08:00"}"#,
            br#"{"now":"2026-11-30T23:59:58+08:00","frozen":"yes"}"#,
            b"[]",
            b"not json",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(beijing_rfc3339(at), "2026-11-30T23:59:58+08:00");
    }
}
