//! MEMBERS: list a room's members; an invite-only or secret room shows
//! them to its members and administrators only.

use chinwag_proto::ServerFrame;
use chinwag_proto::room::Members;

use super::{find, not_a_member};
use crate::cmd::{Ctx, Reply};

pub fn apply(req: Members, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let room = find(ctx, &req.room)?;
    let state = room.read();
    if (state.mode.invite_only() || state.mode.secret())
        && !me.is_admin()
        && state.member(&me.name.key()).is_none()
    {
        return Err(not_a_member(&room));
    }
    Ok(ServerFrame::MemberList {
        room: room.name.as_str().into(),
        members: state.member_list(ctx.now.wall, |name| {
            ctx.state.delivery().locate(name).is_some()
        }),
    })
}
