//! The admin password, and the throttle on guessing it.

use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// The server's admin password.
pub struct AdminSecret {
    password: String,
}

impl AdminSecret {
    pub fn new(password: String) -> AdminSecret {
        AdminSecret { password }
    }

    /// A random 24-character password, for a server started without one.
    pub fn generate() -> AdminSecret {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let password = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        AdminSecret { password }
    }

    pub fn reveal(&self) -> &str {
        &self.password
    }

    /// Compares in constant time, so response timing tells an attacker
    /// nothing about how much of a guess was right.
    pub fn verify(&self, attempt: &str) -> bool {
        let ok_len = attempt.len() == self.password.len();
        // Compare against something of the attempt's length either way, so
        // the time taken does not depend on where the first difference is.
        let expected = if ok_len {
            self.password.as_bytes()
        } else {
            attempt.as_bytes()
        };
        bool::from(attempt.as_bytes().ct_eq(expected)) & ok_len
    }
}

impl std::fmt::Debug for AdminSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSecret(..)")
    }
}

/// Slows down repeated wrong passwords: the first few failures (the server
/// setting `password_free_attempts`, default [`Throttle::FREE_ATTEMPTS`] on a
/// connection) are free, then each further
/// failure locks the door for twice as long as the last (1 s, 2 s, 4 s, ...
/// up to 5 min). Time is passed in, so this is tested without sleeping.
#[derive(Clone, Debug)]
pub struct Throttle {
    failures: u32,
    free: u32,
    locked_until: Option<Instant>,
    max_lock: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::with_free_attempts(Self::FREE_ATTEMPTS)
    }
}

impl Throttle {
    pub const FREE_ATTEMPTS: u32 = 3;
    const MAX_LOCK: Duration = Duration::from_secs(300);

    /// A throttle that lets `free` failures pass before the first lock.
    pub fn with_free_attempts(free: u32) -> Throttle {
        Throttle {
            failures: 0,
            free: free.max(1),
            locked_until: None,
            max_lock: Self::MAX_LOCK,
        }
    }

    /// The same, with waits doubling up to `max` instead of 5 min.
    pub fn with_max_wait(mut self, max: Duration) -> Throttle {
        self.max_lock = max;
        self
    }

    /// Whether the door is locked at `now`.
    pub fn is_locked(&self, now: Instant) -> bool {
        self.check(now).is_err()
    }

    /// `Err(wait)` while locked.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        match self.locked_until {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    pub fn failed(&mut self, now: Instant) {
        self.failures += 1;
        if self.failures >= self.free {
            let doublings = (self.failures - self.free).min(16);
            let lock = Duration::from_secs(1 << doublings).min(self.max_lock);
            self.locked_until = Some(now + lock);
        }
    }

    pub fn succeeded(&mut self) {
        *self = Throttle::with_free_attempts(self.free).with_max_wait(self.max_lock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_is_exact() {
        let secret = AdminSecret::new("s3cret".into());
        assert!(secret.verify("s3cret"));
        assert!(!secret.verify("s3cre"));
        assert!(!secret.verify("s3cret!"));
        assert!(!secret.verify(""));
        assert!(!secret.verify("S3CRET"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = AdminSecret::generate();
        let b = AdminSecret::generate();
        assert_eq!(a.reveal().len(), 24);
        assert_ne!(a.reveal(), b.reveal());
    }

    #[test]
    fn throttle_locks_after_free_attempts_and_doubles() {
        let t0 = Instant::now();
        let mut throttle = Throttle::default();
        throttle.failed(t0);
        throttle.failed(t0);
        assert_eq!(throttle.check(t0), Ok(()));
        throttle.failed(t0);
        assert_eq!(throttle.check(t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(throttle.check(t1), Ok(()));
        throttle.failed(t1);
        assert_eq!(throttle.check(t1), Err(Duration::from_secs(2)));
        for _ in 0..20 {
            throttle.failed(t1);
        }
        assert_eq!(throttle.check(t1), Err(Duration::from_secs(300)));
        throttle.succeeded();
        assert_eq!(throttle.check(t1), Ok(()));
    }

    #[test]
    fn free_attempts_are_configurable() {
        let t0 = Instant::now();
        let mut throttle = Throttle::with_free_attempts(1);
        throttle.failed(t0);
        assert_eq!(throttle.check(t0), Err(Duration::from_secs(1)));
    }
}
