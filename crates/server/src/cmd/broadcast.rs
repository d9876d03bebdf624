//! BROADCAST: store a message, then deliver it to every other online user,
//! on every node of a cluster.

use std::sync::Arc;

use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::transfer::not_stored;
use super::{CmdError, Ctx, Outcome, check_text, later};
use crate::cluster::{NodeEvent, NodeMessage};
use crate::event::Event;
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
        // One event, shared by every recipient's queue (the sender's other
        // sessions included); in a cluster one NATS message carries it to
        // all other nodes.
        let event = Event::new(message);
        let mut recipients = ctx.state.users.push_to_all(&event, Some(&ctx.sender(&me)));
        if let Some(cluster) = ctx.state.cluster()
            && let Some(event) = NodeEvent::of(&event)
        {
            let remote = cluster.remote_count() as u32;
            let fanout = NodeMessage::Fanout {
                except: String::new(),
                event,
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
