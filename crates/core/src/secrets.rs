//! One limiter for every secret check: account passwords (REGISTER,
//! PASSWD), the admin password (ADMIN), and whatever checks a secret
//! later (SASL over IRC, web logins), whatever the connection or front
//! end.
//!
//! Three budgets, each a [`Throttle`] (some free failures, then waits that
//! double; waits, not a lock that outlasts them):
//! - **per address**: one address guessing many accounts, or opening a
//!   connection per guess (10 free, then 1 s doubling to 5 min);
//! - **per account** (the admin password counts as one account): many
//!   addresses guessing one account (10 free, then 1 s doubling to 15 min:
//!   about 23 guesses in the first hour, 4 an hour after that, however many
//!   addresses the attacker has);
//! - **server-wide**: failed checks over all accounts, so that a botnet
//!   spread over many accounts cannot keep the password hasher busy
//!   (bursts of 200, then 20 a second).
//!
//! An address from which an account (or the admin password) was used
//! successfully in the last 30 days is known to its owner: a stranger's
//! failures, which lock the account and fill the server-wide budget, do
//! not hold that address back, so the owner still gets in during an attack
//! (its own address's budget still applies). Time is passed in, so the
//! rules are tested without sleeping.
//!
//! A `std::sync::Mutex` per map: each check is a hash lookup, never held
//! across `.await`. In a cluster the budgets are cluster-wide: each node
//! tells the others of every outcome ([`SecretGuard::share_with`]) and
//! counts theirs as its own ([`SecretGuard::heard`]), so spreading guesses
//! over the nodes buys nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chinwag_proto::NameKey;

use crate::auth::Throttle;

/// Whose secret is being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Secret {
    /// An account's password.
    Account(NameKey),
    /// The server's admin password.
    Admin,
}

/// What became of one secret check: told to the other nodes of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretOutcome {
    pub secret: Secret,
    pub addr: IpAddr,
    pub failed: bool,
}

/// Where a node tells its outcomes (the cluster), once set.
type Share = Box<dyn Fn(SecretOutcome) + Send + Sync>;

/// Failures per address before the first wait.
pub const ADDRESS_FREE: u32 = 10;
/// Failures per account before the first wait.
pub const ACCOUNT_FREE: u32 = 10;
/// The longest wait an account's budget imposes.
pub const ACCOUNT_MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failed checks the whole server allows at once, and per second after.
pub const GLOBAL_BURST: f64 = 200.0;
pub const GLOBAL_PER_SEC: f64 = 20.0;
/// How long an address stays known to an account's owner.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most entries a map keeps; beyond, what no longer matters is forgotten.
const MAX_TRACKED: usize = 100_000;

/// The shared limiter.
pub struct SecretGuard {
    by_addr: Mutex<HashMap<IpAddr, Throttle>>,
    by_secret: Mutex<HashMap<Secret, Throttle>>,
    /// (secret, address) -> last successful use.
    known: Mutex<HashMap<(Secret, IpAddr), Instant>>,
    global: Mutex<Global>,
    share: OnceLock<Share>,
}

/// The server-wide budget: a token bucket of failures.
struct Global {
    tokens: f64,
    last: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters only: a panic elsewhere cannot leave them half-updated in a
    // way that matters.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl SecretGuard {
    pub fn new(now: Instant) -> SecretGuard {
        SecretGuard {
            by_addr: Mutex::new(HashMap::new()),
            by_secret: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            global: Mutex::new(Global {
                tokens: GLOBAL_BURST,
                last: now,
            }),
            share: OnceLock::new(),
        }
    }

    /// From now on, every outcome is also handed to `share` (a node
    /// joining a cluster tells the others). Once; later calls are ignored.
    pub fn share_with(&self, share: impl Fn(SecretOutcome) + Send + Sync + 'static) {
        let _ = self.share.set(Box::new(share));
    }

    /// An outcome another node told: counted as if it happened here.
    pub fn heard(&self, outcome: SecretOutcome, now: Instant) {
        if outcome.failed {
            self.count_failure(outcome.secret, outcome.addr, now);
        } else {
            self.remember(outcome.secret, outcome.addr, now);
        }
    }

    fn tell(&self, secret: Secret, addr: IpAddr, failed: bool) {
        if let Some(share) = self.share.get() {
            share(SecretOutcome {
                secret,
                addr,
                failed,
            });
        }
    }

