//! Flood control: a token bucket per connection on requests and on bytes.
//!
//! Each request costs one request token and its frame's length in byte
//! tokens. A request that finds a bucket empty is refused with RateLimited
//! ("slow down") and counts a strike; a client that collects
//! `max_strikes` strikes without slowing down enough for its buckets to
//! refill halfway is disconnected. Administrators get `admin_multiplier`
//! times the rate and burst. Time is passed in, so this is tested without
//! sleeping.

use std::time::Instant;

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
    /// Refused requests tolerated before the connection is closed.
    pub max_strikes: u32,
    /// Administrators' rates and bursts are this many times larger.
    pub admin_multiplier: u32,
}

impl RateLimits {
    /// Generous for a person or a bot, and 7 times what each connection of
    /// the 100-pair benchmark sends (about 2 900 requests/s on 2 cores);
    /// still stops one connection from taking the whole server (one
    /// unlimited connection can send over 200 000 requests/s).
    pub const DEFAULT: RateLimits = RateLimits {
        requests_per_sec: 20_000,
        request_burst: 40_000,
        bytes_per_sec: 32 * 1024 * 1024,
        byte_burst: 64 * 1024 * 1024,
        max_strikes: 1_000,
        admin_multiplier: 10,
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
            "rate_strikes",
            rate.max_strikes: u32,
            "N",
            "Requests refused with RateLimited before the connection is closed"
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
    /// Refuse it with RateLimited; the connection goes on.
    SlowDown,
    /// The client kept going: refuse it and close the connection.
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

    fn has(&self, cost: f64) -> bool {
        self.off() || self.tokens >= cost
    }

    fn take(&mut self, cost: f64) {
        if !self.off() {
            self.tokens -= cost;
        }
    }

    fn half_full(&self) -> bool {
        self.off() || self.tokens >= self.burst / 2.0
    }
}

/// One connection's buckets and strikes.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    requests: Bucket,
    bytes: Bucket,
    strikes: u32,
    admin: bool,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, now: Instant) -> RateLimiter {
        let (requests, bytes) = Self::buckets(&limits, 1, now);
        RateLimiter {
            limits,
            requests,
            bytes,
            strikes: 0,
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

    /// Charges one request of `frame_len` bytes.
    pub fn check(&mut self, frame_len: usize, now: Instant) -> Verdict {
        self.requests.refill(now);
        self.bytes.refill(now);
        let cost = frame_len as f64;
        if self.requests.has(1.0) && self.bytes.has(cost) {
            self.requests.take(1.0);
            self.bytes.take(cost);
            if self.strikes > 0 && self.requests.half_full() && self.bytes.half_full() {
                // The client slowed down: forgive.
                self.strikes = 0;
            }
            return Verdict::Allow;
        }
        self.strikes += 1;
        if self.strikes >= self.limits.max_strikes {
            Verdict::Disconnect
        } else {
            Verdict::SlowDown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> RateLimits {
        RateLimits {
            requests_per_sec: 10,
            request_burst: 20,
            bytes_per_sec: 1000,
            byte_burst: 2000,
            max_strikes: 5,
            admin_multiplier: 4,
        }
    }

    #[test]
    fn allows_the_burst_then_slows_down_then_disconnects() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        for _ in 0..20 {
            assert_eq!(limiter.check(10, t0), Verdict::Allow);
        }
        for _ in 0..4 {
            assert_eq!(limiter.check(10, t0), Verdict::SlowDown);
        }
        assert_eq!(limiter.check(10, t0), Verdict::Disconnect);
    }

    #[test]
    fn refills_at_the_rate_and_forgives_a_client_that_slows_down() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        for _ in 0..20 {
            limiter.check(10, t0);
        }
        assert_eq!(limiter.check(10, t0), Verdict::SlowDown);
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(limiter.check(10, t1), Verdict::Allow, "one token per 100ms");
        assert_eq!(limiter.check(10, t1), Verdict::SlowDown);
        // Quiet long enough to refill halfway: strikes are forgiven.
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(limiter.check(10, t2), Verdict::Allow);
        for _ in 0..19 {
            limiter.check(10, t2);
        }
        for _ in 0..4 {
            assert_eq!(limiter.check(10, t2), Verdict::SlowDown);
        }
        assert_eq!(limiter.check(10, t2), Verdict::Disconnect);
    }

    #[test]
    fn bytes_are_limited_too() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        assert_eq!(limiter.check(1500, t0), Verdict::Allow);
        assert_eq!(limiter.check(600, t0), Verdict::SlowDown);
        assert_eq!(limiter.check(500, t0), Verdict::Allow);
    }

    #[test]
    fn administrators_get_the_multiplier_and_zero_turns_a_bucket_off() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(limits(), t0);
        limiter.set_admin(true, t0);
        for _ in 0..80 {
            assert_eq!(limiter.check(10, t0), Verdict::Allow);
        }
        assert_eq!(limiter.check(10, t0), Verdict::SlowDown);

        let off = RateLimits {
            requests_per_sec: 0,
            bytes_per_sec: 0,
            ..limits()
        };
        let mut limiter = RateLimiter::new(off, t0);
        for _ in 0..10_000 {
            assert_eq!(limiter.check(8192, t0), Verdict::Allow);
        }
    }
}
