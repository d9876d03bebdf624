//! ADMIN: become administrator with the server's admin password.

use chinwag_proto::request::Admin;
use chinwag_proto::{ErrorCode, ServerFrame};

use super::{CmdError, Ctx, Reply};

pub fn apply(req: Admin, ctx: &mut Ctx<'_>) -> Reply {
    let me = std::sync::Arc::clone(ctx.me()?);
    if let Err(wait) = ctx.conn.throttle.check(ctx.now.mono) {
        return Err(CmdError::new(
            ErrorCode::TooManyAttempts,
            format!(
                "too many wrong passwords; try again in {}s",
                wait.as_secs_f64().ceil() as u64
            ),
        ));
    }
    if !ctx.state.admin.verify(&req.password) {
        ctx.conn.throttle.failed(ctx.now.mono);
        ctx.state.metrics.failed_logins.inc();
        tracing::warn!("wrong admin password");
        return Err(CmdError::new(
            ErrorCode::BadPassword,
            "wrong admin password",
        ));
    }
    ctx.conn.throttle.succeeded();
    if me.is_admin() {
        return Ok(ServerFrame::ok("you are already an administrator"));
    }
    me.set_admin(true);
    tracing::info!("elevated to administrator");
    Ok(ServerFrame::ok("you are now an administrator"))
}
