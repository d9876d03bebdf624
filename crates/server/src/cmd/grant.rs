//! GRANT and REVOKE: give or take the administrator role of an account.
//! The role is stored; an online holder gains or loses it at once.

use chinwag_proto::request::Target;
use chinwag_proto::{ErrorCode, NameKey, ServerFrame};

use super::{CmdError, Ctx, Outcome, later};
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
            if let Some(peer) = ctx.state.users.get(&req.dst)
                && peer.account
            {
                peer.set_admin(grant);
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
