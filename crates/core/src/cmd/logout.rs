//! LOGOUT: acknowledge, then close. The session tells the others, with
//! the reason given (NOTICE Left says `logout: REASON`).
//!
//! Leaving is never refused: a reason that is not valid text, or one from
//! a muted user (who may put no text in front of others, cmd::speech), is
//! left out rather than keeping the user in.

use chinwag_proto::request::Logout;
use chinwag_proto::server::MuteState;
use chinwag_proto::{ByteString, ServerFrame};

use super::{Ctx, Reply, check_reason};
use crate::session::Leave;

pub fn apply(req: Logout, ctx: &mut Ctx<'_>) -> Reply {
    let may_say = match &ctx.conn.peer {
        Some(me) => me.muted(ctx.now.wall) == MuteState::NotMuted,
        None => false,
    };
    let reason = if may_say && check_reason(&req.reason, ctx).is_ok() {
        req.reason
    } else {
        ByteString::new()
    };
    ctx.conn.leave = Some(Leave::Logout(reason));
    Ok(ServerFrame::ok("goodbye"))
}
