//! The message engine shared by the message workloads.
//!
//! Each sender sends `messages` stamped texts along its [`Route`] (a direct
//! message, a broadcast, later a room). At most `window` of its messages
//! are in flight, where in flight means *sent and not yet received by every
//! recipient*: the window is end to end, so the benchmark never outruns
//! its own receivers and measures the server's throughput rather than how
//! deep its queues are. With a rate, sends are paced on a fixed schedule.
//!
//! Every receiver checks each delivery off in the [`Tracker`] (one counter
//! per message), records its one-way latency, and returns the sender's
//! window credit once the message reached all of its recipients. After the
//! senders finish, the run waits until everything expected has arrived or
//! the drain deadline passes; `lost` is what is still missing then.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chinwag_client::{Client, ClientError, Event, Events};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::latency::{Latency, LatencySummary};
use crate::stamp::{Clock, Stamp};

/// How one sender's messages reach their recipients.
pub trait Route: Send + Sync + 'static {
    /// Sends `text`; the result is how many recipients the server says it
    /// handed the message to.
    fn send(
        &self,
        client: &Client,
        text: &str,
    ) -> impl Future<Output = Result<u32, ClientError>> + Send;
}

/// One sender: its connection, its route, and how many deliveries each of
/// its messages should make.
pub struct Sender<R> {
    pub client: Client,
    pub route: R,
    pub fanout: u32,
}

/// The shape of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Messages per sender.
    pub messages: u64,
    /// Bytes per message text.
    pub size: usize,
    /// Messages in flight per sender.
    pub window: usize,
    /// Total messages per second across all senders; `None`: as fast as
    /// the window allows.
    pub rate: Option<f64>,
    /// Stop sending at this point, whatever is left.
    pub deadline: Instant,
    /// How long to wait, after the last send, for deliveries still on
    /// their way.
    pub drain: Duration,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct FlowResult {
    /// Deliveries planned: messages × recipients.
    pub expected: u64,
    /// Deliveries received (each message counted once per recipient).
    pub delivered: u64,
    pub delivered_per_sec: f64,
    /// `expected - delivered` after the drain deadline.
    pub lost: u64,
    /// Messages sent.
    pub sent: u64,
    pub sent_per_sec: f64,
    /// Sends the server refused, and the first such error.
    pub send_errors: u64,
    pub first_error: Option<String>,
    /// SENT replies whose recipient count was not the expected fan-out
    /// (other users online, or a recipient's queue refused it).
    pub recipients_mismatch: u64,
    /// Deliveries of a message beyond its recipient count.
    pub duplicates: u64,
    /// Receivers whose connection ended during the run, and why (first).
    pub closed_receivers: u64,
    pub close_reason: Option<String>,
    /// The run hit its deadline before every message was sent.
    pub timed_out: bool,
    /// From the first send to the last delivery.
    pub elapsed_secs: f64,
    /// CPU time the benchmark itself used meanwhile: when it nears
    /// `elapsed_secs` × cores, the load generator is the bottleneck.
    pub bench_cpu_secs: f64,
    #[serde(flatten)]
    pub latency: LatencySummary,
}

/// Counts deliveries per message and hands window credits back.
struct Tracker {
    senders: Vec<SenderSlot>,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    last_delivery_ns: AtomicU64,
    /// Notices seen by receivers, to wait for set-up chatter to settle.
    notices: AtomicU64,
}

struct SenderSlot {
    fanout: u32,
    /// Deliveries so far of each of this sender's messages, by sequence.
    received: Box<[AtomicU32]>,
    /// The sender's window: one permit per message it may have in flight.
    credits: Semaphore,
}

impl Tracker {
    /// Checks off one delivery; `false` for a stamp that is not one of ours
    /// or a duplicate.
    fn deliver(&self, stamp: Stamp, now_ns: u64) -> bool {
        let Some(slot) = self.senders.get(stamp.sender as usize) else {
            return false;
        };
        let Some(count) = slot.received.get(stamp.seq as usize) else {
            return false;
        };
        let seen = count.fetch_add(1, Ordering::Relaxed) + 1;
        if seen > slot.fanout {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
        if seen == slot.fanout {
            slot.credits.add_permits(1);
        }
        true
    }
}

/// A run whose receivers are listening and whose set-up has settled,
/// ready to start sending.
pub struct Flow<R> {
    senders: Vec<Sender<R>>,
    receiving: Vec<tokio::task::JoinHandle<ReceiveOutcome>>,
    tracker: Arc<Tracker>,
    clock: Clock,
    stop: CancellationToken,
    expected: u64,
    plan: Plan,
}

impl<R: Route> Flow<R> {
    /// Starts receiving on `receivers` (the event streams of every
    /// connection that should receive something) and waits until the join
    /// notices of the set-up phase have stopped arriving, so that they are
    /// not counted against the run.
    pub async fn prepare(senders: Vec<Sender<R>>, receivers: Vec<Events>, plan: Plan) -> Flow<R> {
        let clock = Clock::start();
        let tracker = Arc::new(Tracker {
            senders: senders
                .iter()
                .map(|s| SenderSlot {
                    fanout: s.fanout,
                    received: (0..plan.messages).map(|_| AtomicU32::new(0)).collect(),
                    credits: Semaphore::new(plan.window.max(1)),
                })
                .collect(),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
            notices: AtomicU64::new(0),
        });
        let expected = senders
            .iter()
            .map(|s| plan.messages * u64::from(s.fanout))
            .sum();
        let stop = CancellationToken::new();
        let receiving = receivers
            .into_iter()
            .map(|events| tokio::spawn(receive(events, Arc::clone(&tracker), clock, stop.clone())))
            .collect();
        settle(&tracker).await;
        Flow {
            senders,
            receiving,
            tracker,
            clock,
            stop,
            expected,
            plan,
        }
    }

