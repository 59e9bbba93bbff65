//! Sign-in throttling: exponential back-off per client address, per user name from one
//! address, and per user name from anywhere.
//!
//! An attempt first *reserves* a slot in one critical section ([`LoginThrottle::begin`]): it is
//! counted as a failure before the password is checked, so concurrent guesses cannot run more
//! password checks than the limit. A successful sign-in gives the slot back
//! ([`LoginThrottle::succeeded`]). Past a key's free failures every further failure doubles the
//! wait before the next attempt on that key (1 s, 2 s, 4 s ... up to the key's cap); the caller
//! answers 429 with `Retry-After`. Nothing is ever locked outright: the per-user cap is short
//! (one minute), so an anonymous caller cannot keep an account's owner out, while the owner's
//! own address (another key) is unaffected by someone else's guesses until the distributed
//! per-user budget is spent. Entries are forgotten after [`FORGET_AFTER`] without failures.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One class of key and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures allowed before the first wait.
    pub free: u32,
    /// The first wait; doubles with each further failure.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// Any user name from one client address (IPv4 address, or IPv6 /64).
pub const PER_ADDRESS: Limit = Limit {
    free: 20,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
};
/// One user name from one client address.
pub const PER_USER_AND_ADDRESS: Limit = Limit {
    free: 5,
    base: Duration::from_secs(1),
    max: Duration::from_secs(15 * 60),
};
/// One user name from any address (a distributed guesser): a short cap, so that it slows the
/// guesser without locking the owner out.
pub const PER_USER: Limit = Limit {
    free: 50,
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};
/// An entry without failures for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most (a flood of random user names or addresses cannot grow memory
/// without bound).
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    UserAndAddress(String, Option<IpAddr>),
    User(String),
}

impl Key {
    fn limit(&self) -> Limit {
        match self {
            Key::Address(_) => PER_ADDRESS,
            Key::UserAndAddress(..) => PER_USER_AND_ADDRESS,
            Key::User(_) => PER_USER,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Instant,
    last: Instant,
}

impl Entry {
    fn stale(&self, now: Instant) -> bool {
        now >= self.blocked_until && now.saturating_duration_since(self.last) >= FORGET_AFTER
    }
}

/// The address part of a throttling key: IPv4 as is, IPv6 by its /64 (one host usually has a
/// whole /64), IPv4-mapped IPv6 as IPv4.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// A reserved attempt: counted as a failure until [`LoginThrottle::succeeded`] gives it back.
#[derive(Debug)]
#[must_use]
pub struct Permit {
    keys: Vec<Key>,
}

#[derive(Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    fn keys(username: &str, addr: Option<IpAddr>) -> Vec<Key> {
        let addr = addr.map(address_key);
        let mut keys = vec![
            Key::UserAndAddress(username.to_string(), addr),
            Key::User(username.to_string()),
        ];
        if let Some(a) = addr {
            keys.push(Key::Address(a));
        }
        keys
    }

    /// Reserve one attempt of `username` from `addr`, or the time to wait before the next one.
    pub fn begin(
        &self,
        username: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<Permit, Duration> {
        let keys = Self::keys(username, addr);
        let mut m = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = Duration::ZERO;
        for k in &keys {
            if let Some(e) = m.get(k) {
                if !e.stale(now) && now < e.blocked_until {
                    wait = wait.max(e.blocked_until - now);
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, e| !e.stale(now));
            if m.len() >= MAX_ENTRIES {
                // Still full: forget those that are not waiting (they cost nothing to recount).
                m.retain(|_, e| now < e.blocked_until);
            }
        }
        for k in &keys {
            let limit = k.limit();
            let e = m.entry(k.clone()).or_insert(Entry {
                failures: 0,
                blocked_until: now,
                last: now,
            });
            if e.stale(now) {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last = now;
            if e.failures >= limit.free {
                let doublings = (e.failures - limit.free).min(30);
                let delay = limit
                    .base
                    .checked_mul(1u32 << doublings)
                    .unwrap_or(limit.max)
                    .min(limit.max);
                e.blocked_until = now + delay;
            }
        }
        Ok(Permit { keys })
    }

    /// The reserved attempt succeeded: the user's failures are forgotten, and the address gets
    /// its slot back (its other failures stand).
    pub fn succeeded(&self, permit: Permit, now: Instant) {
        let mut m = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for k in permit.keys {
            match k {
                Key::Address(_) => {
                    if let Some(e) = m.get_mut(&k) {
                        e.failures = e.failures.saturating_sub(1);
                        if e.failures < PER_ADDRESS.free {
                            e.blocked_until = e.blocked_until.min(now);
                        }
                    }
                }
                _ => {
                    m.remove(&k);
                }
            }
        }
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn signin_throttle_backs_off_exponentially_and_never_locks_for_good() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..PER_USER_AND_ADDRESS.free {
            let _ = t
                .begin("alice", ip("192.0.2.1"), now)
                .expect("free attempts");
        }
        // The fifth failure made the pair wait 1 s; the next failure doubles it.
        assert_eq!(
            t.begin("alice", ip("192.0.2.1"), now).unwrap_err(),
            Duration::from_secs(1)
        );
        let later = now + Duration::from_secs(1);
        let _ = t
            .begin("alice", ip("192.0.2.1"), later)
            .expect("after the wait");
        assert_eq!(
            t.begin("alice", ip("192.0.2.1"), later).unwrap_err(),
            Duration::from_secs(2)
        );
        // Another address is not slowed down by this one's guesses.
        let p = t.begin("alice", ip("198.51.100.7"), later).expect("owner");
        t.succeeded(p, later);
        // Much later everything is forgotten.
        let much_later = later + FORGET_AFTER + Duration::from_secs(3600);
        let p = t
            .begin("alice", ip("192.0.2.1"), much_later)
            .expect("forgotten");
        t.succeeded(p, much_later);
    }

    #[test]
    fn signin_throttle_caps_the_per_user_wait() {
        let t = LoginThrottle::default();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        // A distributed guesser: every guess from a new address.
        for i in 0..400u32 {
            let addr = IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            match t.begin("admin", Some(addr), now) {
                Ok(_) => {}
                Err(w) => {
                    waits.push(w);
                    now += w;
                }
            }
        }
        assert!(!waits.is_empty());
        assert!(
            waits.iter().all(|w| *w <= PER_USER.max),
            "the per-user wait is capped: {waits:?}"
        );
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            address_key("2001:db8:1:2:bbbb::2".parse().unwrap())
        );
        assert_ne!(
            address_key("2001:db8:1:2::1".parse().unwrap()),
            address_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            address_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
