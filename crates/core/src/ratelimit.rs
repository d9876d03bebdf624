//! Flood control: a token bucket per connection on requests and on bytes,
//! in the spirit of IRC servers' fakelag.
//!
//! Each request costs one request token and its frame's length in byte
//! tokens. Within the burst a request goes through at once; beyond it, it
//! is not refused but **delayed** until its tokens have come in at the
//! sustained rate (the bucket goes into debt), so a person pasting a few
//! lines never notices, and a flooder is slowed to the steady rate. A
//! client whose debt would make it wait more than `max_lag` is
//! disconnected (IRC's "excess flood"). Administrators get
//! `admin_multiplier` times the rate and burst. Time is passed in, so this
//! is tested without sleeping.

use std::time::{Duration, Instant};

use crate::config::{Section, setting};

/// The limits of one connection. A rate of 0 turns that bucket off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// Requests per second, sustained.
    pub requests_per_sec: u32,
    /// Requests allowed at once above the sustained rate.
    pub request_burst: u32,
    /// Bytes of frames per second, sustained.
    pub bytes_per_sec: u64,
    /// Bytes allowed at once above the sustained rate.
    pub byte_burst: u64,
    /// The longest a request may be delayed: a client whose requests
    /// would wait longer is disconnected.
    pub max_lag: Duration,
    /// Administrators' rates and bursts are this many times larger.
    pub admin_multiplier: u32,
}

impl RateLimits {
    /// Sized for people: a burst of 20 requests (a pasted paragraph, a UI
    /// loading its conversations) goes through at once, then 5 requests
    /// and 64 KiB per second; a client 10 s behind is cut off. Bots and
    /// benchmarks set their own (docs/security.md), or turn it off with
    /// `rate_requests = 0` and `rate_bytes = 0`.
    pub const DEFAULT: RateLimits = RateLimits {
        requests_per_sec: 5,
        request_burst: 20,
        bytes_per_sec: 64 * 1024,
        byte_burst: 256 * 1024,
        max_lag: Duration::from_secs(10),
        admin_multiplier: 10,
    };

    /// No flood control: for benchmarks and trusted bots.
    pub const OFF: RateLimits = RateLimits {
        requests_per_sec: 0,
        bytes_per_sec: 0,
        ..RateLimits::DEFAULT
    };
}

/// The rate limits' settings, under their heading in `chinwagd --help`;
/// their defaults are [`RateLimits::DEFAULT`].
pub(crate) const SETTINGS: Section = Section {
    heading: "Rate limits",
    settings: &[
        setting!(
            "rate_requests",
            rate.requests_per_sec: u32,
            "N",
            "Requests per second allowed per connection, sustained; 0 turns \
             the request limit off"
        ),
        setting!(
            "rate_request_burst",
            rate.request_burst: u32,
            "N",
            "Requests allowed at once above that rate"
        ),
        setting!(
            "rate_bytes",
            rate.bytes_per_sec: u64,
            "BYTES",
            "Bytes per second allowed per connection, sustained; 0 turns the \
             byte limit off"
        ),
        setting!(
            "rate_byte_burst",
            rate.byte_burst: u64,
            "BYTES",
            "Bytes allowed at once above that rate"
        ),
        setting!(
            "rate_max_lag",
            rate.max_lag: std::time::Duration,
            "DURATION",
            "Requests beyond the burst are delayed to the sustained rate; a \
             client that would wait longer than this is disconnected"
        ),
        setting!(
            "admin_rate_multiplier",
            rate.admin_multiplier: u32,
            "N",
            "Administrators' rates and bursts are this many times larger"
        ),
    ],
};

