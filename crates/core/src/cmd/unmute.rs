//! UNMUTE: lift a mute before it runs out, in the store first, then here
//! and on every other node.

use chinwag_proto::request::Unmute;
use chinwag_proto::server::MuteState;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::bantalk::told_nobody;
use super::{CmdError, Ctx, Outcome, later, no_such_user};
use crate::delivery::Order;
use crate::ops;
use crate::store::AuditAction;

pub fn apply(req: Unmute, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let Some(key) = NameKey::fold(&req.dst) else {
        return no_such_user(&req.dst).into();
    };
    if ctx.state.mutes.get(&key, ctx.now.wall) == MuteState::NotMuted {
        return CmdError::new(
            ErrorCode::InvalidArgument,
            format!("{} is not muted", req.dst),
        )
        .into();
    }
    if let Err(error) = ctx.state.delivery().reachable() {
        return CmdError::from(error).into();
    }
    let write = ctx.state.store.lift_mute(
        key,
        ctx.state
            .audit(admin.as_str(), AuditAction::Unmute, &req.dst, 0, ""),
    );
    later(false, write, move |written, ctx| {
        if let Err(error) = written {
            return CmdError::from(error).into();
        }
        let order = Order::Unmute {
            user: req.dst.to_string(),
            admin: admin.to_string(),
            at: ctx.now.wall,
        };
        if let Err(error) = ctx.state.delivery().order_all(order) {
            return told_nobody(&req.dst, error);
        }
        ops::mute::unmute(ctx.state, key, admin.as_str(), ctx.now.wall);
        tracing::info!(target_user = %req.dst, "unmuted");
        Ok(ServerFrame::ok(format!("unmuted {}", req.dst))).into()
    })
}
