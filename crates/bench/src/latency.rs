//! Latency histograms (HdrHistogram, microseconds, 3 significant digits)
//! and the summary every report carries.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly: one minute. Longer ones are clamped
/// to it (and a run that slow has failed its timeout anyway).
const MAX_US: u64 = 60_000_000;

#[derive(Clone, Debug)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            // Bounds are constants that hdrhistogram accepts.
            hist: Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds"),
        }
    }
}

impl Latency {
    pub fn record(&mut self, latency: Duration) {
        self.record_ns(latency.as_nanos() as u64);
    }

    pub fn record_ns(&mut self, ns: u64) {
        let us = ns.div_ceil(1000).clamp(1, MAX_US);
        // Cannot fail: the value is within the bounds.
        let _ = self.hist.record(us);
    }

    pub fn merge(&mut self, other: &Latency) {
        // Cannot fail: both histograms have the same bounds.
        let _ = self.hist.add(&other.hist);
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn summary(&self) -> LatencySummary {
        let q = |q: f64| {
            if self.hist.is_empty() {
                0
            } else {
                self.hist.value_at_quantile(q)
            }
        };
        LatencySummary {
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: self.hist.max(),
            mean_us: if self.hist.is_empty() {
                0.0
            } else {
                (self.hist.mean() * 10.0).round() / 10.0
            },
        }
    }
}

/// Percentiles in microseconds; all zero when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} p90 {} p99 {} p99.9 {} max {} (mean {})",
            us(self.p50_us),
            us(self.p90_us),
            us(self.p99_us),
            us(self.p999_us),
            us(self.max_us),
            us(self.mean_us.round() as u64)
        )
    }
}

/// "850µs", "1.25ms", "2.00s".
pub fn us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_and_merges() {
        let mut a = Latency::default();
        for ms in 1..=100 {
            a.record(Duration::from_millis(ms));
        }
        let mut b = Latency::default();
        b.record(Duration::from_secs(3600));
        a.merge(&b);
        let s = a.summary();
        assert_eq!(a.count(), 101);
        assert!((50_000..=51_100).contains(&s.p50_us), "{s:?}");
        assert!(s.max_us >= MAX_US - MAX_US / 1000, "clamped: {s:?}");
        assert_eq!(Latency::default().summary(), LatencySummary::default());
        assert_eq!(us(850), "850µs");
        assert_eq!(us(1250), "1.25ms");
    }
}
