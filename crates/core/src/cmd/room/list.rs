//! ROOMS: list every room, with its topic, size and mode, and the
//! requester's role in it.

use chinwag_proto::ServerFrame;

use crate::cmd::{Ctx, Reply};

pub fn apply(ctx: &mut Ctx<'_>) -> Reply {
    let viewer = ctx.me()?.name.key();
    let rooms = ctx.state.rooms.all();
    Ok(ServerFrame::RoomList(
        rooms.iter().map(|room| room.info(&viewer)).collect(),
    ))
}
