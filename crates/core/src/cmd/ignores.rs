//! IGNORES: whom the sender ignores, as spelled when ignored.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Target;

use super::{Ctx, Outcome};

pub fn apply(_req: Target, ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.me() {
        Ok(me) => Ok(ServerFrame::IgnoreList(
            me.ignoring().iter().map(|u| u.as_str().into()).collect(),
        ))
        .into(),
        Err(e) => e.into(),
    }
}
