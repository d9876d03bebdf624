//! The room commands, one file per request, and what they share: finding
//! the room, the sender's standing in it, and telling its members. The
//! notices and what a departure does are operations, in [`crate::ops::rooms`].
//!
//! Rooms are a sub-protocol (requests 0x20-0x2F), so the router hands every
//! [`RoomRequest`] to [`dispatch`] here, and the precondition table for
//! them is [`need`].

mod invite;
mod join;
mod kick;
mod limit;
mod list;
mod mask;
mod members;
mod mode;
mod mute;
mod op;
mod part;
mod send;
mod topic;
mod unmute;
mod voice;

use std::sync::Arc;

use chinwag_proto::{ErrorCode, NameKey, RoomName, RoomRequest, RoomRole};

use super::{CmdError, Ctx, Need, Outcome, later, no_such_user};
use crate::event::Shared;
use crate::ops;
use crate::ops::rooms::{announce_departure, announces_presence, notice};
use crate::state::rooms::RoomState;
use crate::state::{Peer, Room, Sender, State};

/// The precondition table for room requests.
pub fn need(req: &RoomRequest) -> Need {
    match req {
        RoomRequest::Send(_)
        | RoomRequest::SendOps(_)
        | RoomRequest::Join(_)
        | RoomRequest::Part(_)
        | RoomRequest::List { .. }
        | RoomRequest::Members(_)
        | RoomRequest::Topic(_)
        | RoomRequest::Op(_)
        | RoomRequest::Kick(_)
        | RoomRequest::Mute(_)
        | RoomRequest::Mode(_)
        | RoomRequest::Invite(_)
        | RoomRequest::Unmute(_)
        | RoomRequest::Limit(_)
        | RoomRequest::Voice(_)
        | RoomRequest::Mask(_) => Need::Registered,
    }
}

pub fn dispatch(req: RoomRequest, ctx: &mut Ctx<'_>) -> Outcome {
    if changes_rooms(&req)
        && let Err(unavailable) = ctx.state.delivery().reachable()
    {
        // With other nodes, every node keeps the same state of a room: a
        // change the others cannot learn now is not made.
        return CmdError::from(unavailable).into();
    }
    match req {
        RoomRequest::Join(r) => join::apply(r, ctx),
        RoomRequest::Part(r) => part::apply(r, ctx).into(),
        RoomRequest::Send(r) => send::apply(r, ctx),
        RoomRequest::SendOps(r) => send::to_operators(r, ctx).into(),
        RoomRequest::List { .. } => list::apply(ctx).into(),
        RoomRequest::Members(r) => members::apply(r, ctx).into(),
        RoomRequest::Topic(r) => topic::apply(r, ctx).into(),
        RoomRequest::Op(r) => op::apply(r, ctx),
        RoomRequest::Kick(r) => kick::apply(r, ctx).into(),
        RoomRequest::Mute(r) => mute::apply(r, ctx).into(),
        RoomRequest::Mode(r) => mode::apply(r, ctx).into(),
        RoomRequest::Invite(r) => invite::apply(r, ctx),
        RoomRequest::Unmute(r) => unmute::apply(r, ctx).into(),
        RoomRequest::Limit(r) => limit::apply(r, ctx).into(),
        RoomRequest::Voice(r) => voice::apply(r, ctx),
        RoomRequest::Mask(r) => mask::apply(r, ctx).into(),
    }
}

/// Whether a request changes a room's state (which every node keeps).
fn changes_rooms(req: &RoomRequest) -> bool {
    match req {
        RoomRequest::Send(_)
        | RoomRequest::SendOps(_)
        | RoomRequest::List { .. }
        | RoomRequest::Members(_) => false,
        RoomRequest::Mask(mask) => mask.action != chinwag_proto::room::MaskAction::List,
        RoomRequest::Join(_)
        | RoomRequest::Part(_)
        | RoomRequest::Topic(_)
        | RoomRequest::Op(_)
        | RoomRequest::Kick(_)
        | RoomRequest::Mute(_)
        | RoomRequest::Mode(_)
        | RoomRequest::Invite(_)
        | RoomRequest::Unmute(_)
        | RoomRequest::Limit(_)
        | RoomRequest::Voice(_) => true,
    }
}

/// A room name from a request, checked against the rules.
fn room_name(name: &str) -> Result<RoomName, CmdError> {
    RoomName::parse(name).map_err(|e| {
        CmdError::new(
            ErrorCode::InvalidRoomName,
            format!("invalid room name {name:?}: {e}"),
        )
    })
}

