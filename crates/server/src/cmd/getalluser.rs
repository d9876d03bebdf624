//! GETALLUSER: list the online users; administrators also see addresses
//! and connect times.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::GetAllUser;

use super::{Ctx, Reply};

pub fn apply(_req: GetAllUser, ctx: &mut Ctx<'_>) -> Reply {
    let for_admin = ctx.me()?.is_admin();
    Ok(ServerFrame::UserList(
        ctx.state.users.list(ctx.now.wall, for_admin),
    ))
}
