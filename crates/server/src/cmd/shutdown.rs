//! SHUTDOWN: stop the server gracefully (logged by `State::shut_down`).

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Shutdown;

use super::{Ctx, Outcome, check_reason};

pub fn apply(req: Shutdown, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    let reason = if req.reason.is_empty() {
        format!("shutdown requested by {admin}")
    } else {
        req.reason.to_string()
    };
    tracing::warn!(%reason, scope = ?req.scope, "shutdown requested");
    if !ctx.state.shut_down(admin.as_str(), &reason) {
        return Ok(ServerFrame::ok("the server is already shutting down")).into();
    }
    Ok(ServerFrame::ok("the server is shutting down")).into()
}