    /// The connection of sender `index`, for requests before the run
    /// starts (its events are being drained, so replies get through).
    pub fn sender_client(&self, index: usize) -> Option<&Client> {
        self.senders.get(index).map(|s| &s.client)
    }

    /// Sends everything, drains, and measures.
    pub async fn run(self) -> FlowResult {
        let Flow {
            senders,
            receiving,
            tracker,
            clock,
            stop,
            expected,
            plan,
        } = self;
        let own_cpu = || crate::sys::cpu_time(std::process::id()).unwrap_or_default();
        let cpu_before = own_cpu();
        let start_ns = clock.now_ns();
        let pace = plan.rate.map(|rate| {
            // Each sender sends every `interval`; senders are staggered across
            // the interval so that the total is smooth.
            let interval = (senders.len() as f64 / rate * 1e9) as u64;
            (interval.max(1), senders.len() as u64)
        });
        let sending: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(index, sender)| {
                let first_ns = match pace {
                    Some((interval, n)) => start_ns + interval * index as u64 / n,
                    None => start_ns,
                };
                let job = SendJob {
                    index,
                    first_ns,
                    interval_ns: pace.map(|(interval, _)| interval),
                    clock,
                    tracker: Arc::clone(&tracker),
                    plan: plan.clone(),
                };
                tokio::spawn(job.run(sender))
            })
            .collect();

        let mut sent = 0;
        let mut recipients_mismatch = 0;
        let mut send_errors = 0;
        let mut first_error = None;
        let mut timed_out = false;
        for job in sending {
            let outcome = job
                .await
                .unwrap_or_else(|e| SendOutcome::failed(e.to_string()));
            sent += outcome.sent;
            recipients_mismatch += outcome.recipients_mismatch;
            send_errors += outcome.errors;
            timed_out |= outcome.timed_out;
            if first_error.is_none() {
                first_error = outcome.first_error;
            }
        }
        let sending_done_ns = clock.now_ns();

