//! Graceful shutdown: one token that every connection loop and the accept
//! loop watch, and the deadline by which everything must be closed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chinwag_proto::server::Timestamp;
use tokio_util::sync::CancellationToken;

pub struct Shutdown {
    token: CancellationToken,
    /// Mirrors the token for [`Shutdown::is_triggered`]: a plain load,
    /// where asking the token takes its (process-wide) lock.
    triggered: AtomicBool,
    grace: Duration,
    reason: Mutex<Option<String>>,
}

impl Shutdown {
    pub fn new(grace: Duration) -> Shutdown {
        Shutdown {
            token: CancellationToken::new(),
            triggered: AtomicBool::new(false),
            grace,
            reason: Mutex::new(None),
        }
    }

    /// Marks the shutdown as started. Returns `false` if it already was, so
    /// only the first caller announces it.
    pub fn begin(&self, reason: &str) -> bool {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason.to_owned());
        true
    }

    /// Tells every loop to wind down. Call after announcing.
    pub fn trigger(&self) {
        self.triggered.store(true, Ordering::Release);
        self.token.cancel();
    }

    /// Whether [`Shutdown::trigger`] was called; cheap enough for every turn
    /// of a connection loop.
    pub fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::Acquire)
    }

    pub fn is_started(&self) -> bool {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The wall-clock deadline announced to clients.
    pub fn deadline(&self) -> Timestamp {
        Timestamp(Timestamp::now().0 + self.grace.as_millis() as u64)
    }

    pub async fn wait(&self) {
        self.token.cancelled().await
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}
