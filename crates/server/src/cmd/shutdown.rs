//! SHUTDOWN: stop the server gracefully.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Shutdown;

use super::{Ctx, Reply, check_reason};

pub fn apply(req: Shutdown, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let reason = if req.reason.is_empty() {
        format!("shutdown requested by {admin}")
    } else {
        req.reason.to_string()
    };
    tracing::warn!(%reason, scope = ?req.scope, "shutdown requested");
    if !ctx.state.shut_down(admin.as_str(), &reason) {
        return Ok(ServerFrame::ok("the server is already shutting down"));
    }
    Ok(ServerFrame::ok("the server is shutting down"))
}
