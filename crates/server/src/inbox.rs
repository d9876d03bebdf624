//! A logged-in account's offline queue, as its session works through it.
//!
//! The session fetches a batch of waiting messages (id above
//! [`Inbox::last_sent`]), writes them to its socket buffer, and once the
//! socket has taken every byte up to the last of them, tells the store they
//! are delivered. A message therefore leaves the queue only after it was
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
    /// Once this many bytes have been written to the socket in total, the
    /// messages up to this id are delivered.
    pub unacked: Option<(u64, MessageId)>,
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
            unacked: None,
        }
    }

    /// The delivered mark to record after `written` bytes went out, if it
    /// is due.
    pub fn take_due(&mut self, written: u64) -> Option<MessageId> {
        match self.unacked {
            Some((mark, id)) if written >= mark => {
                self.unacked = None;
                Some(id)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledges_only_once_the_bytes_are_out() {
        let key = NameKey::fold("bob").unwrap();
        let mut inbox = Inbox::new(key, Arc::new(Notify::new()), MessageId(0));
        assert_eq!(inbox.take_due(1_000), None);
        inbox.unacked = Some((500, MessageId(7)));
        assert_eq!(inbox.take_due(499), None);
        assert_eq!(inbox.take_due(500), Some(MessageId(7)));
        assert_eq!(inbox.take_due(10_000), None, "once");
    }
}
