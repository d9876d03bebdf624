//! SHUTDOWN: stop the server gracefully: this node, or (scope Cluster)
//! every node of the cluster.

use chinwag_proto::ServerFrame;
use chinwag_proto::request::{Shutdown, ShutdownScope};

use super::{CmdError, Ctx, Reply, check_reason};
use crate::cluster::{NodeMessage, Order};

pub fn apply(req: Shutdown, ctx: &mut Ctx<'_>) -> Reply {
    let admin = ctx.me()?.name.clone();
    check_reason(&req.reason, ctx)?;
    let reason = if req.reason.is_empty() {
        format!("shutdown requested by {admin}")
    } else {
        req.reason.to_string()
    };
    tracing::warn!(%reason, scope = ?req.scope, "shutdown requested");
    if req.scope == ShutdownScope::Cluster
        && let Some(cluster) = ctx.state.cluster()
    {
        cluster
            .tell_all(NodeMessage::Order(Order::Shutdown {
                admin: admin.to_string(),
                reason: reason.clone(),
            }))
            .map_err(CmdError::from)?;
    }
    if !ctx.state.shut_down(admin.as_str(), &reason) {
        return Ok(ServerFrame::ok("the server is already shutting down"));
    }
    Ok(ServerFrame::ok("the server is shutting down"))
}
