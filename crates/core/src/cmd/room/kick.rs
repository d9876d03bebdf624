//! ROOM_KICK: put a member out of a room (operators, over members they
//! outrank). The member stays connected.

use chinwag_proto::room::RoomKick;
use chinwag_proto::{NoticeKind, RoomRole, ServerFrame};

use super::{
    acting_rank, announce_departure, find, not_a_member, notice, target_member, tell_user,
};
use crate::cmd::{Ctx, Reply, check_reason};

pub fn apply(req: RoomKick, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    check_reason(&req.reason, ctx)?;
    let room = find(ctx, &req.room)?;
    let (key, _) = {
        let state = room.read();
        let rank = acting_rank(&state, &me, &room, RoomRole::Operator)?;
        target_member(&state, &room, rank, &req.user)?
    };
    let departure = ctx
        .state
        .rooms
        .leave(&room, &key, None)
        .ok_or_else(|| not_a_member(&room))?;
    let reason = if req.reason.is_empty() {
        "no reason given"
    } else {
        &req.reason
    };
    let victim = departure.member.name.clone();
    let kicked = notice(
        NoticeKind::RoomKicked,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        victim.as_str(),
        0,
        reason,
    );
    match &departure.member.peer {
        Some(peer) => {
            peer.push(&kicked, None);
        }
        // Online on another node, maybe.
        None => tell_user(ctx.state, victim.as_str(), kicked),
    }
    announce_departure(
        ctx.state,
        &room,
        &departure,
        me.name.as_str(),
        &format!("kicked by {}: {reason}", me.name),
        ctx.now.wall,
    );
    tracing::info!(room = %room.name, target_user = %victim, %reason, "kicked from room");
    Ok(ServerFrame::ok(format!(
        "kicked {victim} out of {}",
        room.name
    )))
}
