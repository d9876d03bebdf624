//! What a request must pass before the router sees it: the connection's
//! flood control (which may delay it), and a cap on REGISTER attempts (a client cycling through
//! names, or retrying a taken one in a loop, is told once and then closed).
//!
//! Kept apart from the router's preconditions (`cmd::need`): those are
//! about *who* may do what; this is about *how much*.

use std::time::Instant;

use chinwag_proto::{ErrorCode, Request};

use crate::error::CmdError;
use crate::ratelimit::{RateLimiter, RateLimits, Verdict};

/// What the session does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Hand it to the router.
    Pass,
    /// Hand it to the router at this time, not before (flood control).
    Delay(Instant),
    /// Answer it with this error, then close the connection.
    Close(CmdError, &'static str),
}

/// One connection's guard.
#[derive(Debug)]
pub struct Guard {
    rate: RateLimiter,
    register_attempts: u32,
    max_register_attempts: u32,
}

impl Guard {
    pub fn new(limits: RateLimits, max_register_attempts: u32, now: Instant) -> Guard {
        Guard {
            rate: RateLimiter::new(limits, now),
            register_attempts: 0,
            max_register_attempts,
        }
    }

    /// Checks one request of `frame_len` bytes from a sender who is (or is
    /// not) an administrator.
    pub fn admit(&mut self, req: &Request, frame_len: usize, admin: bool, now: Instant) -> Admit {
        self.rate.set_admin(admin, now);
        let admitted = match self.rate.check(frame_len, now) {
            Verdict::Allow => Admit::Pass,
            Verdict::Delay(until) => Admit::Delay(until),
            Verdict::Disconnect => {
                return Admit::Close(
                    CmdError::new(
                        ErrorCode::RateLimited,
                        "excess flood: you kept sending much faster than this server allows; \
                         closing",
                    ),
                    "rate limit",
                );
            }
        };
        if matches!(req, Request::Register(_)) {
            self.register_attempts += 1;
            if self.register_attempts > self.max_register_attempts {
                return Admit::Close(
                    CmdError::new(
                        ErrorCode::TooManyAttempts,
                        format!(
                            "more than {} REGISTER attempts on one connection; closing",
                            self.max_register_attempts
                        ),
                    ),
                    "register storm",
                );
            }
        }
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chinwag_proto::request::Register;

    fn register() -> Request {
        Request::Register(Register {
            name: "x".into(),
            ip: "".into(),
            port: 0,
            password: "".into(),
            take_offline: true,
            multi_session: false,
        })
    }

    #[test]
    fn register_attempts_are_capped() {
        let now = Instant::now();
        let mut guard = Guard::new(RateLimits::OFF, 3, now);
        for _ in 0..3 {
            assert_eq!(guard.admit(&register(), 20, false, now), Admit::Pass);
        }
        assert_eq!(guard.admit(&Request::Ping, 9, false, now), Admit::Pass);
        match guard.admit(&register(), 20, false, now) {
            Admit::Close(error, _) => assert_eq!(error.code, ErrorCode::TooManyAttempts),
            other => panic!("expected Close, got {other:?}"),
        }
    }

    #[test]
    fn flood_control_delays_then_closes() {
        let now = Instant::now();
        let limits = RateLimits {
            requests_per_sec: 1,
            request_burst: 1,
            max_lag: std::time::Duration::from_secs(1),
            ..RateLimits::DEFAULT
        };
        let mut guard = Guard::new(limits, 10, now);
        assert_eq!(guard.admit(&Request::Ping, 9, false, now), Admit::Pass);
        assert_eq!(
            guard.admit(&Request::Ping, 9, false, now),
            Admit::Delay(now + std::time::Duration::from_secs(1))
        );
        assert!(matches!(
            guard.admit(&Request::Ping, 9, false, now),
            Admit::Close(
                CmdError {
                    code: ErrorCode::RateLimited,
                    ..
                },
                _
            )
        ));
    }
}