/// What to do with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Carry it out at this time, not before.
    Delay(Instant),
    /// The client is more than `max_lag` behind: close the connection.
    Disconnect,
}

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Clone, Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn off(&self) -> bool {
        self.rate <= 0.0
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// How long until `cost` more tokens would have come in: zero when
    /// the bucket holds them now.
    fn wait_for(&self, cost: f64) -> Duration {
        if self.off() || self.tokens >= cost {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((cost - self.tokens) / self.rate)
    }

    /// Takes `cost` tokens, going into debt if need be.
    fn take(&mut self, cost: f64) {
        if !self.off() {
            self.tokens -= cost;
        }
    }
}

/// One connection's buckets.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    requests: Bucket,
    bytes: Bucket,
    admin: bool,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, now: Instant) -> RateLimiter {
        let (requests, bytes) = Self::buckets(&limits, 1, now);
        RateLimiter {
            limits,
            requests,
            bytes,
            admin: false,
        }
    }

    fn buckets(limits: &RateLimits, factor: u32, now: Instant) -> (Bucket, Bucket) {
        let f = f64::from(factor.max(1));
        (
            Bucket::new(
                f64::from(limits.requests_per_sec) * f,
                f64::from(limits.request_burst.max(1)) * f,
                now,
            ),
            Bucket::new(
                limits.bytes_per_sec as f64 * f,
                limits.byte_burst.max(1) as f64 * f,
                now,
            ),
        )
    }

    /// Switches to the administrators' limits (full buckets).
    pub fn set_admin(&mut self, admin: bool, now: Instant) {
        if admin != self.admin {
            self.admin = admin;
            let factor = if admin {
                self.limits.admin_multiplier
            } else {
                1
            };
            (self.requests, self.bytes) = Self::buckets(&self.limits, factor, now);
        }
    }

    /// Charges one request of `frame_len` bytes, arriving at `now`: when
    /// it may be carried out, or that the client is too far behind.
    pub fn check(&mut self, frame_len: usize, now: Instant) -> Verdict {
        self.requests.refill(now);
        self.bytes.refill(now);
        let cost = frame_len as f64;
        let wait = self.requests.wait_for(1.0).max(self.bytes.wait_for(cost));
        if wait > self.limits.max_lag {
            return Verdict::Disconnect;
        }
        self.requests.take(1.0);
        self.bytes.take(cost);
        if wait.is_zero() {
            Verdict::Allow
        } else {
            Verdict::Delay(now + wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            requests_per_sec: 10,
            request_burst: 20,
            bytes_per_sec: 1000,
            byte_burst: 2000,
            max_lag: Duration::from_secs(1),
            admin_multiplier: 4,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_burst_passes_then_requests_are_delayed_to_the_rate_then_cut_off() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        for _ in 0..20 {
            assert_eq!(limiter.check(10, t0), Verdict::Allow);
        }
        // One token per 100 ms: each further request waits one more step.
        for i in 1..=10 {
            assert_eq!(limiter.check(10, t0), Verdict::Delay(t0 + ms(100 * i)));
        }
        // One more would wait 1.1 s, over max_lag.
        assert_eq!(limiter.check(10, t0), Verdict::Disconnect);
    }

    #[test]
    fn a_client_that_keeps_to_the_rate_is_never_delayed_for_long() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        for _ in 0..20 {
            limiter.check(10, t0);
        }
        // At the sustained rate, each request waits for its own token only.
        for i in 1..=100 {
            let now = t0 + ms(100 * i);
            assert_eq!(limiter.check(10, now), Verdict::Allow, "request {i}");
        }
        // Quiet for a while: the burst is back.
        let later = t0 + Duration::from_secs(20);
        for _ in 0..20 {
            assert_eq!(limiter.check(10, later), Verdict::Allow);
        }
    }

    #[test]
    fn bytes_are_limited_too() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        assert_eq!(limiter.check(1500, t0), Verdict::Allow);
        // 600 bytes with 500 left: 100 bytes at 1000/s.
        assert_eq!(limiter.check(600, t0), Verdict::Delay(t0 + ms(100)));
        // 2000 more would need 2.1 s.
        assert_eq!(limiter.check(2000, t0), Verdict::Disconnect);
    }

    #[test]
    fn administrators_get_the_multiplier_and_zero_turns_a_bucket_off() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        limiter.set_admin(true, t0);
        for _ in 0..80 {
            assert_eq!(limiter.check(10, t0), Verdict::Allow);
        }
        assert!(matches!(limiter.check(10, t0), Verdict::Delay(_)));

        let mut limiter = RateLimiter::new(RateLimits::OFF, t0);
        for _ in 0..10_000 {
            assert_eq!(limiter.check(8192, t0), Verdict::Allow);
        }
    }
}
