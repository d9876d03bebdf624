//! SHUTDOWN: stop the server gracefully (logged by `State::shut_down`):
//! this node, or (scope Cluster) every node.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::{Shutdown, ShutdownScope};

use super::{CmdError, Ctx, Outcome, check_reason};
use crate::delivery::Order;

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
    if req.scope == ShutdownScope::Cluster {
        let order = Order::Shutdown {
            admin: admin.to_string(),
            reason: reason.clone(),
        };
        if let Err(error) = ctx.state.delivery().order_all(order) {
            return CmdError::from(error).into();
        }
    }
    if !ctx.state.shut_down(admin.as_str(), &reason) {
        return Ok(ServerFrame::ok("the server is already shutting down")).into();
    }
    Ok(ServerFrame::ok("the server is shutting down")).into()
}
