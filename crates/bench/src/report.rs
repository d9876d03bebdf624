//! What a run reports: one JSON object (with `--json`) or a few human
//! lines, plus the server's memory and CPU when its PID is known.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::sys;

/// The report of one run of one workload.
#[derive(Debug)]
pub struct Report {
    pub workload: &'static str,
    pub run: u32,
    pub params: Value,
    /// The workload's own figures (an object).
    pub result: Value,
    pub server: Option<ServerUsage>,
    /// The human-readable summary, without the server line.
    pub summary: String,
    /// Nothing was lost and nothing failed.
    pub ok: bool,
    /// The main throughput figure, for the median over runs.
    pub rate: f64,
    pub rate_unit: &'static str,
    pub p99_us: u64,
}

impl Report {
    /// `{"workload", "run", "params", ...the result's fields, "server"}`.
    pub fn json(&self) -> Value {
        let mut object = Map::new();
        object.insert("workload".into(), self.workload.into());
        object.insert("run".into(), self.run.into());
        object.insert("params".into(), self.params.clone());
        if let Value::Object(fields) = &self.result {
            object.extend(fields.clone());
        }
        object.insert(
            "server".into(),
            serde_json::to_value(&self.server).unwrap_or(Value::Null),
        );
        Value::Object(object)
    }

    pub fn human(&self) -> String {
        let mut text = format!("{} run {}: {}", self.workload, self.run, self.summary);
        if let Some(server) = &self.server {
            text.push_str(&format!("\n  {server}"));
        }
        text
    }
}

/// The server process's use of memory and CPU during a run.
#[derive(Clone, Debug, Serialize)]
pub struct ServerUsage {
    pub pid: u32,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    pub cpu_secs: f64,
    /// CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
}

impl std::fmt::Display for ServerUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server pid {}: {:.2}s CPU ({:.0}% of one core), RSS {} -> {}",
            self.pid,
            self.cpu_secs,
            self.cpu_percent,
            mib(self.rss_before_bytes),
            mib(self.rss_after_bytes)
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Reads the server's memory and CPU time at the start of a run.
pub struct ServerProbe {
    pid: u32,
    rss_before: u64,
    cpu_before: Duration,
    started: Instant,
}

impl ServerProbe {
    pub fn start(pid: Option<u32>) -> anyhow::Result<Option<ServerProbe>> {
        let Some(pid) = pid else { return Ok(None) };
        Ok(Some(ServerProbe {
            pid,
            rss_before: sys::rss_bytes(pid)?,
            cpu_before: sys::cpu_time(pid)?,
            started: Instant::now(),
        }))
    }

    pub fn rss_before(&self) -> u64 {
        self.rss_before
    }

    /// Reads them again at the end of the run.
    pub fn finish(self) -> anyhow::Result<ServerUsage> {
        let wall = self.started.elapsed();
        let cpu = sys::cpu_time(self.pid)?.saturating_sub(self.cpu_before);
        Ok(ServerUsage {
            pid: self.pid,
            rss_before_bytes: self.rss_before,
            rss_after_bytes: sys::rss_bytes(self.pid)?,
            cpu_secs: crate::flow::round3(cpu.as_secs_f64()),
            cpu_percent: if wall.is_zero() {
                0.0
            } else {
                (cpu.as_secs_f64() / wall.as_secs_f64() * 1000.0).round() / 10.0
            },
        })
    }
}

/// The median of the runs' main figures, for a closing human line.
pub fn median_line(reports: &[Report]) -> Option<String> {
    let first = reports.first()?;
    if reports.len() < 2 {
        return None;
    }
    let mut rates: Vec<f64> = reports.iter().map(|r| r.rate).collect();
    let mut p99s: Vec<u64> = reports.iter().map(|r| r.p99_us).collect();
    rates.sort_by(f64::total_cmp);
    p99s.sort_unstable();
    Some(format!(
        "{} median of {} runs: {:.0} {}, p99 {}",
        first.workload,
        reports.len(),
        median(&rates),
        first.rate_unit,
        crate::latency::us(p99s[p99s.len() / 2])
    ))
}

fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(rate: f64, p99_us: u64) -> Report {
        Report {
            workload: "dm",
            run: 1,
            params: serde_json::json!({"pairs": 2}),
            result: serde_json::json!({"delivered": 10, "lost": 0}),
            server: None,
            summary: String::new(),
            ok: true,
            rate,
            rate_unit: "msgs/s",
            p99_us,
        }
    }

    #[test]
    fn json_flattens_the_result() {
        let json = report(1.0, 5).json();
        assert_eq!(json["workload"], "dm");
        assert_eq!(json["params"]["pairs"], 2);
        assert_eq!(json["delivered"], 10);
        assert_eq!(json["server"], Value::Null);
    }

    #[test]
    fn median_of_runs() {
        assert_eq!(median_line(&[report(1.0, 5)]), None);
        let line = median_line(&[report(3.0, 9), report(1.0, 5), report(2.0, 7)]).unwrap();
        assert_eq!(line, "dm median of 3 runs: 2 msgs/s, p99 7µs");
    }
}
