//! ROOM_SEND: store a message to a room, then deliver it to every online
//! member of the room, here and on every other node.
//!
//! As for direct messages, the message reaches the members only after it
//! is stored: history (`HISTORY #room`) and what members saw agree, and a
//! member who was offline reads what it missed there.

use std::sync::Arc;

use chinwag_proto::ServerFrame;
use chinwag_proto::room::RoomSend;
use chinwag_proto::server::{DeliveryStatus, Message, MessageId, MessageKind, Sent};

use super::{find, not_a_member};
use crate::cmd::transfer::{not_stored, reached_only_here};
use crate::cmd::{CmdError, Ctx, Outcome, Reply, check_message, later};
use crate::event::Event;
use crate::state::rooms::deliver;
use crate::state::{Peer, Room};
use crate::store::NewRoomMessage;

/// Whether `me` may send to `room`: a room without NO_EXTERNAL takes
/// messages from anyone, one with it from its members only. Mutes,
/// server-wide and in the room, moderation and mute masks were checked by
/// the router (cmd::speech).
fn may_send(me: &Peer, room: &Room) -> Result<(), CmdError> {
    let state = room.read();
    if state.member(&me.name.key()).is_none() && state.mode.no_external() {
        return Err(not_a_member(room));
    }
    Ok(())
}

/// ROOM_SEND_OPS: a message to the room's operators (and owner) only,
/// from anyone who may send to the room. It is not stored (the room's
/// history is every member's to read), so its id is 0, and it reaches the
/// operators online on this node only.
pub fn to_operators(req: RoomSend, ctx: &mut Ctx<'_>) -> Reply {
    check_message(&req.content, ctx)?;
    let me = Arc::clone(ctx.me()?);
    me.spoke(ctx.now.wall);
    let room = find(ctx, &req.room)?;
    may_send(&me, &room)?;
    let operators: Vec<Arc<Peer>> = {
        let state = room.read();
        room.recipients()
            .iter()
            .filter(|p| state.role_of(&p.name.key()).moderates())
            .cloned()
            .collect()
    };
    let ts = ctx.now.wall;
    let event = Event::new(ServerFrame::Message(Message {
        id: MessageId(0),
        ts,
        kind: MessageKind::RoomOperators,
        from: me.name.as_str().into(),
        to: room.name.as_str().into(),
        text: req.content.clone(),
    }));
    let delivered = deliver(&operators, &event, Some(&ctx.sender(&me)));
    Ok(ServerFrame::Sent(Sent {
        id: MessageId(0),
        ts,
        status: DeliveryStatus::Delivered,
        recipients: delivered,
    }))
}

pub fn apply(req: RoomSend, ctx: &mut Ctx<'_>) -> Outcome {
    match check(&req, ctx) {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

fn check(req: &RoomSend, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    check_message(&req.content, ctx)?;
    let me = Arc::clone(ctx.me()?);
    // For USER_LIST's idle time.
    me.spoke(ctx.now.wall);
    let room = find(ctx, &req.room)?;
    may_send(&me, &room)?;
    let ts = ctx.now.wall;
    let text = req.content.clone();
    let append = ctx.state.store.append_room(NewRoomMessage {
        ts,
        from: me.name.clone(),
        room: room.name.clone(),
        text: text.to_string(),
    });
    Ok(later(false, append, move |stored, ctx| {
        let id = match stored {
            Ok(id) => id,
            Err(error) => return not_stored(error),
        };
        // The room's lock is not held for the fan-out: the recipients are
        // an `Arc` snapshot, and the event is one, shared by every
        // recipient's queue (and rendered once per wire format).
        let recipients = room.recipients();
        let event = Event::new(ServerFrame::Message(Message {
            id,
            ts,
            kind: MessageKind::Room,
            from: me.name.as_str().into(),
            to: room.name.as_str().into(),
            text,
        }));
        let delivered = deliver(&recipients, &event, Some(&ctx.sender(&me)));
        // The members elsewhere get it through the delivery layer (one
        // NATS message; each node hands it to its own members of the
        // room).
        if let Err(error) = ctx.state.delivery().to_room(&room.name, &event) {
            return reached_only_here(delivered, "members on this node", error);
        }
        Ok(ServerFrame::Sent(Sent {
            id,
            ts,
            status: DeliveryStatus::Delivered,
            recipients: delivered,
        }))
        .into()
    }))
}
