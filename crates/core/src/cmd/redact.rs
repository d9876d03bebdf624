//! REDACT: delete a message. Its sender may delete it, and so may an
//! administrator (any message) and a room's operators (the room's
//! messages). The store erases its text and history no longer returns it;
//! whoever may have seen it and is online is told (REDACTED), so that
//! every front end takes it off the screen.
//!
//! `dst` names the message's conversation as HISTORY's does (a user, a
//! `#room`, `*`): a message that is not in it is "no such message", as is
//! one deleted already, so an id alone reveals nothing of another
//! conversation.

use std::sync::Arc;

use chinwag_proto::request::{BROADCAST_CONVERSATION, Redact};
use chinwag_proto::server::{MessageId, MessageKind, Redacted};
use chinwag_proto::{ErrorCode, NameKey, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, check_reason, later};
use crate::event::{Event, Shared};
use crate::state::Peer;
use crate::state::rooms::deliver;
use crate::store::{ConversationKey, StoredMessage};
use crate::store_wire;

pub fn apply(req: Redact, ctx: &mut Ctx<'_>) -> Outcome {
    match check(&req, ctx) {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

fn check(req: &Redact, ctx: &mut Ctx<'_>) -> Result<Outcome, CmdError> {
    check_reason(&req.reason, ctx)?;
    let me = Arc::clone(ctx.me()?);
    let conversation = conversation(&req.dst, &me, ctx)?;
    let id = MessageId(req.id);
    let lookup = ctx.state.store.message(id);
    let req = req.clone();
    Ok(later(false, lookup, move |found, ctx| {
        let stored = match found {
            Ok(Some(stored)) if stored.conversation == conversation => stored,
            Ok(_) => return no_such_message(&req).into(),
            Err(error) => return CmdError::from(error).into(),
        };
        if let Err(e) = allowed(ctx, &me, &stored) {
            return e.into();
        }
        let erase = ctx.state.store.redact(id);
        later(false, erase, move |erased, ctx| match erased {
            Ok(true) => {
                tell(ctx, &me, &stored, &req);
                Ok(ServerFrame::ok("deleted")).into()
            }
            Ok(false) => no_such_message(&req).into(),
            Err(error) => CmdError::from(error).into(),
        })
    }))
}

/// The conversation `dst` names, for `me`.
fn conversation(dst: &str, me: &Peer, ctx: &Ctx<'_>) -> Result<ConversationKey, CmdError> {
    if dst == BROADCAST_CONVERSATION {
        return Ok(ConversationKey::Broadcast);
    }
    if dst.starts_with('#') {
        let room = ctx.state.rooms.get(dst).ok_or_else(|| {
            CmdError::new(ErrorCode::NoSuchRoom, format!("there is no room {dst:?}"))
        })?;
        return Ok(ConversationKey::Room(room.name.key()));
    }
    let peer = NameKey::fold(dst).ok_or_else(|| {
        CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{dst:?} is neither a user name, a room nor `*`"),
        )
    })?;
    Ok(ConversationKey::direct(me.name.key(), peer))
}

/// Its sender, an administrator, or an operator of its room.
fn allowed(ctx: &Ctx<'_>, me: &Peer, stored: &StoredMessage) -> Result<(), CmdError> {
    if NameKey::fold(&stored.from) == Some(me.name.key()) || me.is_admin() {
        return Ok(());
    }
    if let ConversationKey::Room(_) = stored.conversation
        && let Some(room) = ctx.state.rooms.get(&stored.to)
        && room.read().role_of(&me.name.key()).moderates()
    {
        return Ok(());
    }
    Err(CmdError::new(
        ErrorCode::Forbidden,
        "only its sender, an operator of its room or an administrator may delete a message",
    ))
}

fn no_such_message(req: &Redact) -> CmdError {
    CmdError::new(
        ErrorCode::NoSuchMessage,
        format!("there is no message {} in {:?}", req.id, &*req.dst),
    )
}

/// REDACTED to everyone online who may have seen the message: both ends
/// of a direct conversation, a room's members, everyone for a broadcast;
/// the deleting session is answered instead.
fn tell(ctx: &mut Ctx<'_>, me: &Arc<Peer>, stored: &StoredMessage, req: &Redact) {
    let event = Event::new(ServerFrame::Redacted(Redacted {
        id: stored.id,
        ts: ctx.now.wall,
        kind: store_wire::kind(&stored.conversation),
        actor: me.name.as_str().into(),
        from: stored.from.as_str().into(),
        to: stored.to.as_str().into(),
        reason: req.reason.clone(),
    }));
    let sender = ctx.sender(me);
    match store_wire::kind(&stored.conversation) {
        MessageKind::Room => {
            if let Some(room) = ctx.state.rooms.get(&stored.to) {
                deliver(&room.recipients(), &event, Some(&sender));
                // Other nodes' members; a node cut off misses it, as it
                // would the message.
                let _ = ctx.state.delivery().to_room(&room.name, &event);
            }
        }
        MessageKind::Broadcast => {
            ctx.state.users.push_to_all(&event, Some(&sender));
            let _ = ctx.state.delivery().to_all(&event);
        }
        _ => {
            tell_user(ctx, me, &stored.from, &event);
            if NameKey::fold(&stored.to) != NameKey::fold(&stored.from) {
                tell_user(ctx, me, &stored.to, &event);
            }
        }
    }
}

/// REDACTED to one end of a direct conversation, here and elsewhere (an
/// account may have sessions on several nodes).
fn tell_user(ctx: &Ctx<'_>, me: &Peer, name: &str, event: &Shared) {
    let except =
        (UserName::parse(name).ok().map(|n| n.key()) == Some(me.name.key())).then_some(ctx.conn.id);
    if let Some(peer) = ctx.state.users.get(name) {
        peer.push(event, except);
    }
    if let Some(found) = ctx.state.delivery().locate(name) {
        let handed = ctx.state.delivery().to_user(&found, event);
        tokio::spawn(handed);
    }
}
