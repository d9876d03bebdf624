//! Graceful shutdown: one token that every connection loop and the accept
//! loop watch, and the deadline by which everything must be closed.

use std::sync::Mutex;
use std::time::Duration;

use chinwag_proto::server::Timestamp;
use tokio_util::sync::CancellationToken;

pub struct Shutdown {
    token: CancellationToken,
    grace: Duration,
    reason: Mutex<Option<String>>,
}

impl Shutdown {
    pub fn new(grace: Duration) -> Shutdown {
        Shutdown {
            token: CancellationToken::new(),
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
        self.token.cancel();
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
