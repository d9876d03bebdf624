//! GETALLUSER: list the online users; administrators also see addresses
//! and connect times. An invisible user (USER_MODE) is listed only to
//! itself, to administrators and to those who share a room with it.

use std::collections::HashSet;

use chinwag_proto::ServerFrame;
use chinwag_proto::request::GetAllUser;

use super::{Ctx, Reply};
use crate::state::Peer;

pub fn apply(_req: GetAllUser, ctx: &mut Ctx<'_>) -> Reply {
    let me = ctx.me()?;
    let for_admin = me.is_admin();
    let my_key = me.name.key();
    let rooms = &ctx.state.rooms;
    let mine: HashSet<_> = rooms
        .rooms_of(&my_key)
        .iter()
        .map(|room| room.name.key())
        .collect();
    let visible = |peer: &Peer| {
        for_admin
            || !peer.is_invisible()
            || peer.name.key() == my_key
            || rooms
                .rooms_of(&peer.name.key())
                .iter()
                .any(|room| mine.contains(&room.name.key()))
    };
    let mut users = ctx.state.users.list(ctx.now.wall, for_admin, visible);
    // The users elsewhere (from this node's presence
    // mirror: no round trip).
    let elsewhere = ctx.state.delivery().remote_users(ctx.now.wall, for_admin);
    if !elsewhere.is_empty() {
        users.extend(elsewhere);
        users.sort_by_cached_key(|u| u.name.to_ascii_lowercase());
    }
    Ok(ServerFrame::UserList(users))
}
