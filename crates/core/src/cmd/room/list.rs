//! ROOMS: list every room, with its topic, size and mode, and the
//! requester's role in it. A secret room is listed to its members (and
//! administrators) only.

use chinwag_proto::ServerFrame;

use crate::cmd::{Ctx, Reply};

pub fn apply(ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let (viewer, admin) = (me.name.key(), me.is_admin());
    let rooms = ctx.state.rooms.all();
    Ok(ServerFrame::RoomList(
        rooms
            .iter()
            .filter_map(|room| {
                let state = room.read();
                (admin || state.visible_to(&viewer)).then(|| state.info(&room.name, &viewer))
            })
            .collect(),
    ))
}
