//! KICKOUT: tell the target why, disconnect it, tell everyone else, and
//! log it (see [`crate::ops::kick`]). The target may be elsewhere (on
//! another node): the kick is sent there and the answer from
//! there is the reply.

use chinwag_proto::request::Kickout;
use chinwag_proto::{ErrorCode, ServerFrame, UserName};

use super::{CmdError, Ctx, Outcome, check_reason, later, no_such_user};
use crate::delivery::Order;
use crate::ops::kick::kick;
use crate::store::AuditAction;

pub fn apply(req: Kickout, ctx: &mut Ctx<'_>) -> Outcome {
    let admin = match ctx.me() {
        Ok(me) => me.name.clone(),
        Err(e) => return e.into(),
    };
    if let Err(e) = check_reason(&req.reason, ctx) {
        return e.into();
    }
    let Some(victim) = ctx.state.users.get(&req.dst) else {
        return kick_remote(req, admin, ctx);
    };
    if !kick(
        ctx.state,
        &victim,
        admin.as_str(),
        &req.reason,
        ctx.now.wall,
    ) {
        return no_such_user(&req.dst).into();
    }
    logged(ctx, &admin, victim.name.as_str(), &req.reason)
}

/// A user not on this node: the kick goes where the user is.
fn kick_remote(req: Kickout, admin: UserName, ctx: &mut Ctx<'_>) -> Outcome {
    let delivery = ctx.state.delivery();
    let Some(found) = delivery.locate(&req.dst) else {
        return no_such_user(&req.dst).into();
    };
    let name = found.name.clone();
    let order = Order::Kick {
        user: name.clone(),
        admin: admin.to_string(),
        reason: req.reason.to_string(),
        at: ctx.now.wall,
    };
    later(
        false,
        delivery.order(&found, order),
        move |handed, ctx| match handed.into_result() {
            Ok(()) => logged(ctx, &admin, &name, &req.reason),
            Err(refused) => refused.into(),
        },
    )
}

/// The kick is done; the reply waits until it is in the audit log.
fn logged(ctx: &mut Ctx<'_>, admin: &UserName, name: &str, reason: &str) -> Outcome {
    let record =
        ctx.state.store.record(
            ctx.state
                .audit(admin.as_str(), AuditAction::Kick, name, 0, reason),
        );
    let name = name.to_owned();
    later(false, record, move |written, _| {
        Outcome::Ready(match written {
            Ok(()) => Ok(ServerFrame::ok(format!("kicked {name}"))),
            Err(error) => Err(CmdError::new(
                ErrorCode::StorageFailure,
                format!("kicked {name}, but the audit log could not record it: {error}"),
            )),
        })
    })
}
