//! PING: keep-alive.

use chinwag_proto::ServerFrame;

use super::{Ctx, Reply};

pub fn apply(ctx: &mut Ctx<'_>) -> Reply {
    Ok(ServerFrame::Pong { ts: ctx.now.wall })
}
