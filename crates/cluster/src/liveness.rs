//! Liveness: which nodes are up.
//!
//! Every node puts its id into the `chinwag_nodes` key-value bucket every
//! [`beat_interval`]; the bucket's `max_age` is the node timeout, so the
//! key of a node that stopped beating (killed, cut off) disappears by
//! itself within the timeout. The other nodes then free its users' names
//! (see [`Presence::reap`](super::presence::Presence::reap)).

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{ClusterError, NodeId, unavailable};

pub const BUCKET: &str = "chinwag_nodes";

/// How often a node beats: a few times per timeout, so that one lost beat
/// does not make it look dead.
pub fn beat_interval(timeout: Duration) -> Duration {
    (timeout / 4).max(Duration::from_millis(100))
}

/// What a node says about itself with each beat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// The address clients connect to on this node.
    pub listen: String,
    pub started: u64,
}

pub struct Liveness {
    kv: kv::Store,
    node: NodeId,
    beat: Bytes,
}

impl Liveness {
    pub fn new(kv: kv::Store, node: NodeId, beat: &Beat) -> Liveness {
        Liveness {
            kv,
            node,
            beat: serde_json::to_vec(beat)
                .map(Bytes::from)
                .unwrap_or_default(),
        }
    }

    /// Says "still here".
    pub async fn beat(&self) -> Result<(), ClusterError> {
        self.kv
            .put(self.node.as_str(), self.beat.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Whether `node` has beaten within the timeout.
    pub async fn is_alive(&self, node: &NodeId) -> Result<bool, ClusterError> {
        let entry = self.kv.entry(node.as_str()).await.map_err(unavailable)?;
        Ok(entry.is_some_and(|e| e.operation == kv::Operation::Put))
    }

    /// The nodes that beat within the timeout, as far as NATS answers
    /// within `wait`. Listing a bucket's keys can wait forever for its end
    /// when keys expire meanwhile (as heartbeats do; nats-io/nats.rs#642
    /// and nats-server#3481): a node starting up hung in it for good.
    pub async fn nodes(&self, wait: Duration) -> Result<Vec<NodeId>, ClusterError> {
        use futures::TryStreamExt;
        let listing = async {
            let keys = self.kv.keys().await.map_err(unavailable)?;
            keys.try_collect::<Vec<String>>().await.map_err(unavailable)
        };
        let keys = tokio::time::timeout(wait, listing).await.map_err(|_| {
            ClusterError::Unavailable("the list of live nodes did not come in time".into())
        })??;
        Ok(keys
            .iter()
            .filter_map(|key| NodeId::parse(key).ok())
            .collect())
    }

    /// Says "gone" (on a clean shutdown), so the others free this node's
    /// names at once instead of after the timeout.
    pub async fn leave(&self) {
        let _ = self.kv.delete(self.node.as_str()).await;
    }
}