    /// Whether a check of `secret` from `addr` may run now; `Err(wait)`
    /// while one of its budgets says wait.
    pub fn check(&self, secret: Secret, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if let Some(throttle) = lock(&self.by_addr).get(&addr) {
            throttle.check(now)?;
        }
        if self.is_known(secret, addr, now) {
            return Ok(());
        }
        if let Some(throttle) = lock(&self.by_secret).get(&secret) {
            throttle.check(now)?;
        }
        let mut global = lock(&self.global);
        global.refill(now);
        if global.tokens < 1.0 {
            return Err(Duration::from_secs_f64(
                (1.0 - global.tokens) / GLOBAL_PER_SEC,
            ));
        }
        Ok(())
    }

    /// A check of `secret` from `addr` failed.
    pub fn failed(&self, secret: Secret, addr: IpAddr, now: Instant) {
        self.count_failure(secret, addr, now);
        self.tell(secret, addr, true);
    }

    fn count_failure(&self, secret: Secret, addr: IpAddr, now: Instant) {
        {
            let mut by_addr = lock(&self.by_addr);
            if by_addr.len() >= MAX_TRACKED {
                by_addr.retain(|_, t| t.is_locked(now));
            }
            by_addr
                .entry(addr)
                .or_insert_with(|| Throttle::with_free_attempts(ADDRESS_FREE))
                .failed(now);
        }
        {
            let mut by_secret = lock(&self.by_secret);
            if by_secret.len() >= MAX_TRACKED {
                by_secret.retain(|_, t| t.is_locked(now));
            }
            by_secret
                .entry(secret)
                .or_insert_with(|| {
                    Throttle::with_free_attempts(ACCOUNT_FREE).with_max_wait(ACCOUNT_MAX_WAIT)
                })
                .failed(now);
        }
        let mut global = lock(&self.global);
        global.refill(now);
        global.tokens -= 1.0;
    }

    /// A check of `secret` from `addr` succeeded: the address is known to
    /// the owner from now on. Its own budget is left as it is: a success
    /// at an account of one's own must not buy more guesses at others'.
    pub fn succeeded(&self, secret: Secret, addr: IpAddr, now: Instant) {
        self.remember(secret, addr, now);
        self.tell(secret, addr, false);
    }

    fn remember(&self, secret: Secret, addr: IpAddr, now: Instant) {
        let mut known = lock(&self.known);
        if known.len() >= MAX_TRACKED {
            known.retain(|_, at| now.saturating_duration_since(*at) < KNOWN_FOR);
            if known.len() >= MAX_TRACKED {
                // Every entry is recent: forget them all rather than grow.
                known.clear();
            }
        }
        known.insert((secret, addr), now);
    }

    fn is_known(&self, secret: Secret, addr: IpAddr, now: Instant) -> bool {
        lock(&self.known)
            .get(&(secret, addr))
            .is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_FOR)
    }
}

