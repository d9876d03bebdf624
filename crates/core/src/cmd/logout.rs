//! LOGOUT: acknowledge, then close. The session tells the others.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Logout;

use super::{Ctx, Reply};
use crate::session::Leave;

pub fn apply(_req: Logout, ctx: &mut Ctx<'_>) -> Reply {
    ctx.conn.leave = Some(Leave::Logout);
    Ok(ServerFrame::ok("goodbye"))
}
