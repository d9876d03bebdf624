//! USER_MODE: the sender sets or clears its user flags: a bot, invisible
//! (not listed by GETALLUSER to those who share no room with it). Those
//! concerned are told (USER_UPDATE); the answer is the sender's entry of
//! USER_LIST, with its flags now.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::UserMode;
use chinwag_proto::server::user_changed;

use super::{Ctx, Reply};
use crate::ops;

pub fn apply(req: UserMode, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    let (before, after) = me.change_modes(req.set, req.clear);
    if before != after {
        let event = ops::users::update(&me, user_changed::FLAGS, "", ctx.now.wall);
        ops::users::tell_change(ctx.state, &me, &event, Some(ctx.conn.id));
    }
    Ok(ServerFrame::UserList(vec![
        me.info(ctx.now.wall, me.is_admin()),
    ]))
}