        // Drain: wait for what is still on its way, up to the deadline.
        let drain_until = Instant::now() + plan.drain;
        while tracker.delivered.load(Ordering::Acquire) < expected && Instant::now() < drain_until {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.cancel();
        let mut latency = Latency::default();
        let mut closed_receivers = 0;
        let mut close_reason = None;
        for task in receiving {
            match task.await {
                Ok(outcome) => {
                    latency.merge(&outcome.latency);
                    if let Some(reason) = outcome.closed {
                        closed_receivers += 1;
                        close_reason.get_or_insert(reason);
                    }
                }
                Err(error) => {
                    closed_receivers += 1;
                    close_reason.get_or_insert(error.to_string());
                }
            }
        }

        let delivered = tracker.delivered.load(Ordering::Acquire);
        let last_ns = tracker
            .last_delivery_ns
            .load(Ordering::Acquire)
            .max(start_ns);
        let elapsed = Duration::from_nanos(last_ns - start_ns);
        let send_elapsed = Duration::from_nanos(sending_done_ns - start_ns);
        FlowResult {
            expected,
            delivered,
            delivered_per_sec: per_sec(delivered, elapsed),
            lost: expected.saturating_sub(delivered),
            sent,
            sent_per_sec: per_sec(sent, send_elapsed),
            send_errors,
            first_error,
            recipients_mismatch,
            duplicates: tracker.duplicates.load(Ordering::Acquire),
            closed_receivers,
            close_reason,
            timed_out,
            elapsed_secs: round3(elapsed.as_secs_f64()),
            bench_cpu_secs: round3(own_cpu().saturating_sub(cpu_before).as_secs_f64()),
            latency: latency.summary(),
        }
    }
}

/// Events per second, rounded to a whole number.
pub fn per_sec(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        (count as f64 / elapsed.as_secs_f64()).round()
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Waits until no notice arrived for 100 ms (at most five seconds).
async fn settle(tracker: &Tracker) {
    for _ in 0..50 {
        let before = tracker.notices.load(Ordering::Acquire);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tracker.notices.load(Ordering::Acquire) == before {
            return;
        }
    }
}

struct ReceiveOutcome {
    latency: Latency,
    /// Why the connection ended, if it did before the run was over.
    closed: Option<String>,
}

async fn receive(
    mut events: Events,
    tracker: Arc<Tracker>,
    clock: Clock,
    stop: CancellationToken,
) -> ReceiveOutcome {
    let mut latency = Latency::default();
    let mut last_error = None;
    let closed = loop {
        // Not biased: a stream of events must not keep `stop` from being
        // seen.
        let event = tokio::select! {
            event = events.recv() => event,
            () = stop.cancelled() => break None,
        };
        match event {
            Some(Event::Message(message)) => {
                let now = clock.now_ns();
                if let Some(stamp) = Stamp::parse(&message.text)
                    && tracker.deliver(stamp, now)
                {
                    latency.record_ns(now.saturating_sub(stamp.sent_ns));
                }
            }
            Some(Event::Notice(_) | Event::RoomNotice(_) | Event::User(_) | Event::Redacted(_)) => {
                tracker.notices.fetch_add(1, Ordering::Relaxed);
            }
            Some(Event::Error { code, message }) => {
                last_error = Some(format!("{message} ({})", code.name()));
            }
            Some(Event::Closed { reason }) => {
                break Some(
                    reason
                        .or(last_error)
                        .unwrap_or_else(|| "closed by the server".into()),
                );
            }
            None => break Some("event stream ended".into()),
        }
    };
    ReceiveOutcome { latency, closed }
}

struct SendJob {
    index: usize,
    /// When the first message is due (paced runs).
    first_ns: u64,
    /// Time between two messages of this sender; `None`: unpaced.
    interval_ns: Option<u64>,
    clock: Clock,
    tracker: Arc<Tracker>,
    plan: Plan,
}

struct SendOutcome {
    sent: u64,
    recipients_mismatch: u64,
    errors: u64,
    first_error: Option<String>,
    timed_out: bool,
}

impl SendOutcome {
    fn refused(&mut self, error: &ClientError) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }

    fn failed(error: String) -> SendOutcome {
        SendOutcome {
            sent: 0,
            recipients_mismatch: 0,
            errors: 1,
            first_error: Some(error),
            timed_out: false,
        }
    }
}

impl SendJob {
    async fn run<R: Route>(self, sender: Sender<R>) -> SendOutcome {
        let slot = &self.tracker.senders[self.index];
        let Sender {
            client,
            route,
            fanout,
        } = sender;
        let mut outcome = SendOutcome {
            sent: 0,
            recipients_mismatch: 0,
            errors: 0,
            first_error: None,
            timed_out: false,
        };
        let mut in_flight = FuturesUnordered::new();
        let deadline = tokio::time::sleep_until(self.plan.deadline.into());
        tokio::pin!(deadline);
        let mut seq = 0;
        // When message `seq` became ready to go (paced runs), kept across
        // select rounds so that waiting for the window is not forgotten.
        let mut ready_ns = None;
        loop {
            if seq == self.plan.messages && in_flight.is_empty() {
                break;
            }
            tokio::select! {
                Some(result) = in_flight.next(), if !in_flight.is_empty() => match result {
                    Ok(recipients) if recipients == fanout => {}
                    Ok(recipients) => {
                        outcome.recipients_mismatch += 1;
                        // Handed to fewer connections than expected: the
                        // missing deliveries will never come, so do not
                        // wait for them to free the window.
                        if recipients < fanout {
                            slot.credits.add_permits(1);
                        }
                    }
                    Err(error) => {
                        outcome.refused(&error);
                        slot.credits.add_permits(1);
                    }
                },
                sent_ns = self.next_slot(slot, seq, &mut ready_ns), if seq < self.plan.messages => {
                    let text = Stamp { sender: self.index as u64, seq, sent_ns }.text(self.plan.size);
                    let (client, route) = (&client, &route);
                    in_flight.push(async move { route.send(client, &text).await });
                    seq += 1;
                    outcome.sent += 1;
                }
                () = &mut deadline => {
                    outcome.timed_out = true;
                    break;
                }
            }
        }
        outcome
    }

    /// Waits until message `seq` may go and returns its send timestamp.
    ///
    /// Paced runs stamp the time the message became ready to go (after the
    /// timer fired, before waiting for window room): time spent waiting
    /// for the window is the server's doing and counts as latency (no
    /// coordinated omission), while the timer's own lateness (tokio timers
    /// have a 1 ms resolution) is the benchmark's and does not.
    async fn next_slot(&self, slot: &SenderSlot, seq: u64, ready_ns: &mut Option<u64>) -> u64 {
        if let Some(interval) = self.interval_ns
            && ready_ns.is_none()
        {
            let due = self.first_ns + seq * interval;
            tokio::time::sleep_until(self.clock.instant_at(due).into()).await;
            *ready_ns = Some(self.clock.now_ns());
        }
        if let Ok(permit) = slot.credits.acquire().await {
            permit.forget();
        }
        ready_ns.take().unwrap_or_else(|| self.clock.now_ns())
    }
}
