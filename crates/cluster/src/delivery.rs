//! The delivery layer across nodes: [`chinwag_core::delivery::Delivery`] over
//! NATS. A user elsewhere is found in this node's presence mirror; events
//! and orders go out as [`NodeMessage`]s (see [`super::routing`]).

use std::sync::Arc;

use chinwag_proto::server::{Timestamp, UserInfo};
use chinwag_proto::{NameKey, RoomKey, RoomName};
use futures::future::BoxFuture;

use super::presence::PresenceRecord;
use super::{Cluster, ClusterError, NodeEvent, NodeId, NodeMessage};
use chinwag_core::delivery::{
    ClaimError, Delivery, Departure, Elsewhere, Handed, NameClaim, Order, Unavailable,
};
use chinwag_core::event::Shared;
use chinwag_core::state::rooms::RoomChange;
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

    /// Sends `message` to every node `to` is on, at once, and turns their
    /// answers into what became of it: delivered if any node carried it
    /// out; else unavailable if any node could not be reached; else the
    /// first refusal.
    fn ask(&self, to: &Elsewhere, message: Option<NodeMessage>) -> BoxFuture<'static, Handed> {
        let cluster = Arc::clone(&self.cluster);
        let nodes: Result<Vec<NodeId>, _> = to.nodes.iter().map(|n| NodeId::parse(n)).collect();
        Box::pin(async move {
            let (Ok(nodes), Some(message)) = (nodes, message) else {
                return Handed::Unavailable(Unavailable("not for another node".into()));
            };
            let asked = nodes.iter().map(|node| {
                let (cluster, message) = (&cluster, message.clone());
                async move {
                    match cluster.request(node, message).await {
                        Ok(answer) => match answer.into_reply() {
                            Ok(_) => Handed::Delivered,
                            Err(refused) => Handed::NotThere(refused),
                        },
                        Err(error) => Handed::Unavailable(unavailable(error)),
                    }
                }
            });
            let answers = futures::future::join_all(asked).await;
            combined(answers)
        })
    }
}

/// What became of one thing handed to several nodes.
fn combined(answers: Vec<Handed>) -> Handed {
    if answers.contains(&Handed::Delivered) {
        return Handed::Delivered;
    }
    let unreachable = answers
        .iter()
        .find(|a| matches!(a, Handed::Unavailable(_)))
        .cloned();
    unreachable
        .or_else(|| answers.into_iter().next())
        .unwrap_or_else(|| Handed::Unavailable(Unavailable("no node to ask".into())))
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
            nodes: found.nodes.iter().map(NodeId::to_string).collect(),
            name: found.record.name,
            account: found.record.account,
            shared: found.record.shared,
            admin: found.record.admin,
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

    fn claim(&self, claim: NameClaim) -> BoxFuture<'static, Result<bool, ClaimError>> {
        let cluster = Arc::clone(&self.cluster);
        let record = PresenceRecord {
            node: cluster.node().to_string(),
            also: Vec::new(),
            name: claim.name.to_string(),
            admin: claim.admin,
            account: claim.account,
            shared: claim.account && claim.shared,
            muted: claim.muted.to_wire(),
            addr: claim.addr,
            advertised: claim.advertised,
            since: claim.since.0,
        };
        Box::pin(async move {
            match cluster.claim(record, claim.name.key(), claim.conn).await {
                Ok(alone) => Ok(alone),
                Err(ClusterError::Taken) => Err(ClaimError::Taken),
                Err(error) => Err(ClaimError::Unavailable(unavailable(error))),
            }
        })
    }

    fn release(&self, name: NameKey, conn: ConnId, departure: Option<Departure>) {
        self.cluster.release(name, conn, departure);
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

    fn queued(&self, to: &Elsewhere) {
        for node in to.nodes.iter().filter_map(|n| NodeId::parse(n).ok()) {
            self.cluster.tell(
                &node,
                NodeMessage::Wake {
                    user: to.name.clone(),
                },
            );
        }
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

    fn node(&self) -> &str {
        self.cluster.node().as_str()
    }

    fn room_changed(&self, change: RoomChange) {
        let room = change.room.clone();
        if let Err(error) = self
            .cluster
            .tell_all(NodeMessage::RoomChange(change.into()))
        {
            tracing::warn!(%error, %room, "a room change did not reach the other nodes");
        }
    }

    fn claim_room(&self, room: RoomKey) -> BoxFuture<'static, Result<bool, Unavailable>> {
        let cluster = Arc::clone(&self.cluster);
        Box::pin(async move { cluster.claim_room(room).await.map_err(unavailable) })
    }

    fn release_room(&self, room: RoomKey) {
        self.cluster.release_room(room);
    }

    fn room_snapshot(&self) -> BoxFuture<'static, Vec<RoomChange>> {
        let cluster = Arc::clone(&self.cluster);
        Box::pin(async move { cluster.room_snapshot(true).await })
    }
}