impl Global {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * GLOBAL_PER_SEC).min(GLOBAL_BURST);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn alice() -> Secret {
        Secret::Account(NameKey::fold("alice").unwrap())
    }

    /// Guesses at `secret` from `addresses` rotating, one whenever the
    /// budgets allow, for `hours`; how many were checked.
    fn guesses(
        guard: &SecretGuard,
        secret: Secret,
        addresses: u32,
        hours: u64,
        t0: Instant,
    ) -> u32 {
        let mut now = t0;
        let end = t0 + Duration::from_secs(hours * 3600);
        let mut checked = 0;
        let mut next = 0;
        while now < end {
            let addr = ip(next % addresses);
            next += 1;
            match guard.check(secret, addr, now) {
                Ok(()) => {
                    guard.failed(secret, addr, now);
                    checked += 1;
                    now += Duration::from_millis(10);
                }
                Err(wait) => now += wait,
            }
        }
        checked
    }

    #[test]
    fn a_thousand_addresses_get_a_few_dozen_guesses_an_hour_at_one_account() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let first_hour = guesses(&guard, alice(), 1000, 1, t0);
        assert!(
            (15..=36).contains(&first_hour),
            "{first_hour} in the first hour"
        );
        let next_hour = guesses(&guard, alice(), 1000, 1, t0 + Duration::from_secs(3600));
        assert!(next_hour <= 6, "{next_hour} in the second hour");
    }

    #[test]
    fn the_admin_password_is_one_account_whatever_the_connection() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let first_hour = guesses(&guard, Secret::Admin, 1, 1, t0);
        assert!(
            first_hour <= 36,
            "{first_hour} admin guesses from one address in an hour"
        );
    }

    #[test]
    fn the_owner_gets_in_from_a_known_address_during_an_attack() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let home = ip(5000);
        guard.succeeded(alice(), home, t0);
        guesses(&guard, alice(), 1000, 1, t0);
        let later = t0 + Duration::from_secs(3600);
        assert!(
            guard.check(alice(), ip(7), later).is_err(),
            "strangers wait"
        );
        assert_eq!(
            guard.check(alice(), home, later),
            Ok(()),
            "the owner does not"
        );
        // A new address of the owner's waits like anyone's, until it has
        // been used successfully once.
        assert!(guard.check(alice(), ip(6000), later).is_err());
    }

    #[test]
    fn logging_in_to_ones_own_account_does_not_reset_an_addresses_budget() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let addr = ip(1);
        let own = Secret::Account(NameKey::fold("mallory").unwrap());
        for n in 0..ADDRESS_FREE {
            let secret = Secret::Account(NameKey::fold(&format!("user{n}")).unwrap());
            guard.failed(secret, addr, t0);
        }
        guard.succeeded(own, addr, t0);
        let next = Secret::Account(NameKey::fold("victim").unwrap());
        assert!(guard.check(next, addr, t0).is_err());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_held_back() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let addr = ip(1);
        for n in 0..ADDRESS_FREE {
            let secret = Secret::Account(NameKey::fold(&format!("user{n}")).unwrap());
            assert_eq!(guard.check(secret, addr, t0), Ok(()));
            guard.failed(secret, addr, t0);
        }
        let fresh = Secret::Account(NameKey::fold("someone").unwrap());
        assert!(guard.check(fresh, addr, t0).is_err());
        assert_eq!(
            guard.check(fresh, ip(2), t0),
            Ok(()),
            "another address is not"
        );
    }

    #[test]
    fn the_server_wide_budget_bounds_failures_over_all_accounts() {
        let t0 = Instant::now();
        let guard = SecretGuard::new(t0);
        let mut checked = 0;
        for n in 0..1000u32 {
            let secret = Secret::Account(NameKey::fold(&format!("u{n}")).unwrap());
            if guard.check(secret, ip(n), t0).is_ok() {
                guard.failed(secret, ip(n), t0);
                checked += 1;
            }
        }
        assert_eq!(checked, GLOBAL_BURST as u32);
        let after_a_second = t0 + Duration::from_secs(1);
        let secret = Secret::Account(NameKey::fold("fresh").unwrap());
        assert_eq!(guard.check(secret, ip(5000), after_a_second), Ok(()));
    }

    #[test]
    fn two_nodes_sharing_outcomes_hold_one_budget() {
        // Two nodes, each telling the other what it saw (as a cluster
        // does over NATS): guesses alternating between them are counted
        // once each, on both.
        let t0 = Instant::now();
        let a = std::sync::Arc::new(SecretGuard::new(t0));
        let b = std::sync::Arc::new(SecretGuard::new(t0));
        let told_a = std::sync::Arc::new(Mutex::new(Vec::new()));
        let told_b = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (ta, tb) = (told_a.clone(), told_b.clone());
        a.share_with(move |o| lock(&tb).push(o));
        b.share_with(move |o| lock(&ta).push(o));
        let deliver = |to: &SecretGuard, inbox: &Mutex<Vec<SecretOutcome>>| {
            for outcome in lock(inbox).drain(..) {
                to.heard(outcome, t0);
            }
        };
        let mut checked = 0;
        for n in 0..40u32 {
            let node = if n % 2 == 0 { &a } else { &b };
            if node.check(alice(), ip(n), t0).is_ok() {
                node.failed(alice(), ip(n), t0);
                checked += 1;
            }
            deliver(&a, &told_a);
            deliver(&b, &told_b);
        }
        assert_eq!(checked, ACCOUNT_FREE, "one budget over both nodes");
        // What another node hears it does not tell again.
        assert!(lock(&told_a).is_empty() && lock(&told_b).is_empty());
        // The owner's known address is known on every node.
        a.succeeded(alice(), ip(999), t0);
        deliver(&b, &told_b);
        assert_eq!(b.check(alice(), ip(999), t0), Ok(()));
        assert!(b.check(alice(), ip(998), t0).is_err());
    }
}
