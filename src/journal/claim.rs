//! Claims on refunds, whatever stores the journal: who holds a refund
//! ([`ClaimOwner`]), the claim a write is made under ([`Claim`]: its owner and
//! generation, the fence), and how long a claim lasts unless renewed
//! ([`Lease`]). The stores implement the operations (claim, renew, release,
//! recovery of lapsed claims, fenced writes); nothing here knows SQL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};

/// Who holds a claim: `host:pid:nonce`. The nonce is random, so that a pid the
/// system reuses, or a second run of one process, is never taken for the one
/// before it. One is made per engine run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimOwner(Arc<str>);

impl ClaimOwner {
    /// A new owner for this process: its host, its pid and a fresh nonce.
    pub fn new() -> ClaimOwner {
        let nonce = Alphanumeric.sample_string(&mut rand::thread_rng(), 12);
        ClaimOwner(format!("{}:{}:{nonce}", host_name(), std::process::id()).into())
    }

    /// An owner by name: a claim as a store reads it back, or a test's process.
    pub fn named(name: &str) -> ClaimOwner {
        ClaimOwner(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClaimOwner {
    fn default() -> ClaimOwner {
        ClaimOwner::new()
    }
}

impl fmt::Display for ClaimOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host a claim's owner runs on, as the lock's holder note names it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The claim a write is made under: it is written only while the refund's
/// claim still has this owner and this generation. Every claim of a refund
/// has a greater generation than the one before it, so a process that lost
/// its claim (even to a later claim of its own) can never write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub owner: ClaimOwner,
    pub generation: i64,
}

/// Refunds another process holds under a live claim: who, how many, and
/// until when its lease runs (journal clock, unix ms) unless it renews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldElsewhere {
    pub owner: String,
    pub refunds: u64,
    pub until_ms: i64,
}

impl HeldElsewhere {
    /// "3 of them are claimed by another process (host:4242:Ab12) until …":
    /// why `resume` could not finish them, and when it can.
    pub fn describe(&self, zone: &crate::zone::Zone) -> String {
        let until = jiff::Timestamp::from_millisecond(self.until_ms)
            .map(|at| zone.show(&crate::zone::journal_time(at)))
            .unwrap_or_else(|_| self.until_ms.to_string());
        format!(
            "{} of them are claimed by another process ({}) until {until}: while it runs, it \
             finishes them; if it is gone, `bulkrefund resume` after then takes them over",
            self.refunds, self.owner
        )
    }
}

/// How long a claim lasts unless its owner renews it (on the journal's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease(Duration);

/// The lease of a run: a stalled process's refunds are taken over this long
/// after its last renewal.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The shortest lease [`LEASE_ENV`] can ask for: leases cannot be turned off.
pub const MIN_LEASE: Duration = Duration::from_millis(200);

/// For tests only (docs/specs/cli.md): a shorter lease, in milliseconds.
pub const LEASE_ENV: &str = "BULKREFUND_LEASE_MS";

impl Lease {
    /// A lease of `duration`, never shorter than [`MIN_LEASE`].
    pub fn new(duration: Duration) -> Lease {
        Lease(duration.max(MIN_LEASE))
    }

    /// [`DEFAULT_LEASE`], or what [`LEASE_ENV`] asks for (tests only); a value
    /// that is not a number of milliseconds is ignored.
    pub fn from_env() -> Lease {
        Lease::from_setting(std::env::var(LEASE_ENV).ok().as_deref())
    }

    fn from_setting(setting: Option<&str>) -> Lease {
        let asked = setting.and_then(|ms| ms.trim().parse::<u64>().ok());
        match asked {
            // A day at most: the lease is added to times in milliseconds.
            Some(ms) => Lease::new(Duration::from_millis(ms.min(86_400_000))),
            None => Lease::new(DEFAULT_LEASE),
        }
    }

    pub fn duration(self) -> Duration {
        self.0
    }

    /// In milliseconds, as the stores add it to their clock.
    pub fn ms(self) -> i64 {
        self.0.as_millis() as i64
    }

    /// How often a holder renews its claims: three times per lease, so that
    /// a renewal late by a third of it still comes in time.
    pub fn renew_every(self) -> Duration {
        self.0 / 3
    }
}

impl Default for Lease {
    fn default() -> Lease {
        Lease::new(DEFAULT_LEASE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_a_minute_unless_a_test_asks_and_never_off() {
        assert_eq!(Lease::from_setting(None).duration(), DEFAULT_LEASE);
        assert_eq!(Lease::from_setting(Some("soon")).duration(), DEFAULT_LEASE);
        assert_eq!(
            Lease::from_setting(Some("1500")).duration(),
            Duration::from_millis(1500)
        );
        assert_eq!(Lease::from_setting(Some("0")).duration(), MIN_LEASE);
        assert_eq!(Lease::from_setting(Some("10")).ms(), 200);
        assert_eq!(
            Lease::from_setting(Some("900")).renew_every(),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn owners_are_host_pid_and_a_nonce_never_twice_the_same() {
        let (a, b) = (ClaimOwner::new(), ClaimOwner::new());
        assert_ne!(a, b);
        let parts: Vec<&str> = a.as_str().split(':').collect();
        assert_eq!(parts.len(), 3, "{a}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[2].len(), 12);
    }
}
