//! REFLECT: echo a text back to its sender only (a ping that carries data).

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Reflect;

use super::{Ctx, Reply, check_text};

pub fn apply(req: Reflect, ctx: &mut Ctx<'_>) -> Reply {
    check_text(&req.content, ctx)?;
    Ok(ServerFrame::Echo {
        ts: ctx.now.wall,
        content: req.content,
    })
}
