//! TRANSFER: deliver a message to one online user.

use chinwag_proto::request::Transfer;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, Sent};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Reply, check_text, no_such_user};
use crate::outbox::PushError;
use crate::state::encode_event;

pub fn apply(req: Transfer, ctx: &mut Ctx<'_>) -> Reply {
    check_text(&req.content, ctx)?;
    let me = ctx.me()?;
    let to = ctx
        .state
        .users
        .get(&req.dst)
        .ok_or_else(|| no_such_user(&req.dst))?;
    let id = ctx.state.next_message_id();
    let frame = encode_event(&ServerFrame::Message(Message {
        id,
        ts: ctx.now.wall,
        kind: MessageKind::Direct,
        from: me.name.as_str().into(),
        to: to.name.as_str().into(),
        text: req.content,
    }));
    match to.outbox.push(frame) {
        Ok(()) => Ok(ServerFrame::Sent(Sent {
            id,
            ts: ctx.now.wall,
            status: DeliveryStatus::Delivered,
            recipients: 1,
        })),
        Err(PushError::Full) => Err(CmdError::new(
            ErrorCode::Undeliverable,
            format!("{} is not reading fast enough; not delivered", to.name),
        )),
        Err(PushError::Closed) => Err(CmdError::new(
            ErrorCode::Undeliverable,
            format!("{} is disconnecting; not delivered", to.name),
        )),
    }
}
