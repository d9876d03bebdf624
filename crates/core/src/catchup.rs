//! How often a slow reader may be switched to catch-up.
//!
//! A reader whose outbound queue overflows is normally switched to
//! catch-up (see [`Outbox`](crate::outbox::Outbox)): its queued messages
//! are dropped and it reads them from history. A reader that keeps
//! overflowing cannot keep up even so, and catching it up again and again
//! would only cost the server history reads; after [`MAX_CATCH_UPS`]
//! catch-ups within [`WINDOW`] the next overflow disconnects it with
//! SlowConsumer, as a server without history would.
//!
//! The clock is passed in, so the rule is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most catch-ups a connection may start within [`WINDOW`].
pub const MAX_CATCH_UPS: usize = 3;
/// The window [`MAX_CATCH_UPS`] counts over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// When a connection's recent catch-ups started.
#[derive(Debug, Default)]
pub struct Budget {
    starts: VecDeque<Instant>,
}

impl Budget {
    /// Records a catch-up starting at `now` if the budget allows one;
    /// `false` if it is spent (the reader is to be disconnected).
    pub fn try_start(&mut self, now: Instant) -> bool {
        while self
            .starts
            .front()
            .is_some_and(|start| now.saturating_duration_since(*start) >= WINDOW)
        {
            self.starts.pop_front();
        }
        if self.starts.len() >= MAX_CATCH_UPS {
            return false;
        }
        self.starts.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_bounded_number_per_window() {
        let mut budget = Budget::default();
        let t0 = Instant::now();
        for i in 0..MAX_CATCH_UPS {
            assert!(budget.try_start(t0 + Duration::from_secs(i as u64)), "{i}");
        }
        assert!(!budget.try_start(t0 + Duration::from_secs(10)));
        // A refusal is not counted: once the first start leaves the window,
        // one more is allowed, and no more.
        assert!(budget.try_start(t0 + WINDOW));
        assert!(!budget.try_start(t0 + WINDOW));
        assert!(budget.try_start(t0 + WINDOW + Duration::from_secs(1)));
    }
}
