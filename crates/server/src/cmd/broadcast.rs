//! BROADCAST: store a message, then deliver it to every other online user.

use std::sync::Arc;

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};

use super::transfer::not_stored;
use super::{Ctx, Outcome, check_text, later};
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
        // Encoded once; every recipient's queue shares the same bytes.
        let recipients = ctx.state.announce(&message, Some(me.conn));
        Ok(ServerFrame::Sent(Sent {
            id,
            ts,
            status: DeliveryStatus::Delivered,
            recipients,
        }))
        .into()
    })
}
