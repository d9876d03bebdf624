//! PART: leave a room.

use chinwag_proto::ServerFrame;
use chinwag_proto::room::Part;

use super::{announce_departure, find, not_a_member};
use crate::cmd::{Ctx, Reply, check_reason};

pub fn apply(req: Part, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    check_reason(&req.reason, ctx)?;
    let room = find(ctx, &req.room)?;
    let departure = ctx
        .state
        .rooms
        .leave(&room, &me.name.key(), None)
        .ok_or_else(|| not_a_member(&room))?;
    let why = if req.reason.is_empty() {
        "left"
    } else {
        &req.reason
    };
    announce_departure(ctx.state, &room, &departure, "", why, ctx.now.wall);
    tracing::info!(room = %room.name, "left room");
    Ok(ServerFrame::ok(format!("left {}", room.name)))
}
