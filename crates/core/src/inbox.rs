//! A logged-in account's offline queue, as its session works through it.
//!
//! The session fetches a batch of waiting messages (id above
//! [`Inbox::last_sent`]) and hands them to its driver; once the socket has
//! taken every byte up to the last of them, the driver says so and the
//! store learns they are delivered. A message therefore leaves the queue only after it was
//! handed to the socket: a connection that drops earlier leaves it for the
//! next login. Fetching by id keeps a batch from being written twice while
//! the store has not yet heard that it was delivered.

use std::sync::Arc;

use chinwag_proto::NameKey;
use chinwag_proto::server::MessageId;
use tokio::sync::Notify;

/// Messages fetched at once.
pub const BATCH: u32 = 256;

pub struct Inbox {
    pub user: NameKey,
    /// Woken when a message is queued while the user is online.
    pub wake: Arc<Notify>,
    /// The newest queued message written to the socket buffer.
    pub last_sent: MessageId,
    /// A fetch should be started.
    pub wanted: bool,
}

impl Inbox {
    /// A fresh login: fetch at once, skipping what this process already
    /// delivered.
    pub fn new(user: NameKey, wake: Arc<Notify>, delivered: MessageId) -> Inbox {
        Inbox {
            user,
            wake,
            last_sent: delivered,
            wanted: true,
        }
    }
}