/// The existing room a request names.
fn find(ctx: &Ctx<'_>, name: &str) -> Result<Arc<Room>, CmdError> {
    let name = room_name(name)?;
    ctx.state
        .rooms
        .get(name.as_str())
        .ok_or_else(|| CmdError::new(ErrorCode::NoSuchRoom, format!("there is no room {name}")))
}

fn not_a_member(room: &Room) -> CmdError {
    CmdError::new(
        ErrorCode::NotAMember,
        format!("you are not a member of {}", room.name),
    )
}

/// The rank `me` acts with in a room that needs at least `needed`:
/// administrators act as owners; members below `needed` are refused.
fn acting_rank(
    state: &RoomState,
    me: &Peer,
    room: &Room,
    needed: RoomRole,
) -> Result<RoomRole, CmdError> {
    if me.is_admin() {
        return Ok(RoomRole::Owner);
    }
    match state.role_of(&me.name.key()) {
        RoomRole::None => Err(not_a_member(room)),
        role if role >= needed => Ok(role),
        _ => Err(CmdError::new(
            ErrorCode::NotRoomOperator,
            format!(
                "only the {} of {} may do that",
                if needed == RoomRole::Owner {
                    "owner"
                } else {
                    "operators"
                },
                room.name
            ),
        )),
    }
}

/// The member a moderation request targets; it must rank below the actor.
fn target_member(
    state: &RoomState,
    room: &Room,
    rank: RoomRole,
    user: &str,
) -> Result<(NameKey, chinwag_proto::UserName), CmdError> {
    let member = NameKey::fold(user)
        .and_then(|key| state.member(&key).map(|m| (key, m)))
        .ok_or_else(|| {
            CmdError::new(
                ErrorCode::NotAMember,
                format!("{user:?} is not a member of {}", room.name),
            )
        })?;
    let (key, member) = member;
    if member.role >= rank {
        return Err(CmdError::new(
            ErrorCode::NotRoomOperator,
            format!(
                "{} is the room's {}; you cannot do that to them",
                member.name,
                member.role.name()
            ),
        ));
    }
    Ok((key, member.name.clone()))
}

/// The error for a target that is not a member of `room`: ERROR
/// NoSuchUser when nobody of that name exists (online anywhere, or as an
/// account), else NotAMember. Looks the account up in the store when the
/// name is not online.
fn absent_target(ctx: &Ctx<'_>, room: &Room, user: &str) -> Outcome {
    let not_member = CmdError::new(
        ErrorCode::NotAMember,
        format!("{user:?} is not a member of {}", room.name),
    );
    if ctx.state.users.get(user).is_some() || ctx.state.delivery().locate(user).is_some() {
        return not_member.into();
    }
    let Some(key) = NameKey::fold(user) else {
        return no_such_user(user).into();
    };
    let store = Arc::clone(&ctx.state.store);
    let user = user.to_owned();
    later(
        false,
        async move { store.account(key).await },
        move |found, _ctx| match found {
            Ok(Some(_)) => not_member.into(),
            Ok(None) => no_such_user(&user).into(),
            Err(error) => CmdError::from(error).into(),
        },
    )
}

/// Checks an optional room text (topic, reason, password) and its length.
fn check_room_text(text: &str, max: usize, what: &str, ctx: &Ctx<'_>) -> Result<(), CmdError> {
    if text.len() > max {
        return Err(CmdError::new(
            ErrorCode::InvalidContent,
            format!(
                "a {what} is at most {max} bytes, this one is {}",
                text.len()
            ),
        ));
    }
    super::check_reason(text, ctx)
}

/// Tells every member of `room`, here and elsewhere, but the session that
/// caused it.
fn tell_members(state: &State, room: &Room, event: &Shared, sender: Option<&Sender>) {
    ops::rooms::tell_members(state, room, &room.recipients(), event, sender);
}

/// Tells one user (every session), if online, here and elsewhere (an
/// account may have sessions on several nodes).
fn tell_user(state: &State, user: &str, event: Shared) {
    if let Some(peer) = state.users.get(user) {
        peer.push(&event, None);
    }
    let Some(to) = state.delivery().locate(user) else {
        return;
    };
    let handed = state.delivery().to_user(&to, &event);
    tokio::spawn(async move {
        if let Err(error) = handed.await.into_result() {
            tracing::debug!(error = %error.message, "room notice not handed to a user elsewhere");
        }
    });
}
