//! WHOIS: one online user by its exact name (any case), as GETALLUSER
//! lists it; an invisible user too (it is asked for by name).

use chinwag_proto::request::Target;
use chinwag_proto::{NameKey, ServerFrame};

use super::{Ctx, Reply, no_such_user};

pub fn apply(req: Target, ctx: &mut Ctx<'_>) -> Reply {
    let for_admin = ctx.me()?.is_admin();
    let now = ctx.now.wall;
    if let Some(peer) = ctx.state.users.get(&req.dst) {
        return Ok(ServerFrame::UserList(vec![peer.info(now, for_admin)]));
    }
    let delivery = ctx.state.delivery();
    if delivery.locate(&req.dst).is_some() {
        let key = NameKey::fold(&req.dst);
        if let Some(user) = delivery
            .remote_users(now, for_admin)
            .into_iter()
            .find(|u| NameKey::fold(&u.name) == key)
        {
            return Ok(ServerFrame::UserList(vec![user]));
        }
    }
    Err(no_such_user(&req.dst))
}
