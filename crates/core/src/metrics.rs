//! Counters of what the server did, served on `/metrics` by
//! `chinwag-server`.
//!
//! Plain relaxed atomics: each counter is independent and only ever read
//! for reporting, so no ordering between them is needed.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use chinwag_proto::ErrorCode;
use dashmap::DashMap;

/// The server's counters. Every field counts since start-up.
#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_accepted: Counter,
    /// Refused at the door: over the total or per-address limit.
    pub connections_refused: Counter,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter,
    pub bytes_in: Counter,
    /// Frames refused by the decoder (bad length, bad body, unknown type).
    pub frames_rejected: Counter,
    /// Requests delayed by flood control.
    pub rate_limited: Counter,
    /// Connections closed for going on past the rate limit.
    pub rate_limit_disconnects: Counter,
    /// Connections closed because their outbound queue overflowed.
    pub slow_consumer_disconnects: Counter,
    /// Slow readers switched to catch-up instead of being disconnected.
    pub catch_ups: Counter,
    /// Messages dropped from slow readers' queues when they were switched
    /// to catch-up, for them to read from history.
    pub catch_up_dropped: Counter,
    /// Wrong passwords (ADMIN, and accounts once they exist).
    pub failed_logins: Counter,
    /// ERROR frames sent, by code.
    errors: DashMap<u16, Counter>,
}

/// One monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Metrics {
    /// Counts one ERROR frame sent with `code`.
    pub fn error_sent(&self, code: ErrorCode) {
        let code = code.as_u16();
        // The read path takes only a shard's read lock; the entry is
        // created once per code.
        if let Some(counter) = self.errors.get(&code) {
            counter.inc();
            return;
        }
        self.errors.entry(code).or_default().inc();
    }

    /// How many ERROR frames with `code` were sent.
    pub fn errors_sent(&self, code: ErrorCode) -> u64 {
        self.errors.get(&code.as_u16()).map_or(0, |c| c.get())
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, open_connections: usize, online_users: usize) -> String {
        let mut out = String::with_capacity(4096);
        let counters: [(&str, &str, &Counter); 13] = [
            (
                "connections_accepted_total",
                "Connections accepted.",
                &self.connections_accepted,
            ),
            (
                "connections_refused_total",
                "Connections refused at a connection limit.",
                &self.connections_refused,
            ),
            (
                "tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &self.tls_handshake_failures,
            ),
            ("frames_in_total", "Frames received.", &self.frames_in),
            ("frames_out_total", "Frames sent.", &self.frames_out),
            (
                "bytes_in_total",
                "Bytes of frames received.",
                &self.bytes_in,
            ),
            (
                "frames_rejected_total",
                "Frames the decoder refused.",
                &self.frames_rejected,
            ),
            (
                "rate_limited_total",
                "Requests delayed by flood control.",
                &self.rate_limited,
            ),
            (
                "rate_limit_disconnects_total",
                "Connections closed for exceeding the rate limit.",
                &self.rate_limit_disconnects,
            ),
            (
                "slow_consumer_disconnects_total",
                "Connections closed because they did not read fast enough.",
                &self.slow_consumer_disconnects,
            ),
            (
                "catch_ups_total",
                "Slow readers switched to catch-up from history instead of disconnected.",
                &self.catch_ups,
            ),
            (
                "catch_up_dropped_total",
                "Queued messages dropped when slow readers were switched to catch-up.",
                &self.catch_up_dropped,
            ),
            (
                "failed_logins_total",
                "Wrong passwords.",
                &self.failed_logins,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP chinwag_{name} {help}");
            let _ = writeln!(out, "# TYPE chinwag_{name} counter");
            let _ = writeln!(out, "chinwag_{name} {}", counter.get());
        }
        for (name, help, value) in [
            (
                "connections_open",
                "Connections open now.",
                open_connections,
            ),
            ("users_online", "Registered users online now.", online_users),
        ] {
            let _ = writeln!(out, "# HELP chinwag_{name} {help}");
            let _ = writeln!(out, "# TYPE chinwag_{name} gauge");
            let _ = writeln!(out, "chinwag_{name} {value}");
        }
        let mut errors: Vec<(u16, u64)> = self
            .errors
            .iter()
            .map(|entry| (*entry.key(), entry.value().get()))
            .collect();
        errors.sort_unstable();
        out.push_str("# HELP chinwag_errors_sent_total ERROR frames sent, by code.\n");
        out.push_str("# TYPE chinwag_errors_sent_total counter\n");
        for (code, count) in errors {
            let name = ErrorCode::from_u16(code).name();
            let _ = writeln!(
                out,
                "chinwag_errors_sent_total{{code=\"{code}\",name=\"{name}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_errors_by_code() {
        let metrics = Metrics::default();
        metrics.connections_accepted.add(3);
        metrics.error_sent(ErrorCode::RateLimited);
        metrics.error_sent(ErrorCode::RateLimited);
        metrics.error_sent(ErrorCode::MalformedFrame);
        let text = metrics.render(2, 1);
        assert!(text.contains("chinwag_connections_accepted_total 3\n"));
        assert!(text.contains("chinwag_connections_open 2\n"));
        assert!(text.contains("chinwag_users_online 1\n"));
        assert!(text.contains("chinwag_errors_sent_total{code=\"400\",name=\"RateLimited\"} 2\n"));
        let malformed = text.find("code=\"100\"").unwrap();
        let limited = text.find("code=\"400\"").unwrap();
        assert!(malformed < limited, "codes are sorted");
        assert_eq!(metrics.errors_sent(ErrorCode::RateLimited), 2);
    }
}
