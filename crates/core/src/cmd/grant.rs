//! GRANT and REVOKE: give or take the administrator role of an account.
//! The role is stored; an online holder gains or loses it at once.

use chinwag_proto::request::Target;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later};
use crate::delivery::Order;
use crate::ops;
use crate::store::AuditAction;

pub fn apply(req: Target, grant: bool, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    let Some(key) = NameKey::fold(&req.dst) else {
        return no_account(&req.dst).into();
    };
    let action = if grant {
        AuditAction::Grant
    } else {
        AuditAction::Revoke
    };
    let write = ctx.state.store.set_admin(
        key,
        grant,
        ctx.state.audit(admin.as_str(), action, &req.dst, 0, ""),
    );
    later(false, write, move |changed, ctx| match changed {
        Ok(true) => {
            ops::role::set_role(ctx.state, &req.dst, grant);
            let order = Order::Role {
                user: req.dst.to_string(),
                admin: grant,
            };
            if let Err(error) = ctx.state.delivery().order_all(order) {
                return super::bantalk::told_nobody(&req.dst, error);
            }
            tracing::info!(target_user = %req.dst, grant, "role changed");
            Ok(ServerFrame::ok(if grant {
                format!("{} is now an administrator", req.dst)
            } else {
                format!("{} is no longer an administrator", req.dst)
            }))
            .into()
        }
        Ok(false) => no_account(&req.dst).into(),
        Err(error) => CmdError::from(error).into(),
    })
}

fn no_account(name: &str) -> CmdError {
    CmdError::new(
        ErrorCode::NoSuchUser,
        format!("there is no account named {name:?}"),
    )
}
