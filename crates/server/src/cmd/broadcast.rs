//! BROADCAST: store a message, then deliver it to every other online user,
//! on every node of a cluster.

use std::sync::Arc;

use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::transfer::not_stored;
use super::{CmdError, Ctx, Outcome, check_text, later};
use crate::cluster::NodeMessage;
use crate::state::encode_event;
use crate::store::NewMessage;

pub fn apply(req: Broadcast, ctx: &mut Ctx<'_>) -> Outcome {
    if let Err(e) = check_text(&req.content, ctx) {
        return e.into();
    }
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let ts = ctx.now.wall;
    let append = ctx.state.store.append(NewMessage {
        ts,
        from: me.name.clone(),
        to: None,
        text: req.content.to_string(),
        queue_for: None,
    });
    later(false, append, move |stored, ctx| {
        let id = match stored {
            Ok(id) => id,
            Err(error) => return not_stored(error),
        };
        let message = ServerFrame::Message(Message {
            id,
            ts,
            kind: MessageKind::Broadcast,
            from: me.name.as_str().into(),
            to: "".into(),
            text: req.content,
        });
        // Encoded once; every recipient's queue shares the same bytes, and
        // in a cluster one NATS message carries them to all other nodes.
        let frame = encode_event(&message);
        let mut recipients = ctx.state.users.push_to_all(&frame, Some(me.conn));
        if let Some(cluster) = ctx.state.cluster() {
            let remote = cluster.remote_count() as u32;
            let fanout = NodeMessage::Fanout {
                except: String::new(),
                frame,
            };
            if let Err(error) = cluster.tell_all(fanout) {
                return CmdError::new(
                    ErrorCode::ClusterUnavailable,
                    format!(
                        "stored, and delivered only to the {recipients} other users of this node: {}",
                        CmdError::from(error).message
                    ),
                )
                .into();
            }
            recipients += remote;
        }
        Ok(ServerFrame::Sent(Sent {
            id,
            ts,
            status: DeliveryStatus::Delivered,
            recipients,
        }))
        .into()
    })
}
