//! BROADCAST: deliver a message to every other online user.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Broadcast;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};

use super::{Ctx, Reply, check_text};

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
    // Encoded once; every recipient's queue shares the same bytes.
    let recipients = ctx.state.announce(&message, Some(me.conn));
    Ok(ServerFrame::Sent(Sent {
        id,
        ts: ctx.now.wall,
        status: DeliveryStatus::Delivered,
        recipients,
    }))
}
