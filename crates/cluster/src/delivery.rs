//! The delivery layer across nodes: [`chinwag_core::delivery::Delivery`] over
//! NATS. A user elsewhere is found in this node's presence mirror; events
//! and orders go out as [`NodeMessage`]s (see [`super::routing`]).

use std::sync::Arc;

use chinwag_proto::server::{Timestamp, UserInfo};
use chinwag_proto::{NameKey, RoomName};
use futures::future::BoxFuture;

use super::presence::PresenceRecord;
use super::{Cluster, ClusterError, NodeEvent, NodeId, NodeMessage};
use chinwag_core::delivery::{
    ClaimError, Delivery, Elsewhere, Handed, NameClaim, Order, Unavailable,
};
use chinwag_core::event::Shared;
use chinwag_core::state::{ConnId, Peer};
use chinwag_core::store::BanTarget;

/// A node's delivery once it joined a cluster.
pub struct ClusterDelivery {
    cluster: Arc<Cluster>,
}

impl ClusterDelivery {
    pub fn new(cluster: Arc<Cluster>) -> ClusterDelivery {
        ClusterDelivery { cluster }
    }

    /// Sends `message` to the node `to` is on and turns its answer into
    /// what became of it.
    fn ask(&self, to: &Elsewhere, message: Option<NodeMessage>) -> BoxFuture<'static, Handed> {
        let cluster = Arc::clone(&self.cluster);
        let node = NodeId::parse(&to.node);
        Box::pin(async move {
            let (Ok(node), Some(message)) = (node, message) else {
                return Handed::Unavailable(Unavailable("not for another node".into()));
            };
            match cluster.request(&node, message).await {
                Ok(answer) => match answer.into_reply() {
                    Ok(_) => Handed::Delivered,
                    Err(refused) => Handed::NotThere(refused),
                },
                Err(error) => Handed::Unavailable(unavailable(error)),
            }
        })
    }
}

/// A cluster error as the delivery layer reports it.
fn unavailable(error: ClusterError) -> Unavailable {
    match error {
        ClusterError::Unavailable(why) => Unavailable(why),
        ClusterError::Taken => Unavailable(error.to_string()),
    }
}

impl Delivery for ClusterDelivery {
    fn locate(&self, name: &str) -> Option<Elsewhere> {
        self.cluster.locate(name).map(|found| Elsewhere {
            node: found.node.to_string(),
            name: found.record.name,
            account: found.record.account,
        })
    }

    fn reachable(&self) -> Result<(), Unavailable> {
        self.cluster.ensure_reachable().map_err(unavailable)
    }

    fn remote_users(&self, now: Timestamp, for_admin: bool) -> Vec<UserInfo> {
        self.cluster.remote_users(now, for_admin)
    }

    fn remote_count(&self) -> usize {
        self.cluster.remote_count()
    }

    fn matching(&self, target: &BanTarget) -> u32 {
        self.cluster.matching(target)
    }

    fn claims_names(&self) -> bool {
        true
    }

    fn claim(&self, claim: NameClaim) -> BoxFuture<'static, Result<(), ClaimError>> {
        let cluster = Arc::clone(&self.cluster);
        let record = PresenceRecord {
            node: cluster.node().to_string(),
            name: claim.name.to_string(),
            admin: claim.admin,
            account: claim.account,
            muted: claim.muted.to_wire(),
            addr: claim.addr,
            advertised: claim.advertised,
            since: claim.since.0,
        };
        Box::pin(async move {
            match cluster.claim(record, claim.name.key(), claim.conn).await {
                Ok(()) => Ok(()),
                Err(ClusterError::Taken) => Err(ClaimError::Taken),
                Err(error) => Err(ClaimError::Unavailable(unavailable(error))),
            }
        })
    }

    fn release(&self, name: NameKey, conn: ConnId) {
        self.cluster.release(name, conn);
    }

    fn republish(&self, peer: &Arc<Peer>) {
        self.cluster.republish(peer);
    }

    fn to_user(&self, to: &Elsewhere, event: &Shared) -> BoxFuture<'static, Handed> {
        let message = NodeEvent::of(event).map(|event| NodeMessage::Direct {
            user: to.name.clone(),
            event,
        });
        self.ask(to, message)
    }

    fn to_room(&self, room: &RoomName, event: &Shared) -> Result<(), Unavailable> {
        let Some(event) = NodeEvent::of(event) else {
            return Ok(());
        };
        self.cluster
            .tell_all(NodeMessage::Room {
                room: room.to_string(),
                event,
            })
            .map_err(unavailable)
    }

    fn to_all(&self, event: &Shared) -> Result<u32, Unavailable> {
        let Some(event) = NodeEvent::of(event) else {
            return Ok(0);
        };
        let remote = self.cluster.remote_count() as u32;
        self.cluster
            .tell_all(NodeMessage::Fanout {
                except: String::new(),
                event,
            })
            .map_err(unavailable)?;
        Ok(remote)
    }

    fn presence(&self, event: &Shared, subject: &NameKey) {
        self.cluster.announce(Arc::clone(event), subject.as_str());
    }

    fn order_all(&self, order: Order) -> Result<(), Unavailable> {
        self.cluster
            .tell_all(NodeMessage::Order(order.into()))
            .map_err(unavailable)
    }

    fn order(&self, to: &Elsewhere, order: Order) -> BoxFuture<'static, Handed> {
        self.ask(to, Some(NodeMessage::Order(order.into())))
    }

    fn leave(&self) -> BoxFuture<'static, ()> {
        let cluster = Arc::clone(&self.cluster);
        Box::pin(async move { cluster.leave().await })
    }
}
