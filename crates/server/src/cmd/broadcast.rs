//! BROADCAST: deliver a message to every other online user, on every
//! node of a cluster.

use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Reply, check_text};
use crate::cluster::NodeMessage;
use crate::state::encode_event;

pub fn apply(req: Broadcast, ctx: &mut Ctx<'_>) -> Reply {
    check_text(&req.content, ctx)?;
    let me = ctx.me()?;
    let id = ctx.state.next_message_id();
    let message = ServerFrame::Message(Message {
        id,
        ts: ctx.now.wall,
        kind: MessageKind::Broadcast,
        from: me.name.as_str().into(),
        to: "".into(),
        text: req.content,
    });
    // Encoded once; every recipient's queue shares the same bytes, and
    // in a cluster one NATS message carries them to all the other nodes.
    let frame = encode_event(&message);
    let mut recipients = ctx.state.users.push_to_all(&frame, Some(me.conn));
    if let Some(cluster) = ctx.state.cluster() {
        let remote = cluster.remote_count() as u32;
        cluster
            .tell_all(NodeMessage::Fanout {
                except: String::new(),
                frame,
            })
            .map_err(|e| {
                CmdError::new(
                    ErrorCode::ClusterUnavailable,
                    format!(
                        "delivered only to the {recipients} other users of this node: {}",
                        CmdError::from(e).message
                    ),
                )
            })?;
        recipients += remote;
    }
    Ok(ServerFrame::Sent(Sent {
        id,
        ts: ctx.now.wall,
        status: DeliveryStatus::Delivered,
        recipients,
    }))
}
