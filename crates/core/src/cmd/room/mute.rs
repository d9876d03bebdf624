//! ROOM_MUTE: mute a member in one room, for a while or until lifted
//! (operators, over members they outrank).

use chinwag_proto::room::RoomMute;
use chinwag_proto::server::{MuteState, Timestamp};
use chinwag_proto::{NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, find, notice, target_member, tell_user};
use crate::cmd::{Ctx, Reply, check_reason, format_remaining};
use crate::store::RoomWrite;

pub fn apply(req: RoomMute, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    check_reason(&req.reason, ctx)?;
    let room = find(ctx, &req.room)?;
    let until = match req.duration_secs {
        0 => MuteState::UntilLifted,
        secs => MuteState::Until(Timestamp(
            ctx.now.wall.0.saturating_add(u64::from(secs) * 1000),
        )),
    };
    let victim = {
        let mut state = room.write();
        let rank = acting_rank(&state, me, &room, RoomRole::Operator)?;
        let (key, name) = target_member(&state, &room, rank, &req.user)?;
        state.mute(key, until, ctx.now.wall);
        ctx.state.rooms.save(
            &room,
            &mut state,
            RoomWrite::Mute(room.name.key(), key, until),
        );
        name
    };
    tell_user(
        ctx.state,
        victim.as_str(),
        notice(
            NoticeKind::RoomMuted,
            ctx.now.wall,
            &room,
            me.name.as_str(),
            victim.as_str(),
            until.to_wire(),
            &req.reason,
        ),
    );
    tracing::info!(room = %room.name, target_user = %victim, secs = req.duration_secs, "muted in room");
    Ok(ServerFrame::ok(match until {
        MuteState::Until(end) => format!(
            "muted {victim} in {} for {}",
            room.name,
            format_remaining(end, ctx.now.wall)
        ),
        _ => format!("muted {victim} in {} until lifted", room.name),
    }))
}
