//! `chinwag-bench`: drives a running `chinwagd` over loopback with the
//! client library and measures it.
//!
//! - [`cli`]: the command line (options shared by every workload).
//! - [`workload`]: one file per workload (`idle`, `dm`, `broadcast`,
//!   `room`, `history`, `failover`); a new
//!   workload is a new file there and one line in its `Workload` enum.
//! - [`flow`]: the message engine the message workloads share: windowed or
//!   paced senders, receivers that time every delivery, and honest loss
//!   accounting after a drain deadline.
//! - [`fleet`]: opens and registers many connections from several
//!   127.0.0.x source addresses.
//! - [`stamp`]: the send timestamp carried inside each message's text.
//! - [`latency`], [`report`]: histograms, and the human and JSON output.
//! - [`target`], [`sys`]: loopback-only server addresses; the file limit,
//!   and a process's memory and CPU time from `/proc`.

pub mod cli;
pub mod fleet;
pub mod flow;
pub mod latency;
pub mod report;
pub mod stamp;
pub mod sys;
pub mod target;
pub mod workload;
