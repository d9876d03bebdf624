//! ROOM_LIMIT: let at most so many members into a room (operators). The
//! members already in stay; an invitation or an administrator gets past
//! the limit.

use chinwag_proto::room::RoomLimit;
use chinwag_proto::{NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, find, notice, tell_members};
use crate::cmd::{Ctx, Reply};
use crate::store::RoomWrite;

pub fn apply(req: RoomLimit, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    {
        let mut state = room.write();
        acting_rank(&state, me, &room, RoomRole::Operator)?;
        state.limit = req.limit;
        let meta = state.meta(&room.name);
        ctx.state
            .rooms
            .save(&room, &mut state, RoomWrite::Meta(meta));
    }
    let frame = notice(
        NoticeKind::RoomLimit,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        "",
        u64::from(req.limit),
        "",
    );
    tell_members(ctx.state, &room, &frame, None);
    tracing::info!(room = %room.name, limit = req.limit, "room limit set");
    Ok(ServerFrame::ok(match req.limit {
        0 => format!("{} has no member limit", room.name),
        n => format!("{} lets in {n} members at most", room.name),
    }))
}
