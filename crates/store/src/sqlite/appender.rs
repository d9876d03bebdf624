//! The log thread: every write enters here, in the order it was
//! submitted. Message appends are written to the message log ([`Log`])
//! in groups, synced once per group and answered then, with their ids;
//! their rows, and every other write, go on to the writer thread in the
//! same order, so a write that follows an acknowledged append (a
//! redaction, a read's flush) always finds its row.
//!
//! While SQLite refuses the log's rows (a full disk), appends are
//! refused too: the log would otherwise grow with messages no query can
//! see. And the log never runs more than [`MAX_AHEAD`] messages ahead of
//! SQLite: when it is that far ahead it waits, so that under a load
//! SQLite cannot keep up with, the acknowledgements slow down to SQLite's
//! pace instead of the queue between them growing without end.

/// Most messages logged but not yet in SQLite.
const MAX_AHEAD: i64 = 32_768;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use super::log::{Entry, Log};
use super::writer::{Done, Job, MAX_BATCH, Op};
use crate::StoreError;

/// How far messages got: logged (durable, acknowledged) and indexed
/// (committed to SQLite, visible to queries). Shared by the store, the
/// log thread and the writer.
#[derive(Default)]
pub struct Progress {
    logged: AtomicI64,
    indexed: AtomicI64,
    /// Why SQLite last refused the log's rows, until it takes them.
    refused: Mutex<Option<StoreError>>,
    /// Signalled when `indexed` moves on.
    caught_up: Condvar,
}

impl Progress {
    /// Starts with everything up to `id` logged and indexed.
    pub fn new(id: i64) -> Progress {
        Progress {
            logged: AtomicI64::new(id),
            indexed: AtomicI64::new(id),
            refused: Mutex::new(None),
            caught_up: Condvar::new(),
        }
    }

    /// Whether some acknowledged message is not yet visible to queries.
    pub fn behind(&self) -> bool {
        self.indexed.load(Ordering::Acquire) < self.logged.load(Ordering::Acquire)
    }

    pub fn indexed(&self) -> i64 {
        self.indexed.load(Ordering::Acquire)
    }

    /// SQLite committed every message up to `id`.
    pub fn set_indexed(&self, id: i64) {
        self.indexed.fetch_max(id, Ordering::AcqRel);
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.caught_up.notify_all();
    }

    /// Waits while the log is [`MAX_AHEAD`] messages ahead of SQLite (and
    /// SQLite is taking them: refused appends are answered at once).
    fn wait_for_room(&self) {
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        while refused.is_none()
            && self.logged.load(Ordering::Acquire) - self.indexed.load(Ordering::Acquire)
                >= MAX_AHEAD
        {
            // Timed, so a missed signal costs a moment, not a hang.
            refused = self
                .caught_up
                .wait_timeout(refused, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// SQLite refused the log's rows.
    pub fn set_refused(&self, error: StoreError) {
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        self.caught_up.notify_all();
    }

    pub fn refused(&self) -> Option<StoreError> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Runs until every sender is gone or a [`Op::Close`] went through.
pub fn run(
    mut log: Log,
    mut next_id: i64,
    jobs: mpsc::Receiver<Job>,
    writer: mpsc::Sender<Job>,
    progress: Arc<Progress>,
) {
    let mut records = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        progress.wait_for_room();
        log.forget_up_to(progress.indexed());
        let closing = batch.iter().any(|job| matches!(job.op, Op::Close));
        pass(
            &mut log,
            &mut next_id,
            batch,
            &writer,
            &progress,
            &mut records,
        );
        if closing {
            break;
        }
    }
}

/// One step of the pipeline, for a group of jobs: log and sync the
/// appends, hand everything on to the writer in order, answer the
/// appends.
fn pass(
    log: &mut Log,
    next_id: &mut i64,
    batch: Vec<Job>,
    writer: &mpsc::Sender<Job>,
    progress: &Progress,
    records: &mut Vec<u8>,
) {
    let refused = progress.refused();
    let first_id = *next_id;
    records.clear();
    // The jobs in order; an append as its entry and its reply.
    let mut steps = Vec::with_capacity(batch.len());
    for job in batch {
        let entry = match job.op {
            Op::Append(message) => Entry::direct(message),
            Op::AppendRoom(message) => Entry::room(message),
            op => {
                steps.push(Step::Other(Job {
                    op,
                    reply: job.reply,
                }));
                continue;
            }
        };
        if let Some(error) = &refused {
            let _ = job.reply.send(Err(error.clone()));
            continue;
        }
        let mut entry = entry;
        entry.id = *next_id;
        *next_id += 1;
        entry.encode(records);
        steps.push(Step::Append(entry, job.reply));
    }
    let logged = if records.is_empty() {
        Ok(())
    } else {
        log.append(first_id, records)
            .map_err(|error| StoreError::Failed(format!("cannot write the message log: {error}")))
    };
    if let Err(error) = &logged {
        tracing::error!(%error, "message log write failed; the group was refused");
        *next_id = first_id;
    } else if *next_id > first_id {
        progress.logged.fetch_max(*next_id - 1, Ordering::AcqRel);
    }
    // Hand on in order (a run of appends as one job), then answer.
    let mut answers = Vec::new();
    let mut rows = Vec::new();
    for step in steps {
        match step {
            Step::Append(entry, reply) => {
                let id = entry.id;
                if logged.is_ok() {
                    rows.push(entry);
                }
                answers.push((reply, id));
            }
            Step::Other(job) => {
                hand_on_rows(writer, &mut rows);
                let _ = writer.send(job);
            }
        }
    }
    hand_on_rows(writer, &mut rows);
    for (reply, id) in answers {
        let answer = match &logged {
            Ok(()) => Ok(Done::Id(chinwag_proto::server::MessageId(id as u64))),
            Err(error) => Err(error.clone()),
        };
        // The caller may have gone away; the message stands either way.
        let _ = reply.send(answer);
    }
}

enum Step {
    Append(Entry, oneshot::Sender<Result<Done, StoreError>>),
    Other(Job),
}

/// Sends a run of logged rows to the writer, to be indexed.
fn hand_on_rows(writer: &mpsc::Sender<Job>, rows: &mut Vec<Entry>) {
    if rows.is_empty() {
        return;
    }
    // Nobody waits for the index: the append was answered from the log.
    let (reply, _) = oneshot::channel();
    let _ = writer.send(Job {
        op: Op::Index(std::mem::take(rows)),
        reply,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_waits_while_it_is_too_far_ahead_of_sqlite() {
        let progress = Arc::new(Progress::new(0));
        progress.logged.store(MAX_AHEAD, Ordering::Release);
        let (done, waited) = mpsc::channel();
        let waiter = Arc::clone(&progress);
        let thread = std::thread::spawn(move || {
            waiter.wait_for_room();
            done.send(()).unwrap();
        });
        // Still waiting while SQLite has taken nothing.
        assert!(waited.recv_timeout(Duration::from_millis(200)).is_err());
        progress.set_indexed(1);
        waited.recv_timeout(Duration::from_secs(60)).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn a_refusing_sqlite_does_not_hold_the_log_up() {
        let progress = Progress::new(0);
        progress.logged.store(MAX_AHEAD * 2, Ordering::Release);
        progress.set_refused(StoreError::Failed("disk full".into()));
        progress.wait_for_room();
        assert!(progress.refused().is_some());
    }
}
