//! ROOM_SEND: deliver a message to every online member of a room.

use chinwag_proto::room::RoomSend;
use chinwag_proto::server::{DeliveryStatus, Message, MessageKind, MuteState, Sent};
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{find, not_a_member};
use crate::cmd::{CmdError, Ctx, Reply, check_text, format_remaining};
use crate::state::encode_event;
use crate::state::rooms::deliver;

pub fn apply(req: RoomSend, ctx: &mut Ctx<'_>) -> Reply {
    check_text(&req.content, ctx)?;
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    {
        let state = room.read();
        let key = me.name.key();
        if state.member(&key).is_none() {
            return Err(not_a_member(&room));
        }
        match state.muted(&key, ctx.now.wall) {
            MuteState::NotMuted => {}
            MuteState::UntilLifted => {
                return Err(CmdError::new(
                    ErrorCode::Muted,
                    format!("you are muted in {} until an operator lifts it", room.name),
                ));
            }
            MuteState::Until(end) => {
                return Err(CmdError::new(
                    ErrorCode::Muted,
                    format!(
                        "you are muted in {} for another {}",
                        room.name,
                        format_remaining(end, ctx.now.wall)
                    ),
                ));
            }
        }
    }
    // The room's lock is released before the fan-out: the list of
    // recipients is an `Arc` snapshot, and the frame is encoded once and
    // its bytes shared by every recipient's queue.
    let recipients = room.recipients();
    let id = ctx.state.next_message_id();
    let frame = encode_event(&ServerFrame::Message(Message {
        id,
        ts: ctx.now.wall,
        kind: MessageKind::Room,
        from: me.name.as_str().into(),
        to: room.name.as_str().into(),
        text: req.content,
    }));
    let delivered = deliver(&recipients, &frame, Some(me.conn));
    Ok(ServerFrame::Sent(Sent {
        id,
        ts: ctx.now.wall,
        status: DeliveryStatus::Delivered,
        recipients: delivered,
    }))
}
