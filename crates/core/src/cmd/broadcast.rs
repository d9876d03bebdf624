//! BROADCAST: store a message, then deliver it to every other online user,
//! here and on every other node.

use std::sync::Arc;

use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, MessageId, MessageKind, Sent, Timestamp};
use chinwag_proto::{ByteString, ServerFrame};

use super::transfer::{not_stored, reached_only_here};
use super::{Ctx, Outcome, check_message, later, message_frame, tags_only};
use crate::event::Event;
use crate::state::Peer;
use crate::store::NewMessage;

pub fn apply(req: Broadcast, ctx: &mut Ctx<'_>) -> Outcome {
    if let Err(e) = check_message(&req.content, &req.options, ctx) {
        return e.into();
    }
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let ts = ctx.now.wall;
    if tags_only(&req.content) {
        // Not stored: relayed to whoever is online.
        let id = ctx.state.ephemeral_id();
        return fan_out(ctx, &me, id, ts, req);
    }
    // For USER_LIST's idle time.
    me.spoke(ts);
    let append = ctx.state.store.append(NewMessage {
        ts,
        from: me.name.clone(),
        to: None,
        text: req.content.to_string(),
        notice: req.options.notice,
        queue_for: None,
    });
    later(false, append, move |stored, ctx| match stored {
        Ok(id) => fan_out(ctx, &me, id, ts, req),
        Err(error) => not_stored(error),
    })
}

/// Hands the message to every other online user.
fn fan_out(ctx: &mut Ctx<'_>, me: &Peer, id: MessageId, ts: Timestamp, req: Broadcast) -> Outcome {
    let message = message_frame(
        id,
        ts,
        MessageKind::Broadcast,
        me.name.as_str(),
        "",
        req.content,
        &req.options,
    );
    // One event, shared by every recipient's queue (the sender's other
    // sessions included); the delivery layer takes it to everyone
    // elsewhere (one NATS message for all other nodes).
    let event = Event::from_sender(message, me.flags());
    let mut recipients = ctx.state.users.push_to_all(&event, Some(&ctx.sender(me)));
    match ctx.state.delivery().to_all(&event) {
        Ok(elsewhere) => recipients += elsewhere,
        Err(error) => return reached_only_here(recipients, "users of this node", error),
    }
    Ok(ServerFrame::Sent(Sent {
        id,
        ts,
        status: DeliveryStatus::Delivered,
        recipients,
        away: ByteString::new(),
    }))
    .into()
}
