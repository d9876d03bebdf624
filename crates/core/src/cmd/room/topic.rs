//! TOPIC: set or clear a room's topic (operators, or any member when the
//! room's TOPIC_LOCK flag is off).

use chinwag_proto::room::Topic;
use chinwag_proto::{NoticeKind, RoomRole, ServerFrame};

use super::{acting_rank, check_room_text, find, notice, tell_members};
use crate::cmd::{Ctx, Reply};
use crate::state::rooms::MAX_TOPIC;
use crate::store::RoomWrite;

pub fn apply(req: Topic, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    let room = find(ctx, &req.room)?;
    check_room_text(&req.topic, MAX_TOPIC, "topic", ctx)?;
    {
        let mut state = room.write();
        let needed = if state.mode.topic_lock() {
            RoomRole::Operator
        } else {
            RoomRole::Member
        };
        acting_rank(&state, &me, &room, needed)?;
        state.topic = req.topic.to_string();
        state.topic_by = me.name.to_string();
        state.topic_ts = ctx.now.wall;
        let meta = state.meta(&room.name);
        ctx.state
            .rooms
            .save(&room, &mut state, RoomWrite::Meta(meta));
    }
    let frame = notice(
        NoticeKind::RoomTopic,
        ctx.now.wall,
        &room,
        me.name.as_str(),
        "",
        0,
        &req.topic,
    );
    tell_members(ctx.state, &room, &frame, Some(&ctx.sender(&me)));
    Ok(ServerFrame::RoomList(vec![room.info(&me.name.key())]))
}
