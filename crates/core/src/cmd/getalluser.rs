//! GETALLUSER: list the online users; administrators also see addresses
//! and connect times.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::GetAllUser;

use super::{Ctx, Reply};

pub fn apply(_req: GetAllUser, ctx: &mut Ctx<'_>) -> Reply {
    let for_admin = ctx.me()?.is_admin();
    let mut users = ctx.state.users.list(ctx.now.wall, for_admin);
    // The users elsewhere (from this node's presence
    // mirror: no round trip).
    let elsewhere = ctx.state.delivery().remote_users(ctx.now.wall, for_admin);
    if !elsewhere.is_empty() {
        users.extend(elsewhere);
        users.sort_by_cached_key(|u| u.name.to_ascii_lowercase());
    }
    Ok(ServerFrame::UserList(users))
}
