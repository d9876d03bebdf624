//! BROADCAST: store a message, then deliver it to every other online user,
//! here and on every other node.

use std::sync::Arc;

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};

use super::transfer::{not_stored, reached_only_here};
use super::{Ctx, Outcome, check_message, later};
use crate::event::Event;
use crate::store::NewMessage;

pub fn apply(req: Broadcast, ctx: &mut Ctx<'_>) -> Outcome {
    if let Err(e) = check_message(&req.content, ctx) {
        return e.into();
    }
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let ts = ctx.now.wall;
    // For USER_LIST's idle time.
    me.spoke(ts);
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
        // sessions included); the delivery layer takes it to everyone
        // elsewhere (one NATS message for all other nodes).
        let event = Event::from_sender(message, me.flags());
        let mut recipients = ctx.state.users.push_to_all(&event, Some(&ctx.sender(&me)));
        match ctx.state.delivery().to_all(&event) {
            Ok(elsewhere) => recipients += elsewhere,
            Err(error) => return reached_only_here(recipients, "users of this node", error),
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
