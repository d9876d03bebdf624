//! ADMIN: become administrator with the server's admin password.

use std::sync::Arc;

use chinwag_proto::ServerFrame;
use chinwag_proto::request::Admin;

use super::{CmdError, Ctx, Outcome, later};
use crate::accounts::too_many_attempts;
use crate::delivery::Order;
use crate::secrets::Secret;
use crate::store::AuditAction;

pub fn apply(req: Admin, ctx: &mut Ctx<'_>) -> Outcome {
    let me = match ctx.me() {
        Ok(me) => Arc::clone(me),
        Err(e) => return e.into(),
    };
    let ip = ctx.conn.addr.ip();
    if let Err(wait) = ctx
        .conn
        .throttle
        .check(ctx.now.mono)
        .and_then(|()| ctx.state.secrets.check(Secret::Admin, ip, ctx.now.mono))
    {
        return too_many_attempts(wait).into();
    }
    if !ctx.state.admin.verify(&req.password) {
        ctx.conn.throttle.failed(ctx.now.mono);
        ctx.state.secrets.failed(Secret::Admin, ip, ctx.now.mono);
        ctx.state.metrics.failed_logins.inc();
        tracing::warn!("wrong admin password");
        return CmdError::new(
            chinwag_proto::ErrorCode::BadPassword,
            "wrong admin password",
        )
        .into();
    }
    ctx.conn.throttle.succeeded();
    ctx.state.secrets.succeeded(Secret::Admin, ip, ctx.now.mono);
    if me.is_admin() {
        return Ok(ServerFrame::ok("you are already an administrator")).into();
    }
    // Elevated only once the audit log has it.
    let record = ctx.state.store.record(ctx.state.audit(
        me.name.as_str(),
        AuditAction::Elevate,
        me.name.as_str(),
        0,
        "",
    ));
    later(true, record, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        me.set_admin(true);
        ctx.state.delivery().republish(&me);
        // The account's sessions on other nodes are the same user: they
        // are elevated with this one, as every session is on one server.
        if me.account && ctx.state.delivery().locate(me.name.as_str()).is_some() {
            let order = Order::Role {
                user: me.name.to_string(),
                admin: true,
            };
            if let Err(error) = ctx.state.delivery().order_all(order) {
                tracing::warn!(%error, "the account's sessions on other nodes were not elevated");
            }
        }
        tracing::info!("elevated to administrator");
        Ok(ServerFrame::ok("you are now an administrator")).into()
    })
}
