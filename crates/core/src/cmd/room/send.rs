//! ROOM_SEND: store a message to a room, then deliver it to every online
//! member of the room, here and on every other node.
//!
//! As for direct messages, the message reaches the members only after it
//! is stored: history (`HISTORY #room`) and what members saw agree, and a
//! member who was offline reads what it missed there.

use std::sync::Arc;

use chinwag_proto::room::RoomSend;
use chinwag_proto::server::{DeliveryStatus, MessageId, MessageKind, Sent, Timestamp};
use chinwag_proto::{ByteString, ServerFrame};

use super::{find, not_a_member};
use crate::cmd::transfer::{not_stored, reached_only_here};
use crate::cmd::{CmdError, Ctx, Outcome, Reply, check_message, later, message_frame, tags_only};
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
    check_message(&req.content, &req.options, ctx)?;
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
    let event = Event::from_sender(
        message_frame(
            MessageId(0),
            ts,
            MessageKind::RoomOperators,
            me.name.as_str(),
            room.name.as_str(),
            req.content.clone(),
            &req.options,
        ),
        me.flags(),
    );
    let delivered = deliver(&operators, &event, Some(&ctx.sender(&me)));
    Ok(ServerFrame::Sent(Sent {
        id: MessageId(0),
        ts,
        status: DeliveryStatus::Delivered,
        recipients: delivered,
        away: ByteString::new(),
    }))
}

pub fn apply(req: RoomSend, ctx: &mut Ctx<'_>) -> Outcome {
    match check(&req, ctx) {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

fn check(req: &RoomSend, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    check_message(&req.content, &req.options, ctx)?;
    let me = Arc::clone(ctx.me()?);
    let room = find(ctx, &req.room)?;
    may_send(&me, &room)?;
    let ts = ctx.now.wall;
    if tags_only(&req.content) {
        // Not stored: relayed to the members online.
        let id = ctx.state.ephemeral_id();
        return Ok(fan_out(ctx, &me, &room, id, ts, req.clone()));
    }
    // For USER_LIST's idle time.
    me.spoke(ts);
    let append = ctx.state.store.append_room(NewRoomMessage {
        ts,
        from: me.name.clone(),
        room: room.name.clone(),
        text: req.content.to_string(),
        notice: req.options.notice,
    });
    let req = req.clone();
    Ok(later(false, append, move |stored, ctx| match stored {
        Ok(id) => fan_out(ctx, &me, &room, id, ts, req),
        Err(error) => not_stored(error),
    }))
}

/// Hands the message to the room's members online.
fn fan_out(
    ctx: &mut Ctx<'_>,
    me: &Peer,
    room: &Arc<Room>,
    id: MessageId,
    ts: Timestamp,
    req: RoomSend,
) -> Outcome {
    // The room's lock is not held for the fan-out: the recipients are
    // an `Arc` snapshot, and the event is one, shared by every
    // recipient's queue (and rendered once per wire format).
    let recipients = room.recipients();
    let event = Event::from_sender(
        message_frame(
            id,
            ts,
            MessageKind::Room,
            me.name.as_str(),
            room.name.as_str(),
            req.content,
            &req.options,
        ),
        me.flags(),
    );
    let delivered = deliver(&recipients, &event, Some(&ctx.sender(me)));
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
        away: ByteString::new(),
    }))
    .into()
}
